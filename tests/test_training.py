import signal

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

from dqn_helpers import DeepQLearner, DQNConfig, ReplayBuffer, evaluate, make_vector_env, train
from dqn_helpers.replay_buffer import LatestTransitions
from dqn_helpers.seeds import PERIODIC_EVAL_SEED_OFFSET, random_stream

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


# --- robust under interruptions and odd budgets (issue 10) ---

def record_envs(monkeypatch):
    """Make train's vector envs record whether they were closed."""
    from dqn_helpers import training

    made = []

    def recording(*args, **kwargs):
        env = make_vector_env(*args, **kwargs)
        env.closed_calls = 0
        original = env.close

        def close():
            env.closed_calls += 1
            original()

        env.close = close
        made.append(env)
        return env

    monkeypatch.setattr(training, "make_vector_env", recording)
    return made


def interrupt_at_update(monkeypatch, n: int):
    """A real Ctrl-C (SIGINT to this process) in the middle of the ``n``-th gradient update."""
    calls = []
    original = DeepQLearner.update

    def update(self, batch):
        calls.append(1)
        if len(calls) == n:
            signal.raise_signal(signal.SIGINT)
        return original(self, batch)

    monkeypatch.setattr(DeepQLearner, "update", update)


def test_ctrl_c_returns_what_was_done_with_envs_closed(monkeypatch):
    envs = record_envs(monkeypatch)
    interrupt_at_update(monkeypatch, 200)  # updates start at env step 500, one per 4 env steps
    torch.set_num_threads(2)
    with pytest.warns(UserWarning, match="Training interrupted after"):
        result = train(SMALL, progress=False)
    assert result.interrupted
    assert 1000 < result.env_steps < SMALL.total_steps
    assert result.n_updates == 199  # the 200th was cut short by the interrupt
    assert len(result.episodes) > 0 and result.episodes["env_step"].max() <= result.env_steps
    assert list(result.evaluations["env_step"]) == [1000]
    assert len(envs) == 2 and all(env.closed_calls == 1 for env in envs)
    assert torch.get_num_threads() == 2
    obs = np.zeros((3, 4), dtype=np.float32)
    assert result.agent.greedy_actions(obs).shape == (3,)  # the agent is usable


def test_train_restores_the_thread_count_even_after_an_error(monkeypatch):
    envs = record_envs(monkeypatch)
    torch.set_num_threads(2)
    result = train(SMALL, torch_threads=1, eval_every=0, progress=False)
    assert torch.get_num_threads() == 2 and not result.interrupted

    def broken(self, batch):
        assert torch.get_num_threads() == 1  # train does use the thread count it was given
        raise RuntimeError("boom")

    monkeypatch.setattr(DeepQLearner, "update", broken)
    with pytest.raises(RuntimeError, match="boom"):
        train(SMALL, torch_threads=1, progress=False)
    assert torch.get_num_threads() == 2
    assert all(env.closed_calls == 1 for env in envs)


@pytest.mark.parametrize("total_steps, num_envs", [(1003, 4), (3, 4), (1001, 8), (999, 1)])
def test_total_steps_is_respected_when_not_a_multiple_of_num_envs(total_steps, num_envs):
    result = train(SMALL, total_steps=total_steps, num_envs=num_envs, learning_starts=0, eval_every=500,
                   progress=False)
    assert result.env_steps == total_steps
    assert len(result.buffer) <= total_steps
    if len(result.episodes):
        assert result.episodes["env_step"].max() <= total_steps
    # one evaluation per 500 env steps, at the first vector step that reaches the mark
    evaluated_at = result.evaluations["env_step"].to_numpy()
    marks = np.arange(500, total_steps + 1, 500)
    assert len(evaluated_at) == len(marks) and np.all((evaluated_at >= marks) & (evaluated_at < marks + num_envs))


def test_learning_starts_beyond_the_budget_warns():
    with pytest.warns(UserWarning, match=r"learning_starts \(1000\) is not below total_steps \(800\)"):
        result = train(SMALL, total_steps=800, learning_starts=1000, eval_every=0, progress=False)
    assert result.n_updates == 0


def test_exploration_and_replay_draw_from_independent_streams():
    agent = DeepQLearner(4, 2, seed=0)
    buffer = ReplayBuffer(100, (4,), seed=0)
    assert not np.array_equal(agent.rng.random(8), buffer.rng.random(8))
    # and each stream is still reproducible from the seed
    np.testing.assert_array_equal(DeepQLearner(4, 2, seed=0).rng.random(8), random_stream(0, "exploration").random(8))
    np.testing.assert_array_equal(ReplayBuffer(100, (4,), seed=0).rng.random(8), random_stream(0, "replay").random(8))


def test_without_replay_the_loop_learns_from_the_latest_step_only():
    result = train(SMALL, use_replay_buffer=False, eval_every=0, progress=False)
    memory = result.buffer
    assert isinstance(memory, LatestTransitions)
    assert result.n_updates > 0 and 0 < len(memory) <= SMALL.num_envs
    batch = memory.sample(SMALL.batch_size)  # batch_size is ignored: the latest transitions only
    assert len(batch) == len(memory) and batch.obs.dtype == np.float32 and batch.terminated.dtype == np.float32


def test_latest_transitions_forget_the_previous_step():
    memory = LatestTransitions()
    assert len(memory) == 0 and not memory.can_sample(1)
    memory.remember(np.zeros((3, 2)), [0, 1, 0], [1, 1, 1], np.ones((3, 2)), [False, True, False])
    memory.remember(np.full((2, 2), 5.0), [1, 1], [0, 0], np.full((2, 2), 6.0), [False, False])
    batch = memory.sample(64)
    assert memory.can_sample(64) and len(batch) == 2
    np.testing.assert_array_equal(batch.obs, np.full((2, 2), 5.0))


def test_periodic_evaluations_use_the_shared_seed_offset(monkeypatch):
    from dqn_helpers import training

    seeds = []
    original = training.evaluate
    monkeypatch.setattr(training, "evaluate", lambda *a, seed, **k: seeds.append(seed) or original(*a, seed=seed, **k))
    train(SMALL, seed=7, total_steps=2000, progress=False)
    assert seeds == [7 + PERIODIC_EVAL_SEED_OFFSET] * 2


def test_train_uses_from_config():
    result = train(SMALL, hidden_sizes=(16,), gamma=0.9, double_dqn=True, tau=0.5, eval_every=0, progress=False)
    assert result.agent.settings == DeepQLearner.from_config(result.config, 4, 2).settings


def test_evaluation_seed_offsets_are_written_only_in_seeds_py():
    from pathlib import Path

    import dqn_helpers
    from dqn_helpers import seeds

    package = Path(dqn_helpers.__file__).parent
    literals = {f"{seeds.PERIODIC_EVAL_SEED_OFFSET:_}", f"{seeds.FINAL_EVAL_SEED_OFFSET:_}",
                str(seeds.PERIODIC_EVAL_SEED_OFFSET), str(seeds.FINAL_EVAL_SEED_OFFSET)}
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if path.name != "seeds.py" and any(text in path.read_text() for text in literals)]
    assert not offenders, f"import the offsets from dqn_helpers.seeds instead: {offenders}"
