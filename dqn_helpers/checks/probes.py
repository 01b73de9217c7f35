"""Run a learner on the five probe environments and say in plain words which part of it is broken.

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``. The probes themselves
(with their known optimal Q-values) live in :mod:`dqn_helpers.probes`. Two ways to train on
them: the update alone, on transitions of random actions (:func:`run_probes`), or the whole
agent, with the student's training loop choosing the actions (``loop=``, as ARENA does).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.dqn_update import broadcast_mistake, target_network_predicts, update_references
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.limits import time_limit
from dqn_helpers.checks.shapes import broadcast_seen
from dqn_helpers.probes import PROBES

PROBE_GAMMA = 0.5  # far from 1, so "no discount" (1.0) and "discounted" (0.5) are easy to tell apart
TOLERANCE = 0.2
LOOP_SETTINGS = dict(total_steps=1_200, batch_size=32, learning_starts=200, target_update_every=5)  # 251 updates
LOOP_ENVS = 4


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
    loop: Callable | None = None,
) -> pd.DataFrame:
    """Train a fresh learner on each probe; one row per (probe, state, action): predicted vs optimal Q.

    Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``.

    Without ``loop``, transitions come from uniformly random actions (exploration is not
    under test), so only the update is: ``update(learner, batch)`` is called ``n_updates``
    times on batches from a :class:`~dqn_helpers.ReplayBuffer`, with ``learner.synchronize()``
    every ``sync_every`` updates. With ``loop`` (a training loop ``loop(env, learner, buffer,
    update, total_steps, batch_size, learning_starts, target_update_every, seed)``, notebook
    09's), the whole agent is trained: the loop acts, remembers, samples, updates and
    synchronizes on a vector env of the probe (``LOOP_SETTINGS``: 251 updates); the table
    then also counts the loop's ``updates``, ``acts`` and ``syncs``.
    ``make_learner(obs_dim, n_actions, gamma, seed)`` builds the learner (default: a small
    :class:`~dqn_helpers.DeepQLearner`); it needs ``q_values(obs)`` and ``synchronize()``.
    """
    update = update or _default_update
    make_learner = make_learner or _default_learner
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is several times faster than two
    try:
        rows = []
        for number, (env_id, cls) in enumerate(PROBES.items(), start=1):
            if loop is None:
                learner, counts = _train_on_random_actions(env_id, cls, update, make_learner, gamma, n_updates,
                                                           batch_size, sync_every, seed), {}
            else:
                learner, counts = _train_with_loop(env_id, cls, loop, update, make_learner, gamma, seed)
            probe = gym.make(env_id).unwrapped
            for state in probe.probe_states():
                predicted = np.asarray(learner.q_values(state[None]), dtype=np.float64).reshape(-1)
                for action, optimal in enumerate(probe.optimal_q(state, gamma)):
                    rows.append(dict(probe=number, env_id=env_id, tests=cls.title, obs=float(state[0]), action=action,
                                     predicted_q=float(predicted[action]), optimal_q=optimal, **counts))
    finally:
        torch.set_num_threads(threads)
    table = pd.DataFrame(rows)
    table["error"] = (table["predicted_q"] - table["optimal_q"]).abs()
    return table


def _train_on_random_actions(env_id, cls, update, make_learner, gamma, n_updates, batch_size, sync_every, seed):
    from dqn_helpers.replay_buffer import ReplayBuffer

    env = gym.make(env_id)
    rng = np.random.default_rng([seed, 1])  # not default_rng(seed): the env's start states use that stream
    buffer = ReplayBuffer(256, (1,), seed=seed)
    obs, _ = env.reset(seed=seed)
    while len(buffer) < 256:
        action = int(rng.integers(cls.n_actions))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.remember(obs[None], [action], [reward], next_obs[None], [terminated])
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    learner = make_learner(1, cls.n_actions, gamma, seed)
    for k in range(1, n_updates + 1):
        update(learner, buffer.sample(batch_size))
        if k % sync_every == 0:
            learner.synchronize()
    return learner


def _train_with_loop(env_id, cls, loop, update, make_learner, gamma, seed):
    from dqn_helpers.replay_buffer import ReplayBuffer
    from dqn_helpers.vector_env import make_vector_env

    learner = make_learner(1, cls.n_actions, gamma, seed)
    counts = dict(updates=0, acts=0, syncs=0)
    act, sync = learner.act, learner.synchronize

    def counted_act(obs):
        counts["acts"] += 1
        return act(obs)

    def counted_sync():
        counts["syncs"] += 1
        return sync()

    def counted_update(learner_, batch):
        counts["updates"] += 1
        return update(learner_, batch)

    learner.act, learner.synchronize = counted_act, counted_sync
    env = make_vector_env(env_id, LOOP_ENVS)
    try:
        loop(env, learner, ReplayBuffer(4_096, (1,), seed=seed), counted_update, seed=seed, **LOOP_SETTINGS)
    finally:
        env.close()
        learner.act, learner.synchronize = act, sync
    return learner, counts


def check_probes(update, make_learner=None, gamma: float = PROBE_GAMMA, loop=None) -> CheckReport:
    """Check a DQN update on the five probes (notebook 09_write_your_own_dqn).

    ``update(learner, batch) -> loss`` is one gradient step;
    ``make_learner(obs_dim, n_actions, gamma, seed)`` builds the learner (default: a small
    :class:`~dqn_helpers.DeepQLearner`). One property per probe: after training, every
    predicted Q-value is within 0.2 of the optimal one; one more that the update keeps one
    value per transition (no (B, 1) tensor broadcast against a (B,) one); one that it is
    the student's own code (no call of ``learner.update``, ``update_variant`` or ``td_target``).
    A failed probe says which part of DQN it isolates and where to look; patterns across
    probes name the mistake (no discount, bootstrapping through terminal states, an inverted terminal
    mask, a reward masked with the bootstrap, a flipped sign, ignoring the action, Q(s, a) predicted
    with the target network; with ``loop``, a loop that never calls
    ``learner.act``).

    ``loop``: the student's training loop (notebook 09's ``training_loop``). Then the whole
    agent is trained on each probe, as ARENA does: the loop acts with ``learner.act``,
    remembers, samples and calls ``update``; when the same update passes the probes on
    random actions, the report says the loop is at fault and where to look.
    """
    name = "check_probes"
    signature = "update(learner, batch) -> float, with learner.q_network, .target_network, .optimizer, .gamma"
    if not callable(update):
        return not_callable_report(name, update, "a function update(learner, batch)")
    if loop is not None and not callable(loop):
        return not_callable_report(name, loop, "a training loop loop(env, learner, buffer, update, total_steps, ...)")
    results: dict[str, pd.DataFrame] = {}
    batch_size = 32

    def table(with_loop: bool = loop is not None) -> pd.DataFrame:
        key = "loop" if with_loop else "update"
        if key not in results:
            results[key] = run_probes(update, make_learner, gamma, loop=loop if with_loop else None)
        return results[key]

    def new_learner():
        return (make_learner or _default_learner)(1, 2, gamma, 0)

    def one_update(learner=None):
        """The student's update once, on a batch of the fifth probe."""
        from dqn_helpers.replay_buffer import ReplayBuffer

        rng = np.random.default_rng(0)
        buffer = ReplayBuffer(64, (1,), seed=0)
        obs = rng.choice([-1.0, 1.0], size=(64, 1)).astype(np.float32)
        actions = rng.integers(2, size=64)
        buffer.remember(obs, actions, np.where(actions == (obs[:, 0] > 0), 1.0, -1.0), np.zeros_like(obs),
                        np.ones(64))
        update(learner or new_learner(), buffer.sample(batch_size))

    def flat_shapes():
        seen = broadcast_seen(one_update, batch_size)
        if seen:
            raise Fail(f"one value per transition throughout the update (batch of {batch_size})",
                       f"{seen}: a (B, 1) tensor broadcast against a (B,) one",
                       "Print the shapes of the prediction and of the target just before the loss: both must be "
                       "(B,). A gather, or a max that keeps its dimension, leaves a dimension of size 1.")

    def probe_test(number: int, cls) -> Callable[[], None]:
        def run():
            rows = table()[table()["probe"] == number]
            bad = rows[~(rows["error"] <= TOLERANCE)]
            if len(bad):
                cells = [(f"Q(obs {r.obs:g}, action {r.action})", r) for r in bad.itertuples()]
                shown = "; ".join(f"{c} = {r.predicted_q:.3g}" for c, r in cells)
                wanted = "; ".join(f"{c} = {r.optimal_q:.3g}" for c, r in cells)
                if loop is not None:
                    first = rows.iloc[0]
                    shown += (f" (your loop made {first.updates} updates, {first.acts} learner.act calls and "
                              f"{first.syncs} synchronizations in {LOOP_SETTINGS['total_steps']} env steps)")
                raise Fail(f"{wanted} (within {TOLERANCE})", shown,
                           f"Your agent fails the {cls.name} probe ({cls.title}): look at {cls.look_at}.")
        return run

    def q(number, obs=0.0, action=0) -> float:
        rows = table()
        row = rows[(rows["probe"] == number) & (rows["obs"] == obs) & (rows["action"] == action)]
        return float(row["predicted_q"].iloc[0])

    def ok(number, with_loop: bool = loop is not None) -> bool:
        rows = table(with_loop)
        return bool((rows[rows["probe"] == number]["error"] <= TOLERANCE).all())

    def near(x, y) -> bool:
        return abs(x - y) <= TOLERANCE

    def loop_hint() -> str:
        failing = [cls for n, cls in enumerate(PROBES.values(), start=1) if not ok(n)]
        return ("Your update passes every probe when it learns from random actions (run_probes(update)), so look at "
                "the loop. " + " ".join(f"The {cls.name} probe: {cls.loop_look_at}." for cls in failing))

    trained_by = " (trained by your loop)" if loop is not None else ""
    titles = {n: f"Probe{n}{trained_by}: {cls.title}" for n, cls in enumerate(PROBES.values(), start=1)}
    tests = [Test(titles[n], probe_test(n, cls), time_limit=time_limit(6 if loop is not None else 3))
             for n, cls in enumerate(PROBES.values(), start=1)]
    tests += [Test("keeps one value per transition (no (B, 1) tensor broadcast against a (B,) one)", flat_shapes),
              Test(OWN_CODE, own_code_test(one_update, update_references(), answer=update))]
    def all_zero(number) -> bool:
        return bool((table()[table()["probe"] == number]["predicted_q"].abs() < 0.1).all())

    def acts() -> int:
        return int(table()["acts"].sum())

    mistakes = [broadcast_mistake(one_update, batch_size), target_network_predicts(new_learner, one_update)]
    if loop is not None:
        # before the loop-versus-update comparison: a loop that never explores is named, not described probe by probe
        mistakes.append(Mistake(
            "your loop never calls learner.act, so it never explores.", lambda: acts() == 0,
            f"The probes counted 0 learner.act calls in {LOOP_SETTINGS['total_steps']} env steps: your loop chooses "
            "its actions another way (greedy, or by its own rule), so the agent never tries the actions it does not "
            "yet rate best and never learns their values. Let learner.act choose every step's actions: it explores "
            "with the current epsilon."))
        mistakes.append(Mistake("the update is right but the training loop is not: the agent trained by your loop "
                                "fails probes that your update passes on its own.",
                                lambda: all(ok(n, with_loop=False) for n in range(1, 6)), loop_hint))
    mistakes += [
        # before the sign rule: values stuck at 0 can sit just below it
        Mistake("the terminal reward is masked too: every Q-value stays near 0.",
                lambda: all_zero(1) and all_zero(2),
                "The one-step probes end every episode at once with a reward of +1 or -1, and your agent learned 0: "
                "its target dropped the reward of terminal transitions along with the bootstrap. Only the future "
                "vanishes at a terminal state; the reward of that last step still counts."),
        Mistake("the values move away from the targets: the update climbs the loss instead of descending it.",
                lambda: not np.isfinite(q(1)) or q(1) < 0.0 or abs(q(1)) > 10,
                "Minimize (Q(s, a) - y)^2: the gradients must come from the loss itself, not from its negative."),
        Mistake("every learned value is gamma times the optimal one: gamma multiplies the reward too.",
                lambda: near(q(1), gamma) and near(q(3, 1.0), gamma),
                f"Probe 1's only step pays 1 and ends the episode, so Q = 1; yours is near gamma = {gamma:g}, and "
                "probe 3's last state likewise. The reward of the step is received now, undiscounted; gamma scales "
                "only the bootstrapped value of the next state."),
        Mistake("your terminal mask is inverted: the target bootstraps where the episode ended and not where it "
                "goes on.",
                lambda: near(q(1), 1.0 / (1.0 - gamma)) and near(q(3, 0.0), 0.0) and not near(gamma, 0.0),
                f"The constant-reward probe's only step is terminal, so Q = 1; yours is near 1/(1 - gamma) = "
                f"{1 / (1 - gamma):g}: it bootstraps there. And the first state of the discounting probe, whose "
                f"episode goes on, should be worth gamma * 1 = {gamma:g}; yours is near 0: no bootstrap where there "
                "should be one. The mask keeps the bootstrapped term where terminated == 0 and drops it where "
                "terminated == 1; yours does the opposite (`terminated` where `1 - terminated` belongs, or a "
                "flipped condition)."),
        Mistake("you bootstrap through terminal states.",
                lambda: near(q(1), 1.0 / (1.0 - gamma)),
                f"The constant-reward probe's only step is terminal, so Q = 1; yours is near 1/(1 - gamma) = "
                f"{1 / (1 - gamma):g}. A terminal state has no future: the bootstrapped term must vanish there."),
        Mistake("your agent fails the discounting probe: look at gamma in the target.",
                lambda: ok(1) and near(q(3, 1.0), 1.0) and near(q(3, 0.0), 1.0),
                f"Q(first state) should be gamma * 1 = {gamma:g} and is about 1: the bootstrapped value is not "
                "multiplied by gamma (use learner.gamma, not a constant)."),
        Mistake("your agent fails the action probe: the loss does not use the Q-value of the action taken.",
                lambda: ok(1) and ok(2) and ok(3) and not ok(4),
                "The one-action probes pass and the first two-action probe fails. Predict Q(s, a) for the action "
                "taken in each row, not the max or the mean over actions."),
        Mistake("your agent fails the observation probe: the prediction does not depend on the observation.",
                lambda: ok(1) and ok(4) and not ok(2),
                "The probes that need no observation pass, the observation probe fails. Feed the batch's obs "
                "(not next_obs, not zeros) to the network for Q(s, a)."),
    ]
    return run_tests(name, tests, signature, mistakes)

