"""Notebook 06's checks catch what students really write (review of notebook 06, findings C1-C3).

Each wrong answer is written the way a student writes it. For each one the check must fail and
the report must name the mistake actually made; correct answers written differently must pass;
no hint may paste the notebook's reference line.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)

import dqn_helpers
from dqn_helpers import DeepQLearner
from dqn_helpers.checks import CheckReport, check_epsilon_schedule, check_exponential_epsilon
from dqn_helpers.checks.delegation import OWN_CODE
from dqn_helpers.checks.epsilon import check_mean_epsilon

TOTAL_STEPS = 25_000  # a student's global, used where it does not belong


# --------------------------------------------------------------------------- the linear schedule (C2)


def epsilon_through_the_learner(progress, start, end, fraction):
    learner = DeepQLearner(4, 2, epsilon_start=start, epsilon_end=end, exploration_fraction=fraction)
    return learner.decay_epsilon(progress)


def epsilon_progress_as_steps(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    decay_steps = fraction * TOTAL_STEPS
    return start - (start - end) * progress / decay_steps


def epsilon_towards_zero(progress, start, end, fraction):
    if fraction == 0:
        return end
    return max(end, start * (1 - progress / fraction))


def epsilon_swapped(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    return end + (start - end) * progress / fraction


def epsilon_max_clip(progress, start, end, fraction):
    if fraction == 0:
        return end
    return max(end, start - (start - end) * progress / fraction)


def epsilon_by_cases(progress, start, end, fraction):
    if fraction > 0 and progress < fraction:
        share = progress / fraction
        return (1 - share) * start + share * end
    return end


def test_an_answer_through_decay_epsilon_is_not_the_students_code():
    report = check_epsilon_schedule(epsilon_through_the_learner)
    assert OWN_CODE in failed(report), str(report)
    assert "calls the package's DeepQLearner.decay_epsilon" in str(report)


def test_progress_read_as_env_steps_is_named():
    text = named(check_epsilon_schedule(epsilon_progress_as_steps), "progress is read as a count of env steps",
                 absent=("decayed past end",))
    assert "share of training done" in text


def test_a_line_towards_zero_then_clipped_is_named():
    named(check_epsilon_schedule(epsilon_towards_zero), "heads from `start` towards 0")


def test_swapped_start_and_end_are_named():
    named(check_epsilon_schedule(epsilon_swapped), "start and end are swapped")


def test_a_max_clip_passes_by_default_and_fails_a_rising_schedule():
    assert check_epsilon_schedule(epsilon_max_clip)  # every falling schedule is right
    report = check_epsilon_schedule(epsilon_max_clip, rising=True)
    assert failed(report) == ["a rising schedule (start < end) goes from start up to end"], str(report)
    named(report, "assumes epsilon falls")


@pytest.mark.parametrize("rising", [False, True])
def test_a_correct_schedule_written_differently_passes(rising):
    report = check_epsilon_schedule(epsilon_by_cases, rising=rising)
    assert report, str(report)
    assert len(report.results) == 9 + rising


# --------------------------------------------------------------------------- the exponential schedule (C3)


def exponential_arithmetic_midpoint(progress, start, end, fraction):
    """Exponential at both ends, but through the arithmetic midpoint (two half-decays glued together)."""
    if fraction == 0 or progress >= fraction:
        return end
    mid, half = (start + end) / 2, fraction / 2
    if progress < half:
        return start * (mid / start) ** (progress / half)
    return mid * (end / mid) ** ((progress - half) / half)


def exponential_squared_exponent(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    return start * (end / start) ** ((progress / fraction) ** 2)


def exponential_rate_one_over_fraction(progress, start, end, fraction):
    if fraction == 0:
        return end
    return max(end, start * math.exp(-progress / fraction))


def exponential_progress_as_steps(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    return start * (end / start) ** (progress / (fraction * TOTAL_STEPS))


def exponential_by_factor(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    factor = math.exp(math.log(end / start) / fraction)  # per unit of progress
    return start * factor**progress


def midpoint_hint(report: CheckReport) -> str:
    return next(r for r in report.failures if r.name == "the midpoint of the decay is the geometric mean").hint


def test_the_midpoint_hint_says_arithmetic_only_for_the_arithmetic_mean():
    report = check_exponential_epsilon(exponential_arithmetic_midpoint)
    assert "the midpoint of the decay is the geometric mean" in failed(report), str(report)
    assert "arithmetic mean" in midpoint_hint(report)
    report = check_exponential_epsilon(exponential_squared_exponent)
    assert "the midpoint of the decay is the geometric mean" in failed(report), str(report)
    assert "arithmetic" not in midpoint_hint(report)


def test_rate_one_over_fraction_is_named():
    text = named(check_exponential_epsilon(exponential_rate_one_over_fraction), "the rate is 1 / fraction",
                 absent=("PyTorch",))
    assert "end / start" in text


def test_exponential_progress_as_env_steps_is_named():
    named(check_exponential_epsilon(exponential_progress_as_steps), "progress is read as a count of env steps")


def test_exponential_written_with_a_factor_passes():
    assert check_exponential_epsilon(exponential_by_factor)


def test_the_exponential_docstring_does_not_give_the_formula():
    assert "(end / start) **" not in (check_exponential_epsilon.__doc__ or "")


# --------------------------------------------------------------------------- the mean epsilon of a run (C1)


def mean_epsilon_by_phases(start, end, fraction):
    ramp = (start + end) / 2
    return fraction * ramp + (1 - fraction) * end


def mean_epsilon_simplified(start, end, fraction):
    return end + fraction * (start - end) / 2


def mean_epsilon_decay_phase_only(start, end, fraction):
    return (start + end) / 2


def mean_epsilon_without_the_flat_part(start, end, fraction):
    return fraction * (start + end) / 2


def mean_epsilon_weights_swapped(start, end, fraction):
    return (1 - fraction) * (start + end) / 2 + fraction * end


def mean_epsilon_ramp_at_start(start, end, fraction):
    """Takes the ramp's mean as start."""
    return fraction * start + (1 - fraction) * end


def mean_epsilon_as_an_array(start, end, fraction):
    """Right value, wrapped in a one-element array."""
    return np.array([fraction * (start + end) / 2 + (1 - fraction) * end])


def mean_epsilon_by_averaging(start, end, fraction):
    return float(np.mean([dqn_helpers.linear_epsilon(p, start, end, fraction) for p in np.linspace(0, 1, 2001)]))


@pytest.mark.parametrize("answer", [mean_epsilon_by_phases, mean_epsilon_simplified])
def test_a_correct_mean_epsilon_passes(answer):
    report = check_mean_epsilon(answer)
    assert report, str(report)


@pytest.mark.parametrize(("answer", "words"), [
    (mean_epsilon_decay_phase_only, "the mean over the decay phase only"),
    (mean_epsilon_without_the_flat_part, "the flat part at `end` is missing"),
    (mean_epsilon_weights_swapped, "weights are swapped"),
    (mean_epsilon_ramp_at_start, "your ramp's mean is start"),
])
def test_mean_epsilon_mistakes_are_named(answer, words):
    named(check_mean_epsilon(answer), words)


def test_a_mean_epsilon_in_a_one_element_array_is_refused():
    report = check_mean_epsilon(mean_epsilon_as_an_array)
    assert failed(report) == ["returns a number"], str(report)
    assert "ndarray of shape (1,)" in str(report) and "not an array holding it" in str(report), str(report)


def test_averaging_the_package_schedule_is_not_a_closed_form():
    report = check_mean_epsilon(mean_epsilon_by_averaging)
    assert failed(report) == ["a closed form (it does not average the package's schedule)"], str(report)
    assert "dqn_helpers.linear_epsilon" in str(report)


def test_the_mean_epsilon_matches_the_sweep_schedules():
    """The values notebook 06 prints for its sweep: 1.0 to 0.04 over 0, 10, 30 and 100 % of the run."""
    for fraction, mean in ((0.0, 0.04), (0.1, 0.088), (0.3, 0.184), (1.0, 0.52)):
        assert mean_epsilon_by_phases(1.0, 0.04, fraction) == pytest.approx(mean)


def test_no_hint_of_the_new_checks_pastes_the_solution():
    answers = [(check_mean_epsilon, a) for a in (mean_epsilon_decay_phase_only, mean_epsilon_without_the_flat_part,
                                                 mean_epsilon_weights_swapped)]
    answers += [(check_exponential_epsilon, a) for a in (exponential_rate_one_over_fraction,
                                                         exponential_progress_as_steps)]
    for check, answer in answers:
        report = check(answer)
        text = " ".join([report.mistake_hint] + [r.hint for r in report.results]).replace(" ", "")
        for solution in ("fraction*(start+end)/2+(1-fraction)*end", "(end/start)**(progress/fraction)"):
            assert solution not in text, (check.__name__, text)


def mean_epsilon_on_a_grid(start, end, fraction):
    """An average of the student's own schedule over 100,001 progress values: close, not a closed form."""
    progress = np.linspace(0.0, 1.0, 100_001)
    ramp = start + (end - start) * progress / fraction if fraction > 0 else np.full_like(progress, end)
    return float(np.where(progress < fraction, ramp, end).mean())


def test_mean_epsilon_averaged_over_a_grid_is_named():
    named(check_mean_epsilon(mean_epsilon_on_a_grid), "average of the schedule over a grid")


def exponential_times_fraction(progress, start, end, fraction):
    """The exponent progress * fraction instead of progress / fraction."""
    return end if progress >= fraction else start * (end / start) ** (progress * fraction)


def test_an_exponent_of_progress_times_fraction_is_named():
    named(check_exponential_epsilon(exponential_times_fraction), "multiplies progress by fraction")


@pytest.mark.parametrize(("mean", "words"), [
    (lambda s, e, f: f * s / 2 + (1 - f) * e, "your ramp runs from start to 0"),
    (lambda s, e, f: f * (s - e) / 2 + (1 - f) * e, "(start - end) / 2, a difference"),
    (lambda s, e, f: 100_000 * (f * (s + e) / 2 + (1 - f) * e), "outside the range of epsilon"),
])
def test_mean_epsilon_ramp_mistakes_are_named(mean, words):
    named(check_mean_epsilon(mean), words)
    assert check_mean_epsilon(lambda s, e, f: f * (s + e) / 2 + (1 - f) * e)


def test_an_exponential_that_jumps_to_end_at_fraction_fails_the_arrival_test():
    def log10_rate(progress, start, end, fraction):
        return end if progress >= fraction else start * math.exp(math.log10(end / start) * progress / fraction)

    report = check_exponential_epsilon(log10_rate)
    arrival = [r for r in report.failures if r.name == "reaches `end` exactly at progress == fraction"]
    assert arrival and "jumps" in arrival[0].hint, str(report)


def test_mean_epsilon_without_the_half_is_named():
    named(check_mean_epsilon(lambda s, e, f: f * (s + e) + (1 - f) * e), "the / 2 is missing")
