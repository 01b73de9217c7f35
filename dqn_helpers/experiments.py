"""One runner for every multi-seed experiment: variants x seeds, in parallel, cached.

Used by every notebook that compares settings (from ``notebooks/02_q_networks.ipynb``
on) and by ``benchmarks/time_to_solve.py``.

An experiment in this series is a few *variants* (named configs that differ from a
control in one field) run on the same seeds. ``run_experiments`` trains each
(variant, seed) pair once, evaluates the trained agent greedily on fresh seeded
episodes, and returns tidy DataFrames with ``variant`` and ``seed`` columns, ready
for seaborn. Three things make it pleasant to use:

* **parallel**: runs go to all local cores through joblib, or to a Dask cluster
  with ``backend="dask"`` (start a ``distributed.Client`` first);
* **cached**: a finished run is stored on disk under a key made of its full config,
  the evaluation settings and a hash of the package's source, so re-running a
  notebook cell is instant and any change to ``dqn_helpers`` starts afresh.
  ``cache=False`` (or the environment variable ``DQN_CACHE=0``) turns it off;
  ``DQN_CACHE_DIR`` moves it (default ``~/.cache/dqn_helpers``);
* **forgiving**: a run that raises is reported with its variant, seed and error,
  and the other runs' results are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import joblib
import pandas as pd
from tqdm import tqdm  # the text bar: it updates in place in JupyterLab too, and a saved notebook shows its last state

from dqn_helpers.config import DQNConfig
from dqn_helpers.evaluation import greedy_rollouts
from dqn_helpers.learner import DeepQLearner
from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET
from dqn_helpers.training import train

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class ExperimentResults:
    """What :func:`run_experiments` returns; every frame has ``variant`` and ``seed`` columns.

    ``runs``: one row per (variant, seed): ``solved_at_step``, ``solved_at_seconds``,
    ``wall_seconds``, ``cpu_seconds``, ``peak_rss_mb`` (of the worker process), ``env_steps``,
    ``n_updates``, ``final_return_mean`` (greedy, on fresh episodes), ``q_start_mean``
    (predicted value of those episodes' first states),
    ``discounted_return_mean`` (what they actually collected, discounted), ``q_abs_error``
    (mean over episodes of ``|q_start - discounted_return|``), ``q_ratio``
    (``q_start_mean / discounted_return_mean``), ``cached`` and ``error`` (None if it ran).
    ``episodes``, ``evaluations``, ``updates``: the frames of :class:`TrainingResult`.
    ``rollouts``: the final greedy episodes, one row each (see ``greedy_rollouts``).
    ``agents``: ``{(variant, seed): DeepQLearner}`` when ``keep_agents=True``.
    ``failures``: ``[(variant, seed, message)]`` of the runs that raised.
    """

    runs: pd.DataFrame
    episodes: pd.DataFrame
    evaluations: pd.DataFrame
    updates: pd.DataFrame
    rollouts: pd.DataFrame
    agents: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def summary(self, metric: str = "final_return_mean") -> pd.DataFrame:
        """Mean, std, min and max of one ``runs`` column per variant, with the number of seeds."""
        grouped = self.runs.groupby("variant", sort=False)[metric]
        return grouped.agg(["mean", "std", "min", "max", "count"]).rename(columns={"count": "seeds"})


@lru_cache(maxsize=1)
def source_version() -> str:
    """SHA-256 of every source file of the package: part of each cache key."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("DQN_CACHE_DIR") or Path.home() / ".cache" / "dqn_helpers")


def run_one(config: DQNConfig, final_eval_episodes: int = 20) -> dict:
    """Train one config, evaluate it greedily on fresh episodes; return plain data (picklable).

    This is what each worker runs. Never raises: an error comes back as text, so one
    broken run cannot take the others down with it.
    """
    try:
        cpu_start = time.process_time()
        result = train(config, progress=False)
        if result.interrupted:  # train() returns on Ctrl-C; here it must stop the whole experiment
            raise KeyboardInterrupt
        row = {
            "cpu_seconds": time.process_time() - cpu_start,
            "peak_rss_mb": _peak_rss_mb(),
            "solved_at_step": result.solved_at_step, "solved_at_seconds": result.solved_at_seconds,
            "wall_seconds": result.wall_seconds, "env_steps": result.env_steps, "n_updates": result.n_updates,
            "reward_threshold": result.reward_threshold, "error": None,
        }
        rollouts = pd.DataFrame()
        if final_eval_episodes:
            rollouts = greedy_rollouts(result.agent, config.env_id, final_eval_episodes,
                                       seed=config.seed + FINAL_EVAL_SEED_OFFSET)
            q, collected = rollouts["q_start"], rollouts["discounted_return"]
            row.update(
                final_return_mean=rollouts["episode_return"].mean(), q_start_mean=q.mean(),
                discounted_return_mean=collected.mean(), q_abs_error=(q - collected).abs().mean(),
                q_ratio=q.mean() / collected.mean() if collected.mean() else float("nan"),
            )
        return {"row": row, "episodes": result.episodes, "evaluations": result.evaluations,
                "updates": result.updates, "rollouts": rollouts,
                "agent": {"settings": result.agent.settings, "weights": result.agent.state_dict()}}
    except Exception as err:  # reported per run; KeyboardInterrupt still stops everything
        message = f"{type(err).__name__}: {err}"
        return {"row": {"error": message, "traceback": traceback.format_exc()}}


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this (worker) process in MB; None where the OS does not say."""
    try:
        import resource  # Unix only
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def _cache_key(config: DQNConfig, final_eval_episodes: int) -> str:
    described = json.dumps({"config": config.to_dict(), "final_eval_episodes": final_eval_episodes,
                            "source": source_version()}, sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def _as_variants(configs: DQNConfig | Mapping[str, DQNConfig]) -> dict[str, DQNConfig]:
    if isinstance(configs, DQNConfig):
        return {"default": configs}
    if not isinstance(configs, Mapping) or not configs:
        raise TypeError("run_experiments needs a DQNConfig or a dict {variant name: DQNConfig}, "
                        f"got {type(configs).__name__}.")
    for name, config in configs.items():
        if not isinstance(config, DQNConfig):
            raise TypeError(f"variant {name!r} is a {type(config).__name__}, not a DQNConfig; "
                            f"build it with DQNConfig(...) or base.replace(...).")
    return dict(configs)


def run_experiments(
    configs: DQNConfig | Mapping[str, DQNConfig],
    seeds: Iterable[int] = range(5),
    *,
    n_jobs: int = -1,
    backend: str | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    final_eval_episodes: int = 20,
    keep_agents: bool = False,
    live: bool = False,
    on_result: Callable[[dict], None] | None = None,
) -> ExperimentResults:
    """Train every variant on every seed and return tidy results (see :class:`ExperimentResults`).

    Built for ``notebooks/02_q_networks.ipynb`` onwards.

    Args:
        configs: one :class:`DQNConfig`, or ``{variant name: config}``. Each config's
            ``seed`` is replaced by each of ``seeds``.
        seeds: the seeds every variant runs on.
        n_jobs: parallel runs (joblib; -1 = all cores, 1 = in this process).
        backend: ``None`` for local processes, ``"dask"`` to send runs to the
            ``distributed.Client`` you created (a ``LocalCluster`` or a real cluster).
        cache: reuse and store finished runs on disk (see the module docstring).
        cache_dir: where; default ``$DQN_CACHE_DIR`` or ``~/.cache/dqn_helpers``.
        progress: a progress bar over runs (works in JupyterLab and a terminal).
        final_eval_episodes: greedy episodes on fresh seeds per trained agent (0 = none).
        keep_agents: rebuild each trained agent into ``results.agents``.
        live: in a notebook, a live figure of the finished runs' greedy evaluations
            (:class:`~dqn_helpers.live.LiveRunsView`), redrawn as runs finish.
        on_result: called with each finished run's row (cached ones too).
    """
    variants = _as_variants(configs)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: pass e.g. seeds=range(5).")
    if backend not in (None, "dask"):
        raise ValueError(f"backend must be None (local cores) or 'dask', got {backend!r}.")
    if backend == "dask":
        try:
            from distributed import get_client
            get_client()
        except (ImportError, ValueError) as err:
            raise RuntimeError(
                "backend='dask' sends runs to a Dask cluster, but no client is running. Start one first: "
                "`from distributed import Client, LocalCluster; client = Client(LocalCluster())` "
                "(pip install -e '.[dask]')."
            ) from err
    use_cache = cache and os.environ.get("DQN_CACHE", "1") != "0"
    store = Path(cache_dir) if cache_dir else default_cache_dir()

    tasks = [(name, seed, config.replace(seed=seed)) for name, config in variants.items() for seed in seeds]
    outputs: dict[int, dict] = {}
    to_run = []
    for index, (_, _, config) in enumerate(tasks):
        path = store / f"{_cache_key(config, final_eval_episodes)}.joblib"
        if use_cache and path.exists():
            try:
                outputs[index] = joblib.load(path)
                outputs[index]["row"]["cached"] = True
                continue
            except Exception:  # a damaged cache file is recomputed, not fatal
                pass
        to_run.append((index, path))

    view = None
    if live:
        from dqn_helpers.live import LiveRunsView, in_notebook

        view = LiveRunsView(total_runs=len(tasks)) if in_notebook() else None

    def report(index: int) -> None:
        name, seed, _ = tasks[index]
        row = {"variant": name, "seed": seed, **outputs[index]["row"]}
        if view is not None:
            if view.threshold is None:
                view.threshold = row.get("reward_threshold")
            view.add(row, outputs[index].get("evaluations"))
        if on_result is not None:
            on_result(row)

    for index in sorted(outputs):  # the cached runs
        report(index)
    bar = tqdm(total=len(tasks), initial=len(outputs), disable=not progress, unit="run", desc="runs")
    if to_run:
        jobs = len(to_run) if n_jobs == -1 else max(1, min(n_jobs, len(to_run)))
        if backend is None and n_jobs == -1:
            jobs = min(jobs, os.cpu_count() or 1)
        calls = (joblib.delayed(_indexed)(index, tasks[index][2], final_eval_episodes) for index, _ in to_run)
        paths = dict(to_run)
        with joblib.parallel_config(backend="dask") if backend == "dask" else nullcontext():
            parallel = joblib.Parallel(n_jobs=1 if jobs == 1 and backend is None else jobs,
                                       return_as="generator_unordered")
            for index, output in parallel(calls):
                output["row"]["cached"] = False
                if use_cache and output["row"]["error"] is None:
                    _store(paths[index], output)
                outputs[index] = output
                bar.update(1)
                report(index)
    bar.close()
    if view is not None:
        view.close()
    return _collect(tasks, outputs, keep_agents)


def _indexed(index: int, config: DQNConfig, final_eval_episodes: int) -> tuple[int, dict]:
    return index, run_one(config, final_eval_episodes)


def _store(path: Path, output: dict) -> None:
    """Write a finished run to the cache atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    joblib.dump(output, partial)
    os.replace(partial, path)


def _collect(tasks: list, outputs: dict[int, dict], keep_agents: bool) -> ExperimentResults:
    rows, frames, agents, failures = [], {"episodes": [], "evaluations": [], "updates": [], "rollouts": []}, {}, []
    for index, (name, seed, _) in enumerate(tasks):
        output = outputs[index]
        row = {k: v for k, v in output["row"].items() if k != "traceback"}
        rows.append({"variant": name, "seed": seed, **row})
        if row["error"] is not None:
            failures.append((name, seed, row["error"]))
            continue
        for key in frames:
            frame = output[key]
            if len(frame):
                frames[key].append(frame.assign(variant=name, seed=seed))
        if keep_agents:
            agent = DeepQLearner(**output["agent"]["settings"])
            agent.load_state_dict(output["agent"]["weights"])
            agent.epsilon = agent.epsilon_end
            agents[(name, seed)] = agent
    if failures:
        listed = "; ".join(f"{name!r} seed {seed}: {error}" for name, seed, error in failures)
        print(f"{len(failures)} of {len(tasks)} runs failed (the other results are kept): {listed}")

    def tidy(parts: list) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["variant", "seed"])

    runs = pd.DataFrame(rows)
    return ExperimentResults(runs=runs, episodes=tidy(frames["episodes"]), evaluations=tidy(frames["evaluations"]),
                             updates=tidy(frames["updates"]), rollouts=tidy(frames["rollouts"]),
                             agents=agents, failures=failures)
