"""The small test framework behind every ``check_*`` function: report, runner, limits.

A check is a list of :class:`Test` (one property each) and, optionally, a list of
:class:`Mistake` (a known wrong answer and how to recognise it). :func:`run_tests`
runs every test, never letting the student's code escape (an exception, ``sys.exit()``,
an endless loop or runaway memory each become a failed line), then looks for the
first known mistake that explains the failures: the report leads with that mistake's
hint, and the failures it explains are marked as its consequences instead of
getting their own (possibly misleading) hints.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from dqn_helpers.checks import limits
from dqn_helpers.checks.delegation import OWN_CODE
from dqn_helpers.checks.formatting import Fail, hint_for, where
from dqn_helpers.checks.limits import LimitExceeded, OutOfMemory, OutOfTime, guard, memory_limit, time_limit

STRICT_ENV_VAR = "DQN_CHECKS_STRICT"
_SHAPE_WORDS = ("broadcast", "size", "shape")


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
    note: str = ""  # what else was observed (a warning about shapes raised during the test)


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
    timed_out: bool = False  # a test ran out of time: the detectors would only wait for the same loop again

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
            for label, text in (("expected", r.expected), ("got", r.got), ("hint", r.hint), ("note", r.note)):
                if text:
                    lines.append(f"      {label + ':':<9} {text}")
        if self.skipped:
            lines.append(f"  … {self.skipped} further checks skipped until the problems above are fixed.")
        return "\n".join(lines)

    __str__ = message

    def __repr__(self) -> str:
        n = len(self.results) + self.skipped
        verdict = "all passed" if self.passed else f"{len(self.failures)} failed"
        return f"<CheckReport {self.check}: {self.n_passed}/{n} checks passed, {verdict}>"


@dataclass
class Test:
    """One property: ``run()`` returns when it holds and raises :class:`Fail` when not.

    ``on_error(err)`` gives this property's own hint for an exception raised by the student's
    code (``None``: the generic one); ``time_limit`` overrides the default seconds it may take.
    """

    name: str
    run: Callable[[], None]
    required: bool = False  # stop after a failure: later tests would only repeat it
    on_error: Callable[[BaseException], str | None] | None = None
    time_limit: float | None = None


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


def run_tests(check: str, tests: Sequence[Test], signature: str, mistakes: Sequence[Mistake] = (),
              subject: str = "your function", hang_hint: str = limits.HANG_HINT) -> CheckReport:
    """Run ``tests`` (then ``mistakes`` if any failed), print the report and return it.

    ``subject`` names the student's answer in the lines about limits ("your function did
    not return within 10 s"); ``hang_hint`` is the hint of those lines.
    """
    report = CheckReport(check)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is many times faster than two competing ones
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _run_each(report, tests, signature, subject, hang_hint)
            _diagnose(report, mistakes)
    finally:
        torch.set_num_threads(threads)
    text = report.message()
    print(text)
    if not report.passed and os.environ.get(STRICT_ENV_VAR) == "1":
        raise AssertionError(text)
    return report


def _run_each(report: CheckReport, tests: Sequence[Test], signature: str, subject: str, hang_hint: str) -> None:
    for i, test in enumerate(tests):
        limit = test.time_limit or time_limit()
        stop = test.required
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with torch.random.fork_rng():  # never disturb the notebook's own random state
                    torch.manual_seed(1234 + i)
                    with guard(limit, memory_limit()):
                        test.run()
        except Fail as fail:
            result = CheckResult(test.name, False, fail.expected, fail.got, fail.hint)
        except NotImplementedError as err:
            result = CheckResult(test.name, False, "an implementation",
                                 f"not implemented yet (NotImplementedError{where(err)})",
                                 "Replace `raise NotImplementedError()` with your code.", not_implemented=True)
        except OutOfTime as err:  # an endless loop would fail every later test the same way: stop here
            report.timed_out = True
            result, stop = CheckResult(test.name, False, f"an answer within {limit:g} s",
                                       f"{subject} did not return within {limit:g} s{where(err)}", hang_hint), True
        except OutOfMemory as err:
            result, stop = CheckResult(test.name, False, f"at most {memory_limit() / 2**20:g} MB of extra memory",
                                       f"{subject} used more than that{where(err)}", limits.MEMORY_HINT), True
        except SystemExit as err:
            result, stop = CheckResult(test.name, False, "a returned answer",
                                       f"{subject} called sys.exit({err.code!r}){where(err)}", limits.EXIT_HINT), True
        except Exception as err:  # the student's code raised: report it, never crash
            hint = (test.on_error(err) if test.on_error else None) or hint_for(err, signature)
            result = CheckResult(test.name, False, "no error", f"{type(err).__name__}: {err}{where(err)}", hint)
        else:
            report.results.append(CheckResult(test.name, True))
            continue
        shapes = [str(w.message) for w in caught if any(word in str(w.message) for word in _SHAPE_WORDS)]
        result.note = f"PyTorch warned during this test: {shapes[0]}" if shapes else ""
        report.results.append(result)
        if stop:
            report.skipped = len(tests) - i - 1
            break


def _diagnose(report: CheckReport, mistakes: Sequence[Mistake]) -> None:
    failed = {r.name for r in report.failures if not r.not_implemented}
    # the package's own code (a wrong variant of it too) is named as such; a time-out would only repeat itself
    if OWN_CODE in failed or report.timed_out:
        return
    for mistake in mistakes:
        explained = failed if mistake.explains is None else failed & set(mistake.explains)
        if not explained:
            continue
        try:
            with torch.random.fork_rng(), guard(time_limit(), memory_limit()):
                torch.manual_seed(4321)
                found = bool(mistake.detect())
                hint = mistake.hint() if found and callable(mistake.hint) else mistake.hint
        except (Exception, LimitExceeded, SystemExit):  # a detector that cannot run on this answer says nothing
            found = False
        if found:
            report.mistake, report.mistake_hint = mistake.name, hint
            for r in report.results:
                if r.name in explained:
                    r.consequence, r.hint, r.note = True, "", ""
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
