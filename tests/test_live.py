"""The live training view: what it draws, how often, and that it leaves one image in a notebook."""

import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from dqn_helpers import DQNConfig, train
from dqn_helpers.live import LiveRunsView, LiveTrainingView, _ThrottledFigure, make_live_view
from dqn_helpers.plotting import rolling_returns

ROOT = Path(__file__).resolve().parents[1]
TINY = DQNConfig(total_steps=1_200, num_envs=4, learning_starts=200, eval_every=400, eval_episodes=2,
                 hidden_sizes=(32, 32))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_row_layouts_match_the_frames_train_returns():
    result = train(TINY, total_steps=400, progress=False)
    assert tuple(result.episodes.columns) == LiveTrainingView.EPISODE_COLUMNS
    assert tuple(result.evaluations.columns) == LiveTrainingView.EVALUATION_COLUMNS
    assert tuple(result.updates.columns) == LiveTrainingView.UPDATE_COLUMNS


def test_the_figure_shows_the_runs_own_numbers():
    images = []
    view = LiveTrainingView(window=10, output=images.append)
    result = train(TINY, progress=False, live=view)
    assert images and all(png.startswith(PNG_SIGNATURE) for png in images)

    rolled = rolling_returns(result.episodes, window=10)  # the plots' own rolling mean: one definition
    np.testing.assert_allclose(view._rolling_line.get_ydata(), rolled["rolling_return"])
    np.testing.assert_allclose(view._eval_line.get_xdata(), result.evaluations["env_step"])
    np.testing.assert_allclose(view._eval_line.get_ydata(), result.evaluations["mean_return"])
    np.testing.assert_allclose(view._q_line.get_ydata(), result.updates["q_mean"])
    assert view._ceiling == pytest.approx(1 / (1 - TINY.gamma))
    assert view._epsilon_line.get_ydata()[0] == TINY.epsilon_start
    assert view._epsilon_line.get_ydata()[-1] == pytest.approx(TINY.epsilon_end)
    assert f"{result.env_steps:,} of {TINY.total_steps:,}" in view.figure._suptitle.get_text()


def test_watching_does_not_change_the_run():
    short = TINY.replace(total_steps=120, learning_starts=40, batch_size=16)  # 30 vector steps, each redrawn
    quiet = train(short, progress=False)
    watched = train(short, progress=False, live=LiveTrainingView(min_interval=0, overhead=1, output=lambda png: None))
    pd.testing.assert_frame_equal(quiet.episodes, watched.episodes)
    pd.testing.assert_frame_equal(quiet.updates, watched.updates)


def test_redraws_are_throttled():
    # A run shorter than min_interval: only its final state is drawn.
    slow = LiveTrainingView(min_interval=3600, output=lambda png: None)
    train(TINY, progress=False, live=slow)
    assert slow.n_draws == 1

    # No throttle at all: one image per vector step plus the final one.
    eager = LiveTrainingView(min_interval=0, overhead=1, output=lambda png: None)
    result = train(TINY, total_steps=40, eval_every=0, progress=False, live=eager)
    assert eager.n_draws == result.env_steps // TINY.num_envs + 1


def test_a_slow_draw_waits_in_proportion_to_its_cost():
    plot = _ThrottledFigure((2, 2), 50, min_interval=0, overhead=0.25, output=lambda png: None)
    assert plot.due()
    plot.push(lambda: time.sleep(0.05))
    # Drawing took >= 50 ms, so the next draw may start only >= 200 ms after the first began.
    assert not plot.due()
    assert plot._next_draw - time.perf_counter() > 0.1


def test_outside_a_notebook_live_true_adds_nothing():
    assert make_live_view(True, TINY, 475.0) is None  # pytest runs no Jupyter kernel
    assert make_live_view(False, TINY, 475.0) is None
    result = train(TINY, total_steps=200, progress=False, live=True)
    assert result.env_steps == 200


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="live must be True, False or a LiveTrainingView"):
        train(TINY, progress=False, live="yes")
    with pytest.raises(ValueError, match="window"):
        LiveTrainingView(window=0)
    with pytest.raises(ValueError, match="overhead"):
        LiveTrainingView(overhead=0)


def test_runs_view_draws_one_line_per_finished_run():
    images = []
    view = LiveRunsView(threshold=475, total_runs=6, min_interval=0, overhead=1, output=images.append)
    evaluations = pd.DataFrame({"env_step": [1000, 2000], "mean_return": [20.0, 80.0], "variant": "x"})
    for seed in range(3):
        view.add({"variant": "control", "seed": seed, "final_return_mean": 100.0 + seed}, evaluations)
    view.add(pd.Series({"variant": "no target", "seed": 0, "final_return_mean": float("nan")}), evaluations)
    view.add({"variant": "no target", "seed": 1, "error": "diverged"}, evaluations.iloc[:0])
    view.add({"variant": "no target", "seed": 2, "final_return_mean": 50.0})  # no evaluations: a dot only
    view.close()
    assert len(images) == 7 and images[-1].startswith(PNG_SIGNATURE)
    curves = [line for line in view.ax_curves.get_lines() if line.get_label().startswith("_") and len(line.get_xdata())]
    assert len(curves) == 4  # the failed run and the one without evaluations have no curve
    finals = sorted(line.get_ydata()[0] for line in view.ax_final.get_lines() if len(line.get_xdata()) == 1)
    assert finals == [50.0, 80.0, 100.0, 101.0, 102.0]  # NaN final return: the last evaluation instead
    assert view.figure._suptitle.get_text() == "6 of 6 runs finished (1 failed)"
    with pytest.raises(ValueError, match="variant"):
        view.add({"seed": 0}, evaluations)


def test_headless_notebook_keeps_one_final_image(tmp_path):
    """Under nbclient (what nbmake runs) every redraw replaces the last: one image output."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from dqn_helpers import DQNConfig, train\n"
        "from dqn_helpers.live import LiveTrainingView\n"
        "config = DQNConfig(total_steps=120, num_envs=4, learning_starts=40, batch_size=16, eval_every=60,"
        " eval_episodes=2, hidden_sizes=(32, 32))\n"
        "view = LiveTrainingView(min_interval=0, overhead=1)  # redraw at every step\n"
        "result = train(config, progress=False, live=view)\n"
        "print(view.n_draws, 'draws')"
    ), nbformat.v4.new_code_cell("train(config, progress=False, live=True).env_steps")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    watched, default = nb.cells[0].outputs, nb.cells[1].outputs
    images = [o for o in watched if "image/png" in o.get("data", {})]
    assert len(images) == 1 and images[0].output_type == "display_data"
    n_draws = int(next(o for o in watched if o.output_type == "stream").text.split()[0])
    assert n_draws > 10  # many updates were sent, one image was kept
    assert [o.output_type for o in default] == ["display_data", "execute_result"]  # live=True draws too
