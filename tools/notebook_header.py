"""Colab and Binder badges and a self-install cell for every notebook (``make badges``).

The public repository's URL lives in one place, ``[project.urls] Repository`` in
pyproject.toml. From it this tool writes:

* a line of two badges, "Open in Colab" and "Binder", under the title of each notebook's
  first (markdown) cell, replacing the badge line an earlier run wrote;
* the notebook's install cell, a code cell placed right after the title (before the
  ``parameters`` cell): in a kernel without ``dqn_helpers`` (Colab, Binder without setup, a
  fresh environment) it installs the package from the repository, or from the source named
  by the environment variable ``DQN_HELPERS_SOURCE``, and says so; with the package installed
  it does nothing. It is found again by its tag, so a rerun rewrites it in place;
* the table of badges in README.md, between the marker lines ``<!-- notebook-badges:start -->``
  and ``<!-- notebook-badges:end -->``.

While ``Repository`` still holds the placeholder (``YOUR-GITHUB-ORG``: the repository is not
published yet), no badges are written (a badge would open a page that does not exist) and the
install cell installs only from ``DQN_HELPERS_SOURCE``, saying how to set it when it is unset.

Running it twice changes nothing the second time. Nothing else in a notebook is touched.
When the URL changes, edit pyproject.toml and run ``make badges``: the install cell does not
count towards the outputs' fingerprint (tools/notebook_outputs.py), so no rerun is needed.

Usage:
    python tools/notebook_header.py           # rewrite what is out of date, list what changed
    python tools/notebook_header.py --check   # change nothing; exit 1 if something is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import quote

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_outputs import INSTALL_CELL_TAG, ROOT, notebook_paths  # noqa: E402

BRANCH = "main"  # the branch the badges and the install cell point at
PLACEHOLDER = "YOUR-GITHUB-ORG"  # in pyproject.toml until the repository is published
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
README_START, README_END = "<!-- notebook-badges:start -->", "<!-- notebook-badges:end -->"

# The install cell, from three parts: what it says it does, how it picks the source, and the
# install itself (the same in both cases).
INSTALL_HEADER = {
    True: ("# Colab, Binder or any Jupyter kernel without dqn_helpers: install it (about a minute) from\n"
           "# the repository, or from DQN_HELPERS_SOURCE (a pip URL or a local checkout). Otherwise: nothing.\n"),
    False: ("# A Jupyter kernel without dqn_helpers: install it (about a minute) from DQN_HELPERS_SOURCE (a pip\n"
            "# URL or a local checkout of this repository). Otherwise: nothing.\n"),
}
INSTALL_IMPORTS = '''\
import importlib.util

if importlib.util.find_spec("dqn_helpers") is None:
    import importlib
    import os
    import subprocess
    import sys
    from pathlib import Path

'''
SOURCE_FROM_URL = '''\
    source = os.environ.get("DQN_HELPERS_SOURCE", "PIP_URL")
'''
SOURCE_REQUIRED = '''\
    source = os.environ.get("DQN_HELPERS_SOURCE")
    if not source:
        raise ModuleNotFoundError(
            "dqn_helpers is not installed in this kernel. From the repository's root run `pip install -e .` "
            "(or `make setup`) and restart the kernel, or set DQN_HELPERS_SOURCE to a pip URL or a local "
            "checkout of the repository and run this cell again.")
'''
INSTALL_BODY = '''\
    if Path(source).is_dir():  # a local checkout: pip wants it as a file:// URL
        source = Path(source).resolve().as_uri()
    print(f"dqn_helpers is not installed in this kernel: installing it from {source} ...", flush=True)
    # --no-compile: half the install time; Python compiles what the notebook imports when it does
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    subprocess.run([*pip, f"dqn-helpers[kernel] @ {source}"], check=True)
    importlib.invalidate_caches()  # let this running kernel see the new package
    print("dqn_helpers is installed.")'''


def published(url: str) -> bool:
    """False while pyproject.toml names the placeholder instead of the public repository."""
    return PLACEHOLDER not in url


def repository_url(pyproject: Path) -> str:
    """The ``Repository`` entry of ``[project.urls]`` (read with a regex: Python 3.10 has no tomllib)."""
    section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", pyproject.read_text(), re.M | re.S)
    entry = section and re.search(r'^Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
    if not entry:
        raise SystemExit(f'{pyproject}: no `Repository = "https://github.com/OWNER/NAME"` under [project.urls]; '
                         "add it there, it is the one place the badges read the repository from")
    return entry.group(1)


def github_owner_and_name(url: str) -> tuple[str, str]:
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise SystemExit(f"repository URL {url!r} is not https://github.com/OWNER/NAME; "
                         "Colab and Binder open notebooks from GitHub, so point [project.urls] Repository there")
    return match.group(1), match.group(2)


def badge_links(url: str, notebook: str) -> tuple[str, str]:
    """(Colab URL, Binder URL) that open ``notebooks/<notebook>`` of the repository at BRANCH."""
    owner, name = github_owner_and_name(url)
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/notebooks/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner}/{name}/{BRANCH}?labpath={quote('notebooks/' + notebook, safe='')}"
    return colab, binder


def badge_line(url: str, notebook: str) -> str:
    colab, binder = badge_links(url, notebook)
    return f"[![Open In Colab]({COLAB_BADGE})]({colab}) [![Binder]({BINDER_BADGE})]({binder})"


def install_source(url: str) -> str:
    if not published(url):
        return INSTALL_HEADER[False] + INSTALL_IMPORTS + SOURCE_REQUIRED + INSTALL_BODY
    owner, name = github_owner_and_name(url)
    pip_url = f"git+https://github.com/{owner}/{name}@{BRANCH}"
    return INSTALL_HEADER[True] + INSTALL_IMPORTS + SOURCE_FROM_URL.replace("PIP_URL", pip_url) + INSTALL_BODY


def is_badge_line(line: str) -> bool:
    return COLAB_BADGE in line or BINDER_BADGE in line


def with_badges(title_source: str, line: str | None) -> str:
    """The title cell's text with ``line`` as its badge line, right under the ``# `` title (None: none)."""
    lines = [old for old in title_source.split("\n") if not is_badge_line(old)]
    # an earlier run left the badge line between two blank lines: drop one of them with it
    while len(lines) > 2 and lines[1] == "" and lines[2] == "":
        del lines[1]
    rest = lines[1:]
    if line is None:
        return "\n".join([lines[0], *rest]).rstrip("\n")
    return "\n".join([lines[0], "", line, *([""] if rest and rest[0] != "" else []), *rest]).rstrip("\n")


def notebook_with_header(path: Path, url: str) -> str:
    """The text of notebook ``path`` with its badges and install cell brought up to date."""
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0] if nb.cells else None
    if title is None or title.cell_type != "markdown" or not title.source.startswith("# "):
        raise SystemExit(f"{path.name}: the first cell must be a markdown cell starting with the `# ` title; "
                         "the badges go under that title")
    title.source = with_badges(title.source, badge_line(url, path.name) if published(url) else None)

    source = install_source(url)
    tagged = [c for c in nb.cells if INSTALL_CELL_TAG in c.metadata.get("tags", [])]
    if len(tagged) > 1:
        raise SystemExit(f"{path.name}: {len(tagged)} cells carry the tag {INSTALL_CELL_TAG!r}; keep one")
    if tagged:
        cell = tagged[0]
        if cell.source != source:  # rewritten: an earlier output would no longer belong to it
            # (its execution count stays: the cell ran in the committed run, printing nothing where
            # dqn_helpers was installed, and the counts of the run must stay 1, 2, 3, ...)
            cell.source, cell.outputs = source, []
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INSTALL_CELL_TAG]})
        cell.id = INSTALL_CELL_TAG  # a stable id: no random churn in the file
        nb.cells.insert(1, cell)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"  # as nbformat.write stores it


def readme_table(url: str, paths: list[Path]) -> str:
    if not published(url):
        titles = [nbformat.read(path, as_version=4).cells[0].source.split("\n")[0].removeprefix("# ").strip()
                  for path in paths]
        return "\n".join([*(f"* [{title}](notebooks/{path.name})" for title, path in zip(titles, paths)), "",
                          f"(No Colab or Binder badges yet: `[project.urls] Repository` in pyproject.toml still says "
                          f"{PLACEHOLDER}. Once it names the published repository, `make badges` writes them here "
                          "and in every notebook.)"])
    rows = ["| Notebook | Colab | Binder |", "|---|---|---|"]
    for path in paths:
        title = nbformat.read(path, as_version=4).cells[0].source.split("\n")[0].removeprefix("# ").strip()
        colab, binder = badge_links(url, path.name)
        rows.append(f"| [{title}](notebooks/{path.name}) | [![Open In Colab]({COLAB_BADGE})]({colab}) "
                    f"| [![Binder]({BINDER_BADGE})]({binder}) |")
    return "\n".join(rows)


def readme_with_table(text: str, url: str, paths: list[Path]) -> str:
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md: add the lines {README_START} and {README_END} where the table of "
                         "badges should go")
    return text[: start + len(README_START)] + "\n" + readme_table(url, paths) + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    url = repository_url(args.root / "pyproject.toml")
    paths = notebook_paths(args.root / "notebooks")
    readme = args.root / "README.md"
    wanted = {path: notebook_with_header(path, url) for path in paths}
    wanted[readme] = readme_with_table(readme.read_text(encoding="utf-8"), url, paths)
    stale = [path for path, text in wanted.items() if path.read_text(encoding="utf-8") != text]
    if args.check:
        if stale:
            print("out of date (run `make badges`):", ", ".join(p.name for p in stale))
            return 1
        print(f"the badges and install cells of {len(paths)} notebooks and the README point at {url}")
        return 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
    print(f"repository: {url} (branch {BRANCH}); updated: {', '.join(p.name for p in stale) or 'nothing'}")
    if PLACEHOLDER in url:
        print(f"note: {PLACEHOLDER} is a placeholder; set [project.urls] Repository in pyproject.toml to the "
              "published repository and run `make badges` again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
