"""Checks of epsilon schedules: the linear one and an exponential one.

Built step by step in ``notebooks/06_epsilon_decay.ipynb``.
"""

from __future__ import annotations

import math

import numpy as np

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import as_number, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

ZERO_FRACTION = "fraction = 0 edge case gives `end`"
HANG_HINT = ("A schedule is a formula of progress: compute epsilon directly from progress, start, end and fraction. "
             "A loop that steps epsilon towards end can miss its stop condition and run for ever.")


def _zero_division(err: BaseException) -> str | None:
    if isinstance(err, ZeroDivisionError):
        return ("fraction = 0 means there is no decay phase: epsilon is `end` from the start. Your code divided by "
                "fraction before handling that case.")
    return None


def _number(out) -> float:
    """The schedule's output as a finite float, or a Fail that says what came back."""
    out = as_number(out, "Return one number (a Python float).")
    if not math.isfinite(out):
        raise Fail("a finite number", repr(out), "Guard the division by fraction.")
    return out


def check_epsilon_schedule(fn) -> CheckReport:
    """Check ``fn(progress, start, end, fraction) -> float`` (notebook 06_epsilon_decay).

    Compares with :func:`dqn_helpers.linear_epsilon`: endpoints, midpoint, monotone
    decay, staying at ``end`` after ``fraction`` of training (catches decaying past
    the end and never decaying), ``fraction = 0`` and ``fraction = 1``.
    """
    from dqn_helpers.schedules import linear_epsilon

    name = "check_epsilon_schedule"
    signature = "fn(progress, start, end, fraction) -> float"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(progress, start, end, fraction)")

    settings = ((1.0, 0.05, 0.1), (0.8, 0.1, 0.5), (0.5, 0.01, 0.25))

    def value(progress, start, end, fraction) -> float:
        return _number(fn(progress, start, end, fraction))

    def compare(progress, start, end, fraction, hint):
        got = value(progress, start, end, fraction)
        expected = linear_epsilon(progress, start, end, fraction)
        if abs(got - expected) > 1e-6:
            raise Fail(
                f"{expected:.6g} for progress={progress}, start={start}, end={end}, fraction={fraction}",
                f"{got:.6g}",
                hint,
            )

    def returns_float():
        value(0.0, 1.0, 0.05, 0.1)

    def start_point():
        for start, end, fraction in settings:
            compare(0.0, start, end, fraction, "At progress 0 epsilon equals start.")

    def end_point():
        for start, end, fraction in settings:
            compare(
                fraction,
                start,
                end,
                fraction,
                "At progress == fraction epsilon has reached end. If it is still at start, it never decays.",
            )

    def midpoint():
        for start, end, fraction in settings:
            compare(fraction / 2, start, end, fraction, "Halfway through the decay epsilon is (start + end) / 2.")

    def monotone():
        for start, end, fraction in settings:
            values = [value(p, start, end, fraction) for p in np.linspace(0.0, 1.0, 41)]
            if any(b > a + 1e-9 for a, b in zip(values[:-1], values[1:], strict=True)):
                raise Fail(
                    "epsilon that never increases as progress goes from 0 to 1",
                    fmt(np.round(values, 3)),
                    "Epsilon falls from start to end, then stays there.",
                )

    def stays_at_end():
        for start, end, fraction in settings:
            for progress in (min(1.0, fraction * 1.5), min(1.0, fraction * 3), 1.0):
                got = value(progress, start, end, fraction)
                if abs(got - end) > 1e-6:
                    hint = ("Once progress reaches fraction the decay is over: from there on epsilon stays at "
                            "end, never below it.")
                    if got < end:
                        hint = ("Epsilon decayed past end: the straight line keeps falling after progress > fraction, "
                                "so hold it at its floor, end, from there on.")
                    elif abs(got - start) < 1e-9:
                        hint = "Epsilon never decayed: it should fall linearly from start to end."
                    raise Fail(
                        f"{end} (= end) for progress={progress} > fraction={fraction}",
                        f"{got:.6g}",
                        hint,
                    )

    def zero_fraction():
        for progress in (0.0, 0.5, 1.0):
            compare(
                progress,
                1.0,
                0.05,
                0.0,
                "fraction=0 means no decay phase: return end straight away (and avoid dividing by zero).",
            )

    def whole_training():
        for progress in (0.25, 0.75, 1.0):
            compare(progress, 1.0, 0.0, 1.0, "With fraction=1 the decay lasts the whole training.")

    tests = [
        Test("returns a number", returns_float, required=True),
        Test(OWN_CODE, own_code_test(returns_float, {"dqn_helpers.linear_epsilon": linear_epsilon},
                                     answer=fn), required=True),
        Test("starts at `start` (progress 0)", start_point),
        Test("reaches `end` at progress == fraction", end_point),
        Test("midpoint of the decay is (start + end) / 2", midpoint),
        Test("decays monotonically", monotone),
        Test("stays at `end` after the decay phase", stays_at_end),
        Test(ZERO_FRACTION, zero_fraction, on_error=_zero_division),
        Test("fraction = 1 decays over the whole training", whole_training),
    ]
    mistakes = [
        Mistake("the decay reaches `end` at progress 1, not at progress == fraction.",
                lambda: all(abs(value(p, 1.0, 0.05, 0.1) - (1.0 - 0.95 * p)) < 1e-6 for p in (0.02, 0.05, 0.08)),
                "The decay lasts the first `fraction` of training, not all of it: at progress == fraction epsilon is "
                "already end, and it stays there.",
                explains=["reaches `end` at progress == fraction", "midpoint of the decay is (start + end) / 2",
                          "stays at `end` after the decay phase"]),
    ]
    return run_tests(name, tests, signature, mistakes, hang_hint=HANG_HINT)



def check_exponential_epsilon(fn) -> CheckReport:
    """Check ``fn(progress, start, end, fraction) -> float``, an exponential decay (notebook 06_epsilon_decay).

    Expected: ``start * (end / start) ** (progress / fraction)`` while ``progress < fraction``,
    then ``end``. Tests: a number; the start point; ``end`` reached exactly at ``fraction``;
    the midpoint of the decay is the geometric mean of start and end; the same factor per
    equal step of progress; ``end`` after the decay; ``fraction = 0``. Recognises the linear
    schedule, a decay that reaches ``end`` at progress 1 instead of ``fraction``, and PyTorch's
    DQN-tutorial form ``end + (start - end) * exp(-progress / fraction)``.
    """
    name = "check_exponential_epsilon"
    signature = "fn(progress, start, end, fraction) -> float"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(progress, start, end, fraction)")
    settings = ((1.0, 0.05, 0.2), (0.8, 0.1, 0.5), (0.5, 0.01, 1.0))

    def expected(progress, start, end, fraction) -> float:
        return end if fraction == 0 or progress >= fraction else start * (end / start) ** (progress / fraction)

    def compare(progress, start, end, fraction, what, hint=""):
        got, want = _number(fn(progress, start, end, fraction)), expected(progress, start, end, fraction)
        if abs(got - want) > 1e-6:
            raise Fail(f"{want:.6g} ({what}) for progress={progress}, start={start}, end={end}, fraction={fraction}",
                       f"{got:.6g}", hint)

    def returns_float():
        _number(fn(0.0, 1.0, 0.05, 0.2))

    def start_point():
        for start, end, fraction in settings:
            compare(0.0, start, end, fraction, "start", "At progress 0 epsilon equals start.")

    def end_point():
        for start, end, fraction in settings:
            compare(fraction, start, end, fraction, "end, reached exactly at progress == fraction",
                    "The decay lasts `fraction` of training: at progress == fraction epsilon has reached end exactly.")

    def geometric_midpoint():
        for start, end, fraction in settings:
            compare(fraction / 2, start, end, fraction, "sqrt(start * end), the geometric mean",
                    "Halfway through the decay, the same factor per unit of progress gives the geometric mean of start "
                    "and end, not the arithmetic one.")

    def constant_factor():
        start, end, fraction = 1.0, 0.05, 0.2
        values = [_number(fn(p, start, end, fraction)) for p in np.linspace(0.0, fraction, 9)[:-1]]
        ratios = np.array(values[1:]) / np.array(values[:-1])
        if np.ptp(ratios) > 1e-6:
            raise Fail("the same factor between epsilons at equally spaced progress values",
                       f"factors {fmt(ratios)}", "Equal steps of progress must multiply epsilon by the same factor: "
                       "that is what makes the decay exponential.")

    def stays_at_end():
        for start, end, fraction in settings:
            for progress in (min(1.0, fraction * 1.5), 1.0):
                compare(progress, start, end, fraction, "end, after the decay",
                        "After the decay phase epsilon stays at end.")

    def zero_fraction():
        for progress in (0.0, 0.5):
            compare(progress, 1.0, 0.05, 0.0, "end: fraction 0 means no decay phase",
                    "fraction = 0 means there is no decay phase: epsilon is end from the start.")

    def is_linear() -> bool:
        return all(abs(_number(fn(p, 1.0, 0.05, 0.2)) - (1.0 - 0.95 * p / 0.2)) < 1e-6 for p in (0.05, 0.1, 0.15))

    def ends_at_progress_one() -> bool:
        return all(abs(_number(fn(p, 1.0, 0.05, 0.2)) - 0.05 ** p) < 1e-6 for p in (0.05, 0.1, 0.15))

    def pytorch_tutorial() -> bool:
        return all(abs(_number(fn(p, 1.0, 0.05, 0.2)) - (0.05 + 0.95 * math.exp(-p / 0.2))) < 1e-6
                   for p in (0.05, 0.1, 0.15))

    midpoint_tests = ["the midpoint of the decay is the geometric mean", "the same factor per equal step of progress"]
    tests = [
        Test("returns a number", returns_float, required=True),
        Test("starts at `start` (progress 0)", start_point),
        Test("reaches `end` exactly at progress == fraction", end_point),
        Test(midpoint_tests[0], geometric_midpoint),
        Test(midpoint_tests[1], constant_factor),
        Test("stays at `end` after the decay phase", stays_at_end),
        Test(ZERO_FRACTION, zero_fraction, on_error=_zero_division),
    ]
    mistakes = [
        Mistake("this is PyTorch's DQN-tutorial schedule, end + (start - end) * exp(-progress / fraction), a "
                "different schedule: it approaches end and never reaches it.", pytorch_tutorial,
                "At progress == fraction it is still end + (start - end) / e. The exercise asks for the schedule that "
                "multiplies epsilon by one factor per unit of progress and lands on end exactly at fraction.",
                explains=midpoint_tests + ["reaches `end` exactly at progress == fraction",
                                           "stays at `end` after the decay phase"]),
        Mistake("this is the linear schedule (the same step per unit of progress, not the same factor).", is_linear,
                "Each equal step of progress should multiply epsilon by the same factor, chosen so that the factors "
                "up to progress == fraction multiply to end / start.",
                explains=midpoint_tests),
        Mistake("the decay reaches `end` at progress 1, not at progress == fraction.", ends_at_progress_one,
                "The decay lasts `fraction` of training, not all of it: the exponent must reach 1 at progress == "
                "fraction, and epsilon holds at end afterwards.",
                explains=midpoint_tests + ["reaches `end` exactly at progress == fraction"]),
    ]
    return run_tests(name, tests, signature, mistakes, hang_hint=HANG_HINT)
