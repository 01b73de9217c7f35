"""Check of greedy evaluation: one seeded episode per env, ended by terminated or truncated.

Built step by step in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import array, describe, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests


def _constant_policy(obs):
    obs = np.asarray(obs)
    return 1 if obs.ndim == 1 else np.ones(len(obs), dtype=np.int64)


def _angle_policy(obs):
    """Push towards the side the pole leans to: episodes of 30-60 steps that differ by seed."""
    obs = np.asarray(obs, dtype=np.float32)
    return int(obs[2] > 0) if obs.ndim == 1 else (obs[:, 2] > 0).astype(np.int64)


def _balancing_policy(obs):
    """Push towards the side the pole falls to: keeps CartPole up for the whole 500 steps."""
    obs = np.asarray(obs, dtype=np.float32)
    return int(obs[2] + 0.5 * obs[3] > 0) if obs.ndim == 1 else (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


class _CountingPolicy:
    """Wraps a policy; stops the student's loop once it has asked for too many actions."""

    def __init__(self, policy, limit: int):
        self.policy, self.limit, self.calls = policy, limit, 0

    def __call__(self, obs):
        self.calls += 1
        if self.calls > self.limit:
            raise Fail(
                f"episodes that end at CartPole-v1's time limit (500 steps), so at most {self.limit} policy calls",
                f"more than {self.limit} calls: the episodes went on past the time limit",
                _TIME_LIMIT_HINT,
            )
        return self.policy(obs)


_TIME_LIMIT_HINT = (
    "An episode ends when it is terminated OR truncated. CartPole-v1 truncates every episode at 500 steps; a loop "
    "that waits for `terminated` alone never stops for a good policy."
)


RUNNING_SUM_HINT = "Each of your returns includes the episodes before it: every episode's sum starts from 0."
COUNTS_ON_HINT = ("A vector env resets an env whose episode ended and plays on while the others finish; a loop that "
                  "runs until every env is done must stop adding the rewards of an env once its first episode ended.")


def _batch_only_policy():
    """A small real Q-network acting greedily: like a DeepQLearner, it needs a batch (N, obs_dim)."""
    import torch

    from dqn_helpers.q_network import make_q_network

    torch.manual_seed(0)
    net = make_q_network(4, 2, (16,))

    def policy(obs):
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim != 2:
            raise Fail(
                "policy(obs) called with a batch of observations, shape (N, 4)",
                f"one observation of shape {obs.shape}",
                "A policy (e.g. agent.greedy_actions) takes a batch: pass `obs[None]` (shape (1, 4)) and take "
                "the action `[0]` of the result.",
            )
        with torch.no_grad():
            return net(torch.as_tensor(obs)).argmax(dim=1).numpy()

    return policy


def check_evaluate(fn) -> CheckReport:
    """Check ``fn(policy, env_id, n_episodes, seed) -> np.ndarray`` (notebook 07_all_together).

    ``policy`` maps observations ``(N, obs_dim)`` to actions ``(N,)`` (the test
    policies also accept a single observation). Compared with
    :func:`dqn_helpers.evaluate` on CartPole-v1 with deterministic policies, using
    either seeding convention of dqn_helpers (``make_vector_env(..., backend="copies")``,
    episode ``i`` seeded with ``seed + i``, or the default gymnasium backend).
    Tests: one return per episode; the answer's own code (not a call of
    :func:`dqn_helpers.evaluate`); the requested count; only the first episode of each env
    counted (rewards added after an env's first episode, or a running sum over episodes,
    are named); reproducible with a seed; the seed matters; matches the reference;
    episodes end at the time limit; the policy gets a batch of observations.
    """
    from dqn_helpers.evaluation import _play_first_episodes, evaluate, greedy_rollouts
    from dqn_helpers.vector_env import make_vector_env

    name = "check_evaluate"
    signature = "fn(policy, env_id, n_episodes, seed) -> np.ndarray of n_episodes returns"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(policy, env_id, n_episodes, seed)")
    env_id = "CartPole-v1"

    def references(policy, n, seed) -> list[np.ndarray]:
        return [
            evaluate(policy, make_vector_env(env_id, n, backend="copies"), n, seed),
            evaluate(policy, env_id, n, seed),
        ]

    def call(policy, n, seed) -> np.ndarray:
        out = fn(policy, env_id, n, seed)
        if out is None:
            raise Fail(f"an array of {n} returns", "None", "Did you forget the `return` statement?")
        returns = array(out, "the returns")
        if returns.shape != (n,):
            raise Fail(
                f"an array of shape ({n},): one return per episode",
                describe(out),
                "Collect one undiscounted return per episode and return np.array(returns).",
            )
        if not np.issubdtype(returns.dtype, np.number):
            raise Fail("numbers", describe(out))
        return returns.astype(np.float64)

    def matches_any(got, refs) -> bool:
        return any(np.allclose(got, ref) for ref in refs)

    def one_per_episode():
        call(_constant_policy, 4, 0)

    def count():
        for n in (1, 7):
            call(_constant_policy, n, 0)

    def first_episode_only():
        got = call(_angle_policy, 6, 0)
        refs = references(_angle_policy, 6, 0)
        if matches_any(got, refs):
            return
        if running_sum(got, refs):
            raise Fail(f"one return per episode, {fmt(refs[0])}", f"{fmt(got)}: the running sum of those returns",
                       RUNNING_SUM_HINT)
        longer = [ref for ref in refs if counts_on(got, ref)]
        if longer or got.max() > 500:
            ref = (longer or refs)[0]
            extra = [f"env {i}: {got[i]:g} instead of {ref[i]:g}" for i in np.flatnonzero(got > ref + 1e-9)[:3]]
            raise Fail(f"one episode's return per env: {fmt(ref)}",
                       f"{fmt(got)}, more than one episode's worth where episodes ended early ({'; '.join(extra)})",
                       COUNTS_ON_HINT)

    def running_sum(got, refs) -> bool:
        return bool(np.allclose(got, np.cumsum(refs[0])))

    def counts_on(got, ref) -> bool:
        return bool(np.all(got >= ref - 1e-9) and np.any(got > ref + 1e-9))

    def detect(wrong) -> Callable[[], bool]:
        def run() -> bool:
            return all(wrong(call(_angle_policy, 6, seed), references(_angle_policy, 6, seed)) for seed in (0, 3))
        return run

    def reproducible():
        a, b = call(_angle_policy, 5, 3), call(_angle_policy, 5, 3)
        if not np.allclose(a, b):
            raise Fail(
                "the same returns for two calls with seed=3",
                f"{fmt(a)} then {fmt(b)}",
                "Reset the env of episode i with the seed seed + i, in every call.",
            )

    def seed_matters():
        a, b = call(_angle_policy, 6, 0), call(_angle_policy, 6, 500)
        if np.allclose(a, b):
            raise Fail(
                "different episodes for seed=0 and seed=500",
                f"{fmt(a)} for both",
                "Use the seed argument when resetting the env(s).",
            )

    def matches_reference():
        for policy, n, seed in ((_angle_policy, 6, 3), (_constant_policy, 5, 10)):
            got = call(policy, n, seed)
            refs = references(policy, n, seed)
            if not matches_any(got, refs):
                raise Fail(
                    f"{fmt(refs[0])} from dqn_helpers.evaluate (n_episodes={n}, seed={seed})",
                    fmt(got),
                    "Play episode i from a reset with seed + i, take the actions the policy returns (greedy, no "
                    "exploration) and sum the undiscounted rewards until the episode is terminated or truncated.",
                )

    def time_limit():
        n = 3
        policy = _CountingPolicy(_balancing_policy, limit=n * 600)
        got = call(policy, n, 0)
        refs = references(_balancing_policy, n, 0)
        if not matches_any(got, refs):
            hint = _TIME_LIMIT_HINT if got.max() > 500 else "Sum the rewards of each episode until it is done."
            expected = f"{fmt(refs[0])} (a policy that balances the pole until the 500-step time limit)"
            raise Fail(expected, fmt(got), hint)

    def batched_policy():
        policy = _batch_only_policy()
        got = call(policy, 3, 5)
        refs = references(policy, 3, 5)
        if not matches_any(got, refs):
            raise Fail(f"{fmt(refs[0])} with a greedy Q-network policy", fmt(got))

    tests = [
        Test("returns one return per episode (an array of shape (n_episodes,))", one_per_episode, required=True),
        Test(OWN_CODE, own_code_test(lambda: fn(_constant_policy, env_id, 2, 0), {
            "dqn_helpers.evaluate": evaluate, "dqn_helpers.greedy_rollouts": greedy_rollouts,
            "dqn_helpers.evaluation._play_first_episodes": _play_first_episodes}, answer=fn), required=True),
        Test("plays the requested number of episodes", count),
        Test("counts only the first episode of each env", first_episode_only),
        Test("reproducible with a seed", reproducible),
        Test("the seed changes the episodes", seed_matters),
        Test("matches dqn_helpers.evaluate with the same policy and seeds", matches_reference),
        Test("an episode also ends at the time limit (truncated)", time_limit),
        Test("passes a batch of observations to the policy (as a DeepQLearner needs)", batched_policy),
    ]
    def one_seed() -> bool:
        got = call(_angle_policy, 6, 3)
        first = references(_angle_policy, 1, 3)
        return any(np.allclose(got, ref[0]) for ref in first) and np.ptp(references(_angle_policy, 6, 3)[0]) > 0

    mistakes = [
        Mistake("every episode was reset with the same seed: they are all the same episode.", one_seed,
                "Episode i starts from a reset with seed + i, so that the episodes differ and the whole set is "
                "reproducible."),
        Mistake("your returns are running sums: each episode's return includes the episodes before it.",
                detect(running_sum), RUNNING_SUM_HINT),
        Mistake("rewards were still added after an env's first episode had ended.",
                detect(lambda got, refs: any(counts_on(got, ref) for ref in refs)), COUNTS_ON_HINT),
    ]
    return run_tests(name, tests, signature, mistakes)
