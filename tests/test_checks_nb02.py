"""The checks of notebook 02 (Q-network, TD target, target of one env.step) name what students really write.

Each wrong answer is written the way a student writes it: the check must fail and name the
mistake actually made (not a neighbouring one). Correct answers written differently from the
reference still pass, and no hint pastes a line of a notebook's reference solution.
"""

from __future__ import annotations

import re

import pytest
import torch
from check_reports import failed, lenient, named, reference_lines  # noqa: F401 (lenient: an autouse fixture)
from torch import nn

from dqn_helpers.checks import check_q_network, check_step_target, check_td_target

# --------------------------------------------------------------------------- D1, D2: Q-network


def mlp(obs_dim, n_actions, *end):
    return nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, n_actions), *end)


def tanh_at_the_end(obs_dim, n_actions):
    return mlp(obs_dim, n_actions, nn.Tanh())


class ScaledTanh(nn.Module):
    """`100 * torch.tanh(...)` at the end: bounded, though wide enough for the targets of the fit test."""

    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.body = mlp(obs_dim, n_actions)

    def forward(self, x):
        return 100 * torch.tanh(self.body(x))


def log_softmax_at_the_end(obs_dim, n_actions):
    return mlp(obs_dim, n_actions, nn.LogSoftmax(dim=1))


class OneValue(nn.Module):
    """One output, copied to every action."""

    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.n_actions = n_actions
        self.body = nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x):
        return self.body(x).expand(-1, self.n_actions)


def with_dropout(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, n_actions))


def test_tanh_at_the_end_is_named():
    text = named(check_q_network(tanh_at_the_end), "bounded activation at the end", absent=("Dropout",))
    assert "unbounded" in text


def test_a_scaled_tanh_at_the_end_is_named():
    report = check_q_network(ScaledTanh)
    assert failed(report) == [
        "outputs unbounded Q-values, one free value per action (no softmax, sigmoid or tanh at the end)"], str(report)
    named(report, "a bounded function at the end, scaled up (e.g. 100 * tanh)", absent=("Dropout",))


def test_log_softmax_is_named():
    named(check_q_network(log_softmax_at_the_end), "log-softmax: log-probabilities, not values",
          absent=("bounded activation",))


def test_one_value_for_every_action_is_named():
    named(check_q_network(OneValue), "all actions get the same value", absent=("bounded activation",))


def test_dropout_is_named_not_batch_mixing():
    text = named(check_q_network(with_dropout), "random layers (Dropout) in training mode")
    assert "BatchNorm" not in text and "softmax over dim=0" not in text


def softmax_over_the_batch(obs_dim, n_actions):
    return mlp(obs_dim, n_actions, nn.Softmax(dim=0))


def layer_norm_at_the_end(obs_dim, n_actions):
    return mlp(obs_dim, n_actions, nn.LayerNorm(n_actions))


def cartpole_sizes(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2))


def test_a_softmax_over_the_batch_is_named_as_row_mixing():
    named(check_q_network(softmax_over_the_batch), "a softmax over the batch dimension (dim=0)",
          absent=("bounded activation",))


def test_a_layer_norm_over_the_actions_is_named():
    named(check_q_network(layer_norm_at_the_end), "a normalization over the actions",
          absent=("100 * tanh", "squashing"))


def test_hard_coded_sizes_are_named_and_the_fit_failure_is_their_consequence():
    report = check_q_network(cartpole_sizes)
    text = named(report, "sizes hard-coded", absent=("dimension 0",))
    assert "with obs_dim=6, n_actions=2 it raised RuntimeError" in text, text
    assert all(r.consequence for r in report.failures), text


def test_a_hard_coded_first_layer_alone_is_named():
    def first_layer_for_cartpole(obs_dim, n_actions):
        return nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, n_actions))

    text = named(check_q_network(first_layer_for_cartpole), "sizes hard-coded")
    assert "n_actions=3" not in text, text


def narrow_tanh(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, n_actions))


def elu_three_layers(obs_dim, n_actions):
    return nn.Sequential(nn.Linear(obs_dim, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU(),
                         nn.Linear(32, n_actions))


class Dueling(nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU())
        self.value, self.advantage = nn.Linear(64, 1), nn.Linear(64, n_actions)

    def forward(self, x):
        h = self.body(x)
        a = self.advantage(h)
        return self.value(h) + a - a.mean(dim=1, keepdim=True)


@pytest.mark.parametrize("make", [mlp, narrow_tanh, elu_three_layers, Dueling,
                                  lambda o, n: nn.Sequential(nn.Linear(o, 256), nn.LeakyReLU(), nn.Linear(256, n))])
def test_correct_networks_still_pass(make):
    report = check_q_network(make)
    assert report, str(report)
    assert len(report.results) == 9


# --------------------------------------------------------------------------- D3, D4: target of one env.step


def best_next_value(q_network, next_obs):
    with torch.no_grad():
        return q_network(torch.as_tensor(next_obs[None]))[0]


def step_masks_with_truncated(q_network, reward, next_obs, terminated, truncated, gamma):
    return reward + (1 - float(truncated)) * gamma * best_next_value(q_network, next_obs).max().item()


def step_subtracts_both_flags(q_network, reward, next_obs, terminated, truncated, gamma):
    return reward + (1 - terminated - truncated) * gamma * best_next_value(q_network, next_obs).max().item()


def test_a_mask_that_subtracts_both_flags_is_named():
    report = check_step_target(step_subtracts_both_flags)
    assert failed(report) == ["a time-limit truncation still bootstraps", "terminated and truncated together: y = r"], \
        str(report)
    text = named(report, "1 - terminated - truncated", absent=("`terminated or truncated`.",))
    assert "-1 where both are set" in text and "must not cut the bootstrap" in text


def step_with_argmax(q_network, reward, next_obs, terminated, truncated, gamma):
    return reward + (1 - float(terminated)) * gamma * best_next_value(q_network, next_obs).argmax().item()


def step_with_mean(q_network, reward, next_obs, terminated, truncated, gamma):
    return reward + (1 - float(terminated)) * gamma * best_next_value(q_network, next_obs).mean().item()


def step_masks_with_done(q_network, reward, next_obs, terminated, truncated, gamma):
    done = terminated or truncated
    return reward + (0.0 if done else gamma * best_next_value(q_network, next_obs).max().item())


def step_numpy_to_network(q_network, reward, next_obs, terminated, truncated, gamma):
    with torch.no_grad():
        best = q_network(next_obs).max().item()  # next_obs straight from env.step: a NumPy array
    return reward + (1 - float(terminated)) * gamma * best


def step_drops_reward_at_truncation(q_network, reward, next_obs, terminated, truncated, gamma):
    best = best_next_value(q_network, next_obs).max().item()
    if terminated:
        return reward
    if truncated:
        return gamma * best
    return reward + gamma * best


def test_masking_with_done_hint_points_at_the_flag_without_the_expression():
    report = check_step_target(step_masks_with_done)
    assert "only one says the future is worth nothing" in report.mistake_hint, str(report)
    assert "1 - terminated" not in report.mistake_hint and "1-terminated" not in report.mistake_hint, str(report)


def test_a_numpy_observation_given_to_the_network_is_named():
    report = check_step_target(step_numpy_to_network)
    assert not report and "a NumPy array. A torch network takes a torch tensor" in report.failures[0].hint, \
        str(report)


def test_a_target_without_the_reward_at_truncation_is_named():
    report = check_step_target(step_drops_reward_at_truncation)
    assert failed(report) == ["a time-limit truncation still bootstraps"], str(report)
    named(report, "at a truncation your target drops the reward", absent=("Only `terminated` switches",))


def test_masking_with_truncated_is_named():
    named(check_step_target(step_masks_with_truncated), "`truncated` instead of `terminated`",
          absent=("`terminated or truncated`",))


def test_masking_with_done_is_still_named():
    report = check_step_target(step_masks_with_done)
    assert failed(report) == ["a time-limit truncation still bootstraps"]
    named(report, "`terminated or truncated`")


@pytest.mark.parametrize(("answer", "words"), [(step_with_argmax, "*index* of the best next action"),
                                                (step_with_mean, "averaged the Q-values")])
def test_step_target_reductions_are_named(answer, words):
    named(check_step_target(answer), words, absent=("`truncated` only tells you", "Use the gamma you receive"))


def step_target_gamma_on_reward(q_network, reward, next_obs, terminated, truncated, gamma):
    best = best_next_value(q_network, next_obs).max().item()
    return gamma * (reward + (0.0 if terminated else best))


def test_truncation_hint_only_when_the_running_case_passes():
    report = check_step_target(step_target_gamma_on_reward)
    truncation = next(r for r in report.failures if r.name == "a time-limit truncation still bootstraps")
    assert "fix that one first" in truncation.hint and "reset" not in truncation.hint


def step_target_tensor_to_float(q_network, reward, next_obs, terminated, truncated, gamma):
    with torch.no_grad():
        values = q_network(torch.from_numpy(next_obs).unsqueeze(0)).squeeze(0)
    if terminated:
        return float(reward)
    return float(reward + gamma * torch.max(values))


def test_a_correct_step_target_still_passes():
    report = check_step_target(step_target_tensor_to_float)
    assert report, str(report)
    assert len(report.results) == 8


# --------------------------------------------------------------------------- D5, D6: TD target


def td_without_reward(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return gamma * (1 - terminated) * next_q_values.max(dim=1).values


def td_gamma_on_everything(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return gamma * (rewards + (1 - terminated) * next_q_values.max(dim=1).values)


def td_gamma_squared(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return rewards + gamma**2 * (1 - terminated) * next_q_values.max(dim=1).values


def td_mean_over_batch(rewards, terminated, next_q_values, gamma):
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * next_q_values.max(dim=1).values.mean()


@pytest.mark.parametrize(("answer", "words"), [
    (td_without_reward, "the reward is missing"),
    (td_gamma_on_everything, "multiplied the reward by gamma too"),
    (td_gamma_squared, "gamma twice"),
    (td_mean_over_batch, "averaged over the batch"),
])
def test_td_target_formula_mistakes_are_named(answer, words):
    named(check_td_target(answer), words, absent=("Do not hard-code the batch size",
                                                  "Multiply the bootstrapped value (not the reward) by gamma"))


def test_td_target_row_test_is_named_for_terminated():
    report = check_td_target(td_gamma_squared)
    names = [r.name for r in report.results]
    assert "rows with terminated = 0 bootstrap" in names


def td_target_with_where(rewards, terminated, next_q_values, gamma):
    best = next_q_values.detach().amax(dim=1)
    return torch.where(terminated.bool(), rewards, rewards + gamma * best)


def test_a_correct_td_target_still_passes():
    report = check_td_target(td_target_with_where)
    assert report, str(report)
    assert len(report.results) == 9


# --------------------------------------------------------------------------- no hint pastes a reference line


WRONG = [
    (check_q_network, tanh_at_the_end), (check_q_network, log_softmax_at_the_end), (check_q_network, OneValue),
    (check_q_network, with_dropout), (check_q_network, softmax_over_the_batch),
    (check_q_network, layer_norm_at_the_end), (check_q_network, cartpole_sizes),
    (check_step_target, step_masks_with_truncated), (check_step_target, step_masks_with_done),
    (check_step_target, step_drops_reward_at_truncation),
    (check_step_target, step_with_argmax), (check_step_target, step_with_mean),
    (check_step_target, step_target_gamma_on_reward), (check_td_target, td_without_reward),
    (check_td_target, td_gamma_on_everything), (check_td_target, td_gamma_squared),
    (check_td_target, td_mean_over_batch),
]


def test_no_hint_on_these_wrong_answers_pastes_a_reference_line():
    lines = reference_lines()
    assert len(lines) > 50
    found = {}
    for check, answer in WRONG:
        report = check(answer)
        assert not report
        hints = [report.mistake_hint or ""] + [r.hint or "" for r in report.results]
        found.update({(check.__name__, h[:60]): [x for x in lines if x in re.sub(r"\s+", "", h)] for h in hints
                      if any(x in re.sub(r"\s+", "", h) for x in lines)})
    assert not found, found


def test_td_target_max_over_the_batch_gets_a_hint_about_dimension_0():
    def over_the_batch(rewards, terminated, next_q, gamma):
        return rewards + gamma * (1 - terminated) * next_q.max(dim=0).values

    report = check_td_target(over_the_batch)
    assert not report and "dimension 0" in report.failures[0].hint, str(report)


def test_q_network_that_takes_the_action_as_an_input_is_told_so():
    def q_of_state_and_action(obs_dim, n_actions):
        return torch.nn.Sequential(torch.nn.Linear(obs_dim + 1, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    report = check_q_network(q_of_state_and_action)
    assert not report and "one value per action" in report.failures[0].hint, str(report)
