"""The training loop: act, remember, sample, update, synchronize, decay epsilon.

Built step by step in ``notebooks/07_all_together.ipynb``; its ingredients in
notebooks 02 to 06. Reads top to bottom like the algorithm:

    for every vector step:
        epsilon <- schedule(progress)
        a <- epsilon-greedy(Q(s))                  (one action per env)
        s', r, terminated, truncated <- env.step(a)
        remember (s, a, r, true s', terminated)   (never across an auto-reset)
        every train_every steps: sample a batch, one gradient step on the TD loss
        every target_update_every updates: synchronize the target network
        every eval_every env steps: greedy evaluation
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from dqn_helpers.config import DQNConfig
from dqn_helpers.evaluation import evaluate
from dqn_helpers.learner import DeepQLearner
from dqn_helpers.live import make_live_view
from dqn_helpers.replay_buffer import ReplayBuffer, TransitionBatch
from dqn_helpers.seeds import PERIODIC_EVAL_SEED_OFFSET as EVAL_SEED_OFFSET
from dqn_helpers.vector_env import make_vector_env


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    ``episodes``: one row per finished training episode, columns ``env_step``
    (global env steps when it ended), ``env`` (which copy), ``episode_return``,
    ``length``, ``epsilon``.
    ``evaluations``: one row per periodic greedy evaluation: ``env_step``,
    ``wall_seconds``, ``mean_return``, ``std_return``.
    ``updates``: loss and mean predicted Q, logged every 50 gradient updates.
    ``buffer``: the replay buffer as training left it.
    ``solved_at_step`` / ``solved_at_seconds``: when a periodic evaluation first
    reached the env's reward threshold (``None`` if never).
    """

    agent: DeepQLearner
    config: DQNConfig
    episodes: pd.DataFrame
    evaluations: pd.DataFrame
    updates: pd.DataFrame
    env_steps: int
    n_updates: int
    wall_seconds: float
    reward_threshold: float | None
    buffer: ReplayBuffer | None = None
    solved_at_step: int | None = None
    solved_at_seconds: float | None = None


def _latest_batch(obs, actions, step) -> TransitionBatch:
    """The transitions of the last vector step as a batch (training without replay)."""
    keep = step.learnable
    return TransitionBatch(
        obs=obs[keep],
        actions=np.asarray(actions)[keep],
        rewards=step.rewards[keep],
        next_obs=step.final_obs[keep],
        terminated=step.terminated[keep].astype(np.float32),
    )


def train(config: DQNConfig | None = None, progress: bool = True, live=False, **overrides) -> TrainingResult:
    """Train a Deep Q-learner as the config says; see the module docstring for the loop.

    Built step by step in ``notebooks/07_all_together.ipynb``.

    Args:
        config: hyperparameters (defaults: :class:`DQNConfig`); keyword
            ``overrides`` change single fields, e.g. ``train(seed=3)``.
        progress: show a tqdm progress bar.
        live: ``True`` shows a live figure in a notebook (returns, epsilon, predicted
            Q; see :mod:`dqn_helpers.live`), nothing extra in a terminal; or pass a
            :class:`~dqn_helpers.live.LiveTrainingView` to choose its settings.
    """
    config = (config or DQNConfig()).replace(**overrides)
    start = time.perf_counter()  # the clock includes building envs and networks
    seed_everything(config.seed)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)

    env = make_vector_env(config.env_id, config.num_envs, config.env_backend)
    obs_shape = env.single_observation_space.shape
    agent = DeepQLearner(
        obs_shape[0], int(env.single_action_space.n),
        hidden_sizes=config.hidden_sizes, learning_rate=config.learning_rate, gamma=config.gamma,
        epsilon_start=config.epsilon_start, epsilon_end=config.epsilon_end,
        exploration_fraction=config.exploration_fraction, loss=config.loss, double_dqn=config.double_dqn,
        use_target_network=config.use_target_network, tau=config.tau, device=config.device,
        seed=config.seed,
    )
    buffer = ReplayBuffer(config.buffer_capacity, obs_shape, seed=config.seed)
    threshold = env.spec.reward_threshold if env.spec is not None else None
    eval_env = make_vector_env(config.env_id, config.eval_episodes) if config.eval_every else None
    eval_seed = config.seed + EVAL_SEED_OFFSET

    episode_rows, eval_rows, update_rows = [], [], []
    running_return = np.zeros(config.num_envs)
    running_length = np.zeros(config.num_envs, dtype=np.int64)
    best_eval, best_weights = -math.inf, None
    solved_at_step = solved_at_seconds = None
    n_updates = 0
    n_iterations = math.ceil(config.total_steps / config.num_envs)
    bar = tqdm(total=n_iterations * config.num_envs, disable=not progress, unit="step", mininterval=0.5)
    view = make_live_view(live, config, threshold)  # None unless live

    obs = env.reset(seed=config.seed)
    env_steps = 0
    for iteration in range(n_iterations):
        epsilon = agent.decay_epsilon(env_steps / config.total_steps)
        actions = agent.act(obs)
        step = env.step(actions)
        env_steps += config.num_envs

        # Remember real transitions only, with the true next state (final_obs).
        if config.use_replay_buffer:
            keep = step.learnable
            if keep.all():
                buffer.remember(obs, actions, step.rewards, step.final_obs, step.terminated)
            else:
                buffer.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep],
                                step.terminated[keep])

        # Bookkeeping of returns for the plots: one row per finished episode.
        running_return += step.rewards
        running_length += step.learnable
        for i in np.flatnonzero(step.done):
            episode_rows.append((env_steps, i, running_return[i], running_length[i], epsilon))
            running_return[i], running_length[i] = 0.0, 0

        # Learn.
        if env_steps >= config.learning_starts and iteration % config.train_every == 0:
            for _ in range(config.gradient_steps):
                if config.use_replay_buffer:
                    if len(buffer) < config.batch_size:
                        break
                    batch = buffer.sample(config.batch_size)
                else:
                    batch = _latest_batch(obs, actions, step)
                    if len(batch) == 0:
                        break
                loss = agent.update(batch)
                n_updates += 1
                if n_updates % config.target_update_every == 0:
                    agent.synchronize()
                if n_updates % 50 == 0:
                    update_rows.append((env_steps, n_updates, loss, agent.last_q_mean.item()))
        obs = step.next_obs

        # Evaluate greedily every eval_every env steps.
        if config.eval_every and env_steps // config.eval_every > (env_steps - config.num_envs) // config.eval_every:
            returns = evaluate(agent, eval_env, config.eval_episodes, seed=eval_seed)
            seconds = time.perf_counter() - start
            eval_rows.append((env_steps, seconds, returns.mean(), returns.std()))
            if config.keep_best and returns.mean() >= best_eval:
                best_eval, best_weights = returns.mean(), copy.deepcopy(agent.state_dict())
            if solved_at_step is None and threshold is not None and returns.mean() >= threshold:
                solved_at_step, solved_at_seconds = env_steps, seconds
                if config.stop_when_solved:
                    bar.update(config.num_envs)
                    break
            bar.set_postfix(eval=f"{returns.mean():.0f}", eps=f"{epsilon:.2f}")
        bar.update(config.num_envs)
        if view is not None:  # returns at once unless a redraw is due
            view.update(env_steps, epsilon, episode_rows, eval_rows, update_rows)
    bar.close()
    if view is not None:
        view.close(env_steps, epsilon, episode_rows, eval_rows, update_rows)
    wall_seconds = time.perf_counter() - start

    if best_weights is not None:
        agent.load_state_dict(best_weights)
    env.close()
    if eval_env is not None:
        eval_env.close()
    return TrainingResult(
        agent=agent,
        config=config,
        episodes=pd.DataFrame(episode_rows, columns=["env_step", "env", "episode_return", "length", "epsilon"]),
        evaluations=pd.DataFrame(eval_rows, columns=["env_step", "wall_seconds", "mean_return", "std_return"]),
        updates=pd.DataFrame(update_rows, columns=["env_step", "update", "loss", "q_mean"]),
        env_steps=env_steps,
        n_updates=n_updates,
        wall_seconds=wall_seconds,
        reward_threshold=threshold,
        buffer=buffer,
        solved_at_step=solved_at_step,
        solved_at_seconds=solved_at_seconds,
    )
