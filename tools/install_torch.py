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
  a few seconds, one line says so and ``FALLBACK`` is installed: from a local wheel if pip
  finds one (its find-links; no network needed), else from the default index if that
  answers, else one line says that no index answered.

Every wait is bounded, DNS lookups included (``urlopen``'s own timeout does not cover
them), and pip gets ``--timeout`` and ``--retries``: pip's defaults (15 s a read, 5 retries
with back-off, for every package) once made a hanging network cost about two minutes.

``FALLBACK`` pins a release on purpose: CI machines and ours hold that release's CPU wheel
locally (pip's find-links), and a pinned ``torch==X`` picks it, where an unpinned ``torch``
would pick a newer CUDA build from PyPI. On a machine without such a local wheel the
fallback is PyPI's default build of that release (CUDA on Linux), so a ~3 GB download.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import threading
import urllib.request

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEFAULT_INDEX = "https://pypi.org/simple"  # unless pip is configured with another
FALLBACK = "torch==2.13.0"  # the one place that names the fallback release; see the docstring
TIMEOUT_S = 5  # how long an index may take to answer before we fall back
# pip, once an index answered: a read may stall this long, and is retried this often.
PIP_BOUNDS = ("--timeout", "15", "--retries", "1")


def choose_build(requested: str, has_nvidia_gpu: bool, system: str) -> str:
    """``"cpu"`` or ``"default"``: which build ``requested`` (auto, cpu or default) means here."""
    if requested != "auto":
        return requested
    return "cpu" if system == "Linux" and not has_nvidia_gpu else "default"


def index_answers(url: str, timeout: float | None = None) -> bool:
    """True when ``url`` answers an HTTP request within ``timeout`` seconds in all (default ``TIMEOUT_S``).

    The request runs in a thread we stop waiting for: ``urlopen``'s timeout bounds each
    socket operation but not the DNS lookup, which can hang far longer on a broken network.
    """
    timeout = TIMEOUT_S if timeout is None else timeout
    answered, done = [], threading.Event()

    def ask():
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout):
                answered.append(True)
        except (OSError, ValueError):  # URLError, timeouts and refused connections are OSErrors
            pass
        finally:
            done.set()  # a refused connection is an answer too: no need to wait the full timeout

    threading.Thread(target=ask, daemon=True).start()
    done.wait(timeout)
    return bool(answered)


def default_index() -> str:
    """The index pip installs from here: ``PIP_INDEX_URL``, pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return DEFAULT_INDEX
    for key in ("install.index-url", "global.index-url"):
        for line in listed.splitlines():
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip("'\"")
    return DEFAULT_INDEX


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def pip_install(*args: str, quiet: bool = False) -> int:
    """Run ``pip install args``; ``quiet`` hides pip's output (for an attempt that may fail on purpose)."""
    command = [sys.executable, "-m", "pip", "install", *args]
    if quiet:
        return subprocess.call(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("+", " ".join(command), flush=True)
    return subprocess.call(command)


def install_fallback() -> int:
    """``FALLBACK`` from a local wheel (no network), else from the default index if it answers."""
    if pip_install("--no-index", FALLBACK, quiet=True) == 0:  # pip's find-links only: seconds, offline
        print(f"torch: installed {FALLBACK} from a local wheel (pip's find-links)")
        return 0
    index = default_index()
    if not index_answers(index):
        print(f"error: no package index answered within {TIMEOUT_S} s ({CPU_INDEX}, {index}) and pip finds no "
              f"local wheel of {FALLBACK}: check the network connection (or proxy) and run this again")
        return 1
    return pip_install(*PIP_BOUNDS, FALLBACK)


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
        print(f"note: installing torch from {CPU_INDEX} failed; installing {FALLBACK} instead")
    else:
        print(f"note: {CPU_INDEX} could not be reached (waited at most {TIMEOUT_S} s); "
              f"installing {FALLBACK} instead")
    return install_fallback()


if __name__ == "__main__":
    raise SystemExit(main())
