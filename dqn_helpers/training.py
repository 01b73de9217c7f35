"""The training loop: act, remember, sample, update, synchronize, decay epsilon.

Built step by step in ``notebooks/07_all_together.ipynb``; its ingredients in
notebooks 02 to 06. Reads top to bottom like the algorithm:

    for every vector step:
        epsilon <- schedule(progress)
        a <- epsilon-greedy(Q(s))                  (one action per env)
        s', r, terminated, truncated <- env.step(a)
        remember (s, a, r, true s', terminated)   (never across an auto-reset)
        every train_every steps: sample a batch, one gradient step on the TD loss
                                                   (a NaN or inf loss stops training: diverged)
        every target_update_every updates: synchronize the target network
        every eval_every env steps: greedy evaluation
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from dqn_helpers import validation
from dqn_helpers.config import DQNConfig
from dqn_helpers.evaluation import evaluate
from dqn_helpers.learner import DeepQLearner
from dqn_helpers.live import make_live_view
from dqn_helpers.replay_buffer import LatestTransitions, ReplayBuffer
from dqn_helpers.seeds import PERIODIC_EVAL_SEED_OFFSET
from dqn_helpers.vector_env import make_vector_env


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in [0, 2**32) (NumPy's global generator takes no other seeds), got {seed}")
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
    ``buffer``: the replay buffer as training left it (a
    :class:`~dqn_helpers.replay_buffer.LatestTransitions` without replay).
    ``solved_at_step`` / ``solved_at_seconds``: when a periodic evaluation first
    reached the env's reward threshold (``None`` if never).
    ``interrupted``: True when Ctrl-C stopped training early; everything above
    then covers the ``env_steps`` done until then.
    ``diverged_at_step``: the env step at which a loss became NaN or infinite
    (training stopped there, with a warning), else ``None``; ``diverged`` says
    whether that happened and ``diverged_reason`` names the likely cause.
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
    buffer: ReplayBuffer | LatestTransitions | None = None
    solved_at_step: int | None = None
    solved_at_seconds: float | None = None
    interrupted: bool = False
    diverged_at_step: int | None = None
    diverged_reason: str | None = None

    @property
    def diverged(self) -> bool:
        """True when a loss became NaN or infinite and training stopped (see ``diverged_at_step``)."""
        return self.diverged_at_step is not None


def divergence_message(step: int, loss: float, batch, config: DQNConfig) -> str:
    """Why the loss at env step ``step`` is not finite, as far as the batch that produced it tells."""
    broken = [what for what, values in [("rewards", batch.rewards), ("observations", batch.obs),
                                         ("next observations", batch.next_obs)] if not np.isfinite(values).all()]
    if broken:
        cause = (f"the sampled {' and '.join(broken)} hold NaN or inf: check what the env (or a wrapper) "
                 f"returns, e.g. np.isfinite(obs).all() after each step")
    else:
        cause = (f"rewards and observations are finite, so the Q-values grew without bound: a learning rate "
                 f"too large ({config.learning_rate:g}; try 1e-3 or lower), or rewards or observations too "
                 f"large (scale them to about [-1, 1])")
    return (f"Training diverged at env step {step}: the TD loss became {loss}, so every later update would "
            f"be too. Likely cause: {cause}.")


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

    Training stops after exactly ``config.total_steps`` env steps: when that is
    not a multiple of ``num_envs``, the last vector step counts (remembers, logs)
    only the envs the budget has left and drops the others' steps.

    Ctrl-C (or "interrupt the kernel" in Jupyter) stops training cleanly: the
    result of the steps done so far comes back with ``interrupted=True`` (and a
    warning), holding the episodes, evaluations and the agent (with the weights
    of the best evaluation if ``keep_best``); the envs are closed and torch's
    thread count is restored, as after any run.

    A TD loss that becomes NaN or infinite (a learning rate far too large, NaN or
    inf rewards or observations) stops training at once with one warning naming the
    step and the likely cause; the result then has ``diverged=True`` and
    ``diverged_at_step``. (Checking the loss costs nothing: ``update`` returns it
    as a float already.)
    """
    if config is not None and not isinstance(config, DQNConfig):
        example = f"env_id={config!r}" if isinstance(config, str) else "total_steps=..."
        raise TypeError(f"train needs a DQNConfig, got {type(config).__name__}. Use train(DQNConfig(...)) or "
                        f"pass fields as keywords: train({example}).")
    config = (config or DQNConfig()).replace(**overrides)
    progress = validation.boolean("progress", progress)
    if config.learning_starts >= config.total_steps:
        warnings.warn(f"learning_starts ({config.learning_starts}) is not below total_steps ({config.total_steps}): "
                      f"no gradient update (or one round at the very end) will happen, so the agent stays "
                      f"untrained. Lower learning_starts or raise total_steps.", stacklevel=2)
    start = time.perf_counter()  # the clock includes building envs and networks
    seed_everything(config.seed)

    env = make_vector_env(config.env_id, config.num_envs, config.env_backend)
    obs_shape = env.single_observation_space.shape
    agent = DeepQLearner.from_config(config, obs_shape[0], int(env.single_action_space.n))
    # Without replay (an ablation) the agent learns from the latest vector step only.
    memory = (ReplayBuffer(config.buffer_capacity, obs_shape, seed=config.seed) if config.use_replay_buffer
              else LatestTransitions())
    threshold = env.spec.reward_threshold if env.spec is not None else None
    eval_env = make_vector_env(config.env_id, config.eval_episodes) if config.eval_every else None
    eval_seed = config.seed + PERIODIC_EVAL_SEED_OFFSET

    episode_rows, eval_rows, update_rows = [], [], []
    running_return = np.zeros(config.num_envs)
    running_length = np.zeros(config.num_envs, dtype=np.int64)
    best_eval, best_weights = -math.inf, None
    solved_at_step = solved_at_seconds = None
    n_updates = 0
    n_iterations = math.ceil(config.total_steps / config.num_envs)
    bar = tqdm(total=config.total_steps, disable=not progress, unit="step", mininterval=0.5)
    view = make_live_view(live, config, threshold)  # None unless live
    previous_threads = torch.get_num_threads()  # restored below: train leaves no side effect
    if config.torch_threads:  # never more than the cores: far more threads crash torch (seen at 100,000)
        torch.set_num_threads(min(config.torch_threads, os.cpu_count() or 1))

    obs = env.reset(seed=config.seed)
    env_steps = 0
    epsilon, interrupted, diverged_at_step, why = agent.epsilon, False, None, None
    try:
        for iteration in range(n_iterations):
            epsilon = agent.decay_epsilon(env_steps / config.total_steps)
            actions = agent.act(obs)
            step = env.step(actions)
            # Count only the envs the budget has left (fewer than num_envs on the last step
            # when total_steps is not a multiple of it): training stops at exactly total_steps.
            counted = np.arange(config.num_envs) < config.total_steps - env_steps
            new_steps = int(counted.sum())
            env_steps += new_steps

            # Remember real transitions only, with the true next state (final_obs).
            keep = step.learnable & counted
            memory.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep],
                            step.terminated[keep])

            # Bookkeeping of returns for the plots: one row per finished episode.
            running_return += step.rewards
            running_length += step.learnable
            for i in np.flatnonzero(step.done & counted):
                episode_rows.append((env_steps, i, running_return[i], running_length[i], epsilon))
                running_return[i], running_length[i] = 0.0, 0

            # Learn.
            if env_steps >= config.learning_starts and iteration % config.train_every == 0:
                for _ in range(config.gradient_steps):
                    if not memory.can_sample(config.batch_size):
                        break
                    batch = memory.sample(config.batch_size)
                    loss = agent.update(batch)
                    n_updates += 1
                    if not math.isfinite(loss):  # NaN or inf: every later update would be too; stop
                        diverged_at_step, why = env_steps, divergence_message(env_steps, loss, batch, config)
                        break
                    if n_updates % config.target_update_every == 0:
                        agent.synchronize()
                    if n_updates % 50 == 0:
                        update_rows.append((env_steps, n_updates, loss, agent.last_q_mean.item()))
            if diverged_at_step is not None:
                bar.update(new_steps)
                break
            obs = step.next_obs

            # Evaluate greedily every eval_every env steps.
            if config.eval_every and env_steps // config.eval_every > (env_steps - new_steps) // config.eval_every:
                returns = evaluate(agent, eval_env, config.eval_episodes, seed=eval_seed)
                seconds = time.perf_counter() - start
                eval_rows.append((env_steps, seconds, returns.mean(), returns.std()))
                if config.keep_best and returns.mean() >= best_eval:
                    best_eval, best_weights = returns.mean(), copy.deepcopy(agent.state_dict())
                if solved_at_step is None and threshold is not None and returns.mean() >= threshold:
                    solved_at_step, solved_at_seconds = env_steps, seconds
                    if config.stop_when_solved:
                        bar.update(new_steps)
                        break
                bar.set_postfix(eval=f"{returns.mean():.0f}", eps=f"{epsilon:.2f}")
            bar.update(new_steps)
            if view is not None:  # returns at once unless a redraw is due
                view.update(env_steps, epsilon, episode_rows, eval_rows, update_rows)
    except KeyboardInterrupt:  # Ctrl-C: keep what was done so far (see the docstring)
        interrupted = True
    finally:  # also on errors: close the envs and undo the thread setting
        bar.close()
        env.close()
        if eval_env is not None:
            eval_env.close()
        torch.set_num_threads(previous_threads)
    if view is not None:  # the final figure, also after Ctrl-C
        view.close(env_steps, epsilon, episode_rows, eval_rows, update_rows)
    wall_seconds = time.perf_counter() - start

    if best_weights is not None:
        agent.load_state_dict(best_weights)
    if diverged_at_step is not None:
        weights = ("the weights of the best periodic evaluation before that" if best_weights is not None
                   else "the weights as they were when the loss broke")
        warnings.warn(f"{why} Stopped there (result.diverged is True); result.agent holds {weights}.",
                      stacklevel=2)
    if interrupted:
        warnings.warn(f"Training interrupted after {env_steps} of {config.total_steps} env steps; returning what "
                      f"was done so far (result.interrupted is True).", stacklevel=2)
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
        buffer=memory,
        solved_at_step=solved_at_step,
        solved_at_seconds=solved_at_seconds,
        interrupted=interrupted,
        diverged_at_step=diverged_at_step,
        diverged_reason=why,
    )
