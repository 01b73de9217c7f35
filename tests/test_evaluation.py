"""evaluate is bounded: an env without a time limit cannot hang it."""

import gymnasium as gym
import numpy as np
import pytest

from dqn_helpers import evaluate
from dqn_helpers.evaluation import DEFAULT_MAX_STEPS


class NeverEnding(gym.Env):
    """Reward 1 per step, and the episode never ends (no termination, no time limit)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(2, dtype=np.float32), 1.0, False, False, {}


gym.register("NeverEnding-v0", entry_point=NeverEnding, max_episode_steps=None)


def always_left(obs):
    return np.zeros(len(obs), dtype=np.int64)


def test_max_steps_cuts_endless_episodes_with_a_warning():
    with pytest.warns(UserWarning, match="cut 3 of 3 episodes after max_steps=50"):
        returns = evaluate(always_left, "NeverEnding-v0", n_episodes=3, max_steps=50)
    np.testing.assert_array_equal(returns, [50.0, 50.0, 50.0])


def test_default_bound_applies_without_a_time_limit():
    with pytest.warns(UserWarning, match=f"max_steps={DEFAULT_MAX_STEPS}"):
        returns = evaluate(always_left, "NeverEnding-v0", n_episodes=1)
    assert returns[0] == DEFAULT_MAX_STEPS


def test_episodes_within_the_time_limit_are_not_cut(recwarn):
    returns = evaluate(always_left, "CartPole-v1", n_episodes=4, seed=0)  # the env's own limit (500) applies
    assert np.all(returns < 500) and not [w for w in recwarn if "max_steps" in str(w.message)]


@pytest.mark.parametrize("kwargs, words", [
    (dict(max_steps=0), "max_steps must be a positive whole number"),
    (dict(max_steps=10.5), "max_steps counts something"),
    (dict(n_episodes=2.5), "n_episodes counts something"),
    (dict(n_episodes="3"), "write 3 without quotes"),
    (dict(seed=-1), "seed must be a whole number >= 0"),
])
def test_counts_are_checked(kwargs, words):
    with pytest.raises(ValueError, match=words):
        evaluate(always_left, "CartPole-v1", **{"n_episodes": 2, **kwargs})


def test_greedy_rollouts_are_bounded_too():
    from dqn_helpers import DeepQLearner, greedy_rollouts

    agent = DeepQLearner(2, 2, seed=0)
    with pytest.warns(UserWarning, match="cut 2 of 2 episodes after max_steps=20"):
        rollouts = greedy_rollouts(agent, "NeverEnding-v0", n_episodes=2, max_steps=20, gamma=0.5)
    np.testing.assert_array_equal(rollouts["length"], [20, 20])
    np.testing.assert_allclose(rollouts["discounted_return"], (1 - 0.5**20) / (1 - 0.5))


def test_an_agent_on_an_env_of_another_shape_names_both(tmp_path):
    """Issue 21: a CartPole agent on Acrobot used to fail deep inside with a bare shape error."""
    from dqn_helpers import DeepQLearner, greedy_rollouts
    from dqn_helpers.persistence import load_agent, save_agent

    agent = DeepQLearner(4, 2, seed=0)
    with pytest.raises(ValueError, match=r"takes observations of shape \(4,\) and picks one of 2 actions, but "
                                         r"Acrobot-v1 gives observations of shape \(6,\) and has 3 actions"):
        evaluate(agent, "Acrobot-v1", n_episodes=2)
    with pytest.raises(ValueError, match="but MountainCar-v0 gives observations of shape"):
        greedy_rollouts(agent, "MountainCar-v0", n_episodes=2)
    save_agent(agent, tmp_path / "cartpole.pt", config={"env_id": "CartPole-v1"})  # as the CLI saves it
    with pytest.raises(ValueError, match=r"This agent \(trained on CartPole-v1\).*Evaluate it on CartPole-v1"):
        evaluate(load_agent(tmp_path / "cartpole.pt"), "Acrobot-v1", n_episodes=2)
    assert evaluate(agent, "CartPole-v1", n_episodes=2).shape == (2,)  # the right env still works


def test_a_training_result_instead_of_its_agent_is_named():
    from dqn_helpers import greedy_rollouts

    class Result:  # what train returns, as far as these functions can tell
        agent = None

    with pytest.raises(TypeError, match=r"got Result \(for a training result, pass result.agent\)"):
        evaluate(Result(), "CartPole-v1", n_episodes=2)
    with pytest.raises(TypeError, match=r"greedy_rollouts needs a DeepQLearner .* pass result.agent"):
        greedy_rollouts(Result(), "CartPole-v1", n_episodes=2)


def test_first_episode_ends_are_the_episodes_of_evaluate():
    """Same episodes as evaluate; each ends where CartPole says: past a limit when terminated, at 500 otherwise."""
    from dqn_helpers.evaluation import first_episode_ends

    def lean(obs):  # push towards the side the pole leans to: episodes of a few dozen steps
        return (np.asarray(obs)[:, 2] > 0).astype(np.int64)

    ends = first_episode_ends(lean, "CartPole-v1", 6, seed=3)
    np.testing.assert_array_equal(ends.episode_return, evaluate(lean, "CartPole-v1", 6, seed=3))
    assert list(ends.columns[:3]) == ["length", "episode_return", "terminated"] and ends.shape == (6, 7)
    outside = (ends.last_obs_0.abs() > 2.4) | (ends.last_obs_2.abs() > 12 * 2 * np.pi / 360)
    assert (outside == ends.terminated).all() and (ends.length[~ends.terminated] == 500).all()
