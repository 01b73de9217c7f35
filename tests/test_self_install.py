"""A kernel without dqn_helpers, as in Colab, installs it in the notebook's first code cell.

The kernel runs in a fresh virtual environment that holds no package of its own and sees,
through a ``.pth`` file, a base holding only what a hosted kernel brings: ipykernel (and pip)
and PyTorch, the build tools/install_torch.py picks, as ``make`` does. The base is built once
and kept under ``$DQN_CACHE_DIR`` (default ``~/.cache/dqn_helpers``), so later runs pay only for
what is under test: the install cell installing the package, with its dependencies, from a
copy of this checkout (``DQN_HELPERS_SOURCE``), then notebook 01 running top to bottom in
smoke mode. Marked ``slow``: ``pytest -m "not slow"`` leaves it out; ``make test`` and CI run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from notebook_outputs import ROOT, is_install_cell, notebook_paths  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="Unix venv layout")]
NOTEBOOK = notebook_paths()[0]  # 01: the smallest of the series in smoke mode
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


def cache_dir() -> Path:
    return Path(os.environ.get("DQN_CACHE_DIR") or Path.home() / ".cache" / "dqn_helpers")


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


@contextlib.contextmanager
def locked(path: Path):
    import fcntl  # Unix only, as are the venv paths below

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def kernel_base() -> Path:
    """A venv with only ipykernel, pip and torch, built once per Python version and reused."""
    base = cache_dir() / f"kernel-test-base-{PY}"
    with locked(base.with_suffix(".lock")):
        if not (base / "complete").exists():
            shutil.rmtree(base, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
            python = str(base / "bin" / "python")
            subprocess.run([python, str(ROOT / "tools" / "install_torch.py")], check=True)
            subprocess.run([python, "-m", "pip", "install", "--quiet", "ipykernel"], check=True)
            (base / "complete").touch()
    return base


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """Run time of an executed cell, from the timing nbclient records in its metadata."""
    from datetime import datetime

    timing = cell.metadata["execution"]
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def test_a_notebook_installs_dqn_helpers_where_it_is_missing(tmp_path, monkeypatch):
    base = kernel_base()
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    fresh_site = site_packages(fresh)
    (fresh_site / "kernel_base.pth").write_text(str(site_packages(base)) + "\n")
    python = fresh / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('dqn_helpers'))"],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, cwd=tmp_path, check=True)
    assert probe.stdout.strip() == "None", "the fresh kernel must start without dqn_helpers"

    # What the install cell installs from: a copy of this checkout's package sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "dqn_helpers", source / "dqn_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)

    # A kernel spec for the fresh environment, found first through JUPYTER_PATH.
    spec = tmp_path / "jupyter" / "kernels" / "fresh"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh kernel without dqn_helpers", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert is_install_cell(nb.cells[1]), "run `make badges`"
    nb.cells.append(nbformat.v4.new_code_cell("import dqn_helpers\nprint('dqn_helpers from', dqn_helpers.__file__)"))
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(DQN_SMOKE="1", DQN_HELPERS_SOURCE=str(source), SDL_VIDEODRIVER="dummy")
    NotebookClient(nb, kernel_name="fresh", timeout=300, resources={"metadata": {"path": str(work)}}).execute(env=env)

    seconds = [cell_seconds(c) for c in nb.cells if c.cell_type == "code"]
    print(f"install cell {seconds[0]:.1f} s, the rest of the notebook {sum(seconds[1:]):.1f} s")
    said = "".join(out.get("text", "") for out in nb.cells[1].outputs)
    assert f"installing it from {source.as_uri()}" in said and "dqn_helpers is installed." in said, said
    last = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    assert f"dqn_helpers from {fresh_site}" in last, last
    assert not (fresh_site / "torch").exists(), "the install must keep the kernel's torch, not fetch another build"
