"""Paired comparisons over seeds (dqn_helpers.stats)."""

import numpy as np
import pytest

from dqn_helpers.stats import paired_difference, t_quantile_975


def test_interval_matches_a_hand_computed_t_interval():
    variant, control = [10.0, 12.0, 9.0, 14.0, 11.0], [8.0, 9.0, 9.0, 10.0, 7.0]
    d = np.array(variant) - np.array(control)  # 2, 3, 0, 4, 4: mean 2.6, sd 1.673
    result = paired_difference(variant, control)
    half = 2.776 * d.std(ddof=1) / np.sqrt(5)
    assert result.mean == pytest.approx(2.6)
    assert (result.low, result.high) == pytest.approx((2.6 - half, 2.6 + half))
    assert (result.higher, result.lower, result.tied) == (4, 0, 1)
    assert result.excludes_zero
    assert "higher on 4 of 5 seeds" in str(result) and "95% interval" in str(result)


def test_a_difference_that_changes_sign_does_not_exclude_zero():
    result = paired_difference([1.0, -1.0, 2.0, -2.0], [0.0, 0.0, 0.0, 0.0])
    assert result.low < 0 < result.high and not result.excludes_zero


def test_t_quantiles_approach_the_normal_one():
    assert t_quantile_975(4) == pytest.approx(2.776)
    assert t_quantile_975(30) > t_quantile_975(31) > t_quantile_975(1000) > 1.96
    assert t_quantile_975(60) == pytest.approx(2.000, abs=2e-3)


@pytest.mark.parametrize("variant, control, message", [
    ([1.0, 2.0], [1.0], "same length"),
    ([1.0], [2.0], "at least 2 seeds"),
    ([1.0, float("nan")], [1.0, 2.0], "NaN"),
])
def test_bad_input_is_named(variant, control, message):
    with pytest.raises(ValueError, match=message):
        paired_difference(variant, control)
