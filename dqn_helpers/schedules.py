"""Exploration schedules.

Built step by step in ``notebooks/06_epsilon_decay.ipynb``.
"""

from __future__ import annotations

from dqn_helpers.config import FIELD_RULES, DQNConfig
from dqn_helpers.validation import check_all


def linear_epsilon(
    progress: float,
    start: float = DQNConfig.epsilon_start,
    end: float = DQNConfig.epsilon_end,
    fraction: float = DQNConfig.exploration_fraction,
) -> float:
    """Epsilon after a fraction ``progress`` (0 to 1) of training.

    Built step by step in ``notebooks/06_epsilon_decay.ipynb``.

    Epsilon falls in a straight line from ``start`` to ``end`` during the first
    ``fraction`` of training, then stays at ``end``:

        epsilon = max(end, start - (progress / fraction) * (start - end))   (for start >= end)

    The defaults are :class:`~dqn_helpers.config.DQNConfig`'s.

    >>> linear_epsilon(0.0, 1.0, 0.05, 0.1), linear_epsilon(0.05, 1.0, 0.05, 0.1), linear_epsilon(0.5, 1.0, 0.05, 0.1)
    (1.0, 0.525, 0.05)
    """
    # DQNConfig's rules for the fields these arguments stand for (one message for all problems)
    rules = {"start": FIELD_RULES["epsilon_start"], "end": FIELD_RULES["epsilon_end"],
             "fraction": FIELD_RULES["exploration_fraction"]}
    v = check_all("linear_epsilon arguments", {"start": start, "end": end, "fraction": fraction}, rules,
                  {"start": DQNConfig.epsilon_start, "end": DQNConfig.epsilon_end,
                   "fraction": DQNConfig.exploration_fraction})
    start, end, fraction = v["start"], v["end"], v["fraction"]
    if fraction == 0.0 or progress >= fraction:
        return float(end)
    return float(start + (max(progress, 0.0) / fraction) * (end - start))
