"""The committed notebooks follow the outputs policy of tools/notebook_outputs.py."""

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from notebook_outputs import is_install_cell, notebook_paths, problems, source_fingerprint  # noqa: E402

EXPECTED = ["01_continuous_states", "02_q_networks", "03_replay_buffers", "04_target_networks",
            "05_vectorized_envs", "06_epsilon_decay", "07_all_together", "08_going_further",
            "09_write_your_own_dqn"]


def test_the_series_is_complete_and_in_order():
    assert [p.stem for p in notebook_paths()] == EXPECTED


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_committed_outputs_are_fresh_and_clean(path):
    found = problems(path)
    assert not found, f"{path.name}: " + "; ".join(found) + ". Regenerate with `make notebooks`."


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_each_notebook_has_one_tagged_parameter_cell_near_the_top(path):
    nb = nbformat.read(path, as_version=4)
    # the self-install cell (tools/notebook_header.py) comes first and does not count
    cells = [c for c in nb.cells if not is_install_cell(c)]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] <= 4, tagged
    assert "DQN_SMOKE" in cells[tagged[0]].source


def test_fingerprint_notices_a_code_change(tmp_path):
    nb = nbformat.read(notebook_paths()[0], as_version=4)
    before = source_fingerprint(nb)
    code = next(c for c in nb.cells if c.cell_type == "code" and not is_install_cell(c))
    code.source += "\nx = 1"
    assert source_fingerprint(nb) != before


def test_fingerprint_covers_subpackages(tmp_path, monkeypatch):
    """A change in dqn_helpers/checks/ (a subpackage) makes the committed outputs stale too."""
    import shutil

    import notebook_outputs

    package = tmp_path / "dqn_helpers"
    shutil.copytree(notebook_outputs.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(notebook_outputs, "PACKAGE", package)
    nb = nbformat.read(notebook_paths()[0], as_version=4)
    before = source_fingerprint(nb)
    with open(package / "checks" / "framework.py", "a") as f:
        f.write("\n# a comment\n")
    assert source_fingerprint(nb) != before


def test_the_install_cell_is_outside_the_fingerprint_and_may_stay_unexecuted():
    """`make badges` may rewrite the install cell (a new repository URL) without a rerun."""
    nb = nbformat.read(notebook_paths()[0], as_version=4)
    install = [c for c in nb.cells if is_install_cell(c)]
    assert len(install) == 1, "run `make badges`"
    before = source_fingerprint(nb)
    install[0].source = install[0].source.replace("github.com", "example.org")
    install[0].execution_count = None
    assert source_fingerprint(nb) == before
