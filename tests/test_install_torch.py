"""tools/install_torch.py: the CPU build without an NVIDIA GPU, a quick fallback when its index is down."""

import socket
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
    monkeypatch.setattr(install_torch, "pip_install", lambda *args, quiet=False: calls.append(args) or 0)
    return calls


def test_cpu_index_reachable(machine, monkeypatch):
    monkeypatch.setattr(install_torch, "index_answers", lambda url: True)
    assert install_torch.main([]) == 0
    assert machine == [("--retries", "0", "--timeout", "5", "--index-url", install_torch.CPU_INDEX, "torch")]


def test_cpu_index_down_falls_back_with_one_line(machine, monkeypatch, capsys):
    monkeypatch.setattr(install_torch, "index_answers", lambda url: False)
    assert install_torch.main([]) == 0
    assert machine == [("--no-index", install_torch.FALLBACK)]  # a local wheel: no network needed
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and install_torch.CPU_INDEX in notes[0] and install_torch.FALLBACK in notes[0]


def test_nothing_to_do_with_a_gpu_or_with_torch_installed(machine, monkeypatch):
    monkeypatch.setattr(install_torch.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    assert install_torch.main([]) == 0
    monkeypatch.setattr(install_torch, "torch_installed", lambda: True)
    assert install_torch.main(["--build", "cpu"]) == 0
    assert machine == []


# --- issue 21: a hanging network never costs minutes ---

@pytest.fixture
def hanging_server():
    """A server that accepts connections and never answers: what a broken network or proxy looks like."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes the handshakes; nobody ever reads or answers
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    server.close()


def test_a_server_that_never_answers_is_given_up_within_the_timeout(hanging_server):
    start = time.perf_counter()
    assert not install_torch.index_answers(hanging_server, timeout=1)
    assert time.perf_counter() - start < 2


def test_a_hanging_dns_lookup_is_bounded_too(monkeypatch):
    """urlopen's timeout does not cover the DNS lookup; the whole request must be."""
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(30))
    start = time.perf_counter()
    assert not install_torch.index_answers("https://download.pytorch.org/whl/cpu", timeout=1)
    assert time.perf_counter() - start < 2


def fallback_machine(monkeypatch, local_wheel: bool, index_up: bool):
    calls = []

    def pip_install(*args, quiet=False):
        calls.append(args)
        return 0 if "--no-index" not in args or local_wheel else 1

    monkeypatch.setattr(install_torch, "pip_install", pip_install)
    monkeypatch.setattr(install_torch, "index_answers", lambda url: index_up)
    monkeypatch.setattr(install_torch, "default_index", lambda: "https://mirror.example/simple")
    return calls


def test_no_index_and_no_local_wheel_is_one_error_line_not_minutes_of_pip(monkeypatch, capsys):
    calls = fallback_machine(monkeypatch, local_wheel=False, index_up=False)
    assert install_torch.install_fallback() == 1
    assert calls == [("--no-index", install_torch.FALLBACK)]  # pip never asked to wait on the network
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("error: no package index answered")
    assert "https://mirror.example/simple" in out[0] and "check the network" in out[0]


def test_the_default_index_is_used_with_bounded_timeouts_and_retries(monkeypatch):
    calls = fallback_machine(monkeypatch, local_wheel=False, index_up=True)
    assert install_torch.install_fallback() == 0
    assert calls[-1] == (*install_torch.PIP_BOUNDS, install_torch.FALLBACK)
    assert "--timeout" in install_torch.PIP_BOUNDS and "--retries" in install_torch.PIP_BOUNDS


def test_the_default_index_follows_pip_index_url(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    assert install_torch.default_index() == "https://mirror.example/simple"


def test_every_wait_is_bounded_on_a_hanging_network(monkeypatch, hanging_server, capsys):
    """The whole path on a network where nothing answers: seconds, not the ~110 s it once took."""
    monkeypatch.setattr(install_torch, "CPU_INDEX", hanging_server)
    monkeypatch.setattr(install_torch, "TIMEOUT_S", 1)
    monkeypatch.setattr(install_torch, "default_index", lambda: hanging_server)
    monkeypatch.setattr(install_torch, "torch_installed", lambda: False)
    monkeypatch.setattr(install_torch.shutil, "which", lambda name: None)
    monkeypatch.setattr(install_torch.platform, "system", lambda: "Linux")
    monkeypatch.setattr(install_torch, "pip_install", lambda *args, quiet=False: 1)  # no local wheel
    start = time.perf_counter()
    assert install_torch.main([]) == 1
    assert time.perf_counter() - start < 4
    assert "error: no package index answered" in capsys.readouterr().out
