"""Live figures of training while it happens, in JupyterLab and under nbmake alike.

First shown in ``notebooks/02_q_networks.ipynb``; used again in notebooks 04 and 07.

How it works: the figure is a plain matplotlib ``Figure`` drawn with the Agg backend
(no GUI, no pyplot, so the inline backend never shows a stray copy) and sent to the
notebook as a PNG through an IPython *display handle*. Every redraw replaces that one
output in place, so a notebook executed headless (nbmake, ``make notebooks``) ends
with a single ordinary image: the final state. In a terminal there is no notebook to
draw into and ``train(live=True)`` keeps just the tqdm bar.

Drawing costs tens of milliseconds, far more than one training step, so the view
redraws at most every ``min_interval`` seconds and stretches that interval when
drawing is slow, keeping its share of the wall time under ``overhead``
(``benchmarks/live_view_overhead.py`` measures the total cost).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Output = Callable[[bytes], None]  # receives each redraw as PNG bytes


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbmake), False in a terminal or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class _DisplayHandleOutput:
    """Shows PNG bytes in the notebook, replacing the previous image in place."""

    def __init__(self):
        self.handle = None

    def __call__(self, png: bytes) -> None:
        from IPython.display import Image, display

        image = Image(data=png, format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


class _ThrottledFigure:
    """A figure that redraws at most every ``min_interval`` s and at most ``overhead`` of the time."""

    def __init__(self, figsize, dpi, min_interval: float, overhead: float, output: Output | None):
        if min_interval < 0:
            raise ValueError(f"min_interval must be >= 0 seconds, got {min_interval}.")
        if not 0 < overhead <= 1:
            raise ValueError(f"overhead must be a fraction in (0, 1], got {overhead} (try 0.02).")
        # Imported here, not at the top: train() imports this module and must stay quick to load.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if output is None and in_notebook():
            output = _DisplayHandleOutput()
        self.output = output
        self.min_interval = min_interval
        self.overhead = overhead
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self._canvas = FigureCanvasAgg(self.figure)
        self._next_draw = time.perf_counter() + min_interval  # the first image after min_interval
        self.n_draws = 0  # how many images went to the output
        self.draw_seconds = 0.0  # time spent drawing them

    def hold(self, seconds: float) -> None:
        """No redraw for the next ``seconds`` (a run that ends sooner draws just its final state)."""
        self._next_draw = time.perf_counter() + seconds

    def due(self) -> bool:
        """Whether a redraw is allowed now (cheap: one clock read)."""
        return self.output is not None and time.perf_counter() >= self._next_draw

    def push(self, redraw: Callable[[], None]) -> None:
        """Redraw the artists, render a PNG and send it; schedule the next allowed redraw."""
        start = time.perf_counter()
        redraw()
        png = self.png()
        if self.output is not None:
            self.output(png)
            self.n_draws += 1
        cost = time.perf_counter() - start
        self.draw_seconds += cost
        # Slow draws push the next one further away: drawing stays under `overhead` of the time.
        self._next_draw = start + max(self.min_interval, cost / self.overhead)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self._canvas.print_png(buffer)
        return buffer.getvalue()


class LiveTrainingView:
    """Live figure of one training run: returns, epsilon and the mean predicted Q.

    First shown in ``notebooks/02_q_networks.ipynb``. Use it through
    ``train(config, live=True)``, or pass an instance to choose its settings:
    ``train(config, live=LiveTrainingView(window=50))``.

    Three panels against env steps:

    * episode return: rolling mean of the training episodes (exploration included),
      the periodic greedy evaluations (mean and a band of one standard deviation)
      and the env's reward threshold;
    * epsilon, the exploration rate;
    * the mean predicted Q of the sampled batches against ``1 / (1 - gamma)``, the
      discounted return of an episode that never ends with reward 1 per step (the
      ceiling for CartPole; set ``q_ceiling=False`` to hide it for other rewards).

    Args:
        window: episodes in the rolling mean of the training return.
        min_interval: seconds between two redraws at least.
        overhead: largest share of the wall time spent drawing; slower draws are
            spaced further apart.
        output: where images go: ``None`` = a display handle in a notebook and
            nowhere elsewhere; or a function receiving PNG bytes (tests use this).
        q_ceiling: draw the ``1 / (1 - gamma)`` line.
    """

    # The row layouts train() appends to; tests/test_live.py checks they match its frames.
    EPISODE_COLUMNS = ("env_step", "env", "episode_return", "length", "epsilon")
    EVALUATION_COLUMNS = ("env_step", "wall_seconds", "mean_return", "std_return")
    UPDATE_COLUMNS = ("env_step", "update", "loss", "q_mean")

    def __init__(
        self,
        window: int = 20,
        min_interval: float = 0.5,
        overhead: float = 0.02,
        output: Output | None = None,
        q_ceiling: bool = True,
        dpi: int = 72,
    ):
        if int(window) <= 0:
            raise ValueError(f"window must be a positive number of episodes, got {window}.")
        self.window = int(window)
        self.q_ceiling = q_ceiling
        self._plot = _ThrottledFigure((11, 3.6), dpi, min_interval, overhead, output)
        self._episodes: Sequence = ()
        self._evaluations: Sequence = ()
        self._updates: Sequence = ()
        self._env_steps, self._epsilon = 0, 1.0
        self._started = False

    # -- the three calls train() makes -------------------------------------------------
    def start(self, config, reward_threshold: float | None) -> None:
        """Lay out the empty figure for a run of ``config`` (a DQNConfig)."""
        self._config, self._start = config, time.perf_counter()
        self._plot.hold(self._plot.min_interval)
        fig = self._plot.figure
        fig.clear()
        self.ax_return, self.ax_epsilon, self.ax_q = fig.subplots(1, 3)
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.76, wspace=0.28)
        for ax in (self.ax_return, self.ax_epsilon, self.ax_q):
            ax.set_xlim(0, config.total_steps)
            ax.set_xlabel("env steps")
            ax.grid(alpha=0.3)
            ax.locator_params(nbins=4)  # text is most of a redraw's cost: few tick labels
            # "100k" fits under the axis where "100000" is clipped
            ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k" if x else "0")

        ax = self.ax_return
        (self._rolling_line,) = ax.plot([], [], color="tab:blue", lw=1.2,
                                        label=f"training, mean of last {self.window} episodes")
        (self._eval_line,) = ax.plot([], [], "o-", color="tab:orange", ms=3, lw=1.2, label="greedy evaluation")
        self._eval_band = None
        if reward_threshold is not None:
            ax.axhline(reward_threshold, color="tab:green", ls="--", lw=1, label=f"threshold {reward_threshold:g}")
        ax.set_ylabel("episode return")
        _legend_above(ax)

        (self._epsilon_line,) = self.ax_epsilon.plot([], [], color="tab:purple", lw=1.2,
                                                     label="exploration rate (epsilon)")
        self.ax_epsilon.set_ylim(0, 1.02)
        self.ax_epsilon.set_ylabel("epsilon")
        _legend_above(self.ax_epsilon)

        (self._q_line,) = self.ax_q.plot([], [], color="tab:red", lw=1.2, label="mean predicted Q (batch)")
        self._ceiling = None
        if self.q_ceiling and config.gamma < 1:
            self._ceiling = 1.0 / (1.0 - config.gamma)
            self.ax_q.axhline(self._ceiling, color="gray", ls="--", lw=1,
                              label=f"1/(1-gamma) = {self._ceiling:.0f}")
        self.ax_q.set_ylabel("Q")
        _legend_above(self.ax_q)
        self._threshold = reward_threshold
        self._started = True

    def update(self, env_steps: int, epsilon: float, episodes: Sequence, evaluations: Sequence,
               updates: Sequence) -> None:
        """Called by train() after every vector step with its growing row lists (not copied).

        Returns at once unless a redraw is due, so calling it every step costs next to nothing.
        """
        if not self._plot.due():
            return
        self._episodes, self._evaluations, self._updates = episodes, evaluations, updates
        self._env_steps, self._epsilon = env_steps, epsilon
        self._plot.push(self._redraw)

    def close(self, env_steps: int, epsilon: float, episodes: Sequence, evaluations: Sequence,
              updates: Sequence) -> None:
        """Draw the final state; in a notebook it stays as an ordinary image output.

        A run that stopped before its budget (``stop_when_solved``) gets axes that end where it
        stopped, so its curves fill the figure instead of its first quarter."""
        self._episodes, self._evaluations, self._updates = episodes, evaluations, updates
        self._env_steps, self._epsilon = env_steps, epsilon
        if self._started and 0 < env_steps < self._config.total_steps:
            for ax in (self.ax_return, self.ax_epsilon, self.ax_q):
                ax.set_xlim(0, env_steps * 1.03)
        if self._plot.output is not None:
            self._plot.push(self._redraw)

    # -- drawing -----------------------------------------------------------------------
    @property
    def figure(self) -> Figure:
        """The figure with the latest data (drawn now)."""
        if self._started:
            self._redraw()
        return self._plot.figure

    @property
    def n_draws(self) -> int:
        """Images sent to the output so far."""
        return self._plot.n_draws

    @property
    def draw_seconds(self) -> float:
        """Wall time spent drawing so far."""
        return self._plot.draw_seconds

    def _redraw(self) -> None:
        episodes = np.asarray(self._episodes, dtype=np.float64).reshape(-1, len(self.EPISODE_COLUMNS))
        steps, returns, epsilons = episodes[:, 0], episodes[:, 2], episodes[:, 4]
        self._rolling_line.set_data(steps, _rolling_mean(returns, self.window))
        self._epsilon_line.set_data(np.concatenate([[0], steps, [self._env_steps]]),
                                    np.concatenate([[self._config.epsilon_start], epsilons, [self._epsilon]]))

        evaluations = np.asarray(self._evaluations, dtype=np.float64).reshape(-1, len(self.EVALUATION_COLUMNS))
        eval_steps, means, stds = evaluations[:, 0], evaluations[:, 2], evaluations[:, 3]
        self._eval_line.set_data(eval_steps, means)
        if self._eval_band is not None:
            self._eval_band.remove()
        self._eval_band = self.ax_return.fill_between(eval_steps, means - stds, means + stds,
                                                      color="tab:orange", alpha=0.2, lw=0)

        updates = np.asarray(self._updates, dtype=np.float64).reshape(-1, len(self.UPDATE_COLUMNS))
        self._q_line.set_data(updates[:, 0], updates[:, 3])

        lows = [0.0, *returns, *(means - stds)] + ([self._threshold] if self._threshold is not None else [])
        highs = [1.0, *returns, *(means + stds)] + ([self._threshold] if self._threshold is not None else [])
        _set_ylim(self.ax_return, min(lows), max(highs))
        q_values = [0.0, *updates[:, 3]] + ([self._ceiling] if self._ceiling is not None else [])
        _set_ylim(self.ax_q, min(q_values), max(q_values))

        seconds = time.perf_counter() - self._start
        last = f" · last greedy evaluation {means[-1]:.0f} ± {stds[-1]:.0f}" if len(means) else ""
        self._plot.figure.suptitle(
            f"{self._config.env_id}: {self._env_steps:,} of {self._config.total_steps:,} env steps "
            f"in {seconds:.0f} s{last}", fontsize=11)


class LiveRunsView:
    """Live figure of an experiment's finished runs, one line per (variant, seed).

    For the experiment runner (``dqn_helpers.experiments.run_experiments``): it calls
    :meth:`add` once per finished run and :meth:`close` at the end. Left: each run's
    greedy evaluations against env steps, coloured by variant, with the threshold.
    Right: each run's final greedy return (``final_return_mean``, or its last periodic
    evaluation when that is missing), one dot per seed and variant.

    Args:
        threshold: the env's reward threshold (a dashed line), or None.
        total_runs: how many runs to expect (for the title), or None.
        min_interval, overhead, output: as in :class:`LiveTrainingView`.
    """

    def __init__(self, threshold: float | None = None, total_runs: int | None = None,
                 min_interval: float = 0.5, overhead: float = 0.02, output: Output | None = None,
                 dpi: int = 72):
        self.threshold = threshold
        self.total_runs = total_runs
        self._plot = _ThrottledFigure((11, 3.6), dpi, min_interval, overhead, output)
        self.ax_curves, self.ax_final = self._plot.figure.subplots(1, 2, width_ratios=[2, 1])
        self._plot.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.78, wspace=0.22)
        self._runs: list[tuple[str, int, np.ndarray, np.ndarray, float]] = []
        self._variants: list[str] = []
        self._failed = 0

    def add(self, run_row: Mapping, evaluations=None) -> None:
        """Record one finished run and redraw if a redraw is due.

        Args:
            run_row: the run's row of ``results.runs`` (a dict or pandas Series) with
                ``variant``, ``seed`` and optionally ``final_return_mean`` and ``error``.
            evaluations: that run's periodic evaluations (a DataFrame with ``env_step``
                and ``mean_return``; extra columns are ignored), or None: the run
                then appears only in the right panel.
        """
        missing = {"variant", "seed"} - set(run_row.keys())
        if missing:
            raise ValueError(f"run_row lacks {sorted(missing)}; pass one row of results.runs.")
        variant = str(run_row["variant"])
        if run_row.get("error"):
            self._failed += 1
        else:
            has_curve = evaluations is not None and len(evaluations) > 0
            steps = np.asarray(evaluations["env_step"], dtype=np.float64) if has_curve else np.zeros(0)
            means = np.asarray(evaluations["mean_return"], dtype=np.float64) if has_curve else np.zeros(0)
            final = run_row.get("final_return_mean")
            if final is None or (isinstance(final, float) and np.isnan(final)):
                final = means[-1] if len(means) else np.nan
            if variant not in self._variants:
                self._variants.append(variant)
            self._runs.append((variant, int(run_row["seed"]), steps, means, float(final)))
        if self._plot.due():
            self._plot.push(self._redraw)

    def close(self) -> None:
        """Draw the final state (all runs)."""
        if self._plot.output is not None:
            self._plot.push(self._redraw)

    @property
    def figure(self) -> Figure:
        self._redraw()
        return self._plot.figure

    @property
    def n_draws(self) -> int:
        return self._plot.n_draws

    def _redraw(self) -> None:
        colors = {v: f"C{i % 10}" for i, v in enumerate(self._variants)}
        ax = self.ax_curves
        ax.clear()
        for variant, _seed, steps, means, _final in self._runs:
            ax.plot(steps, means, color=colors[variant], lw=0.9, alpha=0.7)
        for variant in self._variants:  # one legend entry per variant
            ax.plot([], [], color=colors[variant], label=variant)
        if self.threshold is not None:
            ax.axhline(self.threshold, color="tab:green", ls="--", lw=1, label=f"threshold {self.threshold:g}")
        ax.set_xlabel("env steps")
        ax.set_ylabel("greedy evaluation return")
        ax.grid(alpha=0.3)
        if self._variants or self.threshold is not None:
            _legend_above(ax)

        ax = self.ax_final
        ax.clear()
        for variant, seed, _steps, _means, final in self._runs:
            x = self._variants.index(variant) + 0.25 * ((seed % 7) / 6 - 0.5)  # spread seeds a little
            ax.plot(x, final, "o", color=colors[variant], ms=4)
        if self.threshold is not None:
            ax.axhline(self.threshold, color="tab:green", ls="--", lw=1)
        ax.set_xticks(range(len(self._variants)), self._variants, fontsize=8)
        ax.set_xlim(-0.6, max(len(self._variants), 1) - 0.4)
        ax.set_ylabel("final greedy return")
        ax.grid(alpha=0.3)

        done = f"{len(self._runs) + self._failed}" + (f" of {self.total_runs}" if self.total_runs else "")
        failed = f" ({self._failed} failed)" if self._failed else ""
        self._plot.figure.suptitle(f"{done} runs finished{failed}", fontsize=11)


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(len(values)) + 1 - counts]) / counts


def _legend_above(ax) -> None:
    """Legend in the space above the axes, off the data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, fontsize=7, frameon=False,
              borderaxespad=0, handlelength=1.5, columnspacing=1)


def _set_ylim(ax, low: float, high: float) -> None:
    pad = 0.05 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)


def make_live_view(live, config, reward_threshold: float | None):
    """What ``train(live=...)`` uses: None (no live view) or a started view.

    ``live=True`` means a :class:`LiveTrainingView` in a notebook and nothing in a
    terminal (the tqdm bar is the progress there); a view instance is used as given.
    """
    if live is False or live is None:
        return None
    if live is True:
        if not in_notebook():
            return None
        live = LiveTrainingView()
    if not all(hasattr(live, name) for name in ("start", "update", "close")):
        raise TypeError(f"live must be True, False or a LiveTrainingView, got {type(live).__name__}.")
    live.start(config, reward_threshold)
    return live
