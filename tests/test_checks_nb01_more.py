"""Notebook 01's checks name more wrong answers that reviewers tried (the tabular update and the binning).

Each answer below once got a generic or misleading hint; its report must now lead with the mistake it makes.
"""

from __future__ import annotations

import numpy as np
import pytest
from check_reports import failed, lenient, named, pasted, reference_lines  # noqa: F401 (lenient: an autouse fixture)

from dqn_helpers.checks import check_discretise, check_q_learning_update

# ------------------------------------------------------------------------------- the reference answers


def q_update(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s, a])


def discretise(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(int(fraction * n), n - 1)
    return int(index)


def test_the_reference_answers_pass_both_checks():
    assert check_q_learning_update(q_update)
    assert check_discretise(discretise)


# ------------------------------------------------------------------------------- the tabular update


def always_bootstrap(q, s, a, r, s2, terminated, alpha, gamma):
    q[s, a] += alpha * (r + gamma * q[s2].max() - q[s, a])


def gap_from_next_max(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s2].max())


def gap_from_discounted_next_max(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - gamma * q[s2].max())


def gap_from_next_same_action(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s2, a])


def mixture_added(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0 if terminated else gamma * q[s2].max())
    q[s, a] += (1 - alpha) * q[s, a] + alpha * target


def updated_in_a_loop_twice(q, s, a, r, s2, terminated, alpha, gamma):
    for _ in range(2):
        target = r + (0.0 if terminated else gamma * q[s2].max())
        q[s, a] += alpha * (target - q[s, a])


def same_step_added_twice(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    step = alpha * (target - q[s, a])
    q[s, a] += step
    q[s, a] += step


GENERIC_ALPHA_GAMMA = "Use the alpha and gamma arguments"
GENERIC_MAX = "Bootstrap from the best value among the next state's actions"


def test_no_terminal_mask_is_named():
    report = check_q_learning_update(always_bootstrap)
    named(report, "you bootstrap on terminated steps too")
    assert failed(report) == ["no bootstrap from a terminated state"]


@pytest.mark.parametrize("answer", [gap_from_next_max, gap_from_discounted_next_max, gap_from_next_same_action],
                         ids=lambda f: f.__name__)
def test_gap_from_the_next_state_instead_of_q_s_a_is_named(answer):
    named(check_q_learning_update(answer), "gap from the next state's value, not from Q[s, a]",
          absent=(GENERIC_ALPHA_GAMMA, GENERIC_MAX))


def test_mixture_written_with_plus_equals_is_named():
    named(check_q_learning_update(mixture_added), "you added the new value to the old one",
          absent=(GENERIC_ALPHA_GAMMA, GENERIC_MAX))


@pytest.mark.parametrize("answer", [updated_in_a_loop_twice, same_step_added_twice], ids=lambda f: f.__name__)
def test_update_applied_twice_is_named(answer):
    named(check_q_learning_update(answer), "you applied the update twice", absent=(GENERIC_ALPHA_GAMMA,))


# ------------------------------------------------------------------------------- the binning


def rounded(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(round(fraction * n), n - 1)
    return int(index)


def rounded_on_n_minus_1(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(int(round(fraction * (n - 1))), n - 1)
    return int(index)


def digitize_unclipped(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        index = index * n + int(np.digitize(x, np.linspace(lo, hi, n + 1))) - 1
    return int(index)


def first_count_as_base(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n_bins[0] + min(int(fraction * n), n - 1)
    return int(index)


GENERIC_BINS = "cut into n_bins[d] equal parts"


@pytest.mark.parametrize(("answer", "words"), [
    (rounded, "rounded to the nearest integer, not rounded down"),
    (rounded_on_n_minus_1, "round fraction * (n_bins[d] - 1) to the nearest integer"),
], ids=["round(fraction * n)", "round(fraction * (n - 1))"])
def test_rounding_instead_of_flooring_is_named(answer, words):
    named(check_discretise(answer), words, absent=(GENERIC_BINS,))


def test_digitize_without_clipping_names_both_ends():
    report = check_discretise(digitize_unclipped)
    named(report, "not clipped at either end", absent=("an observation at the upper bound gets bin number",))
    assert "below low[d]" in report.mistake and "at or above high[d]" in report.mistake, str(report)


def test_first_count_as_the_base_of_every_digit_is_named():
    report = check_discretise(first_count_as_base)
    named(report, "in base n_bins[0] for every dimension", absent=("clip x into [low, high]", "Combine the bin"))
    assert "every cell has its own index (one bin count per dimension)" in failed(report)


def test_no_new_report_pastes_a_reference_line():
    lines = reference_lines()
    answers = [(check_q_learning_update, f) for f in (always_bootstrap, gap_from_next_max, gap_from_discounted_next_max,
                                                      gap_from_next_same_action, mixture_added, updated_in_a_loop_twice,
                                                      same_step_added_twice)]
    answers += [(check_discretise, f) for f in (rounded, rounded_on_n_minus_1, digitize_unclipped, first_count_as_base)]
    found = {answer.__name__: pasted(str(check(answer)), lines) for check, answer in answers}
    assert not any(found.values()), found
