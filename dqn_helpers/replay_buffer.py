"""A fixed-size replay buffer of single transitions.

Built step by step in ``notebooks/03_replay_buffers.ipynb``.

Why a ring of preallocated NumPy arrays rather than a ``deque`` of tuples?

* memory is fixed by the capacity and allocated once, so the buffer never grows
  mid-training and never fragments;
* storing a whole batch from a vectorized env is one slice assignment, not a
  Python loop over environments;
* sampling a batch is one fancy-indexing call per field, which stays fast when
  the buffer holds hundreds of thousands of transitions (``random.sample`` on a
  deque walks the linked blocks and gets slower as the deque grows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqn_helpers import validation
from dqn_helpers.config import DQNConfig, check_fields
from dqn_helpers.seeds import random_stream


@dataclass(frozen=True)
class TransitionBatch:
    """A batch of ``B`` transitions ``(s, a, r, s', terminated)`` as NumPy arrays.

    Shapes and dtypes: ``obs`` and ``next_obs`` are ``(B, obs_dim)`` float32,
    ``actions`` is ``(B,)`` int64, ``rewards`` and ``terminated`` are ``(B,)``
    float32 (``terminated`` is 1.0 where the episode really ended, so there is
    no future value to bootstrap from, and 0.0 otherwise, including time-limit
    truncations).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


class ReplayBuffer:
    """Ring buffer that remembers transitions and samples them uniformly.

    Built step by step in ``notebooks/03_replay_buffers.ipynb``.

    Args:
        capacity: how many transitions it holds; when full, the oldest are
            overwritten first.
        obs_shape: shape of one observation, e.g. ``(4,)`` for CartPole.
        seed: seeds the buffer's own random generator (the "replay" stream of
            :mod:`dqn_helpers.seeds`), so sampling is reproducible, independent of
            NumPy's global state and of the learner's exploration with the same seed.

    Example:
        >>> buf = ReplayBuffer(capacity=100, obs_shape=(4,), seed=0)
        >>> obs = np.zeros((8, 4), dtype=np.float32)    # 8 envs at once
        >>> buf.remember(obs, np.zeros(8, int), np.ones(8), obs, np.zeros(8, bool))
        >>> len(buf), buf.sample(5).obs.shape
        (8, (5, 4))
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], seed: int | None = None):
        # DQNConfig's rule for buffer_capacity; shapes and seeds follow the shared rules too
        v = validation.check_all(
            "ReplayBuffer", {"capacity": capacity, "obs_shape": obs_shape, "seed": seed},
            {"capacity": validation.count, "obs_shape": validation.sizes, "seed": validation.seed},
            {"capacity": DQNConfig.buffer_capacity, "obs_shape": (4,)},
        )
        self.capacity = v["capacity"]
        self.obs_shape = v["obs_shape"]
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, *self.obs_shape), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.position = 0  # index of the slot the next transition goes into
        self.size = 0  # number of slots written so far (at most capacity)
        self.rng = random_stream(v["seed"], "replay")

    def __len__(self) -> int:
        return self.size

    def remember(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
    ) -> None:
        """Store a batch of ``n`` transitions, one per row (e.g. one per env).

        ``next_obs`` must be the true next state of each transition: for an
        episode that just ended, the last observation of that episode, never
        the first observation of the next one.
        """
        given = (obs, actions, rewards, next_obs, terminated)
        try:  # every field in shape before any is written, so a bad call changes nothing
            obs = np.asarray(obs, dtype=np.float32).reshape(-1, *self.obs_shape)
            n = len(obs)
            next_obs = np.asarray(next_obs, dtype=np.float32).reshape(n, *self.obs_shape)
            actions, rewards, terminated = (np.asarray(x).reshape(n) for x in (actions, rewards, terminated))
        except ValueError:
            shapes = ", ".join(f"{name} {np.shape(x)}" for name, x in
                               zip(("obs", "actions", "rewards", "next_obs", "terminated"), given))
            raise ValueError(
                f"remember stores n transitions: obs and next_obs of shape (n, {', '.join(map(str, self.obs_shape))}), "
                f"actions, rewards and terminated of shape (n,). Got {shapes}."
            ) from None
        if n > self.capacity:
            raise ValueError(
                f"Cannot store {n} transitions at once in a buffer of capacity "
                f"{self.capacity}. Increase the capacity above the number of envs."
            )
        slots = (self.position + np.arange(n)) % self.capacity
        self.obs[slots] = obs
        self.next_obs[slots] = next_obs
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.terminated[slots] = terminated
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> TransitionBatch:
        """Draw ``batch_size`` stored transitions uniformly, with replacement.

        Only written slots can be drawn: indices come from ``[0, len(self))``.
        """
        batch_size = check_fields("ReplayBuffer.sample", {"batch_size": batch_size})["batch_size"]
        if batch_size > self.size:
            raise ValueError(
                f"Cannot sample a batch of {batch_size} from a replay buffer that holds "
                f"only {self.size} transitions. Collect more steps first (learning_starts "
                f">= batch_size) or use a smaller batch_size."
            )
        idx = self.rng.integers(0, self.size, size=batch_size)
        return TransitionBatch(
            obs=self.obs[idx],
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            next_obs=self.next_obs[idx],
            terminated=self.terminated[idx],
        )

    def can_sample(self, batch_size: int) -> bool:
        """Whether it holds enough transitions for a batch of ``batch_size``."""
        return self.size >= batch_size


class LatestTransitions:
    """Learning without replay: remembers only the latest transitions and "samples" exactly them.

    Built for the ablations in notebooks 03 and 08. It has the buffer's
    ``remember``/``sample`` methods, so the training loop reads the same with or
    without replay: each ``remember`` replaces what it held (the transitions of
    one vector step, one per env), and ``sample`` returns all of them, whatever
    the batch size, in the order they were stored. Each transition is learned
    from once, right after it happened, as in online Q-learning.
    """

    def __init__(self):
        self.latest: TransitionBatch | None = None

    def __len__(self) -> int:
        return 0 if self.latest is None else len(self.latest)

    def remember(self, obs, actions, rewards, next_obs, terminated) -> None:
        """Hold these ``n`` transitions (and forget the previous ones)."""
        self.latest = TransitionBatch(
            obs=np.asarray(obs, dtype=np.float32),
            actions=np.asarray(actions, dtype=np.int64),
            rewards=np.asarray(rewards, dtype=np.float32),
            next_obs=np.asarray(next_obs, dtype=np.float32),
            terminated=np.asarray(terminated, dtype=np.float32),
        )

    def sample(self, batch_size: int | None = None) -> TransitionBatch:
        """The latest transitions, all of them (``batch_size`` is ignored)."""
        if len(self) == 0:
            raise ValueError("LatestTransitions holds no transition yet; remember some first.")
        return self.latest

    def can_sample(self, batch_size: int | None = None) -> bool:
        """Whether it holds at least one transition."""
        return len(self) > 0
