"""The outputs policy of the notebooks, shared by tools/run_notebooks.py and the tests.

Policy: notebooks are committed WITH the outputs of one full-mode run, executed top to
bottom by ``make notebooks``, so that a reader browsing the repository sees every figure.
Each notebook's metadata records a fingerprint of its code cells and of the dqn_helpers
sources at the time it ran; tests/test_notebook_outputs.py fails when the committed
outputs are stale (code changed since), hold an error, or were not run in order.

One cell is outside the policy: the install cell that tools/notebook_header.py writes (tagged
``install-dqn-helpers``). It does nothing where the package is installed, so its outputs are
empty either way; leaving it out of the fingerprint lets ``make badges`` rewrite it (a new
repository URL) without making every notebook's outputs stale. It may be unexecuted (as the
tool leaves it) or executed first (as ``make notebooks`` leaves it);
tests/test_self_install.py runs it where it does its work.
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
INSTALL_CELL_TAG = "install-dqn-helpers"  # the cell tools/notebook_header.py writes


def notebook_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def is_install_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and INSTALL_CELL_TAG in cell.metadata.get("tags", [])


def source_fingerprint(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of the notebook's code cells (but the install cell) and of every dqn_helpers source
    file, subpackages included."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_install_cell(cell):
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
    counts = [c.execution_count for c in nb.cells
              if c.cell_type == "code" and not (is_install_cell(c) and c.execution_count is None)]
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
