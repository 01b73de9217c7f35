"""What the tests of the exercise checks share: a lenient environment, and readers of a report.

Imported by tests/test_checks_students.py and tests/test_checks_nb0*.py. Importing ``lenient``
into a test module switches it on there (it is an autouse fixture).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dqn_helpers.checks import STRICT_ENV_VAR, CheckReport
from dqn_helpers.checks.limits import MEMORY_LIMIT_ENV_VAR, TIME_LIMIT_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    """Reports, not exceptions, and no time or memory limit: the tests read what a student sees."""
    monkeypatch.delenv(STRICT_ENV_VAR, raising=False)
    monkeypatch.delenv(TIME_LIMIT_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMORY_LIMIT_ENV_VAR, raising=False)


def failed(report: CheckReport) -> list[str]:
    return [r.name for r in report.failures]


def named(report: CheckReport, words: str, *, absent: tuple[str, ...] = ()) -> str:
    """The report failed and its leading mistake says ``words``; none of ``absent`` appears."""
    text = str(report)
    assert not report, text
    assert report.mistake is not None and words in report.mistake, text
    for other in absent:
        assert other not in text, (other, text)
    return text


def reference_lines() -> set[str]:
    """Every line between the solution markers of the notebooks, without spaces, comments and keywords."""
    lines = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            inside = False
            for line in "".join(cell["source"]).splitlines():
                if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                    inside = "BEGIN" in line
                    continue
                code = re.sub(r"\s+#.*$", "", line).strip() if inside else ""
                code = re.sub(r"^(return|if|elif|while|for|with)\s+", "", code).rstrip(":")
                if len(key := re.sub(r"\s+", "", code)) >= 16:
                    lines.add(key)
    return lines


def pasted(text: str, lines: set[str]) -> list[str]:
    """The reference lines that ``text`` contains, spaces ignored."""
    squeezed = re.sub(r"\s+", "", text)
    return [line for line in lines if line in squeezed]
