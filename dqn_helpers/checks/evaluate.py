"""Check of greedy evaluation: one seeded episode per env, ended by terminated or truncated.

Built step by step in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import array, describe, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

HALF_REWARD_ID = "dqn_helpers/CartPoleHalfReward-v1"
_TAKEN: list[int] = []  # the actions the half-reward env received, in order: were they the policy's?


class _LogActions(gym.Wrapper):
    def step(self, action):
        _TAKEN.append(int(np.asarray(action).reshape(-1)[0]))
        return super().step(action)


def _half_reward_cartpole(**kwargs) -> gym.Env:
    """CartPole-v1 paying 0.5 per step: CartPole's rewards are all 1, so there a count of steps passes for a sum."""
    return _LogActions(gym.wrappers.TransformReward(gym.make("CartPole-v1", **kwargs), lambda r: 0.5 * r))


def _register_half_reward() -> None:
    if HALF_REWARD_ID not in gym.registry:
        gym.register(id=HALF_REWARD_ID, entry_point=_half_reward_cartpole)


def _constant_policy(obs):
    obs = np.asarray(obs)
    return 1 if obs.ndim == 1 else np.ones(len(obs), dtype=np.int64)


def _angle_policy(obs):
    """Push towards the side the pole leans to: episodes of 30-60 steps that differ by seed."""
    obs = np.asarray(obs, dtype=np.float32)
    return int(obs[2] > 0) if obs.ndim == 1 else (obs[:, 2] > 0).astype(np.int64)


def _uneven_policy(obs):
    """A linear policy whose episodes last from about 25 to 250 steps, by start state: a copy that fails fast
    ends its second episode before a slow copy ends its first."""
    obs = np.asarray(obs, dtype=np.float32)
    action = obs @ np.array([-1.0, 0.65, -0.1, 0.47], dtype=np.float32) > 0
    return int(action) if obs.ndim == 1 else action.astype(np.int64)


def _balancing_policy(obs):
    """Push towards the side the pole falls to: keeps CartPole up for the whole 500 steps."""
    obs = np.asarray(obs, dtype=np.float32)
    return int(obs[2] + 0.5 * obs[3] > 0) if obs.ndim == 1 else (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


class _PastLimit(Exception):
    """The policy was asked more often than episodes within CartPole-v1's time limit allow."""


class _StopAfter:
    """Wraps a policy; stops the student's loop once it has been asked more than ``limit`` times, by raising
    ``stop()`` (:class:`_PastLimit` unless given)."""

    def __init__(self, policy, limit: int, stop=_PastLimit):
        self.policy, self.limit, self.stop, self.calls = policy, limit, stop, 0

    def __call__(self, obs):
        self.calls += 1
        if self.calls > self.limit:
            raise self.stop()
        return self.policy(obs)


_TIME_LIMIT_HINT = (
    "An episode ends when it is terminated OR truncated. CartPole-v1 truncates every episode at 500 steps; a loop "
    "that waits for `terminated` alone never stops for a good policy."
)


def _first_to_end(policy, env_id: str, n: int, seed: int, backend: str) -> np.ndarray:
    """The returns of the first ``n`` episodes to end in *any* of ``n`` env copies: the biased evaluation."""
    from dqn_helpers.vector_env import make_vector_env

    env = make_vector_env(env_id, n, backend=backend)
    obs, running, ended = env.reset(seed=seed), np.zeros(n), []
    for _ in range(2 * n * 500):  # CartPole episodes last at most 500 steps
        step = env.step(np.asarray(policy(obs)))
        running += step.rewards
        for i in np.flatnonzero(step.done):
            ended.append(running[i])
            running[i] = 0.0
        obs = step.next_obs
        if len(ended) >= n:
            break
    env.close()
    return np.array(ended[:n])


def _seeded_once(policy, env_id: str, n: int, seed: int) -> np.ndarray:
    """The returns of ``n`` episodes of one env, only the first reset seeded: the others continue its stream."""
    env, returns = gym.make(env_id), np.zeros(n)
    for i in range(n):
        obs, _ = env.reset(seed=seed) if i == 0 else env.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(np.asarray(policy(obs[None]))[0]))
            returns[i] += reward
            done = terminated or truncated
    env.close()
    return returns


def _until_truncated(policy, env_id: str, n: int, seed: int) -> np.ndarray:
    """The returns of ``n`` seeded episodes of one env whose loop waits for ``truncated`` alone."""
    env, returns = gym.make(env_id), np.zeros(n)
    with warnings.catch_warnings():  # gymnasium warns about stepping a terminated env: that is the mistake
        warnings.simplefilter("ignore")
        for i in range(n):
            obs, _ = env.reset(seed=seed + i)
            truncated = False
            while not truncated:
                obs, reward, _, truncated, _ = env.step(int(np.asarray(policy(obs[None]))[0]))
                returns[i] += reward
    env.close()
    return returns


ANY_COPY_HINT = (
    "Episodes that end quickly end first: a copy that fails fast contributes its second and third episodes before "
    "a copy that balances for 500 steps contributes its first, so the sample leans to short episodes and the mean "
    "is too low. Which start states are scored also depends on the policy. Count exactly one episode per copy, the "
    "one that starts from that copy's seeded reset, and ignore whatever a copy plays after it.")

ONE_HIGH_HINT = ("Each of your returns is exactly 1 above the reference's, also where the episode stopped at the "
                 "time limit (501 for 500 steps): the loop ended where it should, but the sum of an episode starts "
                 "at 1, or one reward is added twice. A return starts at 0 and adds each step's reward once.")
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
                "A policy (e.g. agent.greedy_actions) takes a batch of observations, shape (N, 4), and returns N "
                "actions: give it a batch that holds your one observation, and step the env with the one action "
                "that comes back.")
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
    episodes end at the time limit; the policy gets a batch of observations (how it is called,
    not the values). One reference run is on ``dqn_helpers/CartPoleHalfReward-v1`` (0.5 per
    step), so a count of steps does not pass for a sum of rewards. Also names discounted
    returns, counted steps, a missing last reward, a seed off by one, random actions, a count of
    returns off by one and an episode left unplayed.
    """
    from dqn_helpers.evaluation import _play_first_episodes, evaluate, first_episode_ends, greedy_rollouts
    from dqn_helpers.vector_env import make_vector_env

    name = "check_evaluate"
    signature = "fn(policy, env_id, n_episodes, seed) -> np.ndarray of n_episodes returns"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(policy, env_id, n_episodes, seed)")
    env_id = "CartPole-v1"
    _register_half_reward()

    def references(policy, n, seed, env: str = env_id) -> list[np.ndarray]:
        return [
            evaluate(policy, make_vector_env(env, n, backend="copies"), n, seed),
            evaluate(policy, env, n, seed),
        ]

    def call(policy, n, seed, env: str = env_id) -> np.ndarray:
        out = fn(policy, env, n, seed)
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
        # only a vector env plays on after an episode ends; a plain env's extra reward has other causes
        longer = [ref for ref in refs if counts_on(got, ref)] if used_vector_env() else []
        if longer or got.max() > 500:
            ref = (longer or refs)[0]
            extra = [f"env {i}: {got[i]:g} instead of {ref[i]:g}" for i in np.flatnonzero(got > ref + 1e-9)[:3]]
            raise Fail(f"one episode's return per env: {fmt(ref)}",
                       f"{fmt(got)}, more than one episode's worth where episodes ended early ({'; '.join(extra)})",
                       COUNTS_ON_HINT)
        if any_copy():
            got, ref = call(_uneven_policy, 8, 0), references(_uneven_policy, 8, 0)[1]
            raise Fail(f"the first episode of each of 8 copies, from its own seeded start: {fmt(ref)}",
                       f"{fmt(got)}: the first 8 episodes to end, in whichever copies", ANY_COPY_HINT)

    def running_sum(got, refs) -> bool:
        return bool(np.allclose(got, np.cumsum(refs[0])))

    def counts_on(got, ref) -> bool:
        return bool(np.all(got >= ref - 1e-9) and np.any(got > ref + 1e-9))

    def used_vector_env() -> bool:
        """The answer gave the policy several observations at once: it played the episodes in a vector env."""
        rows = []

        def spy(obs):
            rows.append(len(obs) if np.ndim(obs) == 2 else 1)
            return _angle_policy(obs)

        call(spy, 6, 0)
        return max(rows, default=1) > 1

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
                "Two identical calls gave different returns: something random that the seed does not fix. "
                "Reset the env of episode i with the seed seed + i in every call, and take the policy's own actions "
                "(no random exploration).",
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
        # the last env pays 0.5 per step: on CartPole-v1 alone a count of steps would pass for a sum of rewards
        for policy, n, seed, env in ((_angle_policy, 6, 3, env_id), (_constant_policy, 5, 10, env_id),
                                     (_angle_policy, 4, 7, HALF_REWARD_ID)):
            got = call(policy, n, seed, env)
            refs = references(policy, n, seed, env)
            if not matches_any(got, refs):
                # show the reference of the seeding convention the answer seems to use (the closer one)
                ref = min(refs, key=lambda r: float(np.abs(got - r).sum()))
                raise Fail(
                    f"{fmt(ref)} from dqn_helpers.evaluate (env {env}, n_episodes={n}, seed={seed})",
                    fmt(got),
                    "Play episode i from a reset with seed + i, take the actions the policy returns (greedy, no "
                    "exploration) and sum the undiscounted rewards until the episode is terminated or truncated.",
                )

    def time_limit():
        n = 3
        limit = n * 600
        policy = _StopAfter(_balancing_policy, limit, stop=lambda: Fail(
            f"episodes that end at CartPole-v1's time limit (500 steps), so at most {limit} policy calls",
            f"more than {limit} calls: the episodes went on past the time limit", _TIME_LIMIT_HINT))
        got = call(policy, n, 0)
        refs = references(_balancing_policy, n, 0)
        if not matches_any(got, refs):
            hint = _TIME_LIMIT_HINT if got.max() > 500 else "Sum the rewards of each episode until it is done."
            if np.allclose(got, refs[0] + 1) or np.allclose(got, refs[1] + 1):
                hint = ONE_HIGH_HINT
            if np.allclose(got, refs[0] - 1) or np.allclose(got, refs[1] - 1):
                hint = ("Your returns are exactly 1 short for episodes that reach the time limit: the loop stops one "
                        "step before it (a step count compared with < 500, or a range of 499). Let the env say when "
                        "the episode ends: step until terminated or truncated.")
            expected = f"{fmt(refs[0])} (a policy that balances the pole until the 500-step time limit)"
            raise Fail(expected, fmt(got), hint)

    def batched_policy():  # only how the policy is called: the values are the business of the tests above
        call(_batch_only_policy(), 3, 5)

    tests = [
        Test("returns one return per episode (an array of shape (n_episodes,))", one_per_episode, required=True),
        Test(OWN_CODE, own_code_test(lambda: fn(_constant_policy, env_id, 2, 0), {
            "dqn_helpers.evaluate": evaluate, "dqn_helpers.greedy_rollouts": greedy_rollouts,
            "dqn_helpers.evaluation._play_first_episodes": _play_first_episodes,
            "dqn_helpers.evaluation.first_episode_ends": first_episode_ends}, answer=fn), required=True),
        Test("plays the requested number of episodes", count),
        Test("counts only the first episode of each env", first_episode_only),
        Test("reproducible with a seed", reproducible),
        Test("the seed changes the episodes", seed_matters),
        Test("matches dqn_helpers.evaluate with the same policy and seeds", matches_reference),
        Test("an episode also ends at the time limit (truncated)", time_limit),
        Test("passes a batch of observations to the policy (as a DeepQLearner needs)", batched_policy),
    ]

    def counts() -> dict[int, tuple]:
        """The shape of the answer for a few n_episodes (an exception: its type)."""
        seen = {}
        for n in (4, 1, 7):
            try:
                seen[n] = np.shape(fn(_constant_policy, env_id, n, 0))
            except Exception as err:  # a loop over range(n - 1) can end in an error for n = 1
                seen[n] = type(err).__name__
        return seen

    def off_by_one() -> bool:
        seen = counts()
        return any(all(seen[n] == (n + d,) for n in seen if n + d > 0) for d in (-1, 1))

    def first_or_last_left_out() -> bool:
        """One return stays 0 (episode i of range(1, n), or of range(n - 1), never played)."""
        got, ref = call(_angle_policy, 6, 3), references(_angle_policy, 6, 3)
        return any(np.allclose(got, np.r_[0.0, r[1:]]) or np.allclose(got, np.r_[r[:-1], 0.0]) for r in ref)

    def discount_of(got, ref) -> float | None:
        """The gamma with which CartPole's reward of 1 per step sums to ``got`` for episodes of ``ref`` steps."""
        if not (np.all(got < ref - 1e-6) and np.all(got > 0)):
            return None
        low, high = 0.0, 1.0
        for _ in range(60):  # bisection on the first episode: the sum of gamma^t grows with gamma
            gamma = (low + high) / 2
            low, high = (gamma, high) if (1 - gamma ** ref[0]) / (1 - gamma) < got[0] else (low, gamma)
        fitted = (1 - gamma ** ref) / (1 - gamma)
        return gamma if np.allclose(fitted, got, rtol=1e-3) else None

    def discounted() -> bool:
        got, refs = call(_angle_policy, 6, 3), references(_angle_policy, 6, 3)
        return any(discount_of(got, ref) is not None for ref in refs)

    def discounted_hint() -> str:
        got, ref = call(_balancing_policy, 1, 0), references(_balancing_policy, 1, 0)[0]
        gamma = discount_of(got, ref)
        said = f" (your return of an episode of {ref[0]:g} steps is {got[0]:.4g}" + (
            f": discounted with gamma = {gamma:.3g})" if gamma else ")")
        return ("An evaluation return is the plain sum of an episode's rewards, the score the env reports; "
                f"CartPole pays 1 per step, so an episode of {ref[0]:g} steps returns {ref[0]:g}{said}. The "
                "discount belongs to the TD target, not to measuring how well the agent plays.")

    def one_seed() -> bool:
        got = call(_angle_policy, 6, 3)
        first = references(_angle_policy, 1, 3)
        return any(np.allclose(got, ref[0]) for ref in first) and np.ptp(references(_angle_policy, 6, 3)[0]) > 0

    def shifted(d: float = 0.0, seed_shift: int = 0, scale: float = 1.0, env: str = env_id) -> Callable[[], bool]:
        """A detector: the answer's returns are ``scale`` times the reference's plus ``d``, with seed + seed_shift."""
        def run() -> bool:
            return all(any(np.allclose(call(_angle_policy, 6, seed, env), scale * r + d) for r in
                           references(_angle_policy, 6, seed + seed_shift, env)) for seed in (0, 3))
        return run

    def not_greedy() -> bool:
        """The env received actions the policy did not choose (a plain env, or a vector env stepped in order)."""
        chosen = []

        def spy(obs):
            out = _angle_policy(obs)
            chosen.extend(np.asarray(out).reshape(-1).tolist())
            return out

        _TAKEN.clear()
        call(spy, 3, 0, HALF_REWARD_ID)
        seen["taken"], seen["chosen"] = list(_TAKEN), chosen
        return len(_TAKEN) == len(chosen) and _TAKEN != chosen

    def not_greedy_hint() -> str:
        taken, chosen = seen["taken"], seen["chosen"]
        other = sum(a != b for a, b in zip(taken, chosen, strict=True))
        if len(set(taken)) == 1 and len(set(chosen)) > 1:
            return (f"In {len(taken)} steps the env always got action {taken[0]}, while the policy chose both "
                    "actions: your loop turns the policy's output into one fixed action. The policy returns action "
                    "numbers, one per observation, not Q-values: an argmax over them, for example, picks a position "
                    "in that array (always 0 for one observation). Step the env with the action itself.")
        return (f"In {len(taken)} steps the env got an action other than the policy's {other} times: your loop "
                "explores (random actions, epsilon). An evaluation measures the policy itself, so two calls with "
                "the same seed give the same returns: take the policy's action at every step. Exploration belongs "
                "to training.")

    def any_copy() -> bool:
        """The first n episodes to end, in whichever copies: the same multiset of returns, for either backend."""
        got = np.sort(call(_uneven_policy, 8, 0))
        return any(np.allclose(got, np.sort(_first_to_end(_uneven_policy, env_id, 8, 0, backend)))
                   and not np.allclose(got, np.sort(ref))
                   for backend, ref in zip(("copies", "gymnasium"), references(_uneven_policy, 8, 0), strict=True))

    def seeded_once() -> bool:
        got, refs = call(_angle_policy, 6, 3), references(_angle_policy, 6, 3)
        return np.allclose(got, _seeded_once(_angle_policy, env_id, 6, 3)) and not matches_any(got, refs)

    def stale_obs() -> bool:
        """The policy was asked about the same observation over and over: the loop never moved on from it."""
        asked = []

        def spy(obs):
            asked.append(np.array(obs, dtype=np.float64, copy=True))
            return _angle_policy(obs)

        call(spy, 2, 0)
        repeats = sum(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(asked, asked[1:]))
        return len(asked) > 10 and repeats > 0.5 * (len(asked) - 1)

    def unwrapped() -> bool:
        """The env under every wrapper: the half-reward env's wrappers never saw a step, and no time limit cuts."""
        asked = []

        def spy(obs):
            asked.append(1)
            return _angle_policy(obs)

        _TAKEN.clear()
        call(spy, 2, 0, HALF_REWARD_ID)
        if _TAKEN or not asked:
            return False
        try:
            call(_StopAfter(_balancing_policy, 520), 1, 0)
        except _PastLimit:
            return True
        return False

    def rounded_rewards() -> bool:
        """Right on CartPole-v1 (rewards of 1), whole numbers below the reference where the reward is 0.5."""
        got, refs = call(_angle_policy, 4, 7, HALF_REWARD_ID), references(_angle_policy, 4, 7, HALF_REWARD_ID)
        return matches_any(call(_angle_policy, 6, 3), references(_angle_policy, 6, 3)) and bool(
            np.all(got == np.round(got)) and not matches_any(got, refs) and np.all(got <= refs[0] + 1e-9))

    def last_reward_only() -> bool:
        """Every return is one step's reward: the sum was overwritten (=) instead of added to (+=)."""
        return bool(np.allclose(call(_angle_policy, 6, 3), 1.0) and np.allclose(
            call(_angle_policy, 4, 7, HALF_REWARD_ID), 0.5))

    def only_first_played() -> bool:
        """The first return is right, every later one is 0: a done flag that was never reset."""
        got, refs = call(_angle_policy, 6, 3), references(_angle_policy, 6, 3)
        return any(np.isclose(got[0], r[0]) for r in refs) and bool(np.allclose(got[1:], 0.0))

    def cut_at_first_end() -> bool:
        """Every copy stopped when the first episode ended, in any copy: all returns are the shortest one's."""
        got = call(_uneven_policy, 8, 0)
        return any(np.allclose(got, r.min()) and np.ptp(r) > 0 for r in references(_uneven_policy, 8, 0))

    def truncated_dropped() -> bool:
        """Fewer returns than episodes when every episode reaches the time limit, all of them when none does."""
        out = fn(_StopAfter(_balancing_policy, 3 * 600), env_id, 3, 0)
        seen["truncated"] = describe(out)
        return np.shape(out)[:1] < (3,) and np.shape(fn(_angle_policy, env_id, 3, 0)) == (3,)

    def ignores_terminated() -> bool:
        return all(np.allclose(call(_angle_policy, 6, seed), _until_truncated(_angle_policy, env_id, 6, seed))
                   for seed in (0, 3))

    seen: dict[str, list] = {}
    mistakes = [
        Mistake("each return is a single reward: the sum is overwritten (=) at every step instead of added to.",
                last_reward_only,
                "Your returns are 1 on CartPole-v1 and 0.5 where each step pays 0.5, whatever the episode's length: "
                "the variable that should collect the rewards is set to each new reward. An episode's return adds "
                "up all of them."),
        Mistake("only the first episode was played: every later return is 0.", only_first_played,
                "The flag or condition that ends an episode's loop still says 'done' when the next episode starts, "
                "so its loop never runs. Set it back for every episode."),
        Mistake("your loop stopped when the first episode ended, in any copy: every copy was cut at the shortest "
                "episode.", cut_at_first_end,
                "In a vector env the copies finish at different steps. Keep stepping until every copy's first "
                "episode has ended, and stop adding a copy's rewards once its own episode is over."),
        Mistake("your returns are whole numbers: rewards of 0.5 were rounded away.", rounded_rewards,
                f"On CartPole-v1 (1 per step) your returns are right; on {HALF_REWARD_ID}, which pays 0.5 per step, "
                "they come out as whole numbers below the reference's. An integer array (np.zeros(n, dtype=int)) "
                "or int(reward) drops the fraction at every step. Keep the returns as floats."),
        Mistake("you scored the first n_episodes episodes to end, in whichever env copies they ended: short "
                "episodes count several times and long ones not at all.", any_copy, ANY_COPY_HINT),
        Mistake("only the first episode was reset with a seed: the others continued the env's random stream.",
                seeded_once,
                "Your first return matches the reference and the later ones do not. Reset the env of episode i with "
                "the seed seed + i, every time: then each episode can be replayed alone, and evaluate(..., seed) "
                "plays the same start states whatever came before."),
        Mistake("your policy was given the same observation at every step: the loop does not carry on from the "
                "observation that env.step returns.", stale_obs,
                "After each step, the next action must be chosen for the state the env is in now, the observation "
                "the step just returned; yours keeps asking about the episode's first one."),
        Mistake("your env is `.unwrapped`: that strips every wrapper gym.make put around it, the time limit and "
                "any reward wrapper.", unwrapped,
                "gym.make(env_id) returns the env inside wrappers, and they are part of the task: CartPole-v1's "
                "TimeLimit truncates every episode at 500 steps, and dqn_helpers/CartPoleHalfReward-v1 pays 0.5 per "
                "step through a reward wrapper. `.unwrapped` is the bare simulator beneath them: its episodes never "
                "truncate and it pays CartPole's own 1 per step. Evaluate the env gym.make returns, as it is."),
        Mistake("you counted steps, not rewards: each return is the episode's length.",
                shifted(scale=2.0, env=HALF_REWARD_ID),
                f"CartPole-v1 pays 1 per step, so there the length and the return agree; {HALF_REWARD_ID} pays 0.5 "
                "per step and your returns came out twice the reference's. Add up the reward env.step gives, "
                "whatever it is."),
        Mistake("the reward of the last step is missing: each return is exactly 1 lower.", shifted(d=-1.0),
                "CartPole-v1 pays 1 per step and each of your returns is 1 short: the step that ends the episode "
                "counts too. Add its reward before you stop the episode's loop."),
        Mistake("each return is exactly 1 too high: the sum starts at 1, not 0 (or counts one reward twice).",
                shifted(d=1.0), ONE_HIGH_HINT),
        Mistake("episodes that end by truncation (the time limit) were dropped: only episodes that ended with "
                "`terminated` got a return.", truncated_dropped,
                lambda: f"For a policy that balances the pole until CartPole-v1's 500-step limit yours returned "
                f"{seen['truncated']}, while episodes that end with the pole falling get their returns. A "
                "truncated episode is over too, and its return counts like any other: an evaluation that drops the "
                "long episodes scores a good policy as if it had not played at all. Keep one return per episode, "
                "however it ended.", ["an episode also ends at the time limit (truncated)"]),
        Mistake("the seed is off by one: episode i was reset with seed + i + 1.", shifted(seed_shift=1),
                "Your returns for seed=s are the reference's for seed=s + 1. Episodes are numbered from 0 and the "
                "first one is reset with the seed itself, so that evaluate(..., seed) plays the episodes the "
                "reference plays."),
        Mistake("the env always received the same action, whatever the policy chose: the policy's output was "
                "turned into one fixed action.",
                lambda: not_greedy() and len(set(seen["taken"])) == 1 and len(set(seen["chosen"])) > 1,
                not_greedy_hint),
        Mistake("your evaluation is not greedy: the env received actions the policy did not choose.", not_greedy,
                not_greedy_hint),
        Mistake("the number of returns is off by one: one episode too few or too many.", off_by_one,
                lambda: "For n_episodes = 4, 1, 7 yours returned arrays of shape "
                f"{', '.join(str(v) for v in counts().values())}. Play exactly n_episodes episodes, numbered 0 to "
                "n_episodes - 1, and keep one return for each."),
        Mistake("one episode was never played: the first or the last return is 0.", first_or_last_left_out,
                lambda: f"With n_episodes=6, seed=3 yours returned {fmt(call(_angle_policy, 6, 3))}, the reference "
                f"{fmt(references(_angle_policy, 6, 3)[0])}. Episodes are numbered 0 to n_episodes - 1: a loop over "
                "them that starts at 1 or stops one early leaves a return at 0."),
        Mistake("your returns are discounted: the rewards were multiplied by powers of gamma.", discounted,
                discounted_hint),
        Mistake("every episode was reset with the same seed: they are all the same episode.", one_seed,
                "Episode i starts from a reset with seed + i, so that the episodes differ and the whole set is "
                "reproducible."),
        Mistake("your returns are running sums: each episode's return includes the episodes before it.",
                detect(running_sum), RUNNING_SUM_HINT),
        Mistake("your episodes end only at the time limit (truncated): the loop steps on after the pole has fallen "
                "(terminated).", ignores_terminated,
                "An episode ends in two ways: terminated (the pole fell or the cart left the track: the task is "
                "over) and truncated (the time limit cut it). Your returns are above the reference's wherever the "
                "pole fell before step 500. Stop an episode at the first of the two."),
        Mistake("rewards were still added after an env's first episode had ended.",
                lambda: used_vector_env() and detect(lambda got, refs: any(counts_on(got, ref) for ref in refs))(),
                COUNTS_ON_HINT),
    ]
    return run_tests(name, tests, signature, mistakes)
