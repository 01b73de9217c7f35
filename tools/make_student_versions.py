"""Write exercise ("student") versions of the notebooks.

    python tools/make_student_versions.py [--src notebooks] [--out student]

Follows nbgrader's conventions, so the same notebooks also work with nbgrader:

* a marker is any line that contains ``BEGIN SOLUTION``, ``END SOLUTION``,
  ``BEGIN HIDDEN TESTS`` or ``END HIDDEN TESTS`` (as nbgrader decides: with any comment
  prefix or none, ``### BEGIN SOLUTION``, ``# BEGIN SOLUTION``, ``<!-- BEGIN SOLUTION -->``,
  ``x = 1  # BEGIN SOLUTION``); the whole marker line goes, whatever else it holds;
* in a code cell, every region from a ``BEGIN SOLUTION`` line to an ``END SOLUTION``
  line (marker lines included) becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` at the indentation of the ``BEGIN`` marker; in a
  markdown or raw cell it becomes ``YOUR ANSWER HERE``;
* a cell marked ``"solution": true`` in its nbgrader metadata but without markers
  is replaced by the stub as a whole;
* every region from ``BEGIN HIDDEN TESTS`` to ``END HIDDEN TESTS`` is removed;
* outputs and execution counts are cleared, and so are the attachments (pasted
  images) a stubbed markdown cell no longer refers to; everything else (markdown,
  cell and notebook metadata, nbgrader metadata included) is kept as it is.

Anything it cannot strip with certainty stops it with a message naming the notebook,
the cell and the line, and nothing is written: unbalanced or nested markers, two
markers on one line, and lines that look like markers but are not ones nbgrader
knows (``# begin solution``, ``# BEGIN_SOLUTION``, ``# END SOLUTIONS``), which would
leave the solution in the student version. Every student version is checked again
for marker-like lines before it is written.

A cell whose stub sits at top level (so running the cell raises, rather than only
calling a function defined in it) gets the cell tag ``raises-exception``, which
nbmake and nbclient honour; so does a later cell that calls a stubbed function or
class at top level, so that "Run all" in the student version goes past it.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
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
    """Markers the tool cannot strip with certainty (unbalanced, nested, misspelled)."""


@dataclass
class Summary:
    """What was changed in one notebook."""

    solutions: int = 0
    hidden_tests: int = 0
    tagged: int = 0


# nbgrader's delimiters: a line is a marker when it contains one of these (case-sensitive).
DELIMITERS = {BEGIN_SOLUTION: "BEGIN SOLUTION", END_SOLUTION: "END SOLUTION",
              BEGIN_HIDDEN_TESTS: "BEGIN HIDDEN TESTS", END_HIDDEN_TESTS: "END HIDDEN TESTS"}
# What a misspelled marker looks like: another case, "_" or "-" or no space, a plural or singular.
LOOKALIKE = re.compile(r"\b(begin|end)[\s_-]*(solutions?|hidden[\s_-]*tests?)\b", re.IGNORECASE)


def _marker(line: str, where: str = "cell", number: int = 0) -> str | None:
    """The marker (e.g. ``BEGIN_SOLUTION``) that ``line`` holds, as nbgrader reads it, or ``None``.

    Raises :class:`MarkerError` for a line with two markers, or one that looks like a marker
    but is not one nbgrader knows (it would be left in place, solution and all).
    """
    found = [marker for marker, text in DELIMITERS.items() if text in line]
    if len(found) > 1:
        raise MarkerError(f"{where}, line {number}: {line.strip()!r} holds {len(found)} markers; put each "
                          f"on a line of its own.")
    if not found and LOOKALIKE.search(line):
        raise MarkerError(f"{where}, line {number}: {line.strip()!r} looks like a marker but is not one nbgrader "
                          f"recognizes, so the solution would stay in. Write one of "
                          f"{', '.join(repr(m) for m in DELIMITERS)} exactly (upper case, single spaces).")
    return found[0] if found else None


def strip_regions(source: str, cell_type: str = "code", where: str = "cell") -> tuple[str, int, int]:
    """Replace solution regions by stubs and drop hidden-test regions.

    Returns the new source, the number of solution regions and of hidden-test regions.
    """
    stub = CODE_STUB if cell_type == "code" else MARKDOWN_STUB
    out: list[str] = []
    inside: str | None = None  # the BEGIN marker of the region we are in
    n_solutions = n_hidden = 0
    for number, line in enumerate(source.splitlines(), start=1):
        marker = _marker(line, where, number)
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


def stubbed_names(source: str) -> set[str]:
    """Top-level functions and classes of a cell that reach ``raise NotImplementedError`` when used."""
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return set()
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and any(_is_not_implemented_raise(child) for child in ast.walk(node))}


def calls_when_run(source: str, names: set[str]) -> bool:
    """True if running the cell itself calls one of ``names`` (not only a function defined in it)."""
    if not names:
        return False
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return False

    def visit(node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return False  # the body runs only when the function is called
        if isinstance(node, ast.Try) and any(_catches_not_implemented(h) for h in node.handlers):
            return any(visit(child) for child in [*node.handlers, *node.orelse, *node.finalbody])
        return any(visit(child) for child in ast.iter_child_nodes(node))

    return visit(tree)


def _catches_not_implemented(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(n is None or isinstance(n, ast.Name) and n.id in {"Exception", "BaseException", "NotImplementedError"}
               for n in names)


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, Summary]:
    """A copy of ``nb`` with solutions replaced by stubs, hidden tests removed, outputs cleared.

    Raises :class:`MarkerError` (naming ``name``, the cell and the line) for anything it
    cannot strip with certainty.
    """
    if nb.get("nbformat", 4) < 4:
        raise MarkerError(f"{name} is in notebook format {nb.get('nbformat')}; open and save it in Jupyter "
                          f"(format 4) first.")
    nb = copy.deepcopy(nb)
    summary = Summary()
    stubs: set[str] = set()  # functions and classes left as stubs so far: a later cell that calls one raises
    for index, cell in enumerate(nb.cells):
        where = _where(name, index, len(nb.cells), cell)
        text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        source, n_solutions, n_hidden = strip_regions(text, cell.cell_type, where)
        is_solution_cell = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
        if is_solution_cell and n_solutions == 0:  # nbgrader: no markers -> the whole cell is the answer
            stub = CODE_STUB if cell.cell_type == "code" else MARKDOWN_STUB
            source, n_solutions = "\n".join(stub), 1
        cell.source = source
        summary.solutions += n_solutions
        summary.hidden_tests += n_hidden
        if n_solutions and cell.get("attachments"):  # pasted images the answer showed go with it
            cell.attachments = {k: v for k, v in cell.attachments.items() if f"attachment:{k}" in source}
            if not cell.attachments:
                del cell["attachments"]
        if cell.cell_type == "code" and n_solutions:
            stubs |= stubbed_names(source)
        if cell.cell_type == "code" and (n_solutions and raises_when_run(source) or calls_when_run(source, stubs)):
            tags = cell.metadata.setdefault("tags", [])
            if RAISES_TAG not in tags:
                tags.append(RAISES_TAG)
            summary.tagged += 1
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    _check_no_marker_left(nb, name)
    return nb, summary


def _where(name: str, index: int, n_cells: int, cell) -> str:
    """``"03_replay_buffers.ipynb, cell 12 of 40 (id 'a1b2')"``: enough to find the cell in Jupyter."""
    cell_id = f" (id {cell['id']!r})" if cell.get("id") else ""
    return f"{name}, cell {index + 1} of {n_cells}{cell_id}"


def _check_no_marker_left(nb: nbformat.NotebookNode, name: str) -> None:
    """The last guard: a student version with a marker-like line left is never written."""
    for index, cell in enumerate(nb.cells):
        for number, line in enumerate(cell.source.splitlines(), start=1):
            if any(text in line for text in DELIMITERS.values()) or LOOKALIKE.search(line):
                raise MarkerError(f"{_where(name, index, len(nb.cells), cell)}, line {number}: the student version "
                                  f"still holds {line.strip()!r}.")


def write_student_versions(src: Path, out: Path) -> dict[Path, Summary]:
    """Write a student version of every ``src/*.ipynb`` into ``out``; returns what was written.

    Every notebook is converted before any is written: one that cannot be stripped with
    certainty raises :class:`MarkerError` and leaves ``out`` as it was.
    """
    paths = sorted(Path(src).glob("*.ipynb"))
    if paths and Path(out).resolve() == Path(src).resolve():
        raise MarkerError(f"--out {out} is the folder of the solution notebooks: writing there would replace "
                          f"them by their student versions. Choose another folder (e.g. student).")
    students = {}
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        except Exception as err:  # not JSON, not a notebook ...: name the file
            raise MarkerError(f"{path.name} cannot be read as a notebook ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}).") from None
        students[Path(out) / path.name] = student_version(nb, path.name)
    if students:
        Path(out).mkdir(parents=True, exist_ok=True)
    for target, (student, _) in students.items():
        nbformat.write(student, target)
    return {target: summary for target, (_, summary) in students.items()}


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
        print(f"Cannot make the student versions: {err} Nothing was written.", file=sys.stderr)
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
