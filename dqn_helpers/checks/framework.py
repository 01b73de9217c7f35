"""The small test framework behind every ``check_*`` function: report, runner, formatting.

A check is a list of :class:`Test` (one property each) and, optionally, a list of
:class:`Mistake` (a known wrong answer and how to recognise it). :func:`run_tests`
runs every test, never letting the student's exception escape, then looks for the
first known mistake that explains the failures: the report leads with that mistake's
hint, and the failures it explains are marked as its consequences instead of
getting their own (possibly misleading) hints.
"""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

STRICT_ENV_VAR = "DQN_CHECKS_STRICT"
CONSEQUENCE = "follows from the mistake named above; fix that first"


@dataclass
class CheckResult:
    """Outcome of one tested property."""

    name: str
    passed: bool
    expected: str = ""
    got: str = ""
    hint: str = ""
    not_implemented: bool = False
    consequence: bool = False  # failed only because of the diagnosed mistake


@dataclass
class CheckReport:
    """What a check found: one :class:`CheckResult` per property.

    ``bool(report)`` is ``report.passed``; ``str(report)`` is the full text that
    the check printed; ``repr(report)`` is a one-line summary. ``mistake`` names
    the known wrong answer the failures point to (``None`` if none was recognised).
    """

    check: str
    results: list[CheckResult] = field(default_factory=list)
    skipped: int = 0
    mistake: str | None = None
    mistake_hint: str = ""

    @property
    def passed(self) -> bool:
        return self.skipped == 0 and all(r.passed for r in self.results)

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def message(self) -> str:
        n = len(self.results) + self.skipped
        if self.passed:
            return "\n".join([f"{self.check}: All {n} checks passed."] + [f"  ✓ {r.name}" for r in self.results])
        failures = self.failures
        if self.n_passed == 0 and failures and all(r.not_implemented for r in failures):
            return (
                f"{self.check}: ✗ not implemented yet. Your code raised NotImplementedError: replace "
                f"the lines `# YOUR CODE HERE` and `raise NotImplementedError()` with your solution, "
                f"then run the check again ({n} checks waiting)."
            )
        lines = [f"{self.check}: {self.n_passed} of {n} checks passed, {len(failures)} failed."]
        if self.mistake:
            lines += [f"  Most likely mistake: {self.mistake}", f"      hint:     {self.mistake_hint}"]
        for r in self.results:
            if r.passed:
                lines.append(f"  ✓ {r.name}")
                continue
            lines.append(f"  ✗ {r.name}" + ("  (a consequence of the mistake above)" if r.consequence else ""))
            if r.expected:
                lines.append(f"      expected: {r.expected}")
            if r.got:
                lines.append(f"      got:      {r.got}")
            if r.hint:
                lines.append(f"      hint:     {r.hint}")
        if self.skipped:
            lines.append(f"  … {self.skipped} further checks skipped until the problems above are fixed.")
        return "\n".join(lines)

    __str__ = message

    def __repr__(self) -> str:
        n = len(self.results) + self.skipped
        verdict = "all passed" if self.passed else f"{len(self.failures)} failed"
        return f"<CheckReport {self.check}: {self.n_passed}/{n} checks passed, {verdict}>"


class Fail(Exception):
    """Raised by a test when a property does not hold."""

    def __init__(self, expected: str, got: str, hint: str = ""):
        super().__init__(f"expected {expected}, got {got}")
        self.expected, self.got, self.hint = expected, got, hint


@dataclass
class Test:
    """One property: ``run()`` returns when it holds and raises :class:`Fail` when not."""

    name: str
    run: Callable[[], None]
    required: bool = False  # stop after a failure: later tests would only repeat it


@dataclass
class Mistake:
    """A known wrong answer: ``detect()`` is True when the student's code makes it.

    ``explains`` lists the names of the tests that fail *because* of this mistake
    (``None``: all of them); only their hints are replaced by a pointer to it.
    ``detect`` runs only when one of those tests failed.
    """

    name: str
    detect: Callable[[], bool]
    hint: str | Callable[[], str]  # a function when the hint quotes what the student's code did
    explains: Sequence[str] | None = None


def where(err: BaseException) -> str:
    """File and line of the innermost frame (usually the student's code)."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    in_notebook = frame.filename.startswith("<") or "ipykernel" in frame.filename
    place = "your notebook cell" if in_notebook else os.path.basename(frame.filename)
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" (raised at line {frame.lineno} of {place}{code})"


def hint_for(err: Exception, signature: str) -> str:
    """A generic hint for an exception raised by the student's code."""
    text = str(err)
    if isinstance(err, AttributeError):
        return f"Something is missing or misspelled: {text}. Expected interface: {signature}."
    if isinstance(err, TypeError):
        return f"Check the arguments and the types your code works with. Expected interface: {signature}."
    if isinstance(err, RuntimeError) and "leaf Variable" in text:
        return "Copy weights inside `with torch.no_grad():` (or use load_state_dict)."
    if isinstance(err, RuntimeError) and ("shape" in text or "size" in text):
        return "A shape does not fit: print the shapes of the tensors on the line that failed."
    if isinstance(err, IndexError | ValueError) and ("index" in text or "shape" in text or "broadcast" in text):
        return "An index or shape does not fit: print the shapes and indices on the line that failed."
    return "Read the error message and the line it points to."


def run_tests(check: str, tests: Sequence[Test], signature: str, mistakes: Sequence[Mistake] = ()) -> CheckReport:
    """Run ``tests`` (then ``mistakes`` if any failed), print the report and return it."""
    report = CheckReport(check)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is many times faster than two competing ones
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _run_each(report, tests, signature)
            _diagnose(report, mistakes)
    finally:
        torch.set_num_threads(threads)
    text = report.message()
    print(text)
    if not report.passed and os.environ.get(STRICT_ENV_VAR) == "1":
        raise AssertionError(text)
    return report


def _run_each(report: CheckReport, tests: Sequence[Test], signature: str) -> None:
    for i, test in enumerate(tests):
        try:
            with torch.random.fork_rng():  # never disturb the notebook's own random state
                torch.manual_seed(1234 + i)
                test.run()
        except Fail as fail:
            report.results.append(CheckResult(test.name, False, fail.expected, fail.got, fail.hint))
        except NotImplementedError as err:
            report.results.append(
                CheckResult(
                    test.name, False, "an implementation", f"not implemented yet (NotImplementedError{where(err)})",
                    "Replace `raise NotImplementedError()` with your code.", not_implemented=True,
                )
            )
        except Exception as err:  # the student's code raised: report it, never crash
            got = f"{type(err).__name__}: {err}{where(err)}"
            report.results.append(CheckResult(test.name, False, "no error", got, hint_for(err, signature)))
        else:
            report.results.append(CheckResult(test.name, True))
            continue
        if test.required:
            report.skipped = len(tests) - i - 1
            break


def _diagnose(report: CheckReport, mistakes: Sequence[Mistake]) -> None:
    failed = {r.name for r in report.failures if not r.not_implemented}
    for mistake in mistakes:
        explained = failed if mistake.explains is None else failed & set(mistake.explains)
        if not explained:
            continue
        try:
            with torch.random.fork_rng():
                torch.manual_seed(4321)
                found = bool(mistake.detect())
                hint = mistake.hint() if found and callable(mistake.hint) else mistake.hint
        except Exception:  # a detector that cannot run on this answer says nothing
            found = False
        if found:
            report.mistake, report.mistake_hint = mistake.name, hint
            for r in report.results:
                if r.name in explained:
                    r.consequence, r.hint = True, ""
            return


@contextmanager
def lenient():
    """Within this block a failed check only reports, even with ``DQN_CHECKS_STRICT=1``.

    For cells that show a check failing on purpose (a deliberately broken agent).
    """
    saved = os.environ.pop(STRICT_ENV_VAR, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[STRICT_ENV_VAR] = saved


def not_callable_report(check: str, obj, what: str) -> CheckReport:
    """The report for an answer that is not a function or class (e.g. it was called)."""

    def fail():
        got = f"{type(obj).__name__}: {obj!r:.60}"
        raise Fail(what, got, "Pass the function or class itself, without calling it (no parentheses).")

    return run_tests(check, [Test(f"{what} is callable", fail)], what)


# --------------------------------------------------------------------------- formatting


def fmt(x) -> str:
    """A short, readable rendering of a number, array or tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=4, suppress_small=True, separator=", ", threshold=12)
    if isinstance(x, float):
        return f"{x:.6g}"
    return f"{x!r:.200}"


def describe(x) -> str:
    """Type, shape, dtype and value of ``x``."""
    if isinstance(x, torch.Tensor | np.ndarray):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}: {fmt(x)}"
    return f"{type(x).__name__}: {fmt(x)}"


def as_number(out, hint: str) -> float:
    """``out`` (a number, or a one-element tensor or array) as a float, else a :class:`Fail` with ``hint``."""
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.detach().item()
    elif isinstance(out, np.ndarray) and out.size == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, int | float | np.number):
        raise Fail("a number", describe(out), hint)
    return float(out)


def close(a, b, atol: float = 1e-5) -> bool:
    """Same shape and values (tensors or arrays)."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=1e-5))


def attr(obj, name: str, what: str):
    """``obj.name`` (or ``obj[name]`` for a dict), failing with a readable message if missing."""
    if isinstance(obj, dict) and name in obj:
        return obj[name]
    if not hasattr(obj, name):
        fields = [a for a in dir(obj) if not a.startswith("_")] if obj is not None else []
        raise Fail(
            f"{what} with an attribute `{name}`",
            f"{type(obj).__name__} with attributes {fields[:10]}",
            f"Return an object (e.g. a dataclass or namedtuple) with the fields {what} needs.",
        )
    return getattr(obj, name)


def array(x, name: str) -> np.ndarray:
    """``x`` as a NumPy array, failing with a readable message if it cannot be one."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as err:
        raise Fail(f"`{name}` as an array", f"{type(x).__name__} ({err})") from err
