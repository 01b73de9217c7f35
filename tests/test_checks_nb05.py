"""Notebook 05's checks catch what students really write, and name the mistake actually made.

``check_vectorized_env`` (exercise 1): a copy that is not reset after a truncation, one action for
every copy, copies built anew from the env's id (so without its time limit).
``check_wasted_steps`` (exercise 2): each function is tested on its own, on scripted envs, so two
mistakes cannot cancel out and counting the wrong flag cannot pass. Correct answers written
differently from the reference pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)
from student_answers import StudentVecEnv

from dqn_helpers.checks import check_vectorized_env
from dqn_helpers.checks.vector_env import check_wasted_steps

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- exercise 1: the vectorized env


class ResetOnlyWhenTerminated(StudentVecEnv):
    """`if terminated: env.reset()`: a copy cut by the time limit is stepped past its limit."""

    def step(self, actions):
        results = [e.step(int(a)) for e, a in zip(self.envs, actions, strict=True)]
        final_obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        next_obs = final_obs.copy()
        for i, e in enumerate(self.envs):
            if terminated[i]:
                next_obs[i] = e.reset()[0]
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, rewards=np.array([r[1] for r in results]),
                               terminated=terminated, truncated=truncated)


class FirstActionForAll(StudentVecEnv):
    """Steps every copy with actions[0]."""

    def step(self, actions):
        return super().step([actions[0]] * len(actions))


class CopiesFromId(StudentVecEnv):
    """Builds each copy with gym.make(env.spec.id): the registry's time limit, not the env's."""

    def __init__(self, env, num_envs):
        super().__init__(env, num_envs)
        self.envs = [gym.make(env.spec.id) for _ in range(num_envs)]


def test_vector_env_not_reset_after_truncation_fails():
    report = check_vectorized_env(ResetOnlyWhenTerminated)
    assert failed(report) == ["auto-reset after an episode ends (next_obs starts the new episode)"], str(report)
    assert "after the time limit" in str(report) and "not only one that terminated" in str(report)


def test_vector_env_one_action_for_all_copies_fails():
    report = check_vectorized_env(FirstActionForAll)
    assert failed(report) == ["final_obs is the true last observation of each transition"], str(report)
    assert "its own entry of the action array" in str(report)


def test_vector_env_copies_without_the_time_limit_fail():
    report = check_vectorized_env(CopiesFromId)
    assert failed(report) == ["terminated vs truncated kept apart (time limit gives truncated)"], str(report)
    text = str(report)
    assert "your copies do not carry the env's time limit" in text and "Keep the two flags apart" not in text


def test_vector_env_reference_still_passes_all_eleven():
    report = check_vectorized_env(StudentVecEnv)
    assert report.passed and len(report.results) == 11, str(report)


class DictStepVecEnv(StudentVecEnv):
    """Returns step()'s fields as a plain dict."""

    def step(self, actions):
        out = super().step(actions)
        return {"next_obs": out.next_obs, "final_obs": out.final_obs, "rewards": out.rewards,
                "terminated": out.terminated, "truncated": out.truncated}


class ColumnRewardsVecEnv(StudentVecEnv):
    """Rewards as a column, shape (N, 1): one list per copy."""

    def step(self, actions):
        out = super().step(actions)
        out.rewards = np.array([[r] for r in out.rewards], dtype=np.float32)
        return out


class DoneAsTerminatedVecEnv(StudentVecEnv):
    """The old gym habit: terminated = terminated or truncated, and truncated left all False."""

    def step(self, actions):
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        final_obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] or r[3] for r in results])
        truncated = np.zeros(self.num_envs, dtype=bool)
        next_obs = final_obs.copy()
        for i in np.flatnonzero(terminated):
            next_obs[i] = self.envs[i].reset()[0]
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))


def test_a_step_that_returns_a_dict_is_rejected():
    report = check_vectorized_env(DictStepVecEnv)
    assert not report and "step() returned a dict" in report.failures[0].hint, str(report)


def test_rewards_as_a_column_get_a_hint_about_one_reward_per_copy():
    report = check_vectorized_env(ColumnRewardsVecEnv)
    hint = report.failures[0].hint
    assert not report and "One reward per copy, as a flat array of shape (3,)" in hint, str(report)
    assert "extra dimension of size 1" in hint, str(report)


def test_a_time_limit_cut_reported_as_a_termination_is_named():
    report = check_vectorized_env(DoneAsTerminatedVecEnv)
    assert failed(report) == ["terminated vs truncated kept apart (time limit gives truncated)"], str(report)
    text = named(report, "a time-limit cut was reported as a termination")
    assert "terminated=[True, True], truncated=[False, False]" in text, text


# --------------------------------------------------------------------------- exercise 2: the wasted steps


def predicted_share(mean_length):
    return 1 / (mean_length + 1)


def episode_lengths(env, policy, n_episodes, seed=0):
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


def mean_episode_length(env, policy, n_episodes, seed=0):
    return float(np.mean(episode_lengths(env, policy, n_episodes, seed)))


def wasted_share(vec_env, policy, n_vector_steps, seed=0):
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int((~step.learnable).sum())
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def share_as_fraction(mean_length):
    """Correct, written differently: one wasted step out of L + 1."""
    return float(np.divide(1.0, np.add(mean_length, 1)))


def length_by_total_steps(env, policy, n_episodes, seed=0):
    """Correct, written differently: total steps over episodes, with a step counter."""
    obs, _ = env.reset(seed=seed)
    steps = episodes = 0
    while episodes < n_episodes:
        obs, _, terminated, truncated, _ = env.step(int(policy(np.atleast_2d(obs))[0]))
        steps += 1
        if terminated or truncated:
            episodes += 1
            obs, _ = env.reset()
    return steps / episodes


def share_per_vector_step(vec_env, policy, n_vector_steps, seed=0):
    """Correct, written differently: the mean of the per-step shares."""
    obs = vec_env.reset(seed=seed)
    shares = []
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        shares.append(np.mean(~np.asarray(step.learnable)))
        obs = step.next_obs
    return float(np.mean(shares))


def share_off_by_one(mean_length):
    return 1 / mean_length


def length_plus_one(env, policy, n_episodes, seed=0):
    """Counts L + 1 per episode (the reset as a step): cancels share_off_by_one on a real run."""
    return mean_episode_length(env, policy, n_episodes, seed) + 1


def length_one_short(env, policy, n_episodes, seed=0):
    """Stops counting before the step that ends the episode."""
    return mean_episode_length(env, policy, n_episodes, seed) - 1


def length_only_terminated(env, policy, n_episodes, seed=0):
    """Ends an episode on terminated only: steps on past a truncation."""
    obs, _ = env.reset(seed=seed)
    lengths = []
    for _ in range(n_episodes):
        length, terminated = 0, False
        while not terminated:
            obs, _, terminated, _, _ = env.step(int(policy(obs[None])[0]))
            length += 1
        lengths.append(length)
        obs, _ = env.reset()
    return float(np.mean(lengths))


def share_of_ended(vec_env, policy, n_vector_steps, seed=0):
    """Counts terminated | truncated instead of learnable=False."""
    obs = vec_env.reset(seed=seed)
    ended = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        ended += int((np.asarray(step.terminated) | np.asarray(step.truncated)).sum())
        obs = step.next_obs
    return ended / (n_vector_steps * vec_env.num_envs)


def share_per_vector_step_count(vec_env, policy, n_vector_steps, seed=0):
    """Divides by the vector steps, not by the env steps."""
    return wasted_share(vec_env, policy, n_vector_steps, seed) * vec_env.num_envs


@pytest.mark.parametrize("answers", [
    (predicted_share, mean_episode_length, wasted_share),
    (share_as_fraction, length_by_total_steps, share_per_vector_step),
], ids=["reference", "written differently"])
def test_wasted_steps_correct_answers_pass(answers):
    report = check_wasted_steps(*answers)
    assert report.passed and len(report.results) == 3, str(report)


def test_wasted_steps_cancelling_off_by_ones_fail_each_on_its_own():
    report = check_wasted_steps(share_off_by_one, length_plus_one, wasted_share)
    assert failed(report) == ["predicted_share: the share of wasted env steps for mean lengths 1, 9 and 99",
                              "mean_episode_length: mean real steps per episode, ending on either flag"], str(report)
    text = str(report)
    assert "Off by one" in text and "a reset is not a step" in text


def length_per_reset(env, policy, n_episodes, seed=0):
    """Resets once more after the last episode and divides the steps by the resets."""
    steps, resets = 0, 1
    obs, _ = env.reset(seed=seed)
    for _ in range(n_episodes):
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            steps, done = steps + 1, terminated or truncated
        obs, _ = env.reset()
        resets += 1
    return steps / resets


def share_of_zero_rewards(vec_env, policy, n_vector_steps, seed=0):
    """Counts the steps that paid nothing instead of learnable=False."""
    obs, zero = vec_env.reset(seed=seed), 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        zero += int((np.asarray(step.rewards) == 0).sum())
        obs = step.next_obs
    return zero / (n_vector_steps * vec_env.num_envs)


@pytest.mark.parametrize(("length_fn", "words"), [
    (length_per_reset, "by the number of resets"),
    (length_one_short, "the step that ends an episode"),
    (length_only_terminated, "Reset the env when terminated or truncated"),
])
def test_wasted_steps_wrong_lengths_are_named(length_fn, words):
    report = check_wasted_steps(predicted_share, length_fn, wasted_share)
    assert failed(report) == ["mean_episode_length: mean real steps per episode, ending on either flag"], str(report)
    assert words in str(report)


@pytest.mark.parametrize(("share_fn", "words"), [
    (share_of_ended, "You counted the steps that end an episode"),
    (share_per_vector_step_count, "You divided by the number of vector steps"),
    (share_of_zero_rewards, "You counted the steps that paid no reward"),
])
def test_wasted_steps_wrong_shares_are_named(share_fn, words):
    report = check_wasted_steps(predicted_share, mean_episode_length, share_fn)
    assert failed(report) == ["wasted_share: learnable=False steps among all env steps"], str(report)
    assert words in str(report)


def test_wasted_steps_not_implemented_is_reported():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    report = check_wasted_steps(stub, stub, stub)
    assert not report and len(report.failures) == 3
    assert "not implemented" in str(report)


def test_notebook_05_student_version_leaves_no_reference_wrapper_and_no_giveaway():
    """The student version keeps no complete vectorized env and no assert message that answers exercise 2."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import make_student_versions as tool

    nb = json.loads((ROOT / "notebooks" / "05_vectorized_envs.ipynb").read_text())
    sources = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        stripped, _, _ = tool.strip_regions(source, cell["cell_type"])
        sources.append(stripped)
    student = "\n".join(sources)
    assert "class MyVectorEnv" not in student
    assert "e.reset()" not in student and "learnable).sum()" not in student
    assert "How many env steps does one episode occupy" not in student
    assert "mean_length + 1" not in student and "L+1" not in student.replace(" ", "")


def length_reseeded_every_episode(env, policy, n_episodes, seed=0):
    """Resets every episode with the same seed: on a real env, the same episode n times."""
    lengths = []
    for _ in range(n_episodes):
        obs, _ = env.reset(seed=seed)
        length, done = 0, False
        while not done:
            obs, _, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            length += 1
            done = terminated or truncated
        lengths.append(length)
    return float(np.mean(lengths))


def length_with_unbatched_policy(env, policy, n_episodes, seed=0):
    """Gives the policy one observation (4,), where the notebook's policies read a batch."""
    obs, _ = env.reset(seed=seed)
    steps = episodes = 0
    while episodes < n_episodes:
        obs, _, terminated, truncated, _ = env.step(int(np.asarray(policy(obs)).reshape(-1)[0]))
        steps += 1
        if terminated or truncated:
            episodes += 1
            obs, _ = env.reset()
    return steps / episodes


def test_wasted_steps_reseeding_every_episode_fails():
    report = check_wasted_steps(predicted_share, length_reseeded_every_episode, wasted_share)
    assert failed(report) == ["mean_episode_length: mean real steps per episode, ending on either flag"], str(report)
    assert "starts the same episode again" in str(report)


def test_wasted_steps_unbatched_policy_fails():
    report = check_wasted_steps(predicted_share, length_with_unbatched_policy, wasted_share)
    assert failed(report) == ["mean_episode_length: mean real steps per episode, ending on either flag"], str(report)
    assert "batch of one" in str(report)


# --------------------------------------------------------------------------- wrong answers named after expert review
#
# Each once passed or got a misleading hint: a vectorized env whose final_obs and next_obs are swapped (the
# hint named deep copies), or that resets its copies with env.unwrapped.reset(), which never restarts the time
# limit's counter; wasted_share counting the vector steps with a wasted copy, or the steps after ended
# episodes; a median episode length. A failed predicted_share states the property, not the values (the formula).

# --------------------------------------------------------------------------- correct answers still pass


def test_correct_vectorized_env_passes():
    report = check_vectorized_env(StudentVecEnv)
    assert report, str(report)


def test_the_reference_answers_pass():
    env_report = check_vectorized_env(StudentVecEnv)
    assert env_report and len(env_report.results) == 11, str(env_report)
    assert check_wasted_steps(predicted_share, mean_episode_length, wasted_share)
    # (the reference tabular update of that round: tests/test_checks_nb01.py)


# --------------------------------------------------------------------------- exercise 1: final_obs and next_obs swapped


class SwappedObsVecEnv(StudentVecEnv):
    """Returns the reset observation as final_obs and the one env.step() returned as next_obs."""

    def step(self, actions):
        out = super().step(actions)
        return SimpleNamespace(next_obs=out.final_obs, final_obs=out.next_obs, rewards=out.rewards,
                               terminated=out.terminated, truncated=out.truncated)


def test_final_obs_and_next_obs_swapped_are_named():
    text = named(check_vectorized_env(SwappedObsVecEnv), "final_obs and next_obs swapped",
                 absent=("deepcopy", "same object used several times", "Pass on each copy's own terminated"))
    assert "other way round" in text


# --------------------------------------------------------------------------- exercise 1: the time limit's counter


class UnwrappedReset(StudentVecEnv):
    """Resets an ended copy below its wrappers: the TimeLimit's step counter is never reset."""

    def _reset_copy(self, i):
        return self.envs[i].unwrapped.reset()[0]


def test_a_reset_below_the_time_limit_is_named():
    report = check_vectorized_env(UnwrappedReset)
    assert failed(report) == ["the time limit starts again with every episode of a copy (past two cuts)"], str(report)
    text = named(report, "the time limit's counter is never reset")
    assert "not env.unwrapped.reset()" in text and "cut after 1 step" in text


# --------------------------------------------------------------------------- exercise 1: final_obs, shared copies


class ZeroFinalObsVecEnv(StudentVecEnv):
    """Fills final_obs like gymnasium's info["final_obs"]: zeros where no episode ended."""

    def step(self, actions):
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        next_obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        final_obs = np.zeros_like(next_obs)
        for i in np.flatnonzero(terminated | truncated):
            final_obs[i] = next_obs[i]
            next_obs[i] = self.envs[i].reset()[0]
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))


class ResetObsAsFinalVecEnv(StudentVecEnv):
    """Writes the reset observation into final_obs as well as next_obs."""

    def step(self, actions):
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        final_obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        next_obs = final_obs.copy()
        for i in np.flatnonzero(terminated | truncated):
            next_obs[i] = final_obs[i] = self.envs[i].reset()[0]
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))


class SharedEnvVecEnv(StudentVecEnv):
    """`[env] * num_envs`: one env object stepped once per copy."""

    def __init__(self, env, num_envs):
        super().__init__(env, num_envs)
        self.envs = [env] * num_envs


def test_final_obs_zeros_where_no_episode_ended_is_named():
    report = check_vectorized_env(ZeroFinalObsVecEnv)
    named(report, "final_obs is zeros where no episode ended",
          absent=("same object", "Only a copy whose episode ended is reset"))
    assert all(r.consequence for r in report.failures), str(report)


def test_reset_observation_as_final_obs_gets_no_second_diagnosis():
    report = check_vectorized_env(ResetObsAsFinalVecEnv)
    named(report, "you stored the reset observation (the new episode's first one) as final_obs",
          absent=("reset that copy and return its new observation as next_obs",))
    assert "auto-reset after an episode ends (next_obs starts the new episode)" in failed(report), str(report)
    assert all(r.consequence for r in report.failures), str(report)


def test_one_shared_env_object_explains_the_time_limit_failure():
    report = check_vectorized_env(SharedEnvVecEnv)
    named(report, "one and the same env object", absent=("an env built anew from its id",))
    assert "terminated vs truncated kept apart (time limit gives truncated)" in failed(report), str(report)
    assert all(r.consequence for r in report.failures), str(report)


# --------------------------------------------------------------------------- exercise 2: the wasted steps

SHARE = "wasted_share: learnable=False steps among all env steps"


def share_of_vector_steps(vec_env, policy, n_vector_steps, seed=0):
    """Counts the vector steps with any wasted copy."""
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int(not step.learnable.all())
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def share_on_a_stale_observation(vec_env, policy, n_vector_steps, seed=0):
    """Never carries obs forward: every vector step acts on the reset observation."""
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int((~step.learnable).sum())
    return wasted / (n_vector_steps * vec_env.num_envs)


def test_wasted_share_acting_on_a_stale_observation_is_named():
    report = check_wasted_steps(predicted_share, mean_episode_length, share_on_a_stale_observation)
    assert failed(report) == [SHARE], str(report)
    named(report, "never moves its observation on")


def share_after_ended(vec_env, policy, n_vector_steps, seed=0):
    """Counts the step after each ended episode."""
    obs = vec_env.reset(seed=seed)
    wasted, ended = 0, np.zeros(vec_env.num_envs, dtype=bool)
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int(ended.sum())
        ended = np.asarray(step.terminated) | np.asarray(step.truncated)
        obs = step.next_obs
    return wasted / (n_vector_steps * vec_env.num_envs)


def median_episode_length(env, policy, n_episodes, seed=0):
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
    report = check_wasted_steps(predicted_share, mean_episode_length, share_of_ended)
    named(report, "counts the steps that end an episode", absent=("follow an ended episode",))


# --------------------------------------------------------------------------- a reviewer's round (R05b)


def share_of_one_copy(vec_env, policy, n_vector_steps, seed=0, copy=0):
    """Counts copy 0's wasted steps only, divided by the vector steps."""
    obs = vec_env.reset(seed=seed)
    wasted = 0
    for _ in range(n_vector_steps):
        step = vec_env.step(policy(obs))
        wasted += int(~step.learnable[copy])
        obs = step.next_obs
    return wasted / n_vector_steps


@pytest.mark.parametrize("copy", [0, 1])
def test_counting_one_copy_only_is_named(copy):
    def share(vec_env, policy, n_vector_steps, seed=0):
        return share_of_one_copy(vec_env, policy, n_vector_steps, seed, copy)

    report = check_wasted_steps(predicted_share, mean_episode_length, share)
    assert failed(report) == [SHARE], str(report)
    named(report, "counts one copy's wasted steps only", absent=("counts the vector steps with a wasted copy",
                                                                   "paid no reward"))


PREDICTION = "predicted_share: the share of wasted env steps for mean lengths 1, 9 and 99"


@pytest.mark.parametrize("share", [lambda n: 1 / (n - 1), lambda n: np.float64(1) / np.float64(n - 1)],
                         ids=["python", "numpy inf"])
def test_a_prediction_off_by_one_the_other_way_is_named(share):
    report = check_wasted_steps(share, mean_episode_length, wasted_share)
    text = str(report)
    assert failed(report) == [PREDICTION], text
    assert "Off by one the other way" in text and "L + 1 env steps in all" in text, text
    assert "which argument can be 0" not in text and "divided by zero" not in text, text
    assert "0.5, 0.1, 0.01" not in text and "[0.5" not in text, text


def test_another_division_by_zero_keeps_its_hint():
    report = check_wasted_steps(lambda n: 1 / (n - 1) + 1, mean_episode_length, wasted_share)
    text = str(report)
    assert failed(report) == [PREDICTION], text
    assert "Off by one the other way" not in text and "ZeroDivisionError" in text, text


class LazyReset(StudentVecEnv):
    """NEXT_STEP style: an ended copy is reset at the start of the next step(), not in the step where it ended."""

    def reset(self, seed=None):
        self.pending = np.zeros(self.num_envs, dtype=bool)
        return super().reset(seed)

    def step(self, actions):
        for i in np.flatnonzero(self.pending):
            self.envs[i].reset()
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        self.pending = terminated | truncated
        return SimpleNamespace(next_obs=obs.copy(), final_obs=obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))


def test_a_lazy_reset_is_named():
    report = check_vectorized_env(LazyReset)
    named(report, "reset lazily, at the start of the next step()",
          absent=("copy.deepcopy(env)", "Pass on each copy's own terminated"))
    assert "Reset the copy in the same step where its episode ended" in str(report)
    assert set(failed(report)) == {"final_obs is the true last observation of each transition",
                                   "auto-reset after an episode ends (next_obs starts the new episode)",
                                   "terminated and rewards match each copy's env.step()"}, str(report)


def test_the_reference_answers_still_pass_this_round():
    assert check_vectorized_env(StudentVecEnv)
    assert check_wasted_steps(predicted_share, mean_episode_length, wasted_share)
