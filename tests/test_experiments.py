"""The experiment runner: tidy results, same numbers however it runs, a cache, kept failures."""

import pandas as pd
import pytest

from dqn_helpers import DQNConfig, make_vector_env, run_experiments
from dqn_helpers import experiments as experiments_module
from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET

TINY = DQNConfig(total_steps=1_600, learning_starts=400, eval_every=800, eval_episodes=2, hidden_sizes=(16, 16))
VARIANTS = {"control": TINY, "no target": TINY.replace(use_target_network=False)}


def run(tmp_path, **kwargs):
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    kwargs.setdefault("progress", False)
    kwargs.setdefault("final_eval_episodes", 3)
    return run_experiments(VARIANTS, seeds=[0, 1], **kwargs)


def test_every_variant_runs_on_every_seed_with_tidy_frames(tmp_path):
    results = run(tmp_path, n_jobs=1)
    assert sorted(zip(results.runs.variant, results.runs.seed)) == [
        ("control", 0), ("control", 1), ("no target", 0), ("no target", 1)]
    assert results.runs.error.isna().all() and not results.failures
    for frame in (results.episodes, results.evaluations, results.rollouts):
        assert {"variant", "seed"} <= set(frame.columns)
        assert set(frame.variant) == {"control", "no target"}
    assert (results.runs.env_steps == TINY.total_steps).all()
    assert len(results.rollouts) == 4 * 3  # 3 final greedy episodes per run
    # the calibration columns are what the rollouts say
    one = results.rollouts[(results.rollouts.variant == "control") & (results.rollouts.seed == 1)]
    row = results.runs.set_index(["variant", "seed"]).loc[("control", 1)]
    assert row.q_start_mean == pytest.approx(one.q_start.mean())
    assert row.q_abs_error == pytest.approx((one.q_start - one.discounted_return).abs().mean())
    assert results.summary().loc["control", "seeds"] == 2


def test_parallel_and_sequential_runs_give_the_same_numbers(tmp_path):
    sequential = run(tmp_path, n_jobs=1, cache=False)
    parallel = run(tmp_path, n_jobs=2, cache=False)
    pd.testing.assert_frame_equal(sequential.episodes, parallel.episodes)
    pd.testing.assert_frame_equal(sequential.rollouts, parallel.rollouts)


def test_cache_reuses_finished_runs_and_a_source_change_invalidates_it(tmp_path, monkeypatch):
    first = run(tmp_path, n_jobs=1)
    assert not first.runs.cached.any()
    reported = []
    second = run(tmp_path, n_jobs=1, on_result=reported.append)
    assert second.runs.cached.all()
    assert sorted((r["variant"], r["seed"]) for r in reported) == sorted(zip(first.runs.variant, first.runs.seed))
    pd.testing.assert_frame_equal(first.episodes, second.episodes)

    monkeypatch.setenv("DQN_CACHE", "0")
    assert not run(tmp_path, n_jobs=1).runs.cached.any()
    monkeypatch.delenv("DQN_CACHE")

    monkeypatch.setattr(experiments_module, "source_version", lambda: "edited package")
    assert not run(tmp_path, n_jobs=1).runs.cached.any()


def test_a_failing_run_is_reported_and_the_others_are_kept(tmp_path, monkeypatch, capsys):
    real_train = experiments_module.train

    def train_that_breaks_on_seed_1(config, **kwargs):
        if config.seed == 1 and not config.use_target_network:
            raise RuntimeError("boom")
        return real_train(config, **kwargs)

    monkeypatch.setattr(experiments_module, "train", train_that_breaks_on_seed_1)
    results = run(tmp_path, n_jobs=1, cache=False)
    assert results.failures == [("no target", 1, "RuntimeError: boom")]
    assert "'no target' seed 1: RuntimeError: boom" in capsys.readouterr().out
    assert len(results.runs) == 4 and results.runs.error.notna().sum() == 1
    assert set(zip(results.episodes.variant, results.episodes.seed)) == {("control", 0), ("control", 1),
                                                                          ("no target", 0)}


def test_agents_can_be_kept(tmp_path):
    results = run(tmp_path, n_jobs=1, keep_agents=True)
    agent = results.agents[("control", 0)]
    first_states = results.rollouts[(results.rollouts.variant == "control") & (results.rollouts.seed == 0)]
    # the rebuilt agent predicts exactly what the trained one predicted in its final evaluation
    start_obs = make_vector_env("CartPole-v1", 3).reset(seed=0 + FINAL_EVAL_SEED_OFFSET)
    assert agent.q_values(start_obs).max(axis=1) == pytest.approx(first_states.q_start.to_numpy(), rel=1e-5)
    # its exploration is seeded by the run's seed: epsilon-greedy actions repeat from one call to the next
    again = run(tmp_path, n_jobs=1, keep_agents=True).agents[("control", 0)]
    for kept in (agent, again):
        kept.epsilon = 1.0
    obs = make_vector_env("CartPole-v1", 8).reset(seed=5)
    assert [list(agent.act(obs)) for _ in range(5)] == [list(again.act(obs)) for _ in range(5)]
    other_seed = results.agents[("control", 1)]
    other_seed.epsilon = 1.0
    assert [list(other_seed.act(obs)) for _ in range(5)] != [list(agent.act(obs)) for _ in range(5)]


def test_bad_arguments_are_explained(tmp_path):
    with pytest.raises(TypeError, match="DQNConfig"):
        run_experiments({"a": {"lr": 1}}, seeds=[0])
    with pytest.raises(ValueError, match="seeds is empty"):
        run_experiments(TINY, seeds=[])
    with pytest.raises(ValueError, match="backend"):
        run_experiments(TINY, seeds=[0], backend="spark")


def test_dask_backend_on_a_local_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        on_dask = run(tmp_path, backend="dask", cache=False)
    local = run(tmp_path, n_jobs=1, cache=False)
    assert on_dask.runs.error.isna().all()
    pd.testing.assert_frame_equal(on_dask.episodes, local.episodes)


def test_dask_backend_without_a_client_says_how_to_start_one():
    pytest.importorskip("distributed")
    with pytest.raises(RuntimeError, match="LocalCluster"):
        run_experiments(TINY, seeds=[0], backend="dask", cache=False, progress=False)


def test_env_presets_change_only_what_they_list():
    from dqn_helpers.presets import PRESETS

    defaults = DQNConfig()
    for env_id, fields in PRESETS.items():
        config = DQNConfig.for_env(env_id, seed=7)
        assert config.env_id == env_id and config.seed == 7
        for name, value in defaults.to_dict().items():
            if name not in ("env_id", "seed"):
                assert getattr(config, name) == fields.get(name, value), (env_id, name)
    assert DQNConfig.for_env("MountainCar-v0").replace(env_id="CartPole-v1") == defaults  # no preset: defaults
    assert DQNConfig.for_env("Acrobot-v1", learning_rate=1e-3).learning_rate == 1e-3  # overrides win


# --- functions of the seed (notebook 01's tabular learners, notebook 09's own DQN) ---

STEP_SIZE = 0.5  # read by noisy_learner: a change of this value must change the cache key


def scaled(values):
    return [STEP_SIZE * v for v in values]


def noisy_learner(seed, n=4):
    """A stand-in for a notebook's training loop: scalars, a frame and an array."""
    import numpy as np

    rng = np.random.default_rng(seed)
    curve = scaled(rng.random(n).tolist())
    return {"final_return": float(curve[-1]), "solved": curve[-1] > 0.25,
            "evaluations": pd.DataFrame({"env_step": range(n), "greedy_return": curve}),
            "q_table": np.full((2, 2), seed)}


def test_a_function_of_the_seed_runs_like_a_config_with_scalars_frames_and_outputs(tmp_path):
    from functools import partial

    results = run_experiments({"four": noisy_learner, "six": partial(noisy_learner, n=6)}, seeds=[3, 4],
                              n_jobs=2, cache_dir=tmp_path, progress=False)
    assert not results.failures and results.runs.error.isna().all()
    assert set(zip(results.runs.variant, results.runs.seed)) == {("four", 3), ("four", 4), ("six", 3), ("six", 4)}
    row = results.runs.set_index(["variant", "seed"]).loc[("six", 4)]
    assert row.final_return == pytest.approx(noisy_learner(4, n=6)["final_return"])
    assert len(results.evaluations[(results.evaluations.variant == "six")]) == 2 * 6
    assert (results.outputs[("four", 3)]["q_table"] == 3).all()
    assert results.summary("final_return").loc["four", "seeds"] == 2


def test_a_function_is_cached_and_an_edit_of_what_it_reads_starts_afresh(tmp_path, monkeypatch):
    import sys

    kwargs = dict(seeds=[0, 1], n_jobs=1, cache_dir=tmp_path, progress=False)
    first = run_experiments({"f": noisy_learner}, **kwargs)
    assert not first.runs.cached.any()
    again = run_experiments({"f": noisy_learner}, **kwargs)
    assert again.runs.cached.all()
    pd.testing.assert_frame_equal(first.evaluations, again.evaluations)
    # a constant the function reads through a helper of its module: a new value, a new run
    monkeypatch.setattr(sys.modules[__name__], "STEP_SIZE", 0.25)
    edited = run_experiments({"f": noisy_learner}, **kwargs)
    assert not edited.runs.cached.any()
    assert edited.runs.final_return.tolist() == pytest.approx([r / 2 for r in first.runs.final_return])


def test_a_failing_function_keeps_its_traceback_and_summary_explains_when_all_failed(tmp_path, capsys):
    def broken(seed):
        raise ZeroDivisionError(f"seed {seed}")

    results = run_experiments({"broken": broken}, seeds=[0, 1], n_jobs=1, cache=False, progress=False)
    assert [f[:2] for f in results.failures] == [("broken", 0), ("broken", 1)]
    assert "ZeroDivisionError" in results.tracebacks[("broken", 1)] and "raise" in results.tracebacks[("broken", 1)]
    with pytest.raises(ValueError, match="every run failed"):
        results.summary()
    assert "2 of 2 runs failed" in capsys.readouterr().out


def test_a_function_on_a_dask_local_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        on_dask = run_experiments({"f": noisy_learner}, seeds=[0, 1, 2], backend="dask",
                                  cache_dir=tmp_path, progress=False)
    local = run_experiments({"f": noisy_learner}, seeds=[0, 1, 2], n_jobs=1, cache=False, progress=False)
    assert not on_dask.failures and not on_dask.runs.cached.any()
    pd.testing.assert_frame_equal(on_dask.evaluations, local.evaluations)


# --- everything is checked before the first run ---

@pytest.mark.parametrize("seeds, message", [([0.5], "whole number"), ([0, 0], "more than once"),
                                            ([-1], ">= 0"), ([], "seeds is empty")])
def test_bad_seeds_are_refused_up_front(seeds, message):
    with pytest.raises(ValueError, match=message):
        run_experiments(TINY, seeds=seeds, cache=False, progress=False)


def test_bad_settings_are_refused_before_any_run(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="not a writable folder"):
        run_experiments(noisy_learner, seeds=[0], cache_dir=blocker, progress=False)
    with pytest.raises(ValueError, match="final_eval_episodes"):
        run_experiments(TINY, seeds=[0], final_eval_episodes=-3, cache=False, progress=False)
    with pytest.raises(ValueError, match="n_jobs"):
        run_experiments(TINY, seeds=[0], n_jobs=0, cache=False, progress=False)
    with pytest.raises(ValueError, match="does not know env"):
        run_experiments(TINY.replace(env_id="NoSuchEnv-v9"), seeds=[0], cache=False, progress=False)


def test_an_env_registered_here_works_in_worker_processes_and_its_registration_keys_the_cache(tmp_path):
    import gymnasium as gym

    env_id = "RunnerTestCartPole-v0"  # an id no other test registers (the finally removes it)
    config = TINY.replace(env_id=env_id, eval_every=0)
    try:
        gym.register(env_id, entry_point="gymnasium.envs.classic_control:CartPoleEnv", max_episode_steps=30)
        short = run_experiments(config, seeds=[0, 1], n_jobs=2, cache_dir=tmp_path, progress=False,
                                final_eval_episodes=2)
        assert not short.failures, short.failures
        assert short.rollouts.episode_return.max() <= 30
        del gym.registry[env_id]
        gym.register(env_id, entry_point="gymnasium.envs.classic_control:CartPoleEnv", max_episode_steps=60)
        longer = run_experiments(config, seeds=[0, 1], n_jobs=2, cache_dir=tmp_path, progress=False,
                                 final_eval_episodes=2)
        assert not longer.runs.cached.any(), "a re-registered env id reused results of its old settings"
    finally:
        gym.registry.pop(env_id, None)
