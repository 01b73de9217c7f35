"""Issue 20: the checks catch what students really write; issue 21, item 2: student code runs under limits.

Each wrong answer is written the way a student writes it. For each one the check must
fail, and the report must name the mistake actually made (not a neighbouring one).
Correct answers written differently from the reference must pass. An endless loop, a
runaway allocation or ``sys.exit()`` inside student code must come back as a failed line.
Finally, no hint may paste a line of a notebook's reference solution.
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import sys
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from check_reports import failed, lenient, named, pasted, reference_lines  # noqa: F401 (lenient: an autouse fixture)
from student_answers import (
    StudentRing,
    StudentVecEnv,
    student_double_dqn_target,
    student_evaluate,
    student_td_target,
    student_update,
)
from torch import nn
from torch.nn import functional as F

import dqn_helpers
from dqn_helpers import TransitionBatch, make_vector_env
from dqn_helpers.checks import (
    STRICT_ENV_VAR,
    check_discretise,
    check_double_dqn_target,
    check_dqn_update,
    check_epsilon_schedule,
    check_evaluate,
    check_exponential_epsilon,
    check_probes,
    check_q_learning_update,
    check_q_network,
    check_replay_buffer,
    check_soft_update,
    check_step_target,
    check_synchronize,
    check_td_target,
    check_training_loop,
    check_vectorized_env,
)
from dqn_helpers.checks.delegation import OWN_CODE
from dqn_helpers.checks.dqn_update import BROADCAST_PREDICTION, BROADCAST_TARGET, colleague_update, update_variant
from dqn_helpers.checks.limits import MEMORY_LIMIT_ENV_VAR, TIME_LIMIT_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- wrong answers, as students write them


def td_target_keepdim(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        best = next_q_values.max(dim=1, keepdim=True).values  # (B, 1)
        return rewards + gamma * (1 - terminated) * best  # (B,) and (B, 1): a (B, B) table


def double_dqn_without_squeeze(rewards, terminated, next_q_online, next_q_target, gamma):
    with torch.no_grad():
        best_actions = next_q_online.argmax(dim=1)
        values = next_q_target.gather(1, best_actions.unsqueeze(1))  # (B, 1)
        return rewards + gamma * (1 - terminated) * values


def update_without_squeeze(learner, batch, loss_fn=F.mse_loss):
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions, rewards = torch.as_tensor(batch.actions), torch.as_tensor(batch.rewards)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        target = rewards + learner.gamma * (1 - terminated) * learner.target_network(next_obs).max(dim=1).values
    q_taken = learner.q_network(obs).gather(1, actions.long().unsqueeze(1))  # (B, 1): squeeze forgotten
    loss = loss_fn(q_taken, target)
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return loss.item()


def update_keepdim_target(learner, batch):
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions, rewards = torch.as_tensor(batch.actions).long(), torch.as_tensor(batch.rewards)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        best_next = learner.target_network(next_obs).max(dim=1, keepdim=True).values  # (B, 1)
        target = rewards + learner.gamma * (1 - terminated) * best_next  # (B, B)
    q_taken = learner.q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    loss = F.mse_loss(q_taken, target)
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return loss.item()


def q_update_copy(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    new_table = q_table.copy()
    target = reward if terminated else reward + gamma * np.max(q_table[next_state])
    new_table[state, action] = q_table[state, action] + alpha * (target - q_table[state, action])
    return new_table


def q_update_argmax(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + gamma * np.argmax(q_table[next_state])
    q_table[state, action] += alpha * (target - q_table[state, action])


class ListPopBuffer:
    """Python list; when full, pop(0) drops the oldest."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.memory, self.rng = capacity, [], np.random.default_rng(seed)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        for transition in zip(obs, actions, rewards, next_obs, terminated, strict=True):
            if len(self.memory) == self.capacity:
                self.memory.pop(0)
            self.memory.append(transition)

    def sample(self, batch_size):
        if batch_size > len(self.memory):
            raise ValueError("not enough transitions in the buffer")
        picked = [self.memory[i] for i in self.rng.integers(0, len(self.memory), size=batch_size)]
        obs, actions, rewards, next_obs, terminated = (np.array(x) for x in zip(*picked, strict=True))
        return TransitionBatch(obs.astype(np.float32), actions, rewards, next_obs.astype(np.float32), terminated)

    def __len__(self):
        return len(self.memory)


class DequeBuffer(ListPopBuffer):
    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.memory = deque(maxlen=capacity)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        self.memory.extend(zip(obs, actions, rewards, next_obs, terminated, strict=True))


class LenIsPosition(StudentRing):
    def __len__(self):
        return self.position  # the write position: back to 0 when the ring wraps


def evaluate_keeps_adding(policy, env_id, n_episodes, seed):
    """All episodes at once in gymnasium's vector env; sums rewards until every env is done."""
    env = make_vector_env(env_id, n_episodes)
    obs = env.reset(seed=seed)
    returns = np.zeros(n_episodes)
    done = np.zeros(n_episodes, dtype=bool)
    while not done.all():
        step = env.step(policy(obs))
        returns += step.rewards  # also for envs whose episode already ended
        done = done | step.terminated | step.truncated
        obs = step.next_obs
    return returns


class AliasedFinalObs(StudentVecEnv):
    def step(self, actions):
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        next_obs = np.array([r[0] for r in results], dtype=np.float32)
        final_obs = next_obs  # no copy: the resets below overwrite it
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        for i in np.flatnonzero(terminated | truncated):
            next_obs[i] = self.envs[i].reset()[0]
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))


def batchnorm_network(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(obs_dim, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, n_actions))


def epsilon_dividing(progress, start, end, fraction):
    return max(end, start - (start - end) * progress / fraction)


def exponential_dividing(progress, start, end, fraction):
    return max(end, start * (end / start) ** (progress / fraction))


def discretise_first_count(obs, low, high, n_bins):
    n = n_bins[0]
    index = 0
    for x, lo, hi in zip(obs, low, high, strict=True):
        b = int((np.clip(x, lo, hi) - lo) / (hi - lo) * n)
        index = index * n + min(b, n - 1)
    return index


def synchronize_inverted(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every != 0:
        target_network.load_state_dict(q_network.state_dict())


def exponential_pytorch_tutorial(progress, start, end, fraction):
    return end + (start - end) * math.exp(-1.0 * progress / fraction)


# --------------------------------------------------------------------------- 1. shape broadcasting


def test_td_target_broadcast_to_a_table_is_named():
    report = check_td_target(td_target_keepdim)
    assert failed(report) == ["returns a tensor of shape (B,)"]
    text = str(report)
    assert "(5, 5)" in text and "broadcasting" in text and "(5, 1)" in text


def test_double_dqn_gather_without_squeeze_is_named():
    report = check_double_dqn_target(double_dqn_without_squeeze)
    assert failed(report) == ["returns a tensor of shape (B,)"]
    assert "(5, 5)" in str(report) and "broadcasting" in str(report)


def test_dqn_update_prediction_without_squeeze_is_named():
    named(check_dqn_update(update_without_squeeze), BROADCAST_PREDICTION, absent=("Return the mean",))

    def hand_written_square(learner, batch):
        return update_without_squeeze(learner, batch, loss_fn=lambda q, y: ((q - y) ** 2).mean())

    named(check_dqn_update(hand_written_square), BROADCAST_PREDICTION)
    named(check_dqn_update(update_keepdim_target), BROADCAST_TARGET)


def test_dqn_update_other_broadcast_is_described_by_the_shapes_seen():
    def huber_without_squeeze(learner, batch):
        return update_without_squeeze(learner, batch, loss_fn=F.smooth_l1_loss)

    text = named(check_dqn_update(huber_without_squeeze), "a (B, 1) tensor met a (B,) one")
    assert "(16, 1) and (16,)" in text


def test_probes_name_broadcasting_instead_of_blaming_the_observations():
    report = check_probes(update_without_squeeze)
    text = named(report, "a (B, 1) tensor met a (B,) one", absent=("fails the observation probe",))
    assert "keeps one value per transition (no (B, 1) tensor broadcast against a (B,) one)" in failed(report)
    assert "(32, 1) and (32,)" in text
    report = check_probes(update_keepdim_target)  # this one passes all five probes: the shapes test catches it
    assert failed(report) == ["keeps one value per transition (no (B, 1) tensor broadcast against a (B,) one)"]


# --------------------------------------------------------------------------- 2. delegation to the package


class InheritsBuffer(dqn_helpers.ReplayBuffer):
    pass


class WrapsBuffer:
    def __init__(self, capacity, obs_shape, seed=None):
        self.buffer = dqn_helpers.ReplayBuffer(capacity, obs_shape, seed)

    def remember(self, *args):
        self.buffer.remember(*args)

    def sample(self, batch_size):
        return self.buffer.sample(batch_size)

    def __len__(self):
        return len(self.buffer)


class InheritsWrapper(dqn_helpers.VectorizedEnvWrapper):
    pass


def update_through(learner, batch, target_of):
    """A DQN step whose target is ``target_of(rewards, terminated, next_q_target, gamma)``, written by hand."""
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions = torch.as_tensor(batch.actions).long()
    rewards, terminated = torch.as_tensor(batch.rewards), torch.as_tensor(batch.terminated)
    with torch.no_grad():
        target = target_of(rewards, terminated, learner.target_network(next_obs), learner.gamma)
    q_taken = learner.q_network(obs)[torch.arange(len(actions)), actions]
    loss = ((q_taken - target) ** 2).mean()
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return loss.item()


DELEGATIONS = [
    (check_td_target, lambda r, t, q, g: dqn_helpers.td_target(r, t, q, g),
     "calls the package's dqn_helpers.td_target"),
    (check_double_dqn_target, lambda r, t, qo, qt, g: dqn_helpers.td_target(r, t, qt, g, next_actions=qo.argmax(1)),
     "calls the package's dqn_helpers.td_target"),
    (check_step_target, lambda net, r, o, te, tr, g: float(dqn_helpers.td_target(
        torch.tensor([r]), torch.tensor([float(te)]), net(torch.as_tensor(o[None])).detach(), g)),
     "calls the package's dqn_helpers.td_target"),
    (check_evaluate, lambda policy, env_id, n, seed: dqn_helpers.evaluate(policy, env_id, n, seed),
     "calls the package's dqn_helpers.evaluate"),
    (check_dqn_update, lambda learner, batch: learner.update(batch), "calls the package's learner.update"),
    (check_dqn_update, lambda learner, batch: update_variant(learner, batch),
     "calls the package's dqn_helpers.checks.dqn_update.update_variant"),
    (check_dqn_update, update_variant, "is the package's dqn_helpers.checks.dqn_update.update_variant"),
    (check_dqn_update, lambda learner, batch: update_through(learner, batch, dqn_helpers.td_target),
     "calls the package's dqn_helpers.td_target"),
    (check_probes, lambda learner, batch: update_variant(learner, batch),
     "calls the package's dqn_helpers.checks.dqn_update.update_variant"),
    (check_probes, lambda learner, batch: learner.update(batch), "calls the package's learner.update"),
    (check_epsilon_schedule, dqn_helpers.linear_epsilon, "is the package's dqn_helpers.linear_epsilon"),
    (check_q_network, lambda obs_dim, n_actions: dqn_helpers.make_q_network(obs_dim, n_actions, (32,)),
     "calls the package's dqn_helpers.make_q_network"),
    (check_replay_buffer, dqn_helpers.ReplayBuffer, "is the package's dqn_helpers.ReplayBuffer"),
    (check_replay_buffer, InheritsBuffer, "inherits the package's ReplayBuffer.__init__"),
    (check_replay_buffer, WrapsBuffer, "calls the package's ReplayBuffer.__init__"),
    (check_vectorized_env, InheritsWrapper, "inherits the package's VectorizedEnvWrapper"),
]


@pytest.mark.parametrize(("check", "answer", "words"), DELEGATIONS, ids=lambda x: getattr(x, "__name__", "")[:30])
def test_an_answer_that_uses_the_package_solution_is_not_the_students_code(check, answer, words):
    report = check(answer)
    assert OWN_CODE in failed(report), str(report)
    assert words in str(report) and "asks you to write this part yourself" in str(report)


# --------------------------------------------------------------------------- 3-5. in place, ring, first episode


def test_tabular_update_returning_a_copy_is_named():
    report = check_q_learning_update(q_update_copy)
    assert failed(report) == ["updates the table passed in (in place)"]
    assert "your function returned an updated copy" in str(report)


@pytest.mark.parametrize("buffer", [ListPopBuffer, DequeBuffer])
def test_a_queue_is_not_a_ring(buffer):
    report = check_replay_buffer(buffer)
    assert failed(report) == ["a ring: memory allocated once, not grown as the buffer fills"], str(report)
    text = str(report)
    assert "grew from 1 to 10 items" in text and "moves one place per new transition" in text
    assert "is a queue (a list trimmed with pop(0), or a deque), not a ring" in text


def test_len_returning_the_write_position_is_named():
    text = named(check_replay_buffer(LenIsPosition), "len() returns the write position",
                 absent=("Write at position % capacity",))
    assert "how many rows are filled" in text


def test_evaluate_adding_rewards_after_the_first_episode_is_named():
    report = check_evaluate(evaluate_keeps_adding)
    named(report, "rewards were still added after an env's first episode had ended")
    assert "counts only the first episode of each env" in failed(report)
    assert "more than one episode's worth" in str(report)


# --------------------------------------------------------------------------- 6. aliasing


def test_final_obs_without_a_copy_is_named_as_aliasing():
    text = named(check_vectorized_env(AliasedFinalObs), "final_obs and next_obs are the same array",
                 absent=("you stored the reset observation",))
    assert "its own memory" in text


# --------------------------------------------------------------------------- 7. the check's own hint for an exception


def test_batchnorm_on_one_observation_gets_its_hint():
    report = check_q_network(batchnorm_network)
    single = next(r for r in report.failures if r.name == "works for a single observation of shape (1, obs_dim)")
    assert "ValueError" in single.got and "BatchNorm in training mode" in single.hint
    assert "Read the error message" not in str(report)


@pytest.mark.parametrize(("check", "answer"), [(check_epsilon_schedule, epsilon_dividing),
                                               (check_exponential_epsilon, exponential_dividing)])
def test_division_by_zero_at_fraction_0_gets_its_hint(check, answer):
    report = check(answer)
    assert failed(report) == ["fraction = 0 edge case gives `end`"], str(report)
    result = report.failures[0]
    assert "ZeroDivisionError" in result.got and "no decay phase" in result.hint


# --------------------------------------------------------------------------- 8. diagnoses that used to be wrong


def test_first_bin_count_for_every_dimension_is_not_called_the_upper_bound_mistake():
    named(check_discretise(discretise_first_count), "n_bins[0], for every dimension",
          absent=("one past the last bin",))


def test_inverted_sync_condition_is_named():
    named(check_synchronize(synchronize_inverted), "your condition is inverted",
          absent=("load_state_dict", "rebinds a name"))


def test_argmax_instead_of_max_in_the_tabular_update_is_named():
    named(check_q_learning_update(q_update_argmax), "*index* of the best next action (argmax)",
          absent=("numbers written into the function instead of the arguments",))


# --------------------------------------------------------------------------- 9. a different schedule


def test_pytorch_tutorial_schedule_is_called_a_different_schedule():
    text = named(check_exponential_epsilon(exponential_pytorch_tutorial), "PyTorch's DQN-tutorial schedule")
    assert "a different schedule" in text and "end + (start - end) / e" in text


# --------------------------------------------------------------------------- 10. probes through the student's loop


def student_loop(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed,
                 *, stale_obs=False, sync=True, remember_previous_actions=False, progress="share", greedy=False):
    """A while loop with its own counters (written differently from the notebook's for loop).

    ``progress`` is what it gives decay_epsilon: the share of env steps done, or (wrong) the raw count of
    env steps, or the share of updates, or (wrong) the share of the exploration phase, dividing by
    exploration_fraction a second time. ``greedy`` acts with learner.greedy_actions (wrong: no exploration).
    """
    obs = env.reset(seed=seed)
    steps = updates = 0
    previous = np.zeros(env.num_envs, dtype=np.int64)
    while steps < total_steps:
        shares = {"share": steps / total_steps, "steps": steps, "updates": updates / total_steps,
                  "fraction twice": steps / (learner.exploration_fraction * total_steps)}
        learner.decay_epsilon(shares[progress])
        actions = learner.greedy_actions(obs) if greedy else learner.act(obs)
        step = env.step(actions)
        keep = step.learnable
        remembered = previous if remember_previous_actions else actions
        buffer.remember(obs[keep], remembered[keep], step.rewards[keep], step.final_obs[keep], step.terminated[keep])
        previous = actions
        if not stale_obs:
            obs = step.next_obs
        steps += env.num_envs
        if steps >= learning_starts:
            update(learner, buffer.sample(batch_size))
            updates += 1
            if sync and updates % target_update_every == 0:
                learner.synchronize()


def test_probes_trained_by_the_students_loop():
    report = check_probes(student_update, loop=student_loop)
    assert report and len(report.results) == 7, str(report)
    assert "Probe3 (trained by your loop): two-step discounting (gamma and the bootstrap)" in str(report)


@pytest.mark.parametrize(("mistake", "probes", "words"), [
    ("stale_obs", ["Probe2", "Probe3", "Probe5"], "the observations: remember the one the agent acted on"),
    ("remember_previous_actions", ["Probe4", "Probe5"], "the actions remembered"),
    ("sync", ["Probe3"], "synchronization of the target network"),
])
def test_probes_with_a_broken_loop_blame_the_loop(mistake, probes, words):
    def loop(*args, **kwargs):
        student_loop(*args, **kwargs, **{mistake: mistake != "sync"})

    report = check_probes(student_update, loop=loop)
    text = named(report, "the update is right but the training loop is not")
    assert [name.split(" ")[0] for name in failed(report)] == probes, text
    assert words in text and "learner.act calls" in text


# --------------------------------------------------------------------------- correct answers written differently


def exponential_by_log(progress, start, end, fraction):
    if fraction == 0 or progress >= fraction:
        return end
    return start * math.exp(math.log(end / start) * progress / fraction)


def q_update_in_place_and_returned(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    bootstrap = 0.0 if terminated else gamma * np.max(q_table[next_state])
    q_table[state][action] = (1 - alpha) * q_table[state][action] + alpha * (reward + bootstrap)
    return q_table


def discretise_numpy(obs, low, high, n_bins):
    n_bins = np.asarray(n_bins)
    bins = np.minimum(((np.clip(obs, low, high) - low) / (high - low) * n_bins).astype(int), n_bins - 1)
    return int(np.ravel_multi_index(tuple(bins), tuple(n_bins)))


def synchronize_by_copy(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every:
        return
    with torch.no_grad():
        for t, o in zip(target_network.parameters(), q_network.parameters(), strict=True):
            t.copy_(o)


@pytest.mark.parametrize(("check", "answer"), [
    (check_td_target, student_td_target),
    (check_double_dqn_target, student_double_dqn_target),
    (check_dqn_update, student_update),
    (check_replay_buffer, StudentRing),
    (check_vectorized_env, StudentVecEnv),
    (check_evaluate, student_evaluate),
    (check_exponential_epsilon, exponential_by_log),
    (check_q_learning_update, q_update_in_place_and_returned),
    (check_discretise, discretise_numpy),
    (check_synchronize, synchronize_by_copy),
], ids=lambda x: getattr(x, "__name__", ""))
def test_correct_answers_written_differently_pass(check, answer):
    report = check(answer)
    assert report, str(report)


# --------------------------------------------------------------------------- issue 21: limits on student code


def epsilon_while_true(progress, start, end, fraction):
    epsilon = start
    while True:  # the student meant to break once epsilon reaches its value
        epsilon = max(end, epsilon * 0.99)
        if epsilon == progress:
            return epsilon


def loop_without_counter(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every,
                         seed):
    obs = env.reset(seed=seed)
    env_steps = 0
    while env_steps < total_steps:  # env_steps is never advanced
        actions = learner.act(obs)
        step = env.step(actions)
        buffer.remember(obs, actions, step.rewards, step.final_obs, step.terminated)
        obs = step.next_obs


def test_an_endless_epsilon_schedule_is_a_failed_line(monkeypatch):
    monkeypatch.setenv(TIME_LIMIT_ENV_VAR, "1")
    report = check_epsilon_schedule(epsilon_while_true)
    assert failed(report) == ["returns a number"] and report.skipped == 8
    result = report.failures[0]
    assert result.got.startswith("your function did not return within 1 s")
    assert "(stopped at line" in result.got and "epsilon" in result.got  # where it was stopped
    assert "formula of progress" in result.hint
    assert check_epsilon_schedule(lambda p, s, e, f: e if f == 0 or p >= f else s + p / f * (e - s))  # nothing leaked


def test_a_training_loop_that_never_advances_is_a_failed_line(monkeypatch):
    monkeypatch.setenv(TIME_LIMIT_ENV_VAR, "1")
    report = check_training_loop(loop_without_counter, learning_steps=0)
    result = report.failures[0]
    assert result.name == "resets once with the seed and steps total_steps / num_envs times"
    assert "did not return within 1 s" in result.got and "advance the count of env steps" in result.hint
    assert len(report.results) == 1 and report.skipped == 9


def test_runaway_memory_is_a_failed_line(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV_VAR, "100")

    def hoards(rewards, terminated, next_q_values, gamma):
        kept = []
        while True:
            kept.append(np.ones(1_000_000))  # 8 MB a pass

    report = check_td_target(hoards)
    result = report.failures[0]
    assert "used more than that" in result.got and "at most 100 MB" in result.expected
    assert "grows without end" in result.hint


def test_sys_exit_in_student_code_is_a_failed_line():
    def exits(rewards, terminated, next_q_values, gamma):
        sys.exit("done")

    class ExitingBuffer(StudentRing):
        def sample(self, batch_size):
            exit()

    report = check_td_target(exits)
    assert "your function called sys.exit('done')" in report.failures[0].got
    assert "stop the whole program" in report.failures[0].hint
    report = check_replay_buffer(ExitingBuffer)
    assert any("called sys.exit(None)" in r.got for r in report.failures), str(report)


def test_a_student_swallowing_every_exception_is_still_stopped(monkeypatch):
    monkeypatch.setenv(TIME_LIMIT_ENV_VAR, "0.5")

    def stubborn(progress, start, end, fraction):
        while True:
            try:
                epsilon = start
                for _ in range(100):
                    epsilon *= 0.99
            except BaseException:  # noqa: BLE001  (what a student might write)
                pass

    report = check_epsilon_schedule(stubborn)
    assert "did not return within 0.5 s" in report.failures[0].got


def test_ctrl_c_still_interrupts_a_check():
    def interrupted(rewards, terminated, next_q_values, gamma):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_td_target(interrupted)


# --------------------------------------------------------------------------- no hint pastes a reference line


def check_strings() -> list[str]:
    """The string constants of the checks' code, docstrings left out (they document, they do not hint)."""
    strings = []
    for path in sorted((ROOT / "dqn_helpers" / "checks").glob("*.py")):
        tree = ast.parse(path.read_text())
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                strings.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                strings.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
    return strings


def test_no_check_string_pastes_a_reference_line():
    lines = reference_lines()
    assert len(lines) > 50  # the notebooks' solutions were found
    found = {s[:80]: pasted(s, lines) for s in check_strings() if pasted(s, lines)}
    assert not found, found


WRONG_ANSWERS = [
    (check_td_target, td_target_keepdim), (check_double_dqn_target, double_dqn_without_squeeze),
    (check_dqn_update, update_without_squeeze), (check_q_learning_update, q_update_copy),
    (check_q_learning_update, q_update_argmax), (check_replay_buffer, ListPopBuffer),
    (check_replay_buffer, LenIsPosition), (check_evaluate, evaluate_keeps_adding),
    (check_vectorized_env, AliasedFinalObs), (check_q_network, batchnorm_network),
    (check_epsilon_schedule, epsilon_dividing), (check_exponential_epsilon, exponential_pytorch_tutorial),
    (check_discretise, discretise_first_count), (check_synchronize, synchronize_inverted),
    (check_dqn_update, lambda learner, batch: learner.update(batch)),
]


def test_no_report_on_a_wrong_answer_pastes_a_reference_line():
    lines = reference_lines()
    found = {}
    for check, answer in WRONG_ANSWERS + [(check, answer) for check, answer, *_ in MORE] + REVIEWED:
        report = check(answer)
        assert not report
        hints = [report.mistake_hint] + [r.hint for r in report.results]
        found.update({(check.__name__, h[:60]): pasted(h, lines) for h in hints if pasted(h, lines)})
    assert not found, found


def test_the_test_answers_are_not_the_package():
    """The helpers above are the students' own: none of them is, or subclasses, the package's solution."""
    for cls in (StudentRing, StudentVecEnv, ListPopBuffer, AliasedFinalObs):
        assert not issubclass(cls, dqn_helpers.ReplayBuffer | dqn_helpers.VectorizedEnvWrapper)


# --------------------------------------------------------------------------- more wrong answers students write


def td_target_masks_the_reward(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return (rewards + gamma * next_q_values.max(dim=1).values) * (1 - terminated)


def td_target_global_max(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * next_q_values.max()


def double_dqn_column_indexing(rewards, terminated, next_q_online, next_q_target, gamma):
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * next_q_target[:, next_q_online.argmax(dim=1)]


def update_with_indices(learner, batch):
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions, rewards = torch.as_tensor(batch.actions).long(), torch.as_tensor(batch.rewards)
    with torch.no_grad():
        best_next = learner.target_network(next_obs).max(dim=1)[1]  # the indices
        target = rewards + learner.gamma * (1 - torch.as_tensor(batch.terminated)) * best_next
    loss = F.mse_loss(learner.q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1), target)
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return loss.item()


class NoModuloRing(StudentRing):
    def remember(self, obs, actions, rewards, next_obs, terminated):
        for i in range(len(actions)):
            self.obs[self.position], self.next_obs[self.position] = obs[i], next_obs[i]
            self.actions[self.position], self.rewards[self.position] = actions[i], rewards[i]
            self.terminated[self.position] = terminated[i]
            self.position += 1  # never wraps
            self.size = min(self.size + 1, self.capacity)


def epsilon_over_whole_training(progress, start, end, fraction):
    return max(end, start - (start - end) * progress)


def evaluate_same_seed(policy, env_id, n_episodes, seed):
    env = gym.make(env_id)
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            returns[i] += reward
            done = terminated or truncated
    return returns


def synchronize_once(q_network, target_network, n_updates, sync_every):
    if n_updates == sync_every:
        target_network.load_state_dict(q_network.state_dict())


def q_update_alpha_ignored(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    q_table[state, action] = reward if terminated else reward + gamma * q_table[next_state].max()


def q_update_without_the_gap(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    q_table[state, action] += alpha * (reward if terminated else reward + gamma * q_table[next_state].max())


MORE = [
    (check_td_target, td_target_masks_the_reward, "terminal masking: no bootstrap where terminated = 1",
     "the mask multiplied the reward too"),
    (check_td_target, td_target_global_max, "takes the max over actions", "one max over the whole tensor"),
    (check_double_dqn_target, double_dqn_column_indexing, "returns a tensor of shape (B,)", "q[:, idx]"),
    (check_dqn_update, update_with_indices, None, "indices of the best next actions (argmax)"),
    (check_replay_buffer, NoModuloRing, "when full, overwrites the oldest transitions first (wrap-around)",
     "starts again at 0"),
    (check_epsilon_schedule, epsilon_over_whole_training, None, "at progress 1, not at progress == fraction"),
    (check_evaluate, evaluate_same_seed, None, "reset with the same seed"),
    (check_synchronize, synchronize_once, None, "only when n_updates equals sync_every"),
    (check_q_learning_update, q_update_alpha_ignored, None, "as if alpha were 1"),
    (check_q_learning_update, q_update_without_the_gap, None, "not alpha * (target - Q[s, a])"),
]


@pytest.mark.parametrize(("check", "answer", "property_name", "words"), MORE, ids=lambda x: getattr(x, "__name__", ""))
def test_more_wrong_answers_are_named(check, answer, property_name, words):
    report = check(answer)
    assert not report
    if property_name is None:
        named(report, words)
    else:
        assert property_name in failed(report), str(report)
        assert words in str(report), str(report)


def test_a_limit_reached_as_the_block_ends_never_leaks_out():
    from dqn_helpers.checks.limits import LimitExceeded, guard

    stopped = 0
    for i in range(40):  # deadlines around the end of the block: some fire inside it, none may fire after it
        try:
            with guard(0.02 + (i % 5) * 0.01):
                t = time.monotonic()
                while time.monotonic() - t < 0.045:
                    pass
        except LimitExceeded:
            stopped += 1
        for _ in range(200):  # an exception left pending would be raised here
            sum([1, 2])
    assert 0 < stopped < 40


def test_checks_still_run_when_no_watchdog_thread_can_start(monkeypatch):
    from dqn_helpers.checks import limits

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(limits._Watchdog, "start", refuse)
    assert check_td_target(student_td_target)


# --------------------------------------------------------------------------- 11. found by expert review


def test_colleague_update_is_the_package_and_is_not_diagnosed():
    """A wrong variant of the package's update is named as the package's code, not as its own mistake."""
    report = check_dqn_update(colleague_update)
    assert OWN_CODE in failed(report) and report.mistake is None, str(report)
    assert "is the package's dqn_helpers.checks.dqn_update.colleague_update" in str(report)


def update_mean_of_next_actions(learner, batch):
    return update_through(learner, batch, lambda r, t, q, g: r + g * (1 - t) * q.mean(dim=1))


def update_inverted_mask(learner, batch):
    return update_through(learner, batch, lambda r, t, q, g: r + g * t * q.amax(dim=1))


def update_without_reward(learner, batch):
    return update_through(learner, batch, lambda r, t, q, g: g * (1 - t) * q.amax(dim=1))


def test_dqn_update_mistakes_named_for_sure_not_blamed_on_another_part():
    # the mean gave Adam's first step the same signs as the online-network mistake, and was blamed on it
    named(check_dqn_update(update_mean_of_next_actions), "the mean over its actions",
          absent=("the target comes from the online network",))
    named(check_dqn_update(update_inverted_mask), "the terminal mask is inverted",
          absent=("no (1 - terminated) mask", "indices of the best next actions"))


def test_dqn_update_mistake_it_cannot_name_is_shown_on_a_tiny_batch():
    report = check_dqn_update(update_without_reward)
    text = named(report, "cannot name; here is what it observed on a tiny batch",
                 absent=("the target comes from the online network", "no (1 - terminated) mask",
                         "indices of the best next actions", "Return the mean over the batch"))
    assert "rewards [1.0, -0.5, 2.0, 0.0], terminated [0.0, 1.0, 0.0, 0.0]" in text
    assert "targets read from its gradient" in text and "are [1.8 , 0.  , 1.35, 0.9 ]" in text  # yours: no reward
    assert "the reference's [ 2.8 , -0.5 ,  3.35,  0.9 ]" in text


def test_training_loop_epsilon_given_raw_env_steps_is_named():
    report = check_training_loop(functools.partial(student_loop, progress="steps"), learning_steps=0)
    assert "decays epsilon from its start to its end value" in failed(report), str(report)
    text = str(report)
    assert "the number of env steps done, where it expects the share of training done" in text
    assert "0.04 after 60 steps" in text  # what it saw mid-run: already at its end value


def test_training_loop_epsilon_given_updates_is_named():
    report = check_training_loop(functools.partial(student_loop, progress="updates"), learning_steps=0)
    assert "decays epsilon from its start to its end value" in failed(report), str(report)
    assert "a share of updates, not of env steps" in str(report)


def q_update_from_current_state(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + gamma * np.max(q_table[state])
    q_table[state, action] += alpha * (target - q_table[state, action])


def test_tabular_bootstrap_from_the_current_state_is_named():
    named(check_q_learning_update(q_update_from_current_state), "current state's row, Q[state]",
          absent=("numbers written into the function instead of the arguments", "same action in the next state"))


def q_update_written_into_next_state(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + gamma * np.max(q_table[next_state])
    q_table[next_state, action] += alpha * (target - q_table[next_state, action])


def test_tabular_update_written_into_the_next_state_is_named():
    named(check_q_learning_update(q_update_written_into_next_state), "into the next state's row",
          absent=("Update the one entry q_table[state, action].", "current state's row"))


def soft_update_in_place(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.copy_(tau * theirs + (1.0 - tau) * mine)


def soft_update_by_state_dict(q_network, target_network, tau):
    old = target_network.state_dict()
    target_network.load_state_dict({k: tau * v + (1 - tau) * old[k] for k, v in q_network.state_dict().items()})


def soft_update_swapped(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.copy_((1.0 - tau) * theirs + tau * mine)


def soft_update_copies(q_network, target_network, tau):
    target_network.load_state_dict(q_network.state_dict())


def soft_update_rebinds(q_network, target_network, tau):
    for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
        mine = tau * theirs + (1 - tau) * mine  # noqa: F841  (a new local tensor only)


def soft_update_returns_a_new_network(q_network, target_network, tau):
    new = copy.deepcopy(target_network)
    soft_update_in_place(q_network, new, tau)
    return new


def soft_update_weights_only(q_network, target_network, tau):
    with torch.no_grad():
        for layer, online in zip(target_network, q_network, strict=True):
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(tau * online.weight + (1 - tau) * layer.weight)


@pytest.mark.parametrize("answer", [soft_update_in_place, soft_update_by_state_dict], ids=lambda f: f.__name__)
def test_soft_update_correct_answers_pass(answer, monkeypatch):
    report = check_soft_update(answer)
    assert report and len(report.results) == 6, str(report)
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    assert check_soft_update(answer)


@pytest.mark.parametrize(("answer", "mistake", "words"), [
    (soft_update_swapped, "tau and 1 - tau are swapped", "90% of the way"),
    (soft_update_copies, "you copied the online weights", "a copy is the special case tau = 1"),
    (soft_update_rebinds, "does not update the target network in place", "only rebinds that name"),
    (soft_update_returns_a_new_network, "does not update the target network in place", "returned a new network"),
    (soft_update_weights_only, "only some parameters were blended", "['0.bias', '2.bias'] unchanged: the biases"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_soft_update_mistakes_are_named(answer, mistake, words):
    text = named(check_soft_update(answer), mistake)
    assert words in text


class UncappedLen(StudentRing):
    """Wraps around correctly, but its count of stored rows keeps growing."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        size = self.size
        super().remember(obs, actions, rewards, next_obs, terminated)
        self.size = size + len(actions)

    def sample(self, batch_size):
        idx = self.rng.integers(0, min(self.size, self.capacity), size=batch_size)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])


def test_len_growing_past_capacity_is_named():
    text = named(check_replay_buffer(UncappedLen), "len() keeps growing past the capacity",
                 absent=("Write at position % capacity", "(position + i) modulo capacity"))
    assert "your len() is 7" in text and "stops at `capacity`" in text


def double_dqn_inverted_mask(rewards, terminated, next_q_online, next_q_target, gamma):
    with torch.no_grad():
        best = next_q_online.argmax(dim=1, keepdim=True)
        return rewards + gamma * terminated * next_q_target.gather(1, best).squeeze(1)


def test_double_dqn_inverted_mask_is_named_not_blamed_on_the_argmax():
    text = named(check_double_dqn_target(double_dqn_inverted_mask), "terminal mask is inverted",
                 absent=("Let the online network's Q-values choose a'",))
    assert "`terminated` stands where `1 - terminated` belongs" in text


def synchronize_weights_only(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        with torch.no_grad():
            for layer, online in zip(target_network, q_network, strict=True):
                if isinstance(layer, nn.Linear):
                    layer.weight.copy_(online.weight)


def synchronize_first_layer(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        target_network[0].load_state_dict(q_network[0].state_dict())


def synchronize_before_the_period(q_network, target_network, n_updates, sync_every):
    if n_updates < sync_every:  # the condition turned round: copies early, then never again
        target_network.load_state_dict(q_network.state_dict())


@pytest.mark.parametrize(("answer", "words"), [
    (synchronize_weights_only, "but not ['0.bias', '2.bias']: the biases kept their old values"),
    (synchronize_first_layer, "but not ['2.weight', '2.bias']: some parameters kept their old values"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_synchronize_copying_some_parameters_is_named(answer, words):
    text = named(check_synchronize(answer), "copies only some of the parameters",
                 absent=("rebinds a name", "never changes the target"))
    assert words in text


def test_synchronize_wrong_condition_is_not_told_to_load_a_state_dict():
    text = named(check_synchronize(synchronize_before_the_period), "copies at the wrong updates",
                 absent=("load_state_dict", "state dict", "off by one"))
    assert "copied at n_updates = [1, 2, 3, 4]" in text and "The copy itself works" in text


def evaluate_discounted(policy, env_id, n_episodes, seed, gamma=0.99):
    env = gym.make(env_id)
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done, discount = False, 1.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            returns[i] += discount * reward
            discount *= gamma
            done = terminated or truncated
    return returns


def evaluate_one_short(policy, env_id, n_episodes, seed):
    return student_evaluate(policy, env_id, n_episodes - 1, seed)


def evaluate_from_one(policy, env_id, n_episodes, seed):
    returns = np.zeros(n_episodes)
    returns[1:] = student_evaluate(policy, env_id, n_episodes, seed)[1:]  # episode 0 is never counted
    return returns


def test_evaluate_discounted_returns_are_named():
    text = named(check_evaluate(evaluate_discounted), "your returns are discounted",
                 absent=("Sum the rewards of each episode until it is done",))
    assert "discounted with gamma = 0.99" in text


@pytest.mark.parametrize(("answer", "mistake", "words"), [
    (evaluate_one_short, "off by one", "shape (3,), (0,), (6,)"),
    (evaluate_from_one, "one episode was never played", "yours returned [ 0., 25., 39., 32., 34., 45.]"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_evaluate_episode_count_off_by_one_is_named(answer, mistake, words):
    text = named(check_evaluate(answer), mistake)
    assert words in text


REVIEWED = [
    (check_dqn_update, update_mean_of_next_actions), (check_dqn_update, update_inverted_mask),
    (check_dqn_update, update_without_reward), (check_q_learning_update, q_update_from_current_state),
    (check_soft_update, soft_update_swapped), (check_soft_update, soft_update_copies),
    (check_soft_update, soft_update_rebinds), (check_soft_update, soft_update_returns_a_new_network),
    (check_soft_update, soft_update_weights_only), (check_replay_buffer, UncappedLen),
    (check_double_dqn_target, double_dqn_inverted_mask), (check_synchronize, synchronize_weights_only),
    (check_synchronize, synchronize_first_layer), (check_synchronize, synchronize_before_the_period),
    (check_evaluate, evaluate_discounted), (check_evaluate, evaluate_one_short), (check_evaluate, evaluate_from_one),
]


# --------------------------------------------------------------------------- 12. found by the second review


def update_written(learner, batch, *, target_of=None, loss_fn=None, no_grad=True, double=False):
    """A DQN step written by hand; ``target_of(rewards, alive, best_next, gamma)`` and ``loss_fn`` vary it."""
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions = torch.as_tensor(batch.actions).long()
    rewards, alive = torch.as_tensor(batch.rewards), 1 - torch.as_tensor(batch.terminated)
    with torch.set_grad_enabled(not no_grad):
        if double:
            chosen = learner.q_network(next_obs).argmax(dim=1)
            best_next = learner.target_network(next_obs)[torch.arange(len(chosen)), chosen]
        elif no_grad:
            best_next = learner.target_network(next_obs).amax(dim=1)
        else:  # no torch.no_grad(): the target is built from the online network, with its gradient
            best_next = learner.q_network(next_obs).amax(dim=1)
        target = (target_of or (lambda r, a, v, g: r + g * a * v))(rewards, alive, best_next, learner.gamma)
    q_taken = learner.q_network(obs)[torch.arange(len(actions)), actions]
    loss = (loss_fn or (lambda q, y: ((q - y) ** 2).mean()))(q_taken, target)
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return loss.item()


@pytest.mark.parametrize(("options", "mistake", "words"), [
    (dict(target_of=lambda r, a, v, g: (r + g * v) * a), "the mask multiplies the reward too",
     "The reward of the last step is earned"),
    (dict(no_grad=False), "residual gradient", "gradient tracking off"),
    (dict(double=True), "Double DQN target", "the online network choose the next action"),
    (dict(loss_fn=F.smooth_l1_loss), "the Huber loss", "plain mean of the squared TD errors"),
    (dict(loss_fn=F.huber_loss), "the Huber loss", "plain mean of the squared TD errors"),
    (dict(target_of=lambda r, a, v, g: r + 0.99 * a * v), "gamma is hard-coded", "as if gamma were 0.99"),
    (dict(loss_fn=lambda q, y: 0.5 * F.mse_loss(q, y)), "the loss is scaled", "half the mean squared error"),
    (dict(loss_fn=lambda q, y: ((q - y) ** 2).sum()), "the loss is scaled", "a sum over the batch of 16"),
], ids=["masked_reward", "residual", "double", "smooth_l1", "huber", "gamma_099", "half_mse", "sum"])
def test_dqn_update_more_mistakes_are_named(options, mistake, words):
    text = named(check_dqn_update(functools.partial(update_written, **options)), mistake,
                 absent=("Return the mean over the batch",))
    assert words in text


def test_dqn_update_wrong_target_is_not_blamed_on_the_returned_loss():
    def no_reward_update(learner, batch):  # a mistake no rule names: the tiny batch is shown instead
        return update_written(learner, batch, target_of=lambda r, a, v, g: g * a * v)

    report = check_dqn_update(no_reward_update)
    assert "returns the loss (a float) of the batch before the step" in failed(report)
    assert "Return the mean over the batch" not in str(report) and "so the number you return" not in str(report)

    def returns_loss_after_step(learner, batch):
        update_written(learner, batch)
        obs = torch.as_tensor(batch.obs)
        return float(learner.q_network(obs).mean())  # not the loss that was minimized

    report = check_dqn_update(returns_loss_after_step)
    assert failed(report) == ["returns the loss (a float) of the batch before the step"], str(report)
    assert "the number you return is not the loss you minimized" in str(report)


def test_probes_name_a_reward_masked_with_the_bootstrap():
    report = check_probes(functools.partial(update_written, target_of=lambda r, a, v, g: (r + g * v) * a))
    text = named(report, "the terminal reward is masked too", absent=("fails the observation probe",))
    assert "the reward of that last step still counts" in text
    assert all(r.consequence for r in report.failures), text  # one hint, not five contradictory ones


def test_probes_name_a_loop_that_never_calls_act():
    greedy_loop = functools.partial(student_loop, greedy=True)
    text = named(check_probes(student_update, loop=greedy_loop), "your loop never calls learner.act",
                 absent=("the observations: remember the one the agent acted on",))
    assert "0 learner.act calls" in text


def test_training_loop_that_acts_greedily_stops_at_the_act_property():
    report = check_training_loop(functools.partial(student_loop, greedy=True), learning_steps=0)
    assert failed(report) == ["acts with learner.act, once per env step"], str(report)
    text = str(report)
    assert "0 calls for 120 steps" in text and "learner.greedy_actions never explores" in text
    assert "wait until this one passes" in text and report.skipped == 8
    assert "decay_epsilon" not in text and "Error" not in text  # no epsilon hint, no crash inside the check


def test_training_loop_exploration_fraction_applied_twice_is_named():
    report = check_training_loop(functools.partial(student_loop, progress="fraction twice"), learning_steps=0)
    assert "decays epsilon from its start to its end value" in failed(report), str(report)
    assert "exploration_fraction was applied twice" in str(report)


def evaluate_written(policy, env_id, n_episodes, seed, *, count_steps=False, last_reward=True, first_seed=0,
                     epsilon=0.0):
    """Greedy evaluation on one env, with one of the slips students make."""
    env = gym.make(env_id)
    returns = []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i + first_seed)
        total = 0.0
        while True:
            action = int(np.asarray(policy(obs[None]))[0])
            if np.random.random() < epsilon:  # epsilon-greedy, as in training
                action = int(env.action_space.sample())
            obs, reward, terminated, truncated, _ = env.step(action)
            if (terminated or truncated) and not last_reward:
                break  # leaves before adding the last reward
            total += 1 if count_steps else reward
            if terminated or truncated:
                break
        returns.append(total)
    return np.array(returns)


@pytest.mark.parametrize(("options", "mistake", "words"), [
    (dict(count_steps=True), "you counted steps, not rewards", "pays 0.5 per step"),
    (dict(last_reward=False), "the reward of the last step is missing", "the step that ends the episode counts"),
    (dict(first_seed=1), "the seed is off by one", "the reference's for seed=s + 1"),
    (dict(epsilon=0.3), "your evaluation is not greedy", "Exploration belongs to training"),
], ids=["count_steps", "last_reward", "seed_plus_one", "epsilon_greedy"])
def test_evaluate_more_mistakes_are_named(options, mistake, words):
    text = named(check_evaluate(functools.partial(evaluate_written, **options)), mistake,
                 absent=("A vector env resets an env", "episodes that end at CartPole-v1's time limit"))
    assert words in text


def test_evaluate_batch_property_reports_only_how_the_policy_is_called():
    report = check_evaluate(functools.partial(evaluate_written, first_seed=1))
    assert "passes a batch of observations to the policy (as a DeepQLearner needs)" not in failed(report), str(report)
    assert check_evaluate(evaluate_written)  # the slips above, all switched off: a correct answer


def double_dqn_written(rewards, terminated, next_q_online, next_q_target, gamma, *, target_of=None, in_place=False):
    """Double DQN by hand; ``target_of(rewards, alive, value, gamma)`` varies the formula."""
    with torch.no_grad():
        chosen = next_q_online.argmax(dim=1, keepdim=True)
        value = next_q_target.gather(1, chosen).squeeze(1)
        if in_place:
            rewards += gamma * (1 - terminated) * value  # changes the caller's rewards
            return rewards
        return (target_of or (lambda r, a, v, g: r + g * a * v))(rewards, 1 - terminated, value, gamma)


@pytest.mark.parametrize(("options", "mistake", "words"), [
    (dict(target_of=lambda r, a, v, g: g * (r + a * v)), "gamma multiplies the reward too", "not discounted"),
    (dict(target_of=lambda r, a, v, g: a * (r + g * v)), "the mask multiplies the reward too", "earned even when"),
    (dict(in_place=True), "changes its input tensors in place", "changes the caller's tensor"),
], ids=["gamma_on_reward", "masked_reward", "in_place"])
def test_double_dqn_more_mistakes_are_named(options, mistake, words):
    text = named(check_double_dqn_target(functools.partial(double_dqn_written, **options)), mistake,
                 absent=("The fixed examples pass but a random batch does not",))
    assert words in text


def test_double_dqn_random_batch_hint_only_when_the_fixed_examples_pass():
    def unnamed(rewards, terminated, next_q_online, next_q_target, gamma):  # the reward counted twice
        return double_dqn_written(rewards, terminated, next_q_online, next_q_target, gamma) + rewards

    report = check_double_dqn_target(unnamed)
    assert "matches the reference on random batches" in failed(report), str(report)
    assert "The fixed examples pass" not in str(report) and "fix those first" in str(report)

    def three_actions(rewards, terminated, next_q_online, next_q_target, gamma):  # the examples' 3 actions
        return double_dqn_written(rewards, terminated, next_q_online[:, :3], next_q_target[:, :3], gamma)

    assert "The fixed examples pass but a random batch does not" in str(check_double_dqn_target(three_actions))


REVIEWED += [  # the second review's wrong answers: their reports must not paste a reference line either
    *[(check_dqn_update, functools.partial(update_written, **options)) for options in (
        dict(target_of=lambda r, a, v, g: (r + g * v) * a), dict(no_grad=False), dict(double=True),
        dict(loss_fn=F.smooth_l1_loss), dict(target_of=lambda r, a, v, g: r + 0.99 * a * v),
        dict(loss_fn=lambda q, y: ((q - y) ** 2).sum()))],
    *[(check_evaluate, functools.partial(evaluate_written, **options)) for options in (
        dict(count_steps=True), dict(last_reward=False), dict(first_seed=1), dict(epsilon=0.3))],
    *[(check_double_dqn_target, functools.partial(double_dqn_written, **options)) for options in (
        dict(target_of=lambda r, a, v, g: g * (r + a * v)), dict(target_of=lambda r, a, v, g: a * (r + g * v)),
        dict(in_place=True))],
]


# --------------------------------------------------------------------------- 13. notebook 01's checks, third review


def q_update_skips_terminal(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    if terminated:
        return  # "nothing to bootstrap from": but the reward is never learned
    q_table[state, action] += alpha * (reward + gamma * np.max(q_table[next_state]) - q_table[state, action])


def q_update_global_max(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + gamma * q_table.max()
    q_table[state, action] += alpha * (target - q_table[state, action])


def q_update_swapped(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + alpha * np.max(q_table[next_state])
    q_table[state, action] += gamma * (target - q_table[state, action])


def q_update_terminal_is_reward(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    if terminated:
        q_table[state, action] = reward
    else:
        q_table[state, action] += alpha * (reward + gamma * np.max(q_table[next_state]) - q_table[state, action])


def q_update_inverted_mask(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward + (gamma * np.max(q_table[next_state]) if terminated else 0.0)
    q_table[state, action] += alpha * (target - q_table[state, action])


def q_update_local_scalar(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    value = q_table[state, action]  # a plain number: the table never sees the change
    value += alpha * (reward + (0.0 if terminated else gamma * np.max(q_table[next_state])) - value)


def q_update_whole_row(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    target = reward if terminated else reward + gamma * np.max(q_table[next_state])
    q_table[state] += alpha * (target - q_table[state, action])


def discretise_no_lower_clip(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        index = index * n + min(int((x - lo) / (hi - lo) * n), n - 1)
    return index


def discretise_linspace_edges(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        edges = np.linspace(lo, hi, n)  # n edges: n - 1 bins
        index = index * n + int(np.clip(np.digitize(x, edges) - 1, 0, n - 1))
    return index


NOTEBOOK_01 = [
    (check_q_learning_update, q_update_skips_terminal, "does not update Q[s, a] at all",
     ["no bootstrap from a terminated state"]),
    (check_q_learning_update, q_update_global_max, "largest value in the whole table", None),
    (check_q_learning_update, q_update_swapped, "alpha and gamma are swapped", None),
    (check_q_learning_update, q_update_terminal_is_reward, "you set Q[s, a] to the reward",
     ["no bootstrap from a terminated state"]),
    (check_q_learning_update, q_update_inverted_mask, "terminal mask is inverted", None),
    (check_q_learning_update, q_update_local_scalar, "the table passed in never changes", None),
    (check_q_learning_update, q_update_whole_row, "the whole row Q[state]", None),
    (check_discretise, discretise_no_lower_clip, "values below low[d] are not clipped",
     ["values outside [low, high], and high itself, go to the edge bins"]),
    (check_discretise, discretise_linspace_edges, "n_bins[d] - 1 bins", None),
]


@pytest.mark.parametrize(("check", "answer", "words", "only_failed"), NOTEBOOK_01,
                         ids=lambda x: getattr(x, "__name__", ""))
def test_notebook_01_wrong_answers_fail_and_are_named(check, answer, words, only_failed):
    report = check(answer)
    text = named(report, words)
    if only_failed is not None:
        assert failed(report) == only_failed, text
    assert all(r.consequence for r in report.failures), text  # every failure is traced to the named mistake
    assert "Combine the bin numbers like the digits" not in text and "not in place" not in report.mistake


def test_whole_row_update_shows_the_other_changed_entries():
    text = str(check_q_learning_update(q_update_whole_row))
    assert "it also changed the entries [[0, 0], [0, 2]]" in text


def test_inverted_tabular_mask_is_not_called_a_copy():
    report = check_q_learning_update(q_update_inverted_mask)
    assert "updates the table passed in (in place)" not in failed(report), str(report)


def q_update_row_view(q_table, state, action, reward, next_state, terminated, alpha, gamma):
    row = q_table[state]  # a view: writing into it writes into the table
    best_next = 0.0 if terminated else float(np.max(q_table[next_state]))
    row[action] = row[action] + alpha * (reward + gamma * best_next - row[action])


def discretise_digitize(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        inner = np.linspace(lo, hi, n + 1)[1:-1]  # n - 1 inner edges: n bins
        index = index * n + int(np.digitize(x, inner))
    return index


@pytest.mark.parametrize(("check", "answer"), [(check_q_learning_update, q_update_row_view),
                                               (check_discretise, discretise_digitize)],
                         ids=lambda x: getattr(x, "__name__", ""))
def test_notebook_01_correct_answers_written_differently_pass(check, answer):
    report = check(answer)
    assert report, str(report)


REVIEWED += [(check, answer) for check, answer, *_ in NOTEBOOK_01]
