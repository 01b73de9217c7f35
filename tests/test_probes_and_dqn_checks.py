"""Issue 12 part 3: probe environments, and the checks of a hand-written DQN, against broken agents."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch
from student_answers import student_update

import dqn_helpers  # noqa: F401  (registers the probes)
from dqn_helpers.checks import STRICT_ENV_VAR, check_dqn_update, check_probes, check_training_loop
from dqn_helpers.checks.dqn_update import MISTAKES, update_variant
from dqn_helpers.probes import PROBES


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv(STRICT_ENV_VAR, raising=False)


# --------------------------------------------------------------------------- probe environments


def discounted_return_of(env_id, actions_for, gamma, seed):
    """Play one episode choosing actions with ``actions_for(obs)``; its discounted return."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    total, discount, done = 0.0, 1.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(actions_for(obs))
        total, discount, done = total + discount * reward, discount * gamma, terminated or truncated
        assert not truncated
    return total


@pytest.mark.parametrize("env_id", list(PROBES))
def test_probes_are_registered_and_their_optimal_q_is_what_an_episode_pays(env_id):
    env = gym.make(env_id)
    probe = env.unwrapped
    assert env.observation_space.shape == (1,) and env.action_space.n == probe.n_actions
    for seed in range(6):
        start, _ = env.reset(seed=seed)
        q = probe.optimal_q(start, 0.5)
        for action in range(probe.n_actions):  # Q(s0, a): take a, then act optimally
            first = iter([action])

            def policy(obs, first=first):
                chosen = next(first, None)
                return chosen if chosen is not None else int(np.argmax(probe.optimal_q(obs, 0.5)))

            assert discounted_return_of(env_id, policy, 0.5, seed) == pytest.approx(q[action])


def test_probe_states_cover_the_start_states():
    for env_id in PROBES:
        env = gym.make(env_id)
        starts = {float(env.reset(seed=s)[0][0]) for s in range(20)}
        assert starts <= {float(s[0]) for s in env.unwrapped.probe_states()}


# --------------------------------------------------------------------------- check_dqn_update


def test_dqn_update_reference_passes():
    assert check_dqn_update(student_update)  # written differently: arange indexing, a hand-written square
    report = check_dqn_update(lambda learner, batch: learner.update(batch))  # the package's own update
    assert not report and "calls the package's learner.update" in str(report)
    report = check_dqn_update(update_variant)  # the check's reference itself is not the student's code either
    assert not report and "is the package's dqn_helpers.checks.dqn_update.update_variant" in str(report)


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_dqn_update_names_each_mistake(mistake):
    report = check_dqn_update(functools.partial(update_variant, **MISTAKES[mistake]))
    assert not report and report.mistake == mistake, str(report)
    assert str(report).startswith("check_dqn_update") and "Most likely mistake: " + mistake in str(report)


def test_dqn_update_indices_and_missing_return():
    def no_return(learner, batch):
        student_update(learner, batch)

    report = check_dqn_update(no_return)
    assert [r.name for r in report.failures] == ["returns the loss (a float) of the batch before the step"]


# --------------------------------------------------------------------------- check_probes

PROBE_DIAGNOSES = {
    "gamma": "fails the discounting probe: look at gamma",
    "mask": "bootstrap through terminal states",
    "sign": "move away from the targets",
    "taken_action": "fails the action probe",
}


def test_probes_pass_for_a_correct_update():
    report = check_probes(student_update)
    assert report and len(report.results) == 7, str(report)


@pytest.mark.parametrize("switch", list(PROBE_DIAGNOSES))
def test_probes_say_which_part_is_broken(switch):
    broken = {"gamma": False, "mask": False, "sign": -1.0, "taken_action": False}[switch]
    report = check_probes(functools.partial(update_variant, **{switch: broken}))
    assert not report
    assert PROBE_DIAGNOSES[switch] in report.mistake, str(report)


def test_probes_catch_an_agent_that_ignores_the_observation():
    def blind(learner, batch):
        batch = type(batch)(np.zeros_like(batch.obs), batch.actions, batch.rewards, batch.next_obs, batch.terminated)
        return student_update(learner, batch)

    report = check_probes(blind)
    assert "Probe2: observation-dependent reward (the network's input)" in [r.name for r in report.failures]
    assert "your agent fails the observation probe" in report.mistake


def test_probe_failure_reads_in_plain_words():
    report = check_probes(functools.partial(update_variant, gamma=False))
    failed = [r for r in report.failures]
    assert [r.name for r in failed] == ["Probe3: two-step discounting (gamma and the bootstrap)"]
    assert "Q(obs 0, action 0) = 0.5" in failed[0].expected  # gamma = 0.5 in the probes


# --------------------------------------------------------------------------- check_training_loop


def reference_loop(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed,
                   *, remember_next=False, remember_done=False, skip_mask=False, decay=True, sync_offset=0):
    obs = env.reset(seed=seed)
    n_updates = 0
    for env_steps in range(0, total_steps, env.num_envs):
        if decay:
            learner.decay_epsilon(env_steps / total_steps)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = np.ones(env.num_envs, bool) if skip_mask else step.learnable
        next_obs = step.next_obs if remember_next else step.final_obs
        flags = step.done if remember_done else step.terminated
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], next_obs[keep], flags[keep])
        obs = step.next_obs
        if env_steps + env.num_envs >= learning_starts:
            update(learner, buffer.sample(batch_size))
            n_updates += 1
            if (n_updates + sync_offset) % target_update_every == 0:
                learner.synchronize()


def test_training_loop_reference_passes_and_learns():
    report = check_training_loop(reference_loop)
    assert report and len(report.results) == 10, str(report)


@pytest.mark.parametrize(
    ("switch", "failed_property", "words"),
    [
        ("remember_next", "remembers the true final observation (not the reset one)", "You remembered step.next_obs"),
        ("remember_done", "remembers terminated, not terminated or truncated", "not a death"),
        ("skip_mask", "skips steps that are no transitions (learnable=False)", "step.learnable marks"),
        ("decay", "decays epsilon from its start to its end value", "decay_epsilon"),
        ("sync_offset", "synchronizes the target network every target_update_every updates", "7th, 14th"),
    ],
)
def test_training_loop_mistakes_fail_their_property(switch, failed_property, words):
    value = {"decay": False, "sync_offset": 1}.get(switch, True)
    report = check_training_loop(functools.partial(reference_loop, **{switch: value}), learning_steps=0)
    names = [r.name for r in report.failures]
    assert failed_property in names, str(report)
    assert words in str(report)


def test_training_loop_that_does_not_learn_is_reported():
    def never_updates(env, learner, buffer, update, total_steps, **kwargs):
        obs = env.reset(seed=kwargs["seed"])
        for env_steps in range(0, total_steps, env.num_envs):
            learner.decay_epsilon(env_steps / total_steps)
            obs = env.step(learner.act(obs)).next_obs

    report = check_training_loop(never_updates, learning_steps=2_000)
    assert not report
    assert any(r.name.startswith("learns:") for r in report.failures)
    assert "did not learn" in str(report)
    torch.set_num_threads(torch.get_num_threads())
