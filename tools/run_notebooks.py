"""Run every notebook top to bottom in full mode and store its outputs (``make notebooks``).

Usage:
    python tools/run_notebooks.py                 # all notebooks, full mode, outputs saved
    python tools/run_notebooks.py 03 07           # only those whose names start so
    python tools/run_notebooks.py --smoke         # smoke mode: time only, nothing saved

Prints the run time of each notebook. See tools/notebook_outputs.py for the policy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(__file__))
from notebook_outputs import METADATA_KEY, notebook_paths, source_fingerprint  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="notebook name prefixes, e.g. 03")
    parser.add_argument("--smoke", action="store_true", help="run in smoke mode and save nothing")
    parser.add_argument("--use-cache", action="store_true",
                        help="reuse finished training runs from the experiment cache (default: a fresh, empty "
                             "cache, so the run times printed are those of a first run)")
    args = parser.parse_args()
    if not args.use_cache:
        os.environ["DQN_CACHE_DIR"] = tempfile.mkdtemp(prefix="dqn-cache-")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    # A backend forced from outside (MPLBACKEND=Agg, as on CI) would replace Jupyter's
    # inline backend and leave the stored notebooks without figures.
    os.environ.pop("MPLBACKEND", None)
    if args.smoke:
        os.environ["DQN_SMOKE"] = "1"
    else:
        os.environ.pop("DQN_SMOKE", None)
    total = 0.0
    for path in notebook_paths():
        if args.only and not any(path.name.startswith(prefix) for prefix in args.only):
            continue
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{path.name:32s} {seconds:7.1f} s ({'smoke' if args.smoke else 'full'} mode)", flush=True)
        if not args.smoke:
            nb.metadata[METADATA_KEY] = {
                "mode": "full",
                "source_hash": source_fingerprint(nb),
                "seconds": round(seconds, 1),
            }
            nbformat.write(nb, path)
    print(f"{'total':32s} {total:7.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
