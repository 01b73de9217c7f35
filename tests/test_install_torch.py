"""tools/install_torch.py: the CPU build without an NVIDIA GPU, a quick fallback when its index is down."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import install_torch  # noqa: E402


@pytest.mark.parametrize(("requested", "gpu", "system", "expected"), [
    ("auto", False, "Linux", "cpu"),       # the common laptop: PyPI's default would be CUDA
    ("auto", True, "Linux", "default"),    # an NVIDIA GPU: PyPI's CUDA build
    ("auto", False, "Darwin", "default"),  # PyPI's macOS and Windows wheels are CPU builds already
    ("auto", False, "Windows", "default"),
    ("cpu", True, "Linux", "cpu"),         # the user's choice wins
    ("default", False, "Linux", "default"),
])
def test_which_build(requested, gpu, system, expected):
    assert install_torch.choose_build(requested, gpu, system) == expected


def test_an_unreachable_index_is_noticed_within_seconds():
    start = time.perf_counter()
    assert not install_torch.index_answers("http://127.0.0.1:9/whl/cpu", timeout=2)  # nothing listens on port 9
    assert time.perf_counter() - start < 3


@pytest.fixture
def machine(monkeypatch):
    """A Linux machine without GPU or torch; records the pip installs instead of running them."""
    calls = []
    monkeypatch.setattr(install_torch, "torch_installed", lambda: False)
    monkeypatch.setattr(install_torch.shutil, "which", lambda name: None)
    monkeypatch.setattr(install_torch.platform, "system", lambda: "Linux")
    monkeypatch.setattr(install_torch, "pip_install", lambda *args: calls.append(args) or 0)
    return calls


def test_cpu_index_reachable(machine, monkeypatch):
    monkeypatch.setattr(install_torch, "index_answers", lambda url: True)
    assert install_torch.main([]) == 0
    assert machine == [("--retries", "0", "--timeout", "5", "--index-url", install_torch.CPU_INDEX, "torch")]


def test_cpu_index_down_falls_back_with_one_line(machine, monkeypatch, capsys):
    monkeypatch.setattr(install_torch, "index_answers", lambda url: False)
    assert install_torch.main([]) == 0
    assert machine == [(install_torch.FALLBACK,)]
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and install_torch.CPU_INDEX in notes[0] and install_torch.FALLBACK in notes[0]


def test_nothing_to_do_with_a_gpu_or_with_torch_installed(machine, monkeypatch):
    monkeypatch.setattr(install_torch.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    assert install_torch.main([]) == 0
    monkeypatch.setattr(install_torch, "torch_installed", lambda: True)
    assert install_torch.main(["--build", "cpu"]) == 0
    assert machine == []
