"""Checks of epsilon schedules: the linear one and an exponential one.

Built step by step in ``notebooks/06_epsilon_decay.ipynb``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dqn_helpers.checks.delegation import OWN_CODE, called_references, own_code_test
from dqn_helpers.checks.formatting import as_number, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

ZERO_FRACTION = "fraction = 0 edge case gives `end`"
RISING = "a rising schedule (start < end) goes from start up to end"
HANG_HINT = ("A schedule is a formula of progress: compute epsilon directly from progress, start, end and fraction. "
             "A loop that steps epsilon towards end can miss its stop condition and run for ever.")


def _zero_division(err: BaseException) -> str | None:
    if isinstance(err, ZeroDivisionError):
        return ("fraction = 0 means there is no decay phase: epsilon is `end` from the start. Your code divided by "
                "fraction before handling that case.")
    return None


def _hardly_moves(value, settings) -> bool:
    """Epsilon barely leaves ``start`` during the decay and then jumps to ``end``: progress read as env steps."""
    for start, end, fraction in settings:
        drop = start - value(0.9 * fraction, start, end, fraction)
        after = value(min(1.0, 1.5 * fraction), start, end, fraction)
        if not (0 <= drop < 0.05 * abs(start - end)) or abs(after - end) > 1e-6:
            return False
    return any(start - value(0.9 * fraction, start, end, fraction) > 1e-12 for start, end, fraction in settings)


PROGRESS_AS_STEPS_HINT = ("`progress` is the share of training done, from 0 to 1 (env steps done / total env steps), "
                          "and `fraction` is a share on the same scale. Dividing progress again by a number of env "
                          "steps (or treating it as a count) leaves the line stuck near start until the decay is over.")


def _number(out) -> float:
    """The schedule's output as a finite float, or a Fail that says what came back."""
    out = as_number(out, "Return one number (a Python float).")
    if not math.isfinite(out):
        raise Fail("a finite number", repr(out), "Guard the division by fraction.")
    return out


def check_epsilon_schedule(fn, *, rising: bool = False) -> CheckReport:
    """Check ``fn(progress, start, end, fraction) -> float`` (notebook 06_epsilon_decay).

    Compares with :func:`dqn_helpers.linear_epsilon`: endpoints, midpoint, monotone
    decay, staying at ``end`` after ``fraction`` of training (catches decaying past
    the end and never decaying), ``fraction = 0``, ``fraction = 1`` and a rising schedule
    (``start < end``, only with ``rising=True``: for an exercise that asks for schedules
    in both directions; by default a ``max(end, ...)`` clip passes). Refuses an answer
    that calls the package's ``linear_epsilon`` or ``DeepQLearner.decay_epsilon``; names
    progress read as env steps, a line aimed at 0 and then clipped at ``end``, ``start``
    and ``end`` swapped, and a ``max(end, ...)`` clip that only works for a falling schedule.
    """
    from dqn_helpers.learner import DeepQLearner
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

    rising_settings = ((0.1, 0.6, 0.4), (0.0, 0.5, 0.5))

    def rising_schedule():
        for start, end, fraction in rising_settings:
            for progress in (0.0, fraction / 2, fraction, min(1.0, 2 * fraction)):
                compare(progress, start, end, fraction,
                        "The schedule is a straight line from start to end whichever is larger: with start < end "
                        "epsilon rises during the first `fraction` of training, then stays at end.")

    def falling(start, end, fraction, line):
        return all(abs(value(p, start, end, fraction) - line(p)) < 1e-6
                   for p in (0.2 * fraction, 0.5 * fraction, 0.8 * fraction))

    def towards_zero() -> bool:
        return all(falling(s, e, f, lambda p, s=s, e=e, f=f: max(e, s * (1 - p / f))) for s, e, f in settings)

    def swapped() -> bool:
        return all(falling(s, e, f, lambda p, s=s, e=e, f=f: e + (s - e) * p / f) for s, e, f in settings)

    def clips_with_max() -> bool:  # right for every falling schedule, `end` from the start for a rising one
        falls_right = all(abs(value(p, s, e, f) - linear_epsilon(p, s, e, f)) < 1e-6
                          for s, e, f in settings for p in (0.0, f / 2, f, 1.0))
        return falls_right and all(abs(value(0.0, s, e, f) - e) < 1e-6 for s, e, f in rising_settings)

    def progress_as_steps() -> bool:
        return _hardly_moves(value, settings)

    all_tests = ["starts at `start` (progress 0)", "reaches `end` at progress == fraction",
                 "midpoint of the decay is (start + end) / 2", "decays monotonically",
                 "stays at `end` after the decay phase", "fraction = 1 decays over the whole training"]
    tests = [
        Test("returns a number", returns_float, required=True),
        Test(OWN_CODE, own_code_test(returns_float, {"dqn_helpers.linear_epsilon": linear_epsilon,
                                                     "DeepQLearner.decay_epsilon": DeepQLearner.decay_epsilon},
                                     answer=fn), required=True),
        Test("starts at `start` (progress 0)", start_point),
        Test("reaches `end` at progress == fraction", end_point),
        Test("midpoint of the decay is (start + end) / 2", midpoint),
        Test("decays monotonically", monotone),
        Test("stays at `end` after the decay phase", stays_at_end),
        Test(ZERO_FRACTION, zero_fraction, on_error=_zero_division),
        Test("fraction = 1 decays over the whole training", whole_training),
    ]
    if rising:
        tests.append(Test(RISING, rising_schedule))
    mistakes = [
        Mistake("epsilon hardly moves during the decay phase and then jumps to `end`: progress is read as a count "
                "of env steps.", progress_as_steps, PROGRESS_AS_STEPS_HINT,
                explains=all_tests + [RISING]),
        Mistake("start and end are swapped: your line starts at `end` and climbs to `start`.", swapped,
                "At progress 0 epsilon is start; the line leaves start and arrives at end when progress reaches "
                "fraction.", explains=all_tests + [RISING]),
        Mistake("your line heads from `start` towards 0 and is clipped at `end`, so it reaches `end` before "
                "progress == fraction.", towards_zero,
                "The decay is a line between start and end themselves, not between start and 0: it should arrive at "
                "end exactly when progress reaches fraction, with no clipping needed.",
                explains=all_tests + [RISING]),
        Mistake("the clip at `end` with max(...) assumes epsilon falls: for a rising schedule (start < end) it "
                "returns `end` from progress 0.", clips_with_max,
                "Decide by progress, not by comparing epsilon with end: before progress reaches fraction follow the "
                "line from start to end (falling or rising), from there on return end.",
                explains=[RISING]),
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

    Tests: a number; the start point; ``end`` reached exactly at ``fraction``; the midpoint
    of the decay; the same factor per equal step of progress; ``end`` after the decay;
    ``fraction = 0``. Recognises the linear schedule, a decay that reaches ``end`` at
    progress 1 instead of ``fraction``, a rate of 1 / fraction (``start`` divided by e at
    ``fraction``), progress read as env steps, an exponent of progress times fraction, and
    PyTorch's DQN-tutorial form.
    """
    name = "check_exponential_epsilon"
    signature = "fn(progress, start, end, fraction) -> float"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(progress, start, end, fraction)")
    settings = ((1.0, 0.05, 0.2), (0.8, 0.1, 0.5), (0.5, 0.01, 1.0))

    def expected(progress, start, end, fraction) -> float:
        if fraction == 0 or progress >= fraction:
            return end
        return start * math.exp(math.log(end / start) * progress / fraction)

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
            just_before = fraction * (1 - 1e-6)  # the decay arrives at end; it does not jump there
            compare(just_before, start, end, fraction, "end, to within a hair, just before progress == fraction",
                    "Your epsilon jumps at progress == fraction: the decay phase must arrive at end by itself, so "
                    "that the branch that holds end afterwards changes nothing. The factors applied up to fraction "
                    "must multiply to exactly end / start.")

    def geometric_midpoint():
        for start, end, fraction in settings:
            got = _number(fn(fraction / 2, start, end, fraction))
            hint = ("Halfway through the decay, one factor per unit of progress has been applied half as often as at "
                    "fraction: epsilon is then the geometric mean of start and end.")
            if abs(got - (start + end) / 2) < 1e-6:
                hint += " Yours is the arithmetic mean (start + end) / 2, the midpoint of a straight line."
            compare(fraction / 2, start, end, fraction, "sqrt(start * end), the geometric mean", hint)

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

    def rate_one_over_fraction() -> bool:  # start * exp(-progress / fraction), perhaps clipped at end
        return all(abs(_number(fn(p, 1.0, 0.05, 0.2)) - max(0.05, math.exp(-p / 0.2))) < 1e-6
                   for p in (0.05, 0.1, 0.15))

    def progress_as_steps() -> bool:
        return _hardly_moves(lambda *a: _number(fn(*a)), settings)

    def times_fraction() -> bool:  # start * (end / start) ** (progress * fraction): the exponent never reaches 1
        return all(abs(_number(fn(p, 1.0, 0.05, 0.2)) - 0.05 ** (p * 0.2)) < 1e-6 for p in (0.05, 0.1, 0.15))

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
        Mistake("the rate is 1 / fraction: by progress == fraction epsilon has only fallen to start / e, then it "
                "jumps (or creeps) to end.", rate_one_over_fraction,
                "Choose the factor from start and end, not from e: the factors applied up to progress == fraction "
                "must multiply to end / start, so that epsilon lands on end exactly there.",
                explains=midpoint_tests + ["reaches `end` exactly at progress == fraction",
                                           "stays at `end` after the decay phase"]),
        Mistake("epsilon hardly moves during the decay phase and then jumps to `end`: progress is read as a count "
                "of env steps.", progress_as_steps, PROGRESS_AS_STEPS_HINT,
                explains=midpoint_tests + ["reaches `end` exactly at progress == fraction",
                                           "stays at `end` after the decay phase"]),
        Mistake("the exponent multiplies progress by fraction instead of dividing by it: epsilon has hardly fallen "
                "when the decay phase ends, and then it jumps to end.", times_fraction,
                "The exponent is the share of the decay phase done so far: 0 at progress 0 and exactly 1 at progress "
                "== fraction. Progress times fraction is only 0.04 there for fraction 0.2.",
                explains=midpoint_tests + ["reaches `end` exactly at progress == fraction"]),
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


def check_mean_epsilon(fn) -> CheckReport:
    """Check ``fn(start, end, fraction) -> float``: the mean epsilon of the linear schedule over a run.

    Notebook 06_epsilon_decay, exercise 1. The reference is the schedule itself,
    :func:`dqn_helpers.linear_epsilon`, averaged over a fine grid of progress from 0 to 1 (what the
    notebook prints for its sweep). Tests: a number; a closed form (no averaging of the package's
    schedule); ``fraction = 0`` and ``fraction = 1``; the sweep's four schedules; other settings,
    a rising one included. Names the mean over the decay phase only, a run without its flat
    part, a ramp down to 0, a difference for the ramp's midpoint, a mean outside [end, start],
    the ramp's mean taken as ``start``, and the two phases' weights swapped. Refuses an array
    (even of one element) in place of a number.
    """
    from dqn_helpers.learner import DeepQLearner
    from dqn_helpers.schedules import linear_epsilon

    name = "check_mean_epsilon"
    signature = "fn(start, end, fraction) -> float"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(start, end, fraction)")
    grid = np.linspace(0.0, 1.0, 200_001)[:-1] + 0.5 / 200_000  # midpoints: the mean over progress from 0 to 1

    def measured(start, end, fraction) -> float:
        ramp = grid < fraction
        values = np.full_like(grid, end)
        values[ramp] = start + grid[ramp] / fraction * (end - start) if fraction > 0 else end
        return float(values.mean())

    def value(start, end, fraction) -> float:
        out = fn(start, end, fraction)
        if isinstance(out, np.ndarray | torch.Tensor) and out.ndim > 0:
            raise Fail("one number (a scalar)", f"{type(out).__name__} of shape {tuple(out.shape)}: {out!r:.60}",
                       "A mean epsilon is one number, not an array holding it: code that formats or compares it "
                       "(f\"{x:.3f}\", a table of the sweep) fails or misbehaves on an array. Return the number "
                       "itself (a Python float).")
        return _number(out)

    def compare(start, end, fraction, hint):
        got, want = value(start, end, fraction), measured(start, end, fraction)
        if abs(got - want) > 1e-7:  # a closed form is exact; an average over a grid misses the kink at `fraction`
            raise Fail(f"{want:.4f} (the schedule's mean over progress 0 to 1) for start={start}, end={end}, "
                       f"fraction={fraction}", f"{got:.6g}", hint)

    def returns_float():
        value(1.0, 0.04, 0.1)

    def closed_form():
        found = called_references(returns_float, {"dqn_helpers.linear_epsilon": linear_epsilon,
                                                  "DeepQLearner.decay_epsilon": DeepQLearner.decay_epsilon})
        if found:
            raise Fail("a formula in start, end and fraction", f"your function calls the package's {found[0]}",
                       "The exercise asks for the mean in closed form, worked out on paper: averaging the package's "
                       "schedule over many progress values gives the number without the reasoning. Split the run "
                       "into its two phases and ask what the mean of each is and how long each lasts.")

    def no_decay():
        for start, end in ((1.0, 0.04), (0.5, 0.1)):
            compare(start, end, 0.0, "fraction = 0: epsilon is end for the whole run, so its mean is end.")

    def whole_run():
        for start, end in ((1.0, 0.04), (1.0, 0.0)):
            compare(start, end, 1.0, "fraction = 1: one straight line over the whole run.")

    def sweep():
        for fraction in (0.1, 0.3):
            compare(1.0, 0.04, fraction, "The run has two phases: the ramp over the first `fraction` of it, "
                                         "and the rest spent at end.")

    def others():
        for start, end, fraction in ((0.8, 0.1, 0.5), (0.5, 0.01, 0.25), (0.1, 0.6, 0.4)):
            compare(start, end, fraction, "Weigh the mean of each phase by the share of the run it lasts.")

    def close_to(line) -> bool:
        return all(abs(value(s, e, f) - line(s, e, f)) < 1e-6 for s, e, f in ((1.0, 0.04, 0.1), (0.8, 0.1, 0.5)))

    graded = ["fraction = 1: the mean of one line over the whole run", "the sweep's schedules (fraction 0.1 and 0.3)",
              "other settings, a rising schedule (start < end) included"]
    tests = [
        Test("returns a number", returns_float, required=True),
        Test("a closed form (it does not average the package's schedule)", closed_form, required=True),
        Test("fraction = 0: the mean is end", no_decay, on_error=_zero_division),
        Test(graded[0], whole_run),
        Test(graded[1], sweep),
        Test(graded[2], others),
    ]
    def grid_average() -> bool:
        """Close to the mean everywhere but not exact: an average of the schedule over a grid of progress values."""
        settings = ((1.0, 0.04, 0.1), (0.8, 0.1, 0.5), (0.5, 0.01, 0.25), (1.0, 0.04, 0.3))
        gaps = [abs(value(*x) - measured(*x)) for x in settings]
        seen["gap"] = max(gaps)
        return 1e-7 < max(gaps) < 1e-2

    seen = {}
    mistakes = [
        Mistake("your mean is close but not exact: it looks like an average of the schedule over a grid of progress "
                "values, not a formula.", grid_average,
                lambda: f"Your values are off by up to {seen['gap']:.2g}, the error of averaging over a grid (the "
                "corner of the schedule at `fraction` falls between grid points). The exercise asks for the exact "
                "mean in closed form: each phase of the run has a mean you can write down, and a length.",
                explains=graded + ["fraction = 0: the mean is end"]),
        Mistake("this is the mean over the decay phase only: the rest of the run, spent at `end`, is left out.",
                lambda: close_to(lambda s, e, f: (s + e) / 2),
                "The ramp lasts only the first `fraction` of the run; for the remaining share epsilon sits at end. "
                "The run's mean weighs both phases by how long they last.",
                explains=graded[1:] + ["fraction = 0: the mean is end"]),
        Mistake("the ramp is weighted by its length but the flat part at `end` is missing.",
                lambda: close_to(lambda s, e, f: f * (s + e) / 2),
                "After the ramp epsilon does not drop to 0: it stays at end for the remaining share of the run, and "
                "that share counts in the mean too.",
                explains=graded[1:] + ["fraction = 0: the mean is end"]),
        Mistake("your ramp runs from start to 0, not to end: its mean is start / 2.",
                lambda: close_to(lambda s, e, f: f * s / 2 + (1 - f) * e),
                "The ramp is a straight line from start down to end, so over the ramp epsilon averages the "
                "midpoint of the two; a line down to 0 averages start / 2.",
                explains=graded[1:]),
        Mistake("your ramp's mean is (start - end) / 2, a difference, not the midpoint of start and end.",
                lambda: close_to(lambda s, e, f: f * (s - e) / 2 + (1 - f) * e),
                "Over a straight line the mean value is the midpoint of its two ends, their sum over 2.",
                explains=graded[1:]),
        Mistake("your ramp's mean is start + end, not their midpoint: the / 2 is missing.",
                lambda: close_to(lambda s, e, f: f * (s + e) + (1 - f) * e),
                "Over a straight line the mean value is the midpoint of its two ends, half their sum.",
                explains=graded[1:]),
        Mistake("your mean lies outside the range of epsilon: a mean of the schedule can be neither above the "
                "largest nor below the smallest value epsilon takes.",
                lambda: any(not min(s, e) - 1e-9 <= value(s, e, f) <= max(s, e) + 1e-9
                            for s, e, f in ((1.0, 0.04, 0.1), (0.8, 0.1, 0.5), (0.1, 0.6, 0.4))),
                lambda: "Epsilon stays between start and end for the whole run, so its mean does too." + (
                    " Yours is above 1: a mean over env steps is a share of the run, not a count, so no number of "
                    "steps belongs in it." if value(1.0, 0.04, 0.1) > 1 else " Write down each phase's mean and its "
                    "share of the run, and check that the weighted sum stays between them."),
                explains=None),
        Mistake("your ramp's mean is start: over the ramp epsilon falls from start to end, so its mean is "
                "halfway between them, not start.",
                lambda: close_to(lambda s, e, f: f * s + (1 - f) * e),
                "Epsilon equals start only at the first step of the ramp; then it moves in a straight line to end. "
                "Over a straight line the mean value lies halfway between its two ends. (At fraction = 1 your mean "
                "comes out as start, while epsilon spends the whole run between start and end.)",
                explains=graded[:]),
        Mistake("the two phases' weights are swapped: the ramp lasts `fraction` of the run, the flat part the rest.",
                lambda: close_to(lambda s, e, f: (1 - f) * (s + e) / 2 + f * e),
                "The ramp's mean counts for the share of the run the ramp lasts, which is fraction; the flat part "
                "counts for the remainder.",
                explains=None),
    ]
    return run_tests(name, tests, signature, mistakes, hang_hint=HANG_HINT)
