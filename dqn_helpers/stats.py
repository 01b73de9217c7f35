"""Paired comparisons over seeds: how the notebooks word "A beats B".

Two variants trained on the same seeds share each seed's initial weights and start
states, so the fair comparison is per seed: the difference ``variant - control`` on each
seed, its mean, a 95% confidence interval for that mean (Student's t, the seeds taken as a
sample), and on how many seeds the variant is higher, lower or tied.

Used by ``notebooks/08_going_further.ipynb`` (and any comparison of variants).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042]


def t_quantile_975(dof: int) -> float:
    """The 97.5% quantile of Student's t with ``dof`` degrees of freedom (table to 30, then an expansion)."""
    if dof < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom (2 seeds), got {dof}.")
    if dof <= len(_T975):
        return _T975[dof - 1]
    z = 1.959964  # Cornish-Fisher expansion around the normal quantile, accurate to 1e-3 beyond 30
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)


@dataclass(frozen=True)
class PairedDifference:
    """``variant - control`` over seeds: mean, 95% interval and counts of each sign."""

    mean: float
    low: float
    high: float
    n: int
    higher: int  # seeds where the variant is higher
    lower: int
    tied: int

    @property
    def excludes_zero(self) -> bool:
        """True when the whole 95% interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return (f"{self.mean:+.1f} on average (95% interval {self.low:+.1f} to {self.high:+.1f}); "
                f"higher on {self.higher} of {self.n} seeds, lower on {self.lower}, tied on {self.tied}")


def paired_difference(variant, control, tie: float = 1e-9) -> PairedDifference:
    """Compare two sequences of per-seed values, in the same seed order.

    Args:
        variant, control: per-seed values (lists, arrays or pandas Series aligned by seed).
        tie: differences no larger than this count as ties (e.g. both runs at 500).
    """
    a, b = np.asarray(variant, dtype=float), np.asarray(control, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_difference needs two 1-D sequences of the same length (one value per seed), "
                         f"got shapes {a.shape} and {b.shape}.")
    if len(a) < 2:
        raise ValueError(f"a paired interval needs at least 2 seeds, got {len(a)}.")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired_difference got NaN values: drop the seeds that have none in both variants first.")
    diff = a - b
    mean = float(diff.mean())
    half = t_quantile_975(len(diff) - 1) * float(diff.std(ddof=1)) / math.sqrt(len(diff))
    return PairedDifference(mean=mean, low=mean - half, high=mean + half, n=len(diff),
                            higher=int((diff > tie).sum()), lower=int((diff < -tie).sum()),
                            tied=int((np.abs(diff) <= tie).sum()))
