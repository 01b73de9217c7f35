"""The student version of notebook 09 raises first where the student's update is used (a cell tagged so that
"Run all" goes on), and its checks say "not implemented yet"."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "09_write_your_own_dqn.ipynb"


def student_version() -> nbformat.NotebookNode:
    spec = importlib.util.spec_from_file_location("make_student_versions", ROOT / "tools" / "make_student_versions.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    student, summary = tool.student_version(nbformat.read(NOTEBOOK, as_version=4))
    assert summary.solutions == 5  # update, loop, two instructor answers and question 2's measurement
    return student


def test_student_notebook_09_runs_up_to_the_first_stub(tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("DQN_SMOKE", "1")
    monkeypatch.delenv("DQN_CHECKS_STRICT", raising=False)  # a student's failed check only reports
    student = student_version()
    client = NotebookClient(student, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    outputs, errors = [], []
    with client.setup_kernel():
        for index, cell in enumerate(student.cells):  # every cell, to see each check's report on a stub
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                errors.append((index, str(err)))
            outputs += [o.get("text", "") for o in cell.outputs]
    raised = [(index, output.get("ename", "")) for index, cell in enumerate(student.cells) if cell.cell_type == "code"
              for output in cell.outputs if output.get("output_type") == "error"]
    assert raised, "the student version should raise where the student's code is first needed"
    first, name = raised[0]
    assert name == "NotImplementedError"
    assert "dqn_update(mine, batch)" in student.cells[first].source  # the first cell that runs the student's code
    assert "raises-exception" in student.cells[first].metadata.get("tags", []), "'Run all' must go past it"
    for index, later in errors:  # untagged cells fail only on a stub or on what a stubbed cell did not define
        assert "NotImplementedError" in later or "NameError" in later, (index, later[-300:])
    text = "".join(outputs)
    for check in ("check_dqn_update", "check_training_loop", "check_probes"):
        assert f"{check}: ✗ not implemented yet" in text, check


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
