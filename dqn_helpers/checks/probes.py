"""Run a learner on the five probe environments and say in plain words which part of it is broken.

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``. The probes themselves
(with their known optimal Q-values) live in :mod:`dqn_helpers.probes`.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.probes import PROBES

PROBE_GAMMA = 0.5  # far from 1, so "no discount" (1.0) and "discounted" (0.5) are easy to tell apart
TOLERANCE = 0.2


def _default_update(learner, batch) -> float:
    return learner.update(batch)


def _default_learner(obs_dim: int, n_actions: int, gamma: float, seed: int):
    from dqn_helpers.learner import DeepQLearner

    return DeepQLearner(obs_dim, n_actions, hidden_sizes=(32,), learning_rate=5e-3, gamma=gamma, loss="mse",
                        double_dqn=False, seed=seed)


def run_probes(
    update: Callable | None = None,
    make_learner: Callable | None = None,
    gamma: float = PROBE_GAMMA,
    n_updates: int = 250,
    batch_size: int = 32,
    sync_every: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Train a fresh learner on each probe; one row per (probe, state, action): predicted vs optimal Q.

    Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``.

    Transitions come from uniformly random actions (exploration is not under test), so
    only the update is: ``update(learner, batch)`` is called ``n_updates`` times on
    batches from a :class:`~dqn_helpers.ReplayBuffer`, with ``learner.synchronize()``
    every ``sync_every`` updates. ``make_learner(obs_dim, n_actions, gamma, seed)``
    builds the learner (default: a small :class:`~dqn_helpers.DeepQLearner`); it needs
    ``q_values(obs)`` and ``synchronize()``.
    """
    update = update or _default_update
    make_learner = make_learner or _default_learner
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is several times faster than two
    try:
        return _run_probes(update, make_learner, gamma, n_updates, batch_size, sync_every, seed)
    finally:
        torch.set_num_threads(threads)


def _run_probes(update, make_learner, gamma, n_updates, batch_size, sync_every, seed) -> pd.DataFrame:
    from dqn_helpers.replay_buffer import ReplayBuffer

    rows = []
    for number, (env_id, cls) in enumerate(PROBES.items(), start=1):
        env = gym.make(env_id)
        rng = np.random.default_rng([seed, 1])  # not default_rng(seed): the env's start states use that stream
        buffer = ReplayBuffer(256, (1,), seed=seed)
        obs, _ = env.reset(seed=seed)
        while len(buffer) < 256:
            action = int(rng.integers(cls.n_actions))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.remember(obs[None], [action], [reward], next_obs[None], [terminated])
            obs = env.reset()[0] if terminated or truncated else next_obs
        learner = make_learner(1, cls.n_actions, gamma, seed)
        for k in range(1, n_updates + 1):
            update(learner, buffer.sample(batch_size))
            if k % sync_every == 0:
                learner.synchronize()
        probe = env.unwrapped
        for state in probe.probe_states():
            predicted = np.asarray(learner.q_values(state[None]), dtype=np.float64).reshape(-1)
            for action, optimal in enumerate(probe.optimal_q(state, gamma)):
                rows.append((number, env_id, cls.title, float(state[0]), action, float(predicted[action]), optimal))
        env.close()
    columns = ["probe", "env_id", "tests", "obs", "action", "predicted_q", "optimal_q"]
    table = pd.DataFrame(rows, columns=columns)
    table["error"] = (table["predicted_q"] - table["optimal_q"]).abs()
    return table


def check_probes(update, make_learner=None, gamma: float = PROBE_GAMMA) -> CheckReport:
    """Check a DQN update on the five probes (notebook 09_write_your_own_dqn).

    ``update(learner, batch) -> loss`` is one gradient step (``lambda learner, batch:
    learner.update(batch)`` checks the package's own);
    ``make_learner(obs_dim, n_actions, gamma, seed)`` builds the learner (default: a small
    :class:`~dqn_helpers.DeepQLearner`). One property per probe: after training, every
    predicted Q-value is within 0.2 of the optimal one. A failed probe says which part of
    DQN it isolates and where to look; patterns across probes name the mistake (no
    discount, bootstrapping through terminal states, a flipped sign, ignoring the action).
    """
    name = "check_probes"
    signature = "update(learner, batch) -> float, with learner.q_network, .target_network, .optimizer, .gamma"
    if not callable(update):
        return not_callable_report(name, update, "a function update(learner, batch)")
    results: dict[str, pd.DataFrame] = {}

    def table() -> pd.DataFrame:
        if "table" not in results:
            results["table"] = run_probes(update, make_learner, gamma)
        return results["table"]

    def probe_test(number: int, cls) -> Callable[[], None]:
        def run():
            rows = table()[table()["probe"] == number]
            bad = rows[~(rows["error"] <= TOLERANCE)]
            if len(bad):
                cells = [(f"Q(obs {r.obs:g}, action {r.action})", r) for r in bad.itertuples()]
                shown = "; ".join(f"{c} = {r.predicted_q:.3g}" for c, r in cells)
                wanted = "; ".join(f"{c} = {r.optimal_q:.3g}" for c, r in cells)
                raise Fail(f"{wanted} (within {TOLERANCE})", shown,
                           f"Your agent fails the {cls.name} probe ({cls.title}): look at {cls.look_at}.")
        return run

    def q(number, obs=0.0, action=0) -> float:
        rows = table()
        row = rows[(rows["probe"] == number) & (rows["obs"] == obs) & (rows["action"] == action)]
        return float(row["predicted_q"].iloc[0])

    def ok(number) -> bool:
        rows = table()
        return bool((rows[rows["probe"] == number]["error"] <= TOLERANCE).all())

    def near(x, y) -> bool:
        return abs(x - y) <= TOLERANCE

    titles = {n: f"Probe{n}: {cls.title}" for n, cls in enumerate(PROBES.values(), start=1)}
    tests = [Test(titles[n], probe_test(n, cls)) for n, cls in enumerate(PROBES.values(), start=1)]
    mistakes = [
        Mistake("the values move away from the targets: the update climbs the loss instead of descending it.",
                lambda: not np.isfinite(q(1)) or q(1) < 0.0 or abs(q(1)) > 10,
                "Minimize (Q(s, a) - y)^2: call loss.backward() on the loss itself (not -loss), and compute the "
                "error as prediction minus target (or target minus prediction) squared."),
        Mistake("you bootstrap through terminal states.",
                lambda: near(q(1), 1.0 / (1.0 - gamma)),
                f"The constant-reward probe's only step is terminal, so Q = 1; yours is near 1/(1 - gamma) = "
                f"{1 / (1 - gamma):g}. Multiply the bootstrap by (1 - terminated)."),
        Mistake("your agent fails the discounting probe: look at gamma in the target.",
                lambda: ok(1) and near(q(3, 1.0), 1.0) and near(q(3, 0.0), 1.0),
                f"Q(first state) should be gamma * 1 = {gamma:g} and is about 1: the bootstrapped value is not "
                "multiplied by gamma (use learner.gamma, not a constant)."),
        Mistake("your agent fails the action probe: the loss does not use the Q-value of the action taken.",
                lambda: ok(1) and ok(2) and ok(3) and not ok(4),
                "The one-action probes pass and the first two-action probe fails. Predict Q(s, a) for the taken "
                "action: q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1), not the max or mean over actions."),
        Mistake("your agent fails the observation probe: the prediction does not depend on the observation.",
                lambda: ok(1) and ok(4) and not ok(2),
                "The probes that need no observation pass, the observation probe fails. Feed the batch's obs "
                "(not next_obs, not zeros) to the network for Q(s, a)."),
    ]
    return run_tests(name, tests, signature, mistakes)
