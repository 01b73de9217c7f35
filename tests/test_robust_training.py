"""Divergence is reported (issue 21): a NaN or inf loss stops training with one warning naming the cause."""

import math
import os
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from dqn_helpers import DQNConfig, train
from dqn_helpers.training import seed_everything

QUICK = DQNConfig(total_steps=2_000, learning_starts=200, eval_every=0, num_envs=4, batch_size=32)


class BrokenCartPole(gym.Wrapper):
    """CartPole whose rewards (or observations) turn NaN or inf after a few steps."""

    def __init__(self, broken: str = "reward", value: float = math.nan):
        super().__init__(gym.make("CartPole-v1"))
        self.broken, self.value, self.steps = broken, value, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps > 50 and self.broken == "reward":
            reward = self.value
        if self.steps > 50 and self.broken == "observation":
            obs = np.full_like(obs, self.value)
        return obs, reward, terminated, truncated, info


gym.register("NaNRewardCartPole-v0", entry_point=lambda: BrokenCartPole("reward"), max_episode_steps=200)
gym.register("InfRewardCartPole-v0", entry_point=lambda: BrokenCartPole("reward", math.inf), max_episode_steps=200)
gym.register("NaNObsCartPole-v0", entry_point=lambda: BrokenCartPole("observation"), max_episode_steps=200)


def train_and_catch(**overrides):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(QUICK, progress=False, **overrides)
    diverged = [w for w in caught if "diverged" in str(w.message)]
    return result, diverged


@pytest.mark.parametrize(
    "overrides, cause",
    [
        (dict(learning_rate=1e30), "a learning rate too large (1e+30"),
        (dict(env_id="NaNRewardCartPole-v0"), "the sampled rewards hold NaN or inf"),
        (dict(env_id="InfRewardCartPole-v0"), "the sampled rewards hold NaN or inf"),
        (dict(env_id="NaNObsCartPole-v0"), "observations"),
    ],
)
def test_a_nan_or_inf_loss_stops_training_with_one_warning(overrides, cause):
    result, warned = train_and_catch(**overrides)
    assert result.diverged and result.diverged_at_step is not None
    assert result.env_steps == result.diverged_at_step < QUICK.total_steps  # stopped at once
    assert len(warned) == 1, [str(w.message) for w in warned]
    message = str(warned[0].message)
    assert f"Training diverged at env step {result.diverged_at_step}" in message
    assert cause in message and "result.diverged is True" in message
    assert warned[0].filename == __file__  # points at the caller's line, not at the package
    assert cause in result.diverged_reason
    assert all(math.isfinite(x) for x in result.updates["loss"])  # only the finite losses were logged


def test_after_divergence_the_best_evaluated_weights_are_kept():
    result, warned = train_and_catch(learning_rate=1e30, eval_every=200, eval_episodes=2, keep_best=True)
    assert result.diverged and "the weights of the best periodic evaluation" in str(warned[0].message)
    weights = result.agent.state_dict()["q_network"].values()
    assert all(torch.isfinite(w).all() for w in weights)  # evaluated before the first broken update


def test_a_healthy_run_is_not_diverged():
    result, warned = train_and_catch()
    assert not result.diverged and result.diverged_at_step is None and result.diverged_reason is None
    assert warned == [] and result.env_steps == QUICK.total_steps


def test_the_loss_check_adds_no_work_per_update(monkeypatch):
    """The check reads the float update() returns: no extra .item() (a GPU sync) per update."""
    from dqn_helpers import DeepQLearner

    calls = {"update": 0, "item": 0}
    original_update, original_item = DeepQLearner.update, torch.Tensor.item

    def update(self, batch):
        calls["update"] += 1
        return original_update(self, batch)

    def item(self):
        calls["item"] += 1
        return original_item(self)

    monkeypatch.setattr(DeepQLearner, "update", update)
    monkeypatch.setattr(torch.Tensor, "item", item)
    train(QUICK, progress=False)
    # one .item() per update (the loss, inside update) plus one every 50 updates (q_mean, logged)
    assert calls["item"] == calls["update"] + calls["update"] // 50


def test_seeds_numpy_cannot_take_are_refused_clearly():
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*32\)"):
        seed_everything(2**32)


def test_more_torch_threads_than_cores_are_capped(monkeypatch):
    """torch crashes (segfault) with far more threads than cores; train uses at most the cores."""
    asked = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: asked.append(n))
    train(QUICK, total_steps=100, learning_starts=0, torch_threads=100_000, progress=False)
    assert asked[0] <= (os.cpu_count() or 1)


def test_an_env_id_passed_as_config_gets_the_keyword_to_use():
    with pytest.raises(TypeError, match=r"train\(env_id='CartPole-v1'\)"):
        train("CartPole-v1")
