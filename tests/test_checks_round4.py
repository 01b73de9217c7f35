"""Checks of notebooks 01 and 05 fail wrong answers that used to pass, and name them (round 4).

The tabular update written into the state's best action's entry, or with its gap measured from the
state's value max Q[s] (every test used the state's best action, so both passed); a vectorized env
that resets its copies with env.unwrapped.reset(), which never restarts the time limit's counter;
wasted_share counting the vector steps with a wasted copy, or the steps after ended episodes; a
median episode length. A failed predicted_share states the property, not the values (the formula).
The notebooks' reference answers still pass.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)

from dqn_helpers.checks import check_q_learning_update, check_vectorized_env
from dqn_helpers.checks.vector_env import check_wasted_steps

SEED = 0

# ------------------------------------------------------------------------------- the reference answers


def q_learning_update(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward + (0.0 if terminated else gamma * q_table[next_state].max())
    q_table[state, action] += alpha * (target - q_table[state, action])


class MyVectorizedEnv:
    def __init__(self, env, num_envs):
        self.num_envs = num_envs
        self.envs = [copy.deepcopy(env) for _ in range(num_envs)]

    def reset(self, seed=None):
        seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        return np.stack([e.reset(seed=s)[0] for e, s in zip(self.envs, seeds, strict=True)]).astype(np.float32)

    def _reset_copy(self, i):
        return self.envs[i].reset()[0]

    def step(self, actions):
        results = [e.step(int(a)) for e, a in zip(self.envs, actions, strict=True)]
        final_obs = np.stack([r[0] for r in results]).astype(np.float32)
        terminated = np.array([r[2] for r in results], dtype=bool)
        truncated = np.array([r[3] for r in results], dtype=bool)
        next_obs = final_obs.copy()
        for i in np.flatnonzero(terminated | truncated):
            next_obs[i] = self._reset_copy(i)
        rewards = np.array([r[1] for r in results], dtype=np.float32)
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, rewards=rewards,
                               terminated=terminated, truncated=truncated)


def predicted_share(mean_length):
    return 1 / (mean_length + 1)


def episode_lengths(env, policy, n_episodes, seed=SEED):
    obs, _ = env.reset(seed=seed)
    lengths = []
    for _ in range(n_episodes):
        length, done = 0, False
        while not done:
            obs, _, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            length += 1
            done = terminated or truncated
        lengths.append(length)
        obs, _ = env.reset()
    return lengths


def mean_episode_length(env, policy, n_episodes, seed=SEED):
    return float(np.mean(episode_lengths(env, policy, n_episodes, seed)))


def wasted_share(vec_env, policy, n_vector_steps, seed=SEED):
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int((~step.learnable).sum())
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def test_the_reference_answers_pass():
    q_report = check_q_learning_update(q_learning_update)
    assert q_report and len(q_report.results) == 7, str(q_report)
    env_report = check_vectorized_env(MyVectorizedEnv)
    assert env_report and len(env_report.results) == 11, str(env_report)
    assert check_wasted_steps(predicted_share, mean_episode_length, wasted_share)


# ------------------------------------------------------------------- 1. the tabular update (notebook 01)

OTHER_ACTION = "updates the action taken, also when it is not the state's best action"


def update_greedy_entry(q, s, a, r, s2, terminated, alpha, gamma):
    g = q[s].argmax()
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, g] += alpha * (target - q[s, g])


def gap_from_state_value(q, s, a, r, s2, terminated, alpha, gamma):
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s].max())


def test_the_update_of_the_best_actions_entry_is_named():
    report = check_q_learning_update(update_greedy_entry)
    assert failed(report) == [OTHER_ACTION], str(report)
    named(report, "the entry of the state's best action", absent=("the state's value",))


def test_a_gap_from_the_states_value_is_named():
    report = check_q_learning_update(gap_from_state_value)
    assert failed(report) == [OTHER_ACTION], str(report)
    named(report, "the gap from the state's value, max Q[s]", absent=("the entry of the state's best action",))


def test_an_unnamed_value_error_gets_no_greedy_action_hint():
    """A wrong target (SARSA from the current state's greedy action) fails the new test with the plain hint."""
    def sarsa_from_greedy(q, s, a, r, s2, terminated, alpha, gamma):
        target = r + (0.0 if terminated else gamma * q[s2, int(q[s].argmax())])
        q[s, a] += alpha * (target - q[s, a])

    report = check_q_learning_update(sarsa_from_greedy)
    assert OTHER_ACTION in failed(report), str(report)
    assert "the state's best action plays no part" not in str(report)


# --------------------------------------------------------- 2. the vectorized env's time limit (notebook 05)


class UnwrappedReset(MyVectorizedEnv):
    """Resets an ended copy below its wrappers: the TimeLimit's step counter is never reset."""

    def _reset_copy(self, i):
        return self.envs[i].unwrapped.reset()[0]


def test_a_reset_below_the_time_limit_is_named():
    report = check_vectorized_env(UnwrappedReset)
    assert failed(report) == ["the time limit starts again with every episode of a copy (past two cuts)"], str(report)
    text = named(report, "the time limit's counter is never reset")
    assert "not env.unwrapped.reset()" in text and "cut after 1 step" in text


# --------------------------------------------------------------------- 3. the wasted steps (notebook 05)

SHARE = "wasted_share: learnable=False steps among all env steps"


def share_of_vector_steps(vec_env, policy, n_vector_steps, seed=SEED):
    """Counts the vector steps with any wasted copy."""
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int(not step.learnable.all())
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def share_after_ended(vec_env, policy, n_vector_steps, seed=SEED):
    """Counts the step after each ended episode."""
    obs = vec_env.reset(seed=seed)
    wasted, ended = 0, np.zeros(vec_env.num_envs, dtype=bool)
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int(ended.sum())
        ended = np.asarray(step.terminated) | np.asarray(step.truncated)
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def median_episode_length(env, policy, n_episodes, seed=SEED):
    return float(np.median(episode_lengths(env, policy, n_episodes, seed)))


def test_counting_vector_steps_with_a_wasted_copy_is_named():
    report = check_wasted_steps(predicted_share, mean_episode_length, share_of_vector_steps)
    assert failed(report) == [SHARE], str(report)
    named(report, "counts the vector steps with a wasted copy, not the wasted env steps")


def test_counting_the_steps_after_ended_episodes_is_named():
    report = check_wasted_steps(predicted_share, mean_episode_length, share_after_ended)
    assert failed(report) == [SHARE], str(report)
    named(report, "the steps that follow an ended episode", absent=("You counted the steps that end an episode",))


def test_a_median_length_is_named():
    report = check_wasted_steps(predicted_share, median_episode_length, wasted_share)
    assert failed(report) == ["mean_episode_length: mean real steps per episode, ending on either flag"], str(report)
    named(report, "the median of the episode lengths")


@pytest.mark.parametrize("share", [lambda n: 1 / (n + 2), lambda n: 100 / (n + 1), lambda n: 1 / n],
                         ids=["1/(L+2)", "percent", "1/L"])
def test_a_failed_prediction_does_not_give_the_values_away(share):
    report = check_wasted_steps(share, mean_episode_length, wasted_share)
    text = str(report)
    assert failed(report) == ["predicted_share: the share of wasted env steps for mean lengths 1, 9 and 99"], text
    assert "0.5, 0.1, 0.01" not in text and "[0.5" not in text
    assert "a fraction between 0 and 1" in text


def test_the_counts_still_named_keep_their_words():
    def share_of_ended(vec_env, policy, n_vector_steps, seed=SEED):
        obs, ended = vec_env.reset(seed=seed), 0
        for _ in range(n_vector_steps):
            step = vec_env.step(policy(obs))
            ended += int((np.asarray(step.terminated) | np.asarray(step.truncated)).sum())
            obs = step.next_obs
        return ended / (n_vector_steps * vec_env.num_envs)

    report = check_wasted_steps(predicted_share, mean_episode_length, share_of_ended)
    named(report, "counts the steps that end an episode", absent=("follow an ended episode",))
