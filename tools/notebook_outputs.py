"""The outputs policy of the notebooks, shared by tools/run_notebooks.py and the tests.

Policy: notebooks are committed WITH the outputs of one full-mode run, executed top to
bottom by ``make notebooks``, so that a reader browsing the repository sees every figure.
Each notebook's metadata records a fingerprint of its code cells and of the dqn_helpers
sources at the time it ran; tests/test_notebook_outputs.py fails when the committed
outputs are stale (code changed since), hold an error, or were not run in order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "dqn_helpers"
METADATA_KEY = "dqn_tutorial"
MAX_BYTES = 1_500_000  # keep the repository light: no multi-megabyte animations


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def source_fingerprint(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of the notebook's code cells and of every dqn_helpers source file, subpackages included."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.strip().encode() + b"\0")
    for path in sorted(PACKAGE.rglob("*.py")):  # subpackages too (dqn_helpers/checks/)
        name = path.relative_to(PACKAGE).as_posix().encode()
        digest.update(name + b"\0" + path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def problems(path: Path) -> list[str]:
    """Why the committed state of ``path`` breaks the outputs policy (empty list: it does not)."""
    nb = nbformat.read(path, as_version=4)
    found = []
    recorded = nb.metadata.get(METADATA_KEY, {})
    if recorded.get("source_hash") != source_fingerprint(nb):
        found.append("outputs are stale: code cells or dqn_helpers changed since the last full run")
    if recorded.get("mode") != "full":
        found.append("outputs are not from a full-mode run")
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        found.append(f"cells were not run once, top to bottom (execution counts {counts})")
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {i} holds an error: {output.ename}: {output.evalue}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        found.append(f"file is {size / 1e6:.1f} MB, above the {MAX_BYTES / 1e6:.1f} MB limit")
    return found
