"""The Makefile's targets, as `make -n` would run them (nothing is executed)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*args: str) -> list[str]:
    done = subprocess.run(["make", "-n", "-C", str(ROOT), "--no-print-directory", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_a_new_venv_gets_torch_from_install_torch_before_the_requirements(tmp_path):
    lines = dry_run("test", f"VENV={tmp_path / 'venv'}")
    torch = next(i for i, line in enumerate(lines) if "tools/install_torch.py --build auto" in line)
    requirements = next(i for i, line in enumerate(lines) if "pip install -r requirements.txt" in line)
    assert torch < requirements
    assert "DQN_SMOKE=1 DQN_CHECKS_STRICT=1" in lines[-1] and lines[-1].endswith("pytest -n 2 --dist loadgroup")


def test_a_conda_environment_is_left_to_conda(tmp_path):
    (tmp_path / "conda-meta").mkdir()
    expected = f"DQN_SMOKE=1 DQN_CHECKS_STRICT=1 {tmp_path}/bin/pytest -n 2 --dist loadgroup"
    assert dry_run("test", f"VENV={tmp_path}") == [expected]


def test_lab_serves_the_repository_opens_notebook_01_and_takes_options(tmp_path):
    (tmp_path / "conda-meta").mkdir()  # skip the setup lines
    [line] = dry_run("lab", f"VENV={tmp_path}", "LAB_ARGS=--port 8890 --no-browser --ip 0.0.0.0")
    assert "--ServerApp.root_dir=." in line
    assert "--LabApp.default_url=/lab/tree/notebooks/01_" in line
    assert line.endswith("--port 8890 --no-browser --ip 0.0.0.0")


def test_train_passes_its_arguments_to_the_command_line(tmp_path):
    (tmp_path / "conda-meta").mkdir()
    [line] = dry_run("train", f"VENV={tmp_path}", "ARGS=--env CartPole-v1 --seed 0")
    assert line == f"{tmp_path}/bin/python -m dqn_helpers train --env CartPole-v1 --seed 0"
