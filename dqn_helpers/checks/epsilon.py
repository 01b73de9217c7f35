"""Checks of epsilon schedules: the linear one and an exponential one.

Built step by step in ``notebooks/06_epsilon_decay.ipynb``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dqn_helpers.checks.framework import CheckReport, Fail, Test, describe, fmt, not_callable_report, run_tests


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
        out = fn(progress, start, end, fraction)
        if isinstance(out, torch.Tensor | np.ndarray) and np.size(out) == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, int | float | np.floating | np.integer):
            raise Fail("a float", describe(out), "Return one number (a Python float).")
        out = float(out)
        if not math.isfinite(out):
            raise Fail("a finite number", repr(out), "Guard the division by fraction.")
        return out

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
                    hint = "After the decay, clip at end: max(end, ...)."
                    if got < end:
                        hint = "Epsilon decayed past end: clip it with max(end, ...) once progress > fraction."
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
        Test("starts at `start` (progress 0)", start_point),
        Test("reaches `end` at progress == fraction", end_point),
        Test("midpoint of the decay is (start + end) / 2", midpoint),
        Test("decays monotonically", monotone),
        Test("stays at `end` after the decay phase", stays_at_end),
        Test("fraction = 0 edge case gives `end`", zero_fraction),
        Test("fraction = 1 decays over the whole training", whole_training),
    ]
    return run_tests(name, tests, signature)

