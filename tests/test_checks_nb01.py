"""The checks of notebook 01 (the tabular Q-learning update and the binning) name the wrong answers reviewers tried.

Each answer below once got a generic or misleading hint, or passed; its report must now lead with the
mistake it makes. The tabular update: no terminal mask, the gap taken from the next state's value, the
mixture form added with +=, the update applied twice, the gap's parentheses missing, the notebook's
ALPHA and GAMMA read instead of the arguments, the update written into the state's best action's entry
or with its gap from max Q[s]. The binning: rounding instead of flooring, np.digitize unclipped, the digits
combined in base n_bins[0] or in the previous dimension's base, the bin numbers added up, the first
dimension's range used for every dimension, x == high handed to np.ravel_multi_index or wrapped to bin 0.
The reference answers still pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from check_reports import failed, lenient, named, pasted, reference_lines  # noqa: F401 (lenient: an autouse fixture)
from student_answers import student_discretise, student_q_learning_update

from dqn_helpers.checks import check_discretise, check_q_learning_update

ALPHA, GAMMA = 0.1, 0.99  # the notebook's parameter cell

# ------------------------------------------------------------------------------- the reference answers


def discretise_ravel(obs, low, high, n_bins):
    bins = ((np.clip(obs, low, high) - low) / (high - low) * np.array(n_bins)).astype(int)
    return int(np.ravel_multi_index(tuple(np.minimum(bins, np.array(n_bins) - 1)), n_bins))


def test_the_reference_answers_pass_both_checks():
    q_report = check_q_learning_update(student_q_learning_update)
    assert q_report and len(q_report.results) == 7, str(q_report)
    assert check_discretise(student_discretise)


def test_the_reference_answers_pass_both_checks_also_with_ravel_multi_index():
    assert check_q_learning_update(student_q_learning_update)
    assert check_discretise(student_discretise)
    assert check_discretise(discretise_ravel)


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


GENERIC_ALPHA_GAMMA = "numbers written into the function instead of the arguments"
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


def discounted_twice(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s, a])


def test_next_value_discounted_twice_is_named():
    named(check_q_learning_update(discounted_twice), "discounted twice", absent=(GENERIC_ALPHA_GAMMA, GENERIC_MAX))


def test_mixture_written_with_plus_equals_is_named():
    named(check_q_learning_update(mixture_added), "you added the new value to the old one",
          absent=(GENERIC_ALPHA_GAMMA, GENERIC_MAX))


@pytest.mark.parametrize("answer", [updated_in_a_loop_twice, same_step_added_twice], ids=lambda f: f.__name__)
def test_update_applied_twice_is_named(answer):
    named(check_q_learning_update(answer), "you applied the update twice", absent=(GENERIC_ALPHA_GAMMA,))


def parens_missing(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * target - q[s, a]


def notebook_constants(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else GAMMA * q[s2].max())
    q[s, a] += ALPHA * (target - q[s, a])


def notebook_alpha_only(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += ALPHA * (target - q[s, a])


def test_missing_parentheses_are_named_and_not_blamed_on_fixed_numbers():
    report = check_q_learning_update(parens_missing)
    text = named(report, "alpha * target", absent=("numbers written into the function instead of the arguments",))
    assert "parentheses" in report.mistake and "Multiplication binds before subtraction" in text
    assert "alpha * (target - " not in text  # the hint does not hand over the solution line
    assert all(r.consequence for r in report.failures), text


def test_the_notebook_constants_are_named():
    report = check_q_learning_update(notebook_constants)
    text = named(report, "the notebook's constants ALPHA and/or GAMMA")
    assert "ALPHA = 0.1 and GAMMA = 0.99" in report.mistake_hint, text
    assert "uses alpha and gamma" in failed(report) and all(r.consequence for r in report.failures), text
    assert "numbers written into the function instead of the arguments" not in text


def test_the_notebook_alpha_alone_is_named():
    report = check_q_learning_update(notebook_alpha_only)
    named(report, "the notebook's constants ALPHA and/or GAMMA")
    assert "ALPHA = 0.1:" in report.mistake_hint and "GAMMA" not in report.mistake_hint.split(":")[0]


OTHER_ACTION = "updates the action taken, also when it is not the state's best action"


def update_greedy_entry(q, s, a, r, s2, terminated, alpha, gamma):
    g = q[s].argmax()
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, g] += alpha * (target - q[s, g])


def gap_from_state_value(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s].max())


def test_the_update_of_the_best_actions_entry_is_named():
    report = check_q_learning_update(update_greedy_entry)
    assert failed(report) == [OTHER_ACTION], str(report)
    named(report, "the entry of the state's best action", absent=("the state's value",))


def test_a_gap_from_the_states_value_is_named():
    report = check_q_learning_update(gap_from_state_value)
    assert failed(report) == [OTHER_ACTION], str(report)
    named(report, "the gap from the state's value, max Q[s]", absent=("the entry of the state's best action",))


def test_an_unnamed_value_error_gets_no_greedy_action_hint():
    """A wrong target (SARSA from the current state's greedy action) fails the new test with the plain hint."""
    def sarsa_from_greedy(q, s, a, r, s2, terminated, alpha, gamma):
        target = r + (0.0 if terminated else gamma * q[s2, int(q[s].argmax())])
        q[s, a] += alpha * (target - q[s, a])

    report = check_q_learning_update(sarsa_from_greedy)
    assert OTHER_ACTION in failed(report), str(report)
    assert "the state's best action plays no part" not in str(report)


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


def first_low_high(obs, low, high, n_bins):
    index = 0
    for x, n in zip(obs, n_bins, strict=True):
        lo, hi = low[0], high[0]
        index = index * n + min(int((min(max(x, lo), hi) - lo) / (hi - lo) * n), n - 1)
    return int(index)


def ravel_unclamped(obs, low, high, n_bins):
    obs = np.clip(obs, low, high)
    bins = ((obs - low) / (high - low) * np.array(n_bins)).astype(int)
    return int(np.ravel_multi_index(tuple(bins), n_bins))


def test_the_first_dimensions_range_is_named_not_the_bin_count():
    report = check_discretise(first_low_high)
    text = named(report, "the first dimension's range", absent=("use that dimension's own bin count",))
    assert "low[d] and high[d]" in report.mistake_hint, text


def test_ravel_of_the_upper_bound_bin_is_named():
    report = check_discretise(ravel_unclamped)
    text = named(report, "one past the last bin", absent=("Read the error message",))
    assert "invalid entry in coordinates array" in report.mistake_hint, text
    assert "np.ravel_multi_index" in report.mistake_hint, text
    assert failed(report) == ["values outside [low, high], and high itself, go to the edge bins"], text


def test_ravel_without_any_clipping_is_not_blamed_on_the_upper_bound_alone():
    def ravel_no_clip(obs, low, high, n_bins):
        bins = ((np.asarray(obs) - low) / (high - low) * np.array(n_bins)).astype(int)
        return int(np.ravel_multi_index(tuple(bins), n_bins))

    report = check_discretise(ravel_no_clip)
    assert not report
    assert report.mistake is None or "combining the bin numbers then raises" not in report.mistake, str(report)


def shifted_base(obs, low, high, n_bins):
    """Each digit combined with the previous dimension's count instead of its own."""
    bins = [min(max(int((x - lo) / (hi - lo) * n), 0), n - 1) for x, lo, hi, n in zip(obs, low, high, n_bins)]
    index = bins[0]
    for d in range(1, len(bins)):
        index = index * n_bins[d - 1] + bins[d]
    return index


def sum_of_bins(obs, low, high, n_bins):
    return sum(min(max(int((x - lo) / (hi - lo) * n), 0), n - 1) for x, lo, hi, n in zip(obs, low, high, n_bins))


def sum_not_positional(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins):
        f = (min(max(x, lo), hi) - lo) / (hi - lo)
        index += min(int(f * n), n - 1) * n
    return int(index)


def np_clip_high_edge(obs, low, high, n_bins):
    """Clipped into [low, high], but x == high gives bin n, which mode="wrap" takes back to 0."""
    obs, low, high, n = map(np.asarray, (obs, low, high, n_bins))
    b = np.floor((np.clip(obs, low, high) - low) / (high - low) * n).astype(int)
    mode = "raise" if (b < n).all() else "wrap"
    return int(np.ravel_multi_index(tuple(b), tuple(n), mode=mode))


def modulo_high_edge(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + int(fraction * n) % n
    return index


GENERIC_DIGITS = ("Each dimension's bin number needs its own range of digits",
                  "Combine the bin numbers like the digits")


def test_digits_combined_in_the_previous_dimensions_base_are_named():
    report = check_discretise(shifted_base)
    text = named(report, "previous dimension's bin count", absent=GENERIC_DIGITS)
    assert "(0, 0, 2) and (0, 1, 0) both get 2" in text


@pytest.mark.parametrize("answer, scaled", [(sum_of_bins, False), (sum_not_positional, True)])
def test_bin_numbers_added_up_are_named(answer, scaled):
    report = check_discretise(answer)
    text = named(report, "added the bin numbers up", absent=GENERIC_DIGITS)
    assert ("multiplying each by its own dimension's count" in text) is scaled


@pytest.mark.parametrize("answer", [np_clip_high_edge, modulo_high_edge])
def test_the_high_edge_wrapped_back_to_bin_0_is_named(answer):
    report = check_discretise(answer)
    named(report, "wraps around to bin 0", absent=("Clip x into [low, high] first",))
    assert failed(report) == ["values outside [low, high], and high itself, go to the edge bins"]


# ------------------------------------------------------------------------------- no report pastes a reference line


def test_no_new_report_pastes_a_reference_line():
    lines = reference_lines()
    answers = [(check_q_learning_update, f) for f in (always_bootstrap, gap_from_next_max, gap_from_discounted_next_max,
                                                      gap_from_next_same_action, mixture_added, updated_in_a_loop_twice,
                                                      same_step_added_twice)]
    answers += [(check_discretise, f) for f in (rounded, rounded_on_n_minus_1, digitize_unclipped, first_count_as_base)]
    found = {answer.__name__: pasted(str(check(answer)), lines) for check, answer in answers}
    assert not any(found.values()), found
