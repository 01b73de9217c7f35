"""Install PyTorch into a virtual environment: the CPU build unless the machine has an NVIDIA GPU.

Run it with the environment's own Python before installing requirements.txt (``make setup``
does this for ``make lab`` and ``make test``):

    .venv/bin/python tools/install_torch.py            # auto: decide from the machine
    .venv/bin/python tools/install_torch.py --build cpu  # or: make test TORCH_BUILD=cpu

Why: on Linux, PyPI's default ``torch`` wheel is a CUDA build (about 3 GB of wheels with the
NVIDIA libraries); the small networks of this series train on a CPU, and the CPU build is
about a tenth of that. What ``auto`` does:

* torch already importable: nothing (re-running ``make`` never reinstalls it).
* ``nvidia-smi`` on the PATH, or not Linux: nothing here, so requirements.txt brings PyPI's
  default build: CUDA on a Linux machine with an NVIDIA GPU; on macOS and Windows PyPI's
  wheels are CPU builds already.
* otherwise: the CPU build from PyTorch's CPU index. When that index does not answer within
  a few seconds, one line says so and ``FALLBACK`` is installed from the default index.

``FALLBACK`` pins a release on purpose: CI machines and ours hold that release's CPU wheel
locally (pip's find-links), and a pinned ``torch==X`` picks it, where an unpinned ``torch``
would pick a newer CUDA build from PyPI. On a machine without such a local wheel the
fallback is PyPI's default build of that release (CUDA on Linux), so a ~3 GB download.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import shutil
import subprocess
import sys
import urllib.request

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
FALLBACK = "torch==2.13.0"  # the one place that names the fallback release; see the docstring
TIMEOUT_S = 5  # how long the CPU index may take to answer before we fall back


def choose_build(requested: str, has_nvidia_gpu: bool, system: str) -> str:
    """``"cpu"`` or ``"default"``: which build ``requested`` (auto, cpu or default) means here."""
    if requested != "auto":
        return requested
    return "cpu" if system == "Linux" and not has_nvidia_gpu else "default"


def index_answers(url: str, timeout: float = TIMEOUT_S) -> bool:
    """True when ``url`` answers an HTTP request within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url + "/torch/", timeout=timeout):
            return True
    except (OSError, ValueError):  # URLError, timeouts and refused connections are OSErrors
        return False


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def pip_install(*args: str) -> int:
    command = [sys.executable, "-m", "pip", "install", *args]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", choices=["auto", "cpu", "default"], default="auto",
                        help="auto: CPU build unless an NVIDIA GPU is found (default)")
    args = parser.parse_args(argv)
    if torch_installed():
        print("torch is already installed: keeping it")
        return 0
    build = choose_build(args.build, shutil.which("nvidia-smi") is not None, platform.system())
    if build == "default":
        print("torch: the default build from the package index (requirements.txt installs it)")
        return 0
    if index_answers(CPU_INDEX):
        # --retries 0 --timeout: a connection lost half-way falls back at once instead of
        # pip's minutes of retries.
        if pip_install("--retries", "0", "--timeout", str(TIMEOUT_S), "--index-url", CPU_INDEX, "torch") == 0:
            return 0
        print(f"note: installing torch from {CPU_INDEX} failed; installing {FALLBACK} from the default index")
    else:
        print(f"note: {CPU_INDEX} could not be reached (waited at most {TIMEOUT_S} s); "
              f"installing {FALLBACK} from the default index")
    return pip_install(FALLBACK)


if __name__ == "__main__":
    raise SystemExit(main())
