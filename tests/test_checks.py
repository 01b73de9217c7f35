"""The exercise checks accept the reference solutions and explain realistic mistakes."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from student_answers import StudentRing, StudentVecEnv, student_double_dqn_target, student_evaluate
from torch import nn

from dqn_helpers import TransitionBatch, VectorizedEnvWrapper, linear_epsilon
from dqn_helpers.checks import (
    STRICT_ENV_VAR,
    CheckReport,
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


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    """Checks report failures instead of raising, unless a test turns strict mode on."""
    monkeypatch.delenv(STRICT_ENV_VAR, raising=False)


def failed_names(report: CheckReport) -> list[str]:
    return [r.name for r in report.failures]


def assert_fails(report: CheckReport, property_words: str, *message_words: str) -> None:
    """The report failed on the property containing ``property_words`` and says ``message_words``."""
    assert not report
    assert any(property_words in name for name in failed_names(report)), (failed_names(report), str(report))
    text = str(report)
    for word in message_words:
        assert word in text, (word, text)


# --------------------------------------------------------------------------- reference solutions


def ref_q_network(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU(), nn.Linear(32, n_actions))


def ref_td_target(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * next_q_values.max(dim=1).values


def ref_double_dqn_target(rewards, terminated, next_q_online, next_q_target, gamma):
    next_actions = next_q_online.detach().argmax(dim=1)
    next_values = next_q_target.detach().gather(1, next_actions.unsqueeze(1)).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_values


def ref_linear_epsilon(progress, start, end, fraction):
    if fraction <= 0 or progress >= fraction:
        return float(end)
    return float(start + (max(progress, 0.0) / fraction) * (end - start))


def ref_synchronize(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        target_network.load_state_dict(q_network.state_dict())


def ref_soft_update(q_network, target_network, tau):
    with torch.no_grad():
        for target, online in zip(target_network.parameters(), q_network.parameters(), strict=True):
            target.mul_(1.0 - tau).add_(tau * online)


def ref_evaluate(policy, env_id, n_episodes, seed):
    """All episodes side by side in a vector env, each counted until its first end."""
    from dqn_helpers import make_vector_env

    env = make_vector_env(env_id, n_episodes)
    obs, returns, running = env.reset(seed=seed), np.zeros(n_episodes), np.ones(n_episodes, bool)
    while running.any():
        step = env.step(np.asarray(policy(obs)))
        returns += np.where(running, step.rewards, 0.0)
        running &= ~step.done
        obs = step.next_obs
    return returns


def sequential_evaluate(policy, env_id, n_episodes, seed):
    """How a student might write it: one env, episode i seeded with seed + i."""
    env = gym.make(env_id)
    returns = []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action = int(np.asarray(policy(obs[None]))[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return np.array(returns)


REFERENCES = [
    (check_q_network, ref_q_network, 9),
    (check_td_target, ref_td_target, 9),
    (check_double_dqn_target, ref_double_dqn_target, 6),
    (check_double_dqn_target, student_double_dqn_target, 6),
    (check_replay_buffer, StudentRing, 11),
    (check_synchronize, ref_synchronize, 7),
    (check_soft_update, ref_soft_update, 6),
    (check_epsilon_schedule, ref_linear_epsilon, 9),
    (check_vectorized_env, StudentVecEnv, 11),
    (check_evaluate, ref_evaluate, 9),
    (check_evaluate, sequential_evaluate, 9),
    (check_evaluate, student_evaluate, 9),
]


@pytest.mark.parametrize(("check", "solution", "n"), REFERENCES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_reference_solutions_pass(check, solution, n, capsys, monkeypatch):
    report = check(solution)
    assert report, str(report)
    assert report.passed and bool(report) and len(report.results) == n
    out = capsys.readouterr().out
    assert f"All {n} checks passed" in out
    assert "passed" in repr(report)
    monkeypatch.setenv(STRICT_ENV_VAR, "1")  # strict mode does not raise on a correct solution
    assert check(solution)


# --------------------------------------------------------------------------- Q-network


def test_q_network_without_activation_fails():
    def linear_only(obs_dim, n_actions):
        return nn.Sequential(nn.Linear(obs_dim, 32), nn.Linear(32, n_actions))

    assert_fails(check_q_network(linear_only), "nonlinear", "nn.ReLU()")


def test_q_network_with_softmax_and_hardcoded_sizes_fail():
    def softmax_net(obs_dim, n_actions):
        return nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU(), nn.Linear(16, n_actions), nn.Softmax(dim=1))

    assert_fails(check_q_network(softmax_net), "unbounded", "softmax")

    def hardcoded(obs_dim, n_actions):
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

    report = check_q_network(hardcoded)
    assert_fails(report, "output shape", "obs_dim")


def test_q_network_returning_a_function_is_explained():
    report = check_q_network(lambda obs_dim, n_actions: lambda x: x)
    assert_fails(report, "nn.Module", "torch.nn.Module")
    assert report.skipped > 0


# --------------------------------------------------------------------------- TD target


def test_td_target_forgetting_terminal_mask_fails():
    def no_mask(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards + gamma * next_q_values.max(dim=1).values

    report = check_td_target(no_mask)
    assert_fails(report, "terminal masking", "bootstrapped from terminal states")
    assert "rows with terminated = 0 bootstrap" not in failed_names(report)


def test_td_target_inverted_mask_fails_truncation_property():
    """Masking the wrong rows (as if `truncated` were passed): non-terminal rows stop bootstrapping."""

    def inverted(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards + gamma * terminated * next_q_values.max(dim=1).values

    report = check_td_target(inverted)
    assert_fails(report, "rows with terminated = 0 bootstrap", "time limit")
    assert_fails(report, "terminal masking", "inverted")


def test_td_target_with_gradient_fails():
    def with_grad(rewards, terminated, next_q_values, gamma):
        return rewards + gamma * (1 - terminated) * next_q_values.max(dim=1).values

    report = check_td_target(with_grad)
    assert failed_names(report) == ["no gradient flows through the target"]
    assert "torch.no_grad" in str(report)


def test_td_target_mean_and_shape_mistakes_fail():
    def mean_over_actions(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards + gamma * (1 - terminated) * next_q_values.mean(dim=1)

    assert_fails(check_td_target(mean_over_actions), "max over actions", "averaged")

    def keepdim(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards[:, None] + gamma * (1 - terminated[:, None]) * next_q_values.max(dim=1, keepdim=True).values

    report = check_td_target(keepdim)
    assert_fails(report, "shape (B,)", "(5, 1)", "extra dimension of size 1")


# --------------------------------------------------------------------------- Double DQN


def test_double_dqn_plain_max_fails():
    def plain(rewards, terminated, next_q_online, next_q_target, gamma):
        with torch.no_grad():
            return rewards + gamma * (1 - terminated) * next_q_target.max(dim=1).values

    assert_fails(check_double_dqn_target(plain), "argmax from the online", "plain DQN")

    def online_value(rewards, terminated, next_q_online, next_q_target, gamma):
        with torch.no_grad():
            return rewards + gamma * (1 - terminated) * next_q_online.max(dim=1).values

    assert_fails(check_double_dqn_target(online_value), "argmax from the online", "online network")


# --------------------------------------------------------------------------- replay buffer


class UnwrittenSlotsBuffer(StudentRing):
    """Samples from the whole capacity, including slots never written."""

    def sample(self, batch_size):
        idx = self.rng.integers(0, self.capacity, size=batch_size)
        return TransitionBatch(
            self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.terminated[idx]
        )


class GrowingListBuffer:
    """A list that is never trimmed, and no error when asked for too much."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.data = capacity, []
        self.rng = np.random.default_rng(seed)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        self.data.extend(zip(obs, actions, rewards, next_obs, terminated, strict=True))

    def sample(self, batch_size):
        idx = self.rng.integers(0, len(self.data), size=batch_size)
        cols = list(zip(*[self.data[i] for i in idx], strict=True))
        return TransitionBatch(*(np.asarray(c) for c in cols))

    def __len__(self):
        return len(self.data)


class NoSampleBuffer:
    def __init__(self, capacity, obs_shape, seed=None):
        self.n = 0

    def remember(self, obs, actions, rewards, next_obs, terminated):
        self.n += len(obs)

    def __len__(self):
        return self.n


def test_replay_buffer_sampling_unwritten_slots_fails():
    assert_fails(check_replay_buffer(UnwrittenSlotsBuffer), "only written slots", "range(len(self))")


def test_replay_buffer_growing_list_fails():
    report = check_replay_buffer(GrowingListBuffer)
    assert_fails(report, "overwrites the oldest", "capacity 5")
    assert_fails(report, "a ring: memory allocated once", "`data` (a list) grew", "grows without end")
    assert_fails(report, "more than is stored", "an error")


def test_replay_buffer_missing_method_is_explained():
    report = check_replay_buffer(NoSampleBuffer)
    assert_fails(report, "has remember, sample and len", "missing ['sample']")
    assert report.skipped == 10 and "skipped" in str(report)


# --------------------------------------------------------------------------- synchronize


def test_synchronize_every_step_fails():
    def every_step(q_network, target_network, n_updates, sync_every):
        target_network.load_state_dict(q_network.state_dict())

    report = check_synchronize(every_step)
    assert failed_names(report) == ["leaves the target alone on the other updates"]
    assert "Syncing at every update" in str(report)


def test_synchronize_never_fails():
    def never(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            target_network = copy.deepcopy(q_network)  # rebinds a local name only  # noqa: F841

    report = check_synchronize(never)
    assert_fails(report, "copies the online weights", "rebinds a name")
    assert report.mistake.startswith("your function never changes")


def test_synchronize_aliasing_fails():
    def alias(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            for t, o in zip(target_network.parameters(), q_network.parameters(), strict=True):
                t.data = o.data

    assert_fails(check_synchronize(alias), "is a copy", "share memory")

    def parameter_sharing(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            for module, online in zip(target_network.children(), q_network.children(), strict=True):
                if isinstance(module, nn.Linear):
                    module.weight, module.bias = online.weight, online.bias

    report = check_synchronize(parameter_sharing)
    assert_fails(report, "no gradient reaches the online network")
    assert_fails(report, "frozen target stays frozen")


def test_synchronize_copy_without_no_grad_is_explained():
    def copy_with_grad(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            for t, o in zip(target_network.parameters(), q_network.parameters(), strict=True):
                t.copy_(o)

    report = check_synchronize(copy_with_grad)
    assert_fails(report, "copies the online weights", "RuntimeError", "torch.no_grad()")


# --------------------------------------------------------------------------- epsilon


def test_epsilon_past_the_end_fails():
    def no_clip(progress, start, end, fraction):
        return start - progress / fraction * (start - end)

    assert_fails(check_epsilon_schedule(no_clip), "stays at `end`", "decayed past end")


def test_epsilon_never_decaying_fails():
    report = check_epsilon_schedule(lambda progress, start, end, fraction: start)
    assert_fails(report, "reaches `end`", "never decays")
    assert_fails(report, "stays at `end`", "never decayed")


def test_epsilon_zero_fraction_division_is_reported():
    def divides(progress, start, end, fraction):
        return max(end, start - progress / fraction * (start - end))

    report = check_epsilon_schedule(divides)
    assert failed_names(report) == ["fraction = 0 edge case gives `end`"]
    assert "ZeroDivisionError" in str(report)


# --------------------------------------------------------------------------- vectorized env


class ResetObsAsFinal(StudentVecEnv):
    """Stores the first observation of the new episode as the 'final' one."""

    def step(self, actions):
        out = super().step(actions)
        out.final_obs = out.next_obs.copy()
        return out


class DoneAsTerminated(StudentVecEnv):
    """Masks with `terminated or truncated`: time limits look like real endings."""

    def step(self, actions):
        out = super().step(actions)
        out.terminated = out.terminated | out.truncated
        return out


class NoAutoReset:
    def __init__(self, env, num_envs):
        self.envs = [copy.deepcopy(env) for _ in range(num_envs)]

    def reset(self, seed=None):
        return np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(self.envs)])

    def step(self, actions):
        results = [e.step(int(a)) for e, a in zip(self.envs, actions, strict=True)]
        obs, rewards, term, trunc, _ = (np.array(x) for x in zip(*results, strict=True))
        return SimpleNamespace(next_obs=obs, final_obs=obs, rewards=rewards, terminated=term, truncated=trunc)


def test_vectorized_env_reset_obs_as_final_obs_fails():
    report = check_vectorized_env(ResetObsAsFinal)
    assert_fails(report, "final_obs is the true last observation", "stored the reset observation")


def test_vectorized_env_truncation_as_termination_fails():
    report = check_vectorized_env(DoneAsTerminated)
    assert failed_names(report) == ["terminated vs truncated kept apart (time limit gives truncated)"]
    assert report.mistake and "a time-limit cut was reported as a termination" in report.mistake, str(report)
    assert "truncated=[True, True]" in report.mistake_hint, str(report)  # both flags set: the hint says what it saw


def test_vectorized_env_without_auto_reset_fails():
    assert_fails(check_vectorized_env(NoAutoReset), "auto-reset", "reset that copy")


def test_vectorized_env_same_env_object_fails():
    class SharedEnv(StudentVecEnv):
        def __init__(self, env, num_envs):
            super().__init__(env, num_envs)
            self.envs = [env] * num_envs

    assert_fails(check_vectorized_env(SharedEnv), "final_obs is the true last observation", "deepcopy")


# --------------------------------------------------------------------------- evaluate


def counts_later_episodes(policy, env_id, n_episodes, seed):
    """Runs all envs until the last one is done, adding rewards of restarted episodes too."""
    envs = VectorizedEnvWrapper(gym.make(env_id), n_episodes)
    returns, finished = np.zeros(n_episodes), np.zeros(n_episodes, bool)
    obs = envs.reset(seed=seed)
    while not finished.all():
        step = envs.step(policy(obs))
        returns += step.rewards
        finished |= step.terminated | step.truncated
        obs = step.next_obs
    return returns


def ignores_seed(policy, env_id, n_episodes, seed):
    return sequential_evaluate(policy, env_id, n_episodes, 0)


def test_evaluate_counting_later_episodes_fails():
    report = check_evaluate(counts_later_episodes)
    assert_fails(report, "only the first episode", "must stop adding the rewards of an env")
    assert report.mistake == "rewards were still added after an env's first episode had ended."
    assert_fails(report, "matches dqn_helpers.evaluate")


def test_evaluate_ignoring_the_seed_fails():
    assert_fails(check_evaluate(ignores_seed), "the seed changes the episodes", "seed")


def test_evaluate_wrong_count_is_explained():
    report = check_evaluate(lambda policy, env_id, n_episodes, seed: np.zeros(3))
    assert_fails(report, "one return per episode", "shape (4,)")


# --------------------------------------------------------------------------- bad input, strict mode


def not_implemented(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


ALL_CHECKS = [
    check_dqn_update,
    check_training_loop,
    check_probes,
    check_discretise,
    check_q_learning_update,
    check_step_target,
    check_exponential_epsilon,
    check_q_network,
    check_td_target,
    check_double_dqn_target,
    check_replay_buffer,
    check_synchronize,
    check_soft_update,
    check_epsilon_schedule,
    check_vectorized_env,
    check_evaluate,
]


class NotImplementedBuffer:
    """The student version of a class exercise: every method body is a stub."""

    def __init__(self, capacity, obs_shape, seed=None):
        pass

    def remember(self, obs, actions, rewards, next_obs, terminated):
        # YOUR CODE HERE
        raise NotImplementedError()

    def sample(self, batch_size):
        # YOUR CODE HERE
        raise NotImplementedError()

    def __len__(self):
        # YOUR CODE HERE
        raise NotImplementedError()


def stub_for(check):
    return NotImplementedBuffer if check is check_replay_buffer else not_implemented


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_not_implemented_is_reported_clearly(check, capsys):
    report = check(stub_for(check))
    assert not report
    out = capsys.readouterr().out
    assert out.startswith(f"{check.__name__}: ✗ not implemented yet"), out  # the one-line form, nothing passed
    assert "raise NotImplementedError()" in out


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_non_callable_input_is_reported(check):
    report = check(None)
    assert not report
    assert "without calling it" in str(report)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_code_raising_inside_is_reported_not_raised(check):
    def broken(*args, **kwargs):
        raise ValueError("something odd in the student's code")

    class Broken(NotImplementedBuffer):
        def __len__(self):
            broken()

    report = check(Broken if check is check_replay_buffer else broken)
    assert not report
    assert "ValueError: something odd in the student's code" in str(report)


def test_class_raising_not_implemented_in_one_method():
    class HalfDone(StudentRing):
        def sample(self, batch_size):
            raise NotImplementedError()

    report = check_replay_buffer(HalfDone)
    assert not report
    assert report.n_passed >= 2  # len and interface work
    assert "not implemented yet" in str(report)


def test_wrong_return_type_is_explained():
    report = check_td_target(lambda rewards, terminated, next_q_values, gamma: None)
    assert_fails(report, "shape (B,)", "return")
    report = check_td_target(lambda rewards, terminated, next_q_values, gamma: rewards.numpy())
    assert_fails(report, "shape (B,)", "torch.Tensor")
    report = check_epsilon_schedule(lambda progress, start, end, fraction: "0.5")
    assert_fails(report, "returns a number", "float")


def test_strict_mode_raises_with_the_same_message(monkeypatch, capsys):
    def no_mask(rewards, terminated, next_q_values, gamma):
        with torch.no_grad():
            return rewards + gamma * next_q_values.max(dim=1).values

    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    with pytest.raises(AssertionError, match="terminal masking") as info:
        check_td_target(no_mask)
    assert str(info.value) in capsys.readouterr().out
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_epsilon_schedule(not_implemented)


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_q_network(ref_q_network)
    check_synchronize(ref_synchronize)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() >= 1


def test_report_repr_is_a_one_line_summary():
    report = check_epsilon_schedule(ref_linear_epsilon)
    assert repr(report).startswith("<CheckReport check_epsilon_schedule: 9/9")
    assert str(report).startswith("check_epsilon_schedule: All 9 checks passed.")
    report = check_epsilon_schedule(linear_epsilon)  # the package's own: not the student's code
    assert "is the package's dqn_helpers.linear_epsilon" in str(report) and report.skipped == 7
