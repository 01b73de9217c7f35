import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from dqn_helpers import DQNConfig, evaluate, train

SMALL = DQNConfig(total_steps=3_000, learning_starts=500, eval_every=1_000, eval_episodes=3, num_envs=4)


def test_same_seed_same_returns_and_different_seeds_differ():
    a = train(SMALL, progress=False)
    b = train(SMALL, progress=False)
    c = train(SMALL, seed=1, progress=False)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    timeless = ["env_step", "mean_return", "std_return"]
    pd.testing.assert_frame_equal(a.evaluations[timeless], b.evaluations[timeless])
    assert not a.episodes["episode_return"].equals(c.episodes["episode_return"])


# CartPole with a 10-step time limit: most episodes end by truncation, not termination.
gym.register("ShortCartPole-v0", entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
             max_episode_steps=10)


@pytest.mark.parametrize(
    "env_id, backend",
    [
        ("CartPole-v1", "gymnasium"),  # native vectorized CartPole, NEXT_STEP autoreset
        ("ShortCartPole-v0", "gymnasium"),  # SyncVectorEnv, SAME_STEP autoreset with final_obs
        ("ShortCartPole-v0", "copies"),  # the hand-written wrapper
    ],
)
def test_stored_transitions_never_span_an_auto_reset(env_id, backend):
    result = train(SMALL, env_id=env_id, env_backend=backend, eval_every=0, progress=False)
    buffer, episodes = result.buffer, result.episodes
    n = len(buffer)
    obs, nxt, terminated = buffer.obs[:n], buffer.next_obs[:n], buffer.terminated[:n]
    # CartPole's Euler step: x' = x + 0.02 * x_dot and theta' = theta + 0.02 * theta_dot, exactly.
    # A transition whose "next state" were the reset observation of a new episode breaks it, so
    # this also shows that truncated episodes keep their true final observation.
    np.testing.assert_allclose(nxt[:, 0], obs[:, 0] + 0.02 * obs[:, 1], atol=1e-5)
    np.testing.assert_allclose(nxt[:, 2], obs[:, 2] + 0.02 * obs[:, 3], atol=1e-5)
    # terminated (no bootstrap) exactly where the pole fell or the cart left: never for a time limit
    fell = (np.abs(nxt[:, 0]) > 2.4) | (np.abs(nxt[:, 2]) > 12 * 2 * np.pi / 360)
    np.testing.assert_array_equal(fell, terminated == 1)
    assert terminated.sum() > 10
    if env_id == "ShortCartPole-v0":
        assert (episodes["length"] == 10).sum() > 10, "expected many truncated episodes"
        assert terminated.sum() < len(episodes)  # truncations were not stored as terminal
    # every env step is stored, except NEXT_STEP's reset steps (one per episode that ended
    # before the last step), which are no transitions at all
    wasted = (episodes["env_step"] < result.env_steps).sum() if env_id == "CartPole-v1" else 0
    assert n == result.env_steps - wasted


def test_episode_table_is_tidy():
    result = train(SMALL, progress=False)
    episodes = result.episodes
    assert list(episodes.columns) == ["env_step", "env", "episode_return", "length", "epsilon"]
    assert episodes["env_step"].is_monotonic_increasing
    assert set(episodes["env"]) <= set(range(SMALL.num_envs))
    np.testing.assert_array_equal(episodes["episode_return"], episodes["length"])  # CartPole: +1 per step
    assert episodes["epsilon"].between(0, 1).all()
    assert list(result.evaluations["env_step"]) == [1000, 2000, 3000]


def test_learning_cartpole_to_the_threshold():
    """A real training run: a greedy evaluation on fresh episodes must reach 475 (CartPole-v1)."""
    result = train(DQNConfig(seed=0, stop_when_solved=True), progress=False)
    assert result.solved_at_step is not None, result.evaluations.tail()
    fresh = evaluate(result.agent, "CartPole-v1", n_episodes=10, seed=123_456)
    assert fresh.mean() >= 475, fresh


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(gamma=2.0), "gamma must lie in"),
        (dict(learning_rate=-1e-3), "learning_rate must be positive"),
        (dict(buffer_capacity=0), "buffer_capacity must be a positive"),
        (dict(batch_size=0), "batch_size must be a positive"),
        (dict(batch_size=128, buffer_capacity=64), "larger than buffer_capacity"),
        (dict(epsilon_end=1.5), "epsilon_end must lie in"),
        (dict(exploration_fraction=2.0), "exploration_fraction"),
        (dict(num_envs=0), "num_envs must be a positive"),
    ],
)
def test_config_rejects_impossible_values_with_the_fix(changes, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**changes)


def test_train_rejects_unsuitable_envs():
    with pytest.raises(ValueError, match="Discrete action space"):
        train(SMALL, env_id="MountainCarContinuous-v0", progress=False)
    with pytest.raises(ValueError, match="Discrete observation space"):
        train(SMALL, env_id="FrozenLake-v1", progress=False)
