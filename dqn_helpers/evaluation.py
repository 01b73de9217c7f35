"""Greedy evaluation on fresh, seeded episodes.

Built step by step in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dqn_helpers.vector_env import VectorEnv, make_vector_env

Policy = Callable[[np.ndarray], np.ndarray]


def evaluate(
    agent_or_policy,
    env: str | VectorEnv,
    n_episodes: int = 10,
    seed: int = 10_000,
) -> np.ndarray:
    """Returns of ``n_episodes`` episodes played greedily (no exploration).

    Built step by step in ``notebooks/07_all_together.ipynb``.

    All episodes run side by side, one per environment copy, and each counts only
    its first episode, so the result does not favour short episodes. The vector
    env is reset with ``seed``: the same seed gives the same start states, and
    seeds far from the training seeds give episodes the agent never saw.

    Args:
        agent_or_policy: a :class:`~dqn_helpers.learner.DeepQLearner` (its
            ``greedy_actions`` is used) or any function ``obs (N, obs_dim) -> actions (N,)``.
        env: an env id, or a vector env with exactly ``n_episodes`` copies.
        n_episodes: number of episodes.
        seed: seed of the first episode.

    Returns:
        float array ``(n_episodes,)`` of undiscounted episode returns.
    """
    if int(n_episodes) <= 0:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes}.")
    policy = getattr(agent_or_policy, "greedy_actions", agent_or_policy)
    if not callable(policy):
        raise TypeError(
            "evaluate needs a DeepQLearner or a function mapping observations to actions, got "
            f"{type(agent_or_policy).__name__}."
        )
    owns_env = isinstance(env, str)
    vec_env = make_vector_env(env, n_episodes) if owns_env else env
    if vec_env.num_envs != n_episodes:
        raise ValueError(
            f"evaluate runs one episode per env copy: the vector env has {vec_env.num_envs} copies "
            f"but n_episodes={n_episodes}. Pass an env id, or a vector env with {n_episodes} copies."
        )
    returns = np.zeros(n_episodes, dtype=np.float64)
    finished = np.zeros(n_episodes, dtype=bool)
    obs = vec_env.reset(seed=seed)
    while not finished.all():
        step = vec_env.step(np.asarray(policy(obs)))
        returns += np.where(finished, 0.0, step.rewards)
        finished |= step.done
        obs = step.next_obs
    if owns_env:
        vec_env.close()
    return returns
