"""Greedy evaluation on fresh, seeded episodes.

Built step by step in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from dqn_helpers import validation
from dqn_helpers.vector_env import VectorEnv, make_vector_env

Policy = Callable[[np.ndarray], np.ndarray]
DEFAULT_MAX_STEPS = 10_000  # steps per episode when the env has no time limit of its own


def check_agent_fits_env(agent, observation_space, action_space, env_name: str) -> None:
    """Refuse, naming both sides, an agent whose input or output size does not match the env.

    Used by :func:`evaluate`, :func:`greedy_rollouts` and ``dqn_helpers.animation.agent_gif``.
    A plain policy function (no ``obs_dim``) is not checked. A loaded agent whose metadata
    holds its training config (the CLI saves it) is named by the env it was trained on.
    """
    obs_dim, n_actions = getattr(agent, "obs_dim", None), getattr(agent, "n_actions", None)
    if obs_dim is None or n_actions is None:
        return
    shape = tuple(getattr(observation_space, "shape", None) or ())
    actions = getattr(action_space, "n", None)
    actions = None if actions is None else int(actions)
    if shape == (obs_dim,) and actions == n_actions:
        return
    metadata = getattr(agent, "metadata", None)
    config = metadata.get("config") if isinstance(metadata, dict) else None
    trained_on = config.get("env_id") if isinstance(config, dict) else None
    who = f"This agent (trained on {trained_on})" if trained_on else "This agent"
    raise ValueError(
        f"{who} takes observations of shape ({obs_dim},) and picks one of {n_actions} actions, but {env_name} "
        f"gives observations of shape {shape} and has {actions if actions is not None else 'non-discrete'} "
        f"actions. Evaluate it on {trained_on or 'the env it was trained on'}, or train an agent on {env_name}."
    )


def _result_hint(obj) -> str:
    """``" (for a training result, pass result.agent)"`` when ``obj`` holds an agent."""
    return " (for a training result, pass result.agent)" if hasattr(obj, "agent") else ""


def _env_name(env, vec_env) -> str:
    return env if isinstance(env, str) else getattr(vec_env.spec, "id", None) or type(vec_env).__name__


def evaluate(
    agent_or_policy,
    env: str | VectorEnv,
    n_episodes: int = 10,
    seed: int = 10_000,
    max_steps: int | None = None,
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
        max_steps: stop every episode after this many steps, with a warning, so an
            env without a time limit cannot hang the evaluation. ``None``: the env's
            own time limit if it has one, else ``DEFAULT_MAX_STEPS`` (10,000).

    Returns:
        float array ``(n_episodes,)`` of undiscounted episode returns.
    """
    n_episodes = validation.count("n_episodes", n_episodes, 10)
    seed = validation.count("seed", seed, 10_000, minimum=0)
    policy = getattr(agent_or_policy, "greedy_actions", agent_or_policy)
    if not callable(policy):
        raise TypeError(
            "evaluate needs a DeepQLearner or a function mapping observations to actions, got "
            f"{type(agent_or_policy).__name__}{_result_hint(agent_or_policy)}."
        )
    owns_env = isinstance(env, str)
    vec_env = make_vector_env(env, n_episodes) if owns_env else env
    try:
        check_agent_fits_env(agent_or_policy, vec_env.single_observation_space, vec_env.single_action_space,
                             _env_name(env, vec_env))
        return _play_first_episodes(policy, vec_env, n_episodes, seed, max_steps=max_steps)["episode_return"]
    finally:
        if owns_env:
            vec_env.close()


def _play_first_episodes(policy: Policy, vec_env: VectorEnv, n_episodes: int, seed: int,
                         gamma: float = 1.0, max_steps: int | None = None) -> dict[str, np.ndarray]:
    """Play the first episode of each of ``n_episodes`` env copies greedily, side by side.

    Returns per-episode arrays: ``episode_return`` (undiscounted), ``discounted_return``
    (``sum_t gamma^t r_t``, what a Q-value predicts), ``length``, ``first_obs``, ``last_obs``
    (the episode's true last state) and ``terminated`` (False: truncated, or cut at ``max_steps``).
    Episodes still running after ``max_steps`` steps are cut there, with a warning
    (``None``: the env's time limit, else ``DEFAULT_MAX_STEPS``).
    """
    if vec_env.num_envs != n_episodes:
        raise ValueError(
            f"evaluate runs one episode per env copy: the vector env has {vec_env.num_envs} copies "
            f"but n_episodes={n_episodes}. Pass an env id, or a vector env with {n_episodes} copies."
        )
    returns = np.zeros(n_episodes, dtype=np.float64)
    discounted = np.zeros(n_episodes, dtype=np.float64)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    finished = np.zeros(n_episodes, dtype=bool)
    terminated = np.zeros(n_episodes, dtype=bool)
    if max_steps is None:
        max_steps = getattr(vec_env.spec, "max_episode_steps", None) or DEFAULT_MAX_STEPS
    else:
        max_steps = validation.count("max_steps", max_steps, DEFAULT_MAX_STEPS)
    obs = first_obs = vec_env.reset(seed=seed)
    last_obs = np.array(first_obs, copy=True)
    for _ in range(max_steps):
        step = vec_env.step(np.asarray(policy(obs)))
        rewards = np.where(finished, 0.0, step.rewards)
        returns += rewards
        discounted += rewards * gamma ** lengths
        lengths += ~finished
        last_obs[~finished] = step.final_obs[~finished]
        terminated |= ~finished & step.terminated
        finished |= step.done
        obs = step.next_obs
        if finished.all():
            break
    if not finished.all():
        warnings.warn(f"Evaluation cut {int((~finished).sum())} of {n_episodes} episodes after max_steps={max_steps} "
                      f"steps; their returns cover only those steps. Pass a larger max_steps, or give the env a "
                      f"time limit (gymnasium.wrappers.TimeLimit).", stacklevel=3)
    return {"episode_return": returns, "discounted_return": discounted, "length": lengths,
            "first_obs": np.asarray(first_obs), "last_obs": last_obs, "terminated": terminated}


def first_episode_ends(policy: Policy, env_id: str, n_episodes: int, seed: int) -> pd.DataFrame:
    """How the episodes of :func:`evaluate` ended: the same episodes, one row each.

    Columns: ``length``, ``episode_return``, ``terminated`` (False where the time limit cut the
    episode) and the episode's last observation, one column per coordinate (``last_obs_0``, ...).
    Notebook 07 reads CartPole's cart position and pole angle from them.
    """
    n_episodes = validation.count("n_episodes", n_episodes, 10)
    vec_env = make_vector_env(env_id, n_episodes)
    try:
        played = _play_first_episodes(policy, vec_env, n_episodes, seed)
    finally:
        vec_env.close()
    last = pd.DataFrame(played["last_obs"].reshape(n_episodes, -1)).add_prefix("last_obs_")
    return pd.concat([pd.DataFrame({k: played[k] for k in ("length", "episode_return", "terminated")}), last], axis=1)


def greedy_rollouts(agent, env_id: str, n_episodes: int = 20, seed: int = 10_000,
                    gamma: float | None = None, max_steps: int | None = None) -> pd.DataFrame:
    """Greedy episodes on fresh seeded starts, with what the agent *predicted* for each.

    Built step by step in ``notebooks/07_all_together.ipynb``; used by the experiment runner.

    A Q-value claims to be the discounted return the agent will collect from a state.
    This plays one greedy episode from each of ``n_episodes`` seeded start states and
    puts the claim next to the fact: ``q_start`` is ``max_a Q(s_0, a)`` (the value of the
    greedy action at the first state), ``discounted_return`` is ``sum_t gamma^t r_t`` of
    the episode that followed. Their ratio says whether the values are calibrated.

    Args:
        agent: a :class:`~dqn_helpers.learner.DeepQLearner` (needs ``q_values``).
        env_id: gymnasium id; one env copy per episode.
        n_episodes: number of episodes (one per start state).
        seed: seed of the first episode's start state.
        gamma: discount of ``discounted_return``; default the agent's own.
        max_steps: cut episodes after this many steps, as in :func:`evaluate`.

    Returns:
        one row per episode: ``episode_return``, ``discounted_return``, ``q_start``, ``length``.
    """
    n_episodes = validation.count("n_episodes", n_episodes, 10)
    if not all(hasattr(agent, name) for name in ("q_values", "greedy_actions", "gamma")):
        raise TypeError(f"greedy_rollouts needs a DeepQLearner (it compares its Q-values with the returns), got "
                        f"{type(agent).__name__}{_result_hint(agent)}.")
    gamma = agent.gamma if gamma is None else gamma
    vec_env = make_vector_env(env_id, n_episodes)
    try:
        check_agent_fits_env(agent, vec_env.single_observation_space, vec_env.single_action_space, env_id)
        played = _play_first_episodes(agent.greedy_actions, vec_env, n_episodes, seed, gamma, max_steps)
    finally:
        vec_env.close()
    q_start = agent.q_values(played.pop("first_obs")).max(axis=1)
    played.pop("last_obs"), played.pop("terminated")
    return pd.DataFrame({**played, "q_start": q_start.astype(np.float64)})
