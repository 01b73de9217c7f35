"""tools/make_student_versions.py: stubs in place, no solution left, everything else kept."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "make_student_versions.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
NBGRADER = {"grade": False, "locked": False, "schema_version": 3, "solution": True, "task": False}


def load_tool():
    spec = importlib.util.spec_from_file_location("make_student_versions", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def solution_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {**NBGRADER, "grade_id": grade_id}})


def synthetic_notebook() -> nbformat.NotebookNode:
    """Markers inside a function body, at top level, in a class, in markdown, plus hidden tests."""
    cells = [
        new_markdown_cell("# A tiny exercise notebook\nNothing to hide here."),
        new_code_cell("import math\n\nSEED = 0", metadata={"tags": ["parameters"]}),
        solution_cell(
            "def double(x):\n"
            '    """Twice x."""\n'
            "    ### BEGIN SOLUTION\n"
            "    secret_body = 2 * x\n"
            "    return secret_body\n"
            "    ### END SOLUTION",
            "double",
        ),
        new_code_cell("print('double is defined:', callable(double))"),
        solution_cell(
            "class Counter:\n"
            "    def __init__(self):\n"
            "        ### BEGIN SOLUTION\n"
            "        self.secret_count = 0\n"
            "        ### END SOLUTION\n"
            "\n"
            "    def add(self):\n"
            "        ### BEGIN SOLUTION\n"
            "        self.secret_count += 1\n"
            "        ### END SOLUTION",
            "counter",
        ),
        new_code_cell(
            "assert math.isfinite(1.0)\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert double(2) == 4  # secret hidden test\n"
            "### END HIDDEN TESTS"
        ),
        solution_cell("answer = 41\n### BEGIN SOLUTION\nanswer = 42  # secret top-level\n### END SOLUTION", "top"),
        new_code_cell("print('after the first top-level stub')"),
        new_markdown_cell(
            "Why?\n\n### BEGIN SOLUTION\nBecause of a secret reason.\n### END SOLUTION",
            metadata={"nbgrader": {**NBGRADER, "grade_id": "why"}},
        ),
        solution_cell("secret_whole_cell = 1", "whole"),
    ]
    cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale output\n")]
    cells[3].execution_count = 7
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def solution_regions(source: str) -> list[str]:
    pattern = r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1"
    return [m.group(2) for m in re.finditer(pattern, source, flags=re.S)]


def assert_student_version(original: nbformat.NotebookNode, student: nbformat.NotebookNode) -> None:
    """No solution survives, stubs replace regions, every other cell is unchanged."""
    assert len(original.cells) == len(student.cells)
    assert student.metadata == original.metadata
    for before, after in zip(original.cells, student.cells, strict=True):
        assert after.cell_type == before.cell_type
        for marker in MARKERS:
            assert marker not in after.source
        regions = solution_regions(before.source)
        is_solution = before.get("metadata", {}).get("nbgrader", {}).get("solution", False)
        if not regions and not is_solution:
            assert after.source == before.source
            assert after.metadata == before.metadata
        else:
            assert after.metadata.get("nbgrader") == before.metadata.get("nbgrader")
            for region in regions:
                for line in region.strip().splitlines():
                    if line.strip():
                        assert line not in after.source, line
            if "### BEGIN SOLUTION" in before.source and after.cell_type == "code":
                assert after.source.count("raise NotImplementedError()") >= before.source.count("### BEGIN SOLUTION")
                assert "# YOUR CODE HERE" in after.source
        if after.cell_type == "code":
            assert after.outputs == []
            assert after.execution_count is None


def test_synthetic_notebook(tmp_path):
    nb = synthetic_notebook()
    student, summary = tool.student_version(nb)
    assert_student_version(nb, student)
    assert "secret" not in nbformat.writes(student)
    assert (summary.solutions, summary.hidden_tests, summary.tagged) == (6, 1, 2)

    function_cell = student.cells[2].source.splitlines()
    assert function_cell[-2:] == ["    # YOUR CODE HERE", "    raise NotImplementedError()"]
    assert function_cell[:2] == ["def double(x):", '    """Twice x."""']
    assert "        raise NotImplementedError()" in student.cells[4].source.splitlines()
    assert student.cells[5].source == "assert math.isfinite(1.0)"
    assert student.cells[6].source == "answer = 41\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert student.cells[8].source == "Why?\n\nYOUR ANSWER HERE"
    assert student.cells[9].source == "# YOUR CODE HERE\nraise NotImplementedError()"

    tagged = [i for i, c in enumerate(student.cells) if "raises-exception" in c.metadata.get("tags", [])]
    assert tagged == [6, 9]  # top-level stubs only; stubs inside def/methods raise only when called
    assert student.cells[1].metadata["tags"] == ["parameters"]
    assert nb.cells[3].outputs, "the input notebook must not be modified"


def test_raises_when_run_understands_python():
    assert tool.raises_when_run("x = 1\nraise NotImplementedError()")
    assert tool.raises_when_run("for i in range(2):\n    raise NotImplementedError")
    assert tool.raises_when_run("class A:\n    raise NotImplementedError()")
    assert not tool.raises_when_run("def f():\n    raise NotImplementedError()")
    assert not tool.raises_when_run("class A:\n    def f(self):\n        raise NotImplementedError()")
    assert tool.raises_when_run("%time x = 1\nraise NotImplementedError()")


def test_unbalanced_markers_are_reported():
    with pytest.raises(tool.MarkerError, match="never closed"):
        tool.strip_regions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(tool.MarkerError, match="without a matching BEGIN"):
        tool.strip_regions("x = 1\n### END SOLUTION")
    with pytest.raises(tool.MarkerError, match="inside a region"):
        tool.strip_regions("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION")


def run_cli(capsys, *args: str) -> str:
    """The command line entry point, in process (a subprocess would add seconds of imports)."""
    assert tool.main(list(args)) == 0
    return capsys.readouterr().out


def test_cli_writes_student_folder(tmp_path, capsys):
    src, out = tmp_path / "notebooks", tmp_path / "student"
    src.mkdir()
    nbformat.write(synthetic_notebook(), src / "02_tiny.ipynb")
    stdout = run_cli(capsys, "--src", str(src), "--out", str(out))
    assert "02_tiny.ipynb" in stdout and "6 solution region(s)" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["02_tiny.ipynb"]
    nbformat.validate(nbformat.read(out / "02_tiny.ipynb", as_version=4))


def test_real_notebooks(tmp_path, capsys):
    """Student versions of notebooks/*.ipynb (whichever exist yet)."""
    out = tmp_path / "student"
    stdout = run_cli(capsys, "--src", str(ROOT / "notebooks"), "--out", str(out))
    if not NOTEBOOKS:
        assert "nothing written" in stdout
        pytest.skip("no notebooks in notebooks/ yet")
    for path in NOTEBOOKS:
        original = nbformat.read(path, as_version=4)
        student = nbformat.read(out / path.name, as_version=4)
        assert_student_version(original, student)
        assert f"wrote {out / path.name}" in stdout
        solution_cells = [c for c in original.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for cell in solution_cells:  # convention: the answer sits between markers inside a def/class
            assert "### BEGIN SOLUTION" in cell.source, (path.name, cell.source[:80])
        if path.name[:2].isdigit() and int(path.name[:2]) >= 2:
            assert solution_cells, f"{path.name}: from notebook 02 on, one exercise has an nbgrader solution cell"


def test_student_notebook_runs_up_to_first_stub(tmp_path):
    """Execute a generated notebook: only cells tagged raises-exception may raise."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    student, _ = tool.student_version(synthetic_notebook())
    client = NotebookClient(student, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    ran = []
    with client.setup_kernel():
        for index, cell in enumerate(student.cells):
            if cell.cell_type != "code":
                continue
            tagged = "raises-exception" in cell.metadata.get("tags", [])
            try:
                client.execute_cell(cell, index)  # honours raises-exception: no error for tagged cells
            except CellExecutionError as err:  # pragma: no cover - reported on failure
                pytest.fail(f"untagged cell {index} raised: {err}")
            ran.append(index)
            if tagged:
                assert any(o.get("ename") == "NotImplementedError" for o in cell.outputs)
                break
    assert ran == [1, 2, 3, 4, 5, 6]
    assert "double is defined: True" in student.cells[3].outputs[0]["text"]
