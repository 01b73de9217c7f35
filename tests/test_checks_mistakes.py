"""Issue 12, parts 1 and 2: each realistic wrong answer gets the hint for *that* mistake.

One test per wrong answer: the report must fail, name the mistake, and must not show
hints that contradict what the student wrote. The reference solutions of the new
checks pass.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from student_answers import StudentRing, StudentVecEnv

from dqn_helpers import TransitionBatch, evaluate
from dqn_helpers.checks import (
    STRICT_ENV_VAR,
    CheckReport,
    check_discretise,
    check_evaluate,
    check_exponential_epsilon,
    check_q_learning_update,
    check_replay_buffer,
    check_step_target,
    check_synchronize,
    check_td_target,
    check_vectorized_env,
)


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv(STRICT_ENV_VAR, raising=False)


def failed(report: CheckReport) -> list[str]:
    return [r.name for r in report.failures]


def assert_mistake(report: CheckReport, mistake_words: str, *, absent: tuple[str, ...] = ()) -> str:
    """The report failed, leads with the named mistake, and holds none of the ``absent`` hints."""
    text = str(report)
    assert not report
    assert report.mistake is not None and mistake_words in report.mistake, text
    assert text.index("Most likely mistake") < text.index("✗"), "the mistake must come first"
    for words in absent:
        assert words not in text, (words, text)
    return text


# --------------------------------------------------------------------------- reference solutions


def ref_exponential(progress, start, end, fraction):
    if fraction <= 0 or progress >= fraction:
        return float(end)
    return float(start * (end / start) ** (progress / fraction))


def ref_step_target(q_network, reward, next_obs, terminated, truncated, gamma):
    with torch.no_grad():
        best_next = q_network(torch.as_tensor(next_obs[None])).max().item()
    return reward + (1.0 - float(terminated)) * gamma * best_next


def ref_discretise(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(int(fraction * n), n - 1)
    return index


def ref_q_update(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward + (0.0 if terminated else gamma * q_table[next_state].max())
    q_table[state, action] += alpha * (target - q_table[state, action])


@pytest.mark.parametrize(
    ("check", "solution", "n"),
    [
        (check_exponential_epsilon, ref_exponential, 7),
        (check_step_target, ref_step_target, 8),
        (check_discretise, ref_discretise, 5),
        (check_q_learning_update, ref_q_update, 7),
    ],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_new_reference_solutions_pass(check, solution, n, monkeypatch):
    report = check(solution)
    assert report and len(report.results) == n, str(report)
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    assert check(solution)


# --------------------------------------------------------------------------- part 1


def test_td_target_indices_instead_of_values():
    def indices(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards + gamma * (1 - terminated) * next_q_values.max(dim=1)[1]

    report = check_td_target(indices)
    text = assert_mistake(report, "indices", absent=("not the reward, by gamma", "hard-code the batch size"))
    assert "picks the indices" in text
    assert all(r.consequence for r in report.failures)


class CapacitySampler(StudentRing):
    """Samples from range(capacity): most slots of a young buffer are still empty."""

    def sample(self, batch_size):
        idx = self.rng.integers(0, self.capacity, size=batch_size)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])


def test_replay_buffer_sampling_from_capacity():
    report = check_replay_buffer(CapacitySampler)
    text = assert_mistake(report, "never written", absent=("store each row in its own slot",
                                                           "allocate the arrays once", "Allocate the arrays once"))
    assert "range(len(self))" in text


class SliceWriter(StudentRing):
    """Writes a batch with one slice: breaks when the batch crosses the end of the ring."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n, pos = len(obs), self.position
        self.obs[pos:pos + n] = obs
        self.next_obs[pos:pos + n] = next_obs
        self.actions[pos:pos + n] = actions
        self.rewards[pos:pos + n] = rewards
        self.terminated[pos:pos + n] = terminated
        self.position = (pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)


def test_replay_buffer_batch_write_without_wrap():
    report = check_replay_buffer(SliceWriter)
    assert failed(report) == ["a batch that crosses the end of the ring wraps around within the batch"], str(report)
    text = str(report)
    assert "continue at its start, no slot skipped" in text and "run past the end of the arrays" in text
    assert "modulo" not in text, text  # the idea, not the formula
    assert "an index or shape does not fit" not in text


def test_synchronize_rebinding():
    def rebinds(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            target_network = copy.deepcopy(q_network)  # noqa: F841  (a local name only)

    text = assert_mistake(check_synchronize(rebinds), "never changes", absent=("share memory",))
    assert "rebinds a name" in text


@pytest.mark.parametrize("shift", [1, -1])
def test_synchronize_off_by_one(shift):
    def off_by_one(q_network, target_network, n_updates, sync_every):
        if (n_updates + shift) % sync_every == 0:
            target_network.load_state_dict(q_network.state_dict())

    text = assert_mistake(check_synchronize(off_by_one), "off by one", absent=("share memory",))
    expected = [4, 9] if shift == 1 else [1, 6, 11]
    assert f"n_updates = {expected}" in text


class ActedOnAsFinal(StudentVecEnv):
    """Returns the observation the action was taken in as the final observation."""

    def reset(self, seed=None):
        self.current = super().reset(seed)
        return self.current

    def step(self, actions):
        out = super().step(actions)
        out.final_obs, self.current = self.current.copy(), out.next_obs
        return out


def test_vectorized_env_current_obs_as_final_obs():
    report = check_vectorized_env(ActedOnAsFinal)
    assert_mistake(report, "the action was taken in", absent=("deepcopy", "Only a copy whose episode ended"))


def test_exponential_epsilon_mistakes():
    def linear(progress, start, end, fraction):
        return end if fraction == 0 or progress >= fraction else start + progress / fraction * (end - start)

    assert_mistake(check_exponential_epsilon(linear), "linear schedule")

    def over_whole_run(progress, start, end, fraction):
        return end if fraction == 0 or progress >= fraction else start * (end / start) ** progress

    assert_mistake(check_exponential_epsilon(over_whole_run), "at progress 1")


# --------------------------------------------------------------------------- part 2


def terminated_only_evaluate(policy, env_id, n_episodes, seed):
    env = gym.make(env_id)
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        terminated = False
        while not terminated:  # ignores the time limit
            obs, reward, terminated, truncated, _ = env.step(int(np.asarray(policy(obs[None]))[0]))
            returns[i] += reward
    return returns


def unbatched_evaluate(policy, env_id, n_episodes, seed):
    env = gym.make(env_id)
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs)))  # one observation
            returns[i] += reward
            done = terminated or truncated
    return returns


def test_evaluate_stopping_only_on_terminated_fails():
    report = check_evaluate(terminated_only_evaluate)
    assert failed(report) == ["an episode also ends at the time limit (truncated)"], str(report)
    assert "terminated OR truncated" in str(report)


def test_evaluate_passing_one_observation_fails():
    report = check_evaluate(unbatched_evaluate)
    assert failed(report) == ["passes a batch of observations to the policy (as a DeepQLearner needs)"], str(report)
    assert "a batch that holds your one observation" in str(report) and "obs[None]" not in str(report)


class ReseedingEnv(StudentVecEnv):
    """Re-seeds each copy at every auto-reset: every episode of a copy starts the same."""

    def reset(self, seed=None):
        self.seed = seed
        return super().reset(seed)

    def step(self, actions):
        out = super().step(actions)
        for i in np.flatnonzero(out.terminated | out.truncated):
            out.next_obs[i] = self.envs[i].reset(seed=self.seed + int(i))[0]
        return out


def test_vectorized_env_reseeding_every_reset_fails():
    report = check_vectorized_env(ReseedingEnv)
    assert failed(report) == ["every episode of a copy starts from a new state (no re-seeding at auto-reset)"]
    assert "without a seed" in str(report)


def test_step_target_masking_with_done():
    def done_mask(q_network, reward, next_obs, terminated, truncated, gamma):
        with torch.no_grad():
            best_next = q_network(torch.as_tensor(next_obs[None])).max().item()
        return reward + (1.0 - float(terminated or truncated)) * gamma * best_next

    report = check_step_target(done_mask)
    assert failed(report) == ["a time-limit truncation still bootstraps"]
    assert_mistake(report, "`terminated or truncated`")


def test_step_target_without_mask_and_with_gradient():
    def no_mask(q_network, reward, next_obs, terminated, truncated, gamma):
        return reward + gamma * q_network(torch.as_tensor(next_obs[None])).max()

    report = check_step_target(no_mask)
    assert "a terminated episode does not bootstrap: y = r" in failed(report)
    assert "no gradient flows through the target" in failed(report)


def test_discretise_mistakes():
    def overflow(obs, low, high, n_bins):
        index = 0
        for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
            index = index * n + int((min(max(x, lo), hi) - lo) / (hi - lo) * n)
        return index

    assert_mistake(check_discretise(overflow), "one past the last bin")

    def same_count(obs, low, high, n_bins):
        index = 0
        for x, lo, hi in zip(obs, low, high, strict=True):
            fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
            index = index * n_bins[0] + min(int(fraction * n_bins[0]), n_bins[0] - 1)
        return index

    report = check_discretise(same_count)
    assert "every cell has its own index (one bin count per dimension)" in failed(report)
    assert_mistake(report, "n_bins[0], for every dimension", absent=("one past the last bin",))


def test_q_learning_update_mistakes():
    def sarsa_like(q_table, state, action, reward, next_state, terminated, alpha, gamma):
        target = reward + (0.0 if terminated else gamma * q_table[next_state, action])
        q_table[state, action] += alpha * (target - q_table[state, action])

    assert_mistake(check_q_learning_update(sarsa_like), "same action in the next state",
                   absent=("numbers written into the function instead of the arguments",))

    def no_terminal(q_table, state, action, reward, next_state, terminated, alpha, gamma):
        q_table[state, action] += alpha * (reward + gamma * q_table[next_state].max() - q_table[state, action])

    assert failed(check_q_learning_update(no_terminal)) == ["no bootstrap from a terminated state"]


def test_evaluate_calling_the_package_is_not_the_students_code():
    report = check_evaluate(lambda policy, env_id, n, seed: evaluate(policy, env_id, n, seed))
    assert failed(report) == ["is your own code (it does not call the package's solution)"], str(report)
    assert "calls the package's dqn_helpers.evaluate" in str(report)


def _tabular(next_value=lambda row: row.max(), sign=1.0, mask_everything=False):
    """A student's tabular update with one part changed."""

    def update(q_table, state, action, reward, next_state, terminated, alpha, gamma):
        if mask_everything:
            target = (reward + gamma * next_value(q_table[next_state])) * (1 - terminated)
        else:
            target = reward + (0.0 if terminated else gamma * next_value(q_table[next_state]))
        q_table[state, action] += sign * alpha * (target - q_table[state, action])

    return update


@pytest.mark.parametrize(("update", "words"), [
    (_tabular(next_value=lambda row: row.min()), "smallest value of the next state's row (min)"),
    (_tabular(next_value=lambda row: row.mean()), "mean of the next state's row"),
    (_tabular(sign=-1.0), "its sign is flipped"),
    (_tabular(mask_everything=True), "the mask multiplies the reward too"),
], ids=["min", "mean", "sign", "masked reward"])
def test_q_learning_update_more_mistakes(update, words):
    assert_mistake(check_q_learning_update(update), words, absent=("same action in the next state",))


# ---------------------------------------------------- notebook 01: more ways to get the grid and the update wrong


def _discretise(obs, low, high, n_bins, *, rounded=False, base_max=False):
    """Notebook 01's discretise, correct by default; ``rounded``/``base_max`` put in one mistake each."""
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        b = min(int(round(fraction * n)) if rounded else int(fraction * n), n - 1)
        index = index * (max(n_bins) if base_max else n) + b
    return index


def test_discretise_written_with_per_dimension_bases_passes():
    assert check_discretise(_discretise)


@pytest.mark.parametrize(("slip", "words"), [
    ("rounded", "rounded to the nearest integer, not rounded down"),
    ("base_max", "in base max(n_bins) for every dimension"),
])
def test_discretise_rounding_and_a_common_base_are_named(slip, words):
    assert_mistake(check_discretise(lambda *args: _discretise(*args, **{slip: True})), words,
                   absent=("Clip x into [low, high]",))


def _q_update(q, s, a, r, ns, terminated, alpha, gamma, *, slip=None):
    """Notebook 01's tabular update, correct by default; ``slip`` puts in one mistake."""
    best = 0.0 if terminated else q[ns].max()
    target = {"discounted reward": gamma * (r + best), "reward dropped": r if terminated else gamma * best}.get(
        slip, r + gamma * best)
    q[s, a] += alpha * (target - q[s, a])


@pytest.mark.parametrize(("slip", "words"), [
    ("discounted reward", "gamma multiplies the reward too"),
    ("reward dropped", "the reward is missing from the target of non-terminated steps"),
])
def test_q_learning_update_reward_mistakes_are_named(slip, words):
    assert_mistake(check_q_learning_update(lambda *args: _q_update(*args, slip=slip)), words,
                   absent=("numbers written into the function instead of the arguments",))
    assert check_q_learning_update(_q_update)


def test_q_learning_update_with_the_mixture_weights_swapped_is_named():
    def swapped_mixture(q, s, a, r, ns, terminated, alpha, gamma):
        target = r + (0.0 if terminated else gamma * q[ns].max())
        q[s, a] = alpha * q[s, a] + (1 - alpha) * target

    assert_mistake(check_q_learning_update(swapped_mixture), "your step has size 1 - alpha",
                   absent=("numbers written into the function instead of the arguments",))
