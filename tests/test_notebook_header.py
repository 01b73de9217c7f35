"""tools/notebook_header.py: badges and install cells from the one repository URL, idempotent."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_header  # noqa: E402
from notebook_outputs import is_install_cell, notebook_paths  # noqa: E402


@pytest.fixture
def repo_copy(tmp_path):
    """pyproject.toml, README.md and the notebooks, copied so the tool can rewrite them."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return tmp_path


def set_repository(root: Path, url: str) -> None:
    pyproject = root / "pyproject.toml"
    old = notebook_header.repository_url(pyproject)
    pyproject.write_text(pyproject.read_text().replace(f'Repository = "{old}"', f'Repository = "{url}"'))


def texts(root: Path) -> dict[str, str]:
    files = [root / "README.md", *notebook_paths(root / "notebooks")]
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def test_the_committed_badges_and_install_cells_are_up_to_date():
    assert notebook_header.main(["--check"]) == 0, "run `make badges` and commit the result"


def test_every_badge_and_install_cell_follows_the_one_url_and_a_rerun_changes_nothing(repo_copy, capsys):
    old = notebook_header.repository_url(repo_copy / "pyproject.toml")
    set_repository(repo_copy, "https://github.com/some-school/rl-course")
    assert notebook_header.main(["--check", "--root", str(repo_copy)]) == 1

    assert notebook_header.main(["--root", str(repo_copy)]) == 0
    first = texts(repo_copy)
    assert notebook_header.main(["--root", str(repo_copy)]) == 0
    assert texts(repo_copy) == first  # idempotent, byte for byte
    assert "updated: nothing" in capsys.readouterr().out
    assert notebook_header.main(["--check", "--root", str(repo_copy)]) == 0

    old_owner = old.split("/")[3]
    for name, text in first.items():
        assert old_owner not in text, f"{name} still points at {old}"
    readme = first["README.md"]
    for path in notebook_paths(repo_copy / "notebooks"):
        nb = nbformat.read(path, as_version=4)
        colab = f"https://colab.research.google.com/github/some-school/rl-course/blob/main/notebooks/{path.name}"
        binder = f"https://mybinder.org/v2/gh/some-school/rl-course/main?labpath=notebooks%2F{path.name}"
        assert colab in nb.cells[0].source and binder in nb.cells[0].source
        assert colab in readme and binder in readme
        install = [c for c in nb.cells if is_install_cell(c)]
        assert len(install) == 1
        assert "git+https://github.com/some-school/rl-course@main" in install[0].source


def test_a_notebook_without_a_header_gets_one_and_nothing_else_changes(repo_copy):
    set_repository(repo_copy, "https://github.com/some-school/rl-course")  # published: badges are written
    path = notebook_paths(repo_copy / "notebooks")[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not is_install_cell(c)]  # as the notebook was before the tool
    nb.cells[0].source = "\n".join(line for line in nb.cells[0].source.split("\n")
                                   if not notebook_header.is_badge_line(line))
    nb.cells[0].source = nb.cells[0].source.replace("\n\n\n", "\n\n")
    nbformat.write(nb, path)
    before = nbformat.read(path, as_version=4)

    assert notebook_header.main(["--root", str(repo_copy)]) == 0
    after = nbformat.read(path, as_version=4)
    assert len(after.cells) == len(before.cells) + 1
    assert is_install_cell(after.cells[1]) and after.cells[1].execution_count is None
    parameters = next(i for i, c in enumerate(after.cells) if "parameters" in c.metadata.get("tags", []))
    assert parameters > 1, "the install cell must come before the parameter cell"
    title_before, title_after = before.cells[0].source.split("\n"), after.cells[0].source.split("\n")
    assert title_after[0] == title_before[0] and notebook_header.is_badge_line(title_after[2])
    assert [line for line in title_after if not notebook_header.is_badge_line(line)][2:] == title_before[1:]
    for old, new in zip(before.cells[1:], after.cells[2:]):
        assert (old.source, old.get("outputs"), old.metadata) == (new.source, new.get("outputs"), new.metadata)


def test_bad_input_is_named_with_its_fix(repo_copy):
    set_repository(repo_copy, "https://gitlab.com/someone/dqn")
    with pytest.raises(SystemExit, match="not https://github.com/OWNER/NAME"):
        notebook_header.main(["--root", str(repo_copy)])

    set_repository(repo_copy, "https://github.com/someone/dqn")
    readme = repo_copy / "README.md"
    readme.write_text(readme.read_text().replace(notebook_header.README_START, ""))
    with pytest.raises(SystemExit, match="add the lines"):
        notebook_header.main(["--root", str(repo_copy)])

    path = notebook_paths(repo_copy / "notebooks")[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "No title here"
    nbformat.write(nb, path)
    with pytest.raises(SystemExit, match="must be a markdown cell starting with the `# ` title"):
        notebook_header.notebook_with_header(path, "https://github.com/someone/dqn")


def test_the_install_cell_does_nothing_where_the_package_is_installed(tmp_path):
    source = notebook_header.install_source("https://github.com/someone/dqn")
    # DQN_HELPERS_SOURCE points nowhere: any attempt to install would fail loudly
    done = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "DQN_HELPERS_SOURCE": str(tmp_path / "missing"),
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done


def test_while_the_repository_is_a_placeholder_no_badge_is_written_and_install_asks_for_a_source(repo_copy):
    set_repository(repo_copy, f"https://github.com/{notebook_header.PLACEHOLDER}/dqn-tutorial")
    assert notebook_header.main(["--root", str(repo_copy)]) == 0
    for name, text in texts(repo_copy).items():
        assert notebook_header.COLAB_BADGE not in text and notebook_header.BINDER_BADGE not in text, name
    for path in notebook_paths(repo_copy / "notebooks"):
        install = next(c for c in nbformat.read(path, as_version=4).cells if is_install_cell(c))
        assert notebook_header.PLACEHOLDER not in install.source
        # run without dqn_helpers and without DQN_HELPERS_SOURCE: a clear error naming both ways to install
        code = "import importlib.util\nimportlib.util.find_spec = lambda name: None\n" + install.source
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin"})
        assert result.returncode != 0 and "pip install -e ." in result.stderr and "DQN_HELPERS_SOURCE" in result.stderr
    # publishing brings the badges back
    set_repository(repo_copy, "https://github.com/some-school/rl-course")
    assert notebook_header.main(["--root", str(repo_copy)]) == 0
    assert notebook_header.COLAB_BADGE in texts(repo_copy)["README.md"]
