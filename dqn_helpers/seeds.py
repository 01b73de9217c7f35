"""Where every seed of a run comes from, so that no two kinds of episode (or of random draw) share one.

Used by :func:`dqn_helpers.train`, the command line, the experiment runner and the notebooks.

Episodes: a run with ``seed=s`` starts its training episodes from seeds ``s, s+1, ...`` (one
per env copy, then the envs' own RNG). Greedy evaluations must start from states the agent
never trained on, and the final evaluation must not reuse the periodic ones (training keeps
the weights that scored best on those, so scoring them again would flatter the agent).

Random draws of the learner: exploration (epsilon-greedy coins and random actions) and
replay sampling each get their own NumPy generator, spawned from the seed with
:class:`numpy.random.SeedSequence`. With one generator each, the two streams are
statistically independent, and drawing more of one (say, a larger batch) does not shift
the numbers of the other.
"""

from __future__ import annotations

import numpy as np

PERIODIC_EVAL_SEED_OFFSET = 1_000_000  # periodic greedy evaluations: seed + this
FINAL_EVAL_SEED_OFFSET = 2_000_000  # final greedy evaluation after training: seed + this

STREAMS = ("exploration", "replay")  # the learner's random streams, in spawn order (append new ones)


def random_stream(seed: int | None, purpose: str) -> np.random.Generator:
    """The NumPy generator for one ``purpose`` (one of :data:`STREAMS`) derived from ``seed``.

    Used by :class:`~dqn_helpers.learner.DeepQLearner` ("exploration") and
    :class:`~dqn_helpers.replay_buffer.ReplayBuffer` ("replay"). ``seed=None`` gives
    fresh, unrepeatable randomness.

    >>> a, b = random_stream(0, "exploration"), random_stream(0, "replay")
    >>> bool(a.integers(1 << 30) != b.integers(1 << 30))
    True
    """
    if purpose not in STREAMS:
        raise ValueError(f"Unknown random stream {purpose!r}; use one of {STREAMS}.")
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(len(STREAMS))[STREAMS.index(purpose)])
