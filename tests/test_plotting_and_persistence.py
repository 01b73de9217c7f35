import numpy as np
import pandas as pd
import pytest

from dqn_helpers import DeepQLearner
from dqn_helpers.persistence import load_agent, save_agent
from dqn_helpers.plotting import plot_returns, rolling_returns


def fake_episodes(seed: int, n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "env_step": np.sort(rng.integers(0, 10_000, size=n)),
        "env": rng.integers(0, 4, size=n),
        "episode_return": rng.uniform(0, 500, size=n),
        "length": rng.integers(1, 500, size=n),
        "epsilon": np.linspace(1, 0.05, n),
    })


def test_rolling_mean_is_per_run_and_ordered_by_step():
    a, b = fake_episodes(0).assign(seed=0), fake_episodes(1).assign(seed=1)
    data = rolling_returns(pd.concat([b, a]), window=5, run_col="seed")
    for seed, expected in ((0, a), (1, b)):
        got = data[data["seed"] == seed]["rolling_return"].to_numpy()
        np.testing.assert_allclose(got, expected["episode_return"].rolling(5, min_periods=1).mean())


def test_one_run_plot_is_labelled_and_saved(tmp_path):
    ax = plot_returns(fake_episodes(0), window=10, threshold=475, title="A title", path=tmp_path / "r.png")
    assert ax.get_xlabel() == "env steps" and "episode return" in ax.get_ylabel()
    assert ax.get_title() == "A title"
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_several_runs_with_hue_draw_one_band_per_group():
    frames = [fake_episodes(s).assign(seed=s, variant=v) for s in range(3) for v in ("dqn", "no replay")]
    ax = plot_returns(pd.concat(frames), run_col="seed", hue="variant")
    assert len(ax.collections) >= 2  # two confidence bands
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "dqn" in labels and "no replay" in labels


def test_plot_errors_are_explained():
    with pytest.raises(ValueError, match="No finished episodes"):
        plot_returns(fake_episodes(0).iloc[:0])
    with pytest.raises(ValueError, match="lacks column"):
        plot_returns(pd.DataFrame({"step": [1], "ret": [2.0]}))


def test_save_and_load_round_trip(tmp_path):
    agent = DeepQLearner(4, 2, hidden_sizes=(8, 8), double_dqn=True, seed=0)
    path = save_agent(agent, tmp_path / "nested" / "agent.pt", note="hello")
    loaded = load_agent(path)
    obs = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(obs), agent.q_values(obs))
    assert loaded.settings == agent.settings and loaded.metadata == {"note": "hello"}
    with pytest.raises(FileNotFoundError, match="save_agent"):
        load_agent(tmp_path / "missing.pt")
