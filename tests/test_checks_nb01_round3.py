"""Notebook 01's checks name four more wrong answers that a reviewer tried (round 3).

The tabular update with the gap's parentheses missing, or with the notebook's constants ALPHA and GAMMA
read instead of the alpha and gamma arguments; a binning that uses the first dimension's range for every
dimension, or that hands the bin number n_bins[d] of x == high to np.ravel_multi_index. Each once got a
generic or misleading hint; its report must now lead with the mistake it makes.
"""

from __future__ import annotations

import numpy as np
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)

from dqn_helpers.checks import check_discretise, check_q_learning_update

ALPHA, GAMMA = 0.1, 0.99  # the notebook's parameter cell

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


def discretise_ravel(obs, low, high, n_bins):
    bins = ((np.clip(obs, low, high) - low) / (high - low) * np.array(n_bins)).astype(int)
    return int(np.ravel_multi_index(tuple(np.minimum(bins, np.array(n_bins) - 1)), n_bins))


def test_the_reference_answers_pass_both_checks():
    assert check_q_learning_update(q_update)
    assert check_discretise(discretise)
    assert check_discretise(discretise_ravel)


# ------------------------------------------------------------------------------- the tabular update


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
    text = named(report, "alpha * target", absent=("Use the alpha and gamma arguments, not fixed numbers",))
    assert "parentheses" in report.mistake and "Multiplication binds before subtraction" in text
    assert "alpha * (target - " not in text  # the hint does not hand over the solution line
    assert all(r.consequence for r in report.failures), text


def test_the_notebook_constants_are_named():
    report = check_q_learning_update(notebook_constants)
    text = named(report, "the notebook's constants ALPHA and/or GAMMA")
    assert "ALPHA = 0.1 and GAMMA = 0.99" in report.mistake_hint, text
    assert "uses alpha and gamma" in failed(report) and all(r.consequence for r in report.failures), text
    assert "Use the alpha and gamma arguments, not fixed numbers" not in text


def test_the_notebook_alpha_alone_is_named():
    report = check_q_learning_update(notebook_alpha_only)
    named(report, "the notebook's constants ALPHA and/or GAMMA")
    assert "ALPHA = 0.1:" in report.mistake_hint and "GAMMA" not in report.mistake_hint.split(":")[0]


# ------------------------------------------------------------------------------- the binning


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
