import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from dqn_helpers import GymnasiumVectorEnv, VectorizedEnvWrapper, make_vector_env


def run(env, steps=300, seed=0, action_seed=1):
    """Step env with random actions; return the list of VectorSteps and observations acted on."""
    rng = np.random.default_rng(action_seed)
    obs = env.reset(seed=seed)
    history = []
    for _ in range(steps):
        actions = rng.integers(2, size=env.num_envs)
        step = env.step(actions)
        history.append((obs, actions, step))
        obs = step.next_obs
    return history


def test_reset_seeds_every_copy_differently_and_reproducibly():
    env = VectorizedEnvWrapper(gym.make("CartPole-v1"), num_envs=4)
    first = env.reset(seed=3)
    assert first.shape == (4, 4) and first.dtype == np.float32
    assert len({tuple(row) for row in first}) == 4  # no two copies start alike
    np.testing.assert_array_equal(first, env.reset(seed=3))
    single, _ = gym.make("CartPole-v1").reset(seed=3 + 2)
    np.testing.assert_array_equal(first[2], single)  # copy i gets seed + i


def test_copies_auto_reset_and_keep_the_true_final_observation():
    env = VectorizedEnvWrapper(gym.make("CartPole-v1"), num_envs=2)
    ended = 0
    for _obs, _actions, step in run(env, steps=200):
        for i in np.flatnonzero(step.done):
            ended += 1
            # the final observation is past CartPole's limits; the reset one is near zero
            x, theta = step.final_obs[i, 0], step.final_obs[i, 2]
            assert abs(x) > 2.4 or abs(theta) > 0.2094
            assert np.abs(step.next_obs[i]).max() <= 0.05
    assert ended > 0


def test_truncation_is_not_termination():
    env = VectorizedEnvWrapper(gym.make("CartPole-v1", max_episode_steps=5), num_envs=3)
    history = run(env, steps=5)
    last = history[-1][2]
    assert last.truncated.all() and not last.terminated.any()
    assert not np.array_equal(last.final_obs, last.next_obs)  # final obs kept, envs reset
    for _, _, step in history[:-1]:
        assert not step.done.any()
        np.testing.assert_array_equal(step.final_obs, step.next_obs)


def test_same_step_gymnasium_env_matches_the_copies_wrapper():
    copies = VectorizedEnvWrapper(gym.make("CartPole-v1"), num_envs=3)
    sync = GymnasiumVectorEnv(gym.make_vec("CartPole-v1", 3, vectorization_mode="sync",
                                           vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}))
    n_done = 0
    for (obs_a, _, a), (obs_b, _, b) in zip(run(copies), run(sync)):
        np.testing.assert_allclose(obs_a, obs_b)
        for field in ("next_obs", "final_obs", "rewards", "terminated", "truncated", "learnable"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), err_msg=field)
        n_done += a.done.sum()
    assert n_done > 0


def test_next_step_autoreset_marks_the_reset_step_unlearnable():
    env = make_vector_env("CartPole-v1", 4)  # native vectorized CartPole: NEXT_STEP only
    assert env.autoreset_mode == AutoresetMode.NEXT_STEP
    saw_reset_step = False
    previous_done = np.zeros(4, dtype=bool)
    for obs, _actions, step in run(env, steps=200):
        np.testing.assert_array_equal(step.learnable, ~previous_done)
        if (~step.learnable).any():
            saw_reset_step = True
            assert (step.rewards[~step.learnable] == 0).all()
        previous_done = step.done
        # every learnable transition follows CartPole's Euler update x' = x + 0.02 x_dot
        keep = step.learnable
        np.testing.assert_allclose(step.final_obs[keep, 0], obs[keep, 0] + 0.02 * obs[keep, 1], atol=1e-5)
    assert saw_reset_step


def test_native_cartpole_keeps_the_time_limit_of_the_version():
    assert make_vector_env("CartPole-v0", 2).env.max_episode_steps == 200
    assert make_vector_env("CartPole-v1", 2).env.max_episode_steps == 500


def test_other_envs_use_same_step_sync_vector_env():
    env = make_vector_env("Acrobot-v1", 2)
    assert env.autoreset_mode == AutoresetMode.SAME_STEP
    assert env.reset(seed=0).shape == (2, 6)


@pytest.mark.parametrize("backend", ["gymnasium", "copies"])
def test_continuous_actions_are_rejected_with_a_hint(backend):
    with pytest.raises(ValueError, match="Box action space.*Discrete action space"):
        make_vector_env("Pendulum-v1", 2, backend=backend)


def test_discrete_observations_need_an_encoding():
    with pytest.raises(ValueError, match="Discrete observation space.*one-hot"):
        make_vector_env("FrozenLake-v1", 2)


def test_unknown_env_id_names_real_ones():
    with pytest.raises(ValueError, match="Unknown gymnasium environment id 'CartPole-v9'.*CartPole-v1"):
        make_vector_env("CartPole-v9", 2)


def test_bad_backend_and_num_envs():
    with pytest.raises(ValueError, match="backend"):
        make_vector_env("CartPole-v1", 2, backend="threads")
    with pytest.raises(ValueError, match="num_envs"):
        make_vector_env("CartPole-v1", 0)
