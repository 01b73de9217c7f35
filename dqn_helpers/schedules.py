"""Exploration schedules.

Built step by step in ``notebooks/06_epsilon_decay.ipynb``.
"""

from __future__ import annotations


def linear_epsilon(progress: float, start: float = 1.0, end: float = 0.05, fraction: float = 0.1) -> float:
    """Epsilon after a fraction ``progress`` (0 to 1) of training.

    Built step by step in ``notebooks/06_epsilon_decay.ipynb``.

    Epsilon falls in a straight line from ``start`` to ``end`` during the first
    ``fraction`` of training, then stays at ``end``:

        epsilon = max(end, start - (progress / fraction) * (start - end))   (for start >= end)

    >>> linear_epsilon(0.0), linear_epsilon(0.05), linear_epsilon(0.5)
    (1.0, 0.525, 0.05)
    """
    for name, value in (("start", start), ("end", end)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"epsilon {name} must be a probability in [0, 1], got {value}.")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(
            f"exploration fraction must lie in [0, 1] (share of training spent decaying), got {fraction}."
        )
    if fraction == 0.0 or progress >= fraction:
        return float(end)
    return float(start + (max(progress, 0.0) / fraction) * (end - start))
