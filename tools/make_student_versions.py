"""Write exercise ("student") versions of the notebooks.

    python tools/make_student_versions.py [--src notebooks] [--out student]

Follows nbgrader's conventions, so the same notebooks also work with nbgrader:

* in a code cell, every region from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
  (marker lines included) becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` at the indentation of the ``BEGIN`` marker; in a
  markdown cell it becomes ``YOUR ANSWER HERE``;
* a cell marked ``"solution": true`` in its nbgrader metadata but without markers
  is replaced by the stub as a whole;
* every region from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` is removed;
* outputs and execution counts are cleared; everything else (markdown, cell and
  notebook metadata, nbgrader metadata included) is kept as it is.

A cell whose stub sits at top level (so running the cell raises, rather than only
calling a function defined in it) gets the cell tag ``raises-exception``, which
nbmake and nbclient honour.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
RAISES_TAG = "raises-exception"


class MarkerError(ValueError):
    """Unbalanced or nested BEGIN/END markers."""


@dataclass
class Summary:
    """What was changed in one notebook."""

    solutions: int = 0
    hidden_tests: int = 0
    tagged: int = 0


def _marker(line: str) -> str | None:
    stripped = line.strip()
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS):
        if stripped.startswith(marker):
            return marker
    return None


def strip_regions(source: str, cell_type: str = "code", where: str = "cell") -> tuple[str, int, int]:
    """Replace solution regions by stubs and drop hidden-test regions.

    Returns the new source, the number of solution regions and of hidden-test regions.
    """
    stub = CODE_STUB if cell_type == "code" else MARKDOWN_STUB
    out: list[str] = []
    inside: str | None = None  # the BEGIN marker of the region we are in
    n_solutions = n_hidden = 0
    for number, line in enumerate(source.splitlines(), start=1):
        marker = _marker(line)
        if inside is None:
            if marker == BEGIN_SOLUTION:
                inside = marker
                n_solutions += 1
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + s for s in stub)
            elif marker == BEGIN_HIDDEN_TESTS:
                inside = marker
                n_hidden += 1
            elif marker is not None:
                raise MarkerError(f"{where}, line {number}: {marker!r} without a matching BEGIN marker.")
            else:
                out.append(line)
        else:
            end = END_SOLUTION if inside == BEGIN_SOLUTION else END_HIDDEN_TESTS
            if marker == end:
                inside = None
            elif marker is not None:
                raise MarkerError(f"{where}, line {number}: {marker!r} inside a region opened by {inside!r}.")
    if inside is not None:
        raise MarkerError(f"{where}: {inside!r} is never closed.")
    if n_solutions == 0 and n_hidden == 0:
        return source, 0, 0  # untouched, byte for byte
    trailing = "\n" if source.endswith("\n") else ""
    return "\n".join(out) + trailing, n_solutions, n_hidden


def _python_source(source: str) -> str:
    """Cell source as plain Python (IPython magics turned into calls) when IPython is available."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return source
    return TransformerManager().transform_cell(source)


def _is_not_implemented_raise(node: ast.AST) -> bool:
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def raises_when_run(source: str) -> bool:
    """True if running the cell itself reaches a ``raise NotImplementedError`` (not only a function in it)."""
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return any(line.startswith(CODE_STUB[1]) for line in source.splitlines())

    def visit(node: ast.AST) -> bool:
        if _is_not_implemented_raise(node):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return False  # the body runs only when the function is called
        return any(visit(child) for child in ast.iter_child_nodes(node))

    return visit(tree)


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, Summary]:
    """A copy of ``nb`` with solutions replaced by stubs, hidden tests removed, outputs cleared."""
    nb = copy.deepcopy(nb)
    summary = Summary()
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type in ("code", "markdown"):
            source, n_solutions, n_hidden = strip_regions(cell.source, cell.cell_type, where)
            is_solution_cell = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
            if is_solution_cell and n_solutions == 0:  # nbgrader: no markers -> the whole cell is the answer
                stub = CODE_STUB if cell.cell_type == "code" else MARKDOWN_STUB
                source, n_solutions = "\n".join(stub), 1
            cell.source = source
            summary.solutions += n_solutions
            summary.hidden_tests += n_hidden
            if cell.cell_type == "code" and n_solutions and raises_when_run(source):
                tags = cell.metadata.setdefault("tags", [])
                if RAISES_TAG not in tags:
                    tags.append(RAISES_TAG)
                summary.tagged += 1
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb, summary


def write_student_versions(src: Path, out: Path) -> dict[Path, Summary]:
    """Write a student version of every ``src/*.ipynb`` into ``out``; returns what was written."""
    written: dict[Path, Summary] = {}
    paths = sorted(Path(src).glob("*.ipynb"))
    if paths:
        Path(out).mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        student, summary = student_version(nb, path.name)
        target = Path(out) / path.name
        nbformat.write(student, target)
        written[target] = summary
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default="notebooks", type=Path, help="folder of solution notebooks")
    parser.add_argument("--out", default="student", type=Path, help="folder for the student versions")
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        print(f"No folder {args.src}/: run this from the repository root or pass --src.", file=sys.stderr)
        return 1
    try:
        written = write_student_versions(args.src, args.out)
    except MarkerError as err:
        print(f"Unbalanced markers: {err}", file=sys.stderr)
        return 1
    if not written:
        print(f"No notebooks found in {args.src}/; nothing written.")
        return 0
    for path, s in written.items():
        print(
            f"wrote {path}: {s.solutions} solution region(s) replaced by stubs, "
            f"{s.hidden_tests} hidden test region(s) removed, {s.tagged} cell(s) tagged {RAISES_TAG}"
        )
    total = sum(s.solutions for s in written.values())
    print(f"{len(written)} student notebook(s) in {args.out}/ with {total} exercise stub(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
