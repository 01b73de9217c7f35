"""Rolling-mean return plots for one run or several seeds.

Used by ``python -m dqn_helpers train --plot`` and the README's Python example. (The
notebooks judge agents by greedy evaluations and draw those per seed with seaborn.)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def rolling_returns(
    episodes: pd.DataFrame,
    window: int = 20,
    run_col: str | None = None,
    value_col: str = "episode_return",
) -> pd.DataFrame:
    """Add a column ``rolling_return``: the mean of the last ``window`` episodes of each run.

    Episodes are ordered by ``env_step`` within a run; a run is one value of
    ``run_col`` (e.g. ``"seed"``) or the whole frame if ``run_col`` is None.
    """
    if window <= 0:
        raise ValueError(f"window must be a positive number of episodes, got {window}.")
    missing = {"env_step", value_col} - set(episodes.columns)
    if missing:
        raise ValueError(
            f"The episodes frame lacks column(s) {sorted(missing)}; pass TrainingResult.episodes "
            f"(or a frame with env_step and {value_col})."
        )
    keys = [run_col] if run_col else []
    data = episodes.sort_values(keys + ["env_step"], kind="stable").reset_index(drop=True)
    rolled = data.groupby(keys)[value_col] if keys else data[value_col]

    def roll(series):
        return series.rolling(window, min_periods=1).mean()

    data["rolling_return"] = rolled.transform(roll) if keys else roll(rolled)
    return data


def plot_returns(
    episodes: pd.DataFrame,
    window: int = 20,
    run_col: str | None = None,
    hue: str | None = None,
    hue_order: list | None = None,
    threshold: float | None = None,
    n_bins: int = 60,
    ax: plt.Axes | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> plt.Axes:
    """Plot the rolling-mean episode return against env steps.

    * One run (``run_col=None``): a line of the rolling mean, the raw returns faint behind it.
    * Several runs (``run_col="seed"``): each run's rolling mean is averaged over
      a common grid of ``n_bins`` env-step bins, then seaborn draws the mean over
      runs with a 95% confidence band; ``hue`` splits the runs into groups
      (e.g. ``hue="variant"`` for an ablation).

    Args:
        episodes: ``TrainingResult.episodes`` or several of them concatenated with
            a ``run_col`` (and ``hue``) column.
        window: episodes in the rolling mean.
        hue_order: order (and hence colours) of the ``hue`` groups; sorted by
            default, so that other seaborn plots with ``hue_order=sorted(...)``
            give each group the same colour.
        threshold: draw the env's "solved" line at this return.
        ax: draw into these Axes (a new figure otherwise).
        title: the plot's title (say what it shows).
        path: also save the figure to this file (png, pdf, svg).

    Returns:
        The matplotlib Axes, to adjust further.
    """
    if episodes.empty:
        raise ValueError("No finished episodes to plot: train for more steps first.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    runs = [c for c in (hue, run_col) if c]
    if runs:  # one run = one combination of the hue and run columns
        episodes = episodes.assign(_run=episodes[runs].astype(str).agg("/".join, axis=1))
    data = rolling_returns(episodes, window, run_col="_run" if runs else None)
    if not runs:
        ax.plot(data["env_step"], data["episode_return"], color="tab:blue", alpha=0.2, lw=0.8, label="episode")
        ax.plot(data["env_step"], data["rolling_return"], color="tab:blue", lw=2, label=f"mean of last {window}")
    else:
        edges = np.linspace(0, data["env_step"].max(), n_bins + 1)
        # runs end episodes at different steps: average each run within common step bins
        bin_index = np.clip(np.searchsorted(edges, data["env_step"]) - 1, 0, n_bins - 1)
        data["env_step_bin"] = edges[1:][bin_index]
        binned = data.groupby(["_run", "env_step_bin"] + ([hue] if hue else []), as_index=False)[
            "rolling_return"].mean()
        if hue and hue_order is None:
            hue_order = sorted(binned[hue].unique())
        sns.lineplot(data=binned, x="env_step_bin", y="rolling_return", hue=hue, hue_order=hue_order,
                     errorbar=("ci", 95), ax=ax)
    if threshold is not None:
        ax.axhline(threshold, color="gray", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"episode return (rolling mean of {window})")
    ax.set_title(title or "Episode return during training")
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight", dpi=120)
    return ax
