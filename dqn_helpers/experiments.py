"""One runner for every multi-seed experiment: variants x seeds, in parallel, cached.

Used by every notebook that compares settings or repeats a run over seeds (notebook 01's
tabular learners, the DQN variants of notebooks 02-08, the reader's own DQN in 09) and by
``benchmarks/time_to_solve.py``.

An experiment in this series is a few *variants* (a control and versions of it that
differ in one thing) run on the same seeds. A variant is either

* a :class:`DQNConfig`: the package trains it, then evaluates the trained agent greedily
  on fresh seeded episodes; or
* any **function of the seed** (``fn(seed) -> dict``), e.g. a notebook's own training loop
  (``functools.partial`` binds its other arguments). Scalars in the dict it returns become
  columns of ``results.runs``; DataFrames become tidy frames (``results.episodes`` and
  ``results.evaluations`` for those names, ``results.frames[name]`` for others); anything
  else (a Q-table, an array of counts) is kept in ``results.outputs[(variant, seed)]``.

``run_experiments`` returns tidy DataFrames with ``variant`` and ``seed`` columns, ready
for seaborn. Three things make it pleasant to use:

* **parallel**: runs go to all local cores through joblib, or to a Dask cluster
  with ``backend="dask"`` (start a ``distributed.Client`` first); an env registered in
  the notebook is registered in the worker processes too;
* **cached**: a finished run is stored on disk under a key made of everything that
  produced it (see :mod:`dqn_helpers.cache`), so re-running a notebook cell is instant
  and any change to ``dqn_helpers``, to the notebook's function or to what an env id
  means starts afresh. ``cache=False`` (or the environment variable ``DQN_CACHE=0``)
  turns it off; ``DQN_CACHE_DIR`` moves it (default ``~/.cache/dqn_helpers``);
* **forgiving**: every argument is checked before the first run starts; a run that
  raises is reported with its variant, seed, error and traceback, and the other runs'
  results are kept (and cached).
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import joblib
import pandas as pd
from tqdm import tqdm  # the text bar: it updates in place in JupyterLab too, and a saved notebook shows its last state

from dqn_helpers import validation as rule
from dqn_helpers.cache import default_cache_dir, describe_env, describe_function, digest, source_version
from dqn_helpers.config import DQNConfig
from dqn_helpers.evaluation import greedy_rollouts
from dqn_helpers.learner import DeepQLearner
from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET, random_stream
from dqn_helpers.training import train

FRAMES = ("episodes", "evaluations", "updates", "rollouts")  # the frames a DQN run returns


@dataclass
class ExperimentResults:
    """What :func:`run_experiments` returns; every frame has ``variant`` and ``seed`` columns.

    ``runs``: one row per (variant, seed). For a DQN config: ``solved_at_step``,
    ``solved_at_seconds``, ``wall_seconds``, ``cpu_seconds``, ``peak_rss_mb`` (of the worker
    process), ``env_steps``, ``n_updates``, ``final_return_mean`` (greedy, on fresh
    episodes), ``q_start_mean`` (predicted value of those episodes' first states),
    ``discounted_return_mean`` (what they actually collected, discounted), ``q_abs_error``
    (mean over episodes of ``|q_start - discounted_return|``), ``q_ratio``
    (``q_start_mean / discounted_return_mean``). For a function: the scalars it returned,
    with ``wall_seconds``. Always ``cached`` and ``error`` (None if it ran).
    ``episodes``, ``evaluations``, ``updates``: the frames of :class:`TrainingResult`
    (or a function's frames of those names). ``rollouts``: the final greedy episodes, one
    row each (see ``greedy_rollouts``). ``frames``: a function's other DataFrames, by name.
    ``outputs``: ``{(variant, seed): {name: value}}``, a function's other values.
    ``agents``: ``{(variant, seed): DeepQLearner}`` when ``keep_agents=True``.
    ``failures``: ``[(variant, seed, message)]`` of the runs that raised, and
    ``tracebacks``: ``{(variant, seed): traceback text}`` of the same runs.
    """

    runs: pd.DataFrame
    episodes: pd.DataFrame
    evaluations: pd.DataFrame
    updates: pd.DataFrame
    rollouts: pd.DataFrame
    frames: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    agents: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    tracebacks: dict = field(default_factory=dict)

    def summary(self, metric: str = "final_return_mean") -> pd.DataFrame:
        """Mean, std, min and max of one ``runs`` column per variant, with the number of seeds it ran on.

        Failed runs are left out (a variant whose runs all failed gets a row of NaN and 0 seeds).
        """
        if metric not in self.runs:
            known = [c for c in self.runs.columns if c not in ("variant", "seed", "error", "cached")]
            if self.failures and len(self.failures) == len(self.runs):
                raise ValueError(f"every run failed, so there is no {metric!r} to summarize; see .failures "
                                 f"and .tracebacks (first: {self.failures[0][2]})")
            raise ValueError(f"no column {metric!r} in runs; it has {known}")
        grouped = self.runs.groupby("variant", sort=False)[metric]
        return grouped.agg(["mean", "std", "min", "max", "count"]).rename(columns={"count": "seeds"})


def run_one(config: DQNConfig, final_eval_episodes: int = 20, env_spec=None) -> dict:
    """Train one config, evaluate it greedily on fresh episodes; return plain data (picklable).

    This is what each worker runs for a DQN variant. ``env_spec``: the registration of
    ``config.env_id`` in the parent process, registered here if this process lacks it (an
    env registered in a notebook). Never raises: an error comes back as text.
    """
    try:
        _register(env_spec)
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
        for name in ("diverged", "diverged_at_step"):  # reported by train() when the values blow up
            if hasattr(result, name):
                row[name] = getattr(result, name)
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
        return {"row": {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}}


def run_function(fn: Callable, seed: int) -> dict:
    """Call ``fn(seed)`` and sort what it returns into a row, frames and other outputs.

    What each worker runs for a function variant. Never raises: an error comes back as text.
    """
    try:
        start = time.perf_counter()
        returned = fn(seed)
        if not isinstance(returned, Mapping):
            raise TypeError(f"a function variant must return a dict such as {{'final_return': 123.0, "
                            f"'evaluations': <DataFrame>}}, got {type(returned).__name__}")
        row = {"wall_seconds": time.perf_counter() - start, "error": None}
        output = {"frames": {}, "outputs": {}}
        for name, value in returned.items():
            if isinstance(value, pd.DataFrame):
                output["frames"][name] = value
            elif isinstance(value, (bool, int, float, str, type(None))) or pd.api.types.is_scalar(value):
                row[name] = value
            else:
                output["outputs"][name] = value
        return {"row": row, **output}
    except Exception as err:
        return {"row": {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}}


def _register(env_spec) -> None:
    """Make ``env_spec`` known to gymnasium in this process (a worker) unless it already is."""
    if env_spec is not None and env_spec.id not in gym.registry:
        gym.registry[env_spec.id] = env_spec


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this (worker) process in MB; None where the OS does not say."""
    try:
        import resource  # Unix only
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def _cache_key(job, seed: int, final_eval_episodes: int, env_spec=None) -> str:
    if isinstance(job, DQNConfig):  # the config holds the seed
        described = {"config": job.to_dict(), "final_eval_episodes": final_eval_episodes,
                     "env": describe_env(env_spec) if env_spec is not None else None}
    else:
        described = {"function": describe_function(job), "seed": seed}
    return digest({**described, "source": source_version()})


def _as_variants(configs) -> dict:
    if isinstance(configs, DQNConfig) or callable(configs):
        return {"default": configs}
    if not isinstance(configs, Mapping) or not configs:
        raise TypeError("run_experiments needs a DQNConfig, a function of the seed, or a dict {variant name: "
                        f"DQNConfig or function}}, got {type(configs).__name__}.")
    for name, job in configs.items():
        if not isinstance(job, DQNConfig) and not callable(job):
            raise TypeError(f"variant {name!r} is a {type(job).__name__}, neither a DQNConfig (build it with "
                            f"DQNConfig(...) or base.replace(...)) nor a function of the seed.")
    return dict(configs)


def _check_seeds(seeds) -> list[int]:
    try:
        seeds = list(seeds)
    except TypeError:
        raise TypeError(f"seeds must be a list of whole numbers such as range(5), got {seeds!r}") from None
    if not seeds:
        raise ValueError("seeds is empty: pass e.g. seeds=range(5).")
    checked = [rule.count("seeds", s, 0, minimum=0) for s in seeds]
    repeated = sorted({s for s in checked if checked.count(s) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} appear more than once: each seed is one run, so a repeated seed "
                         f"would count the same run twice. Pass distinct seeds, e.g. range({len(checked)}).")
    return checked


def _env_spec(name: str, config: DQNConfig):
    try:
        return gym.spec(config.env_id)
    except Exception as err:  # gymnasium raises several kinds for unknown or broken ids
        raise ValueError(f"variant {name!r}: gymnasium does not know env {config.env_id!r} ({err}). Register it "
                         f"(gymnasium.register) before calling run_experiments, or fix the id.") from None


def _check_cache_dir(store: Path) -> None:
    """Fail now, naming the folder, if finished runs could not be stored there."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=store):
            pass
    except OSError as err:
        raise ValueError(f"the experiment cache {str(store)!r} is not a writable folder ({err.strerror}). Pass "
                         f"cache_dir= another folder, set DQN_CACHE_DIR, or cache=False.") from None


def run_experiments(
    configs,
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
    """Run every variant on every seed and return tidy results (see :class:`ExperimentResults`).

    Built for ``notebooks/02_q_networks.ipynb`` onwards; notebook 01 and 09 run functions.

    Args:
        configs: one :class:`DQNConfig` or function of the seed, or ``{variant name: config or
            function}``. Each config's ``seed`` is replaced by each of ``seeds``; each function
            is called as ``fn(seed)`` and returns a dict (see the module docstring).
        seeds: the seeds every variant runs on: distinct whole numbers >= 0.
        n_jobs: parallel runs (joblib; -1 = all cores, 1 = in this process).
        backend: ``None`` for local processes, ``"dask"`` to send runs to the
            ``distributed.Client`` you created (a ``LocalCluster`` or a real cluster).
        cache: reuse and store finished runs on disk (see the module docstring).
        cache_dir: where; default ``$DQN_CACHE_DIR`` or ``~/.cache/dqn_helpers``.
        progress: a progress bar over runs (works in JupyterLab and a terminal).
        final_eval_episodes: greedy episodes on fresh seeds per trained DQN agent (0 = none).
        keep_agents: rebuild each trained DQN agent into ``results.agents``.
        live: in a notebook, a live figure of the finished DQN runs' greedy evaluations
            (:class:`~dqn_helpers.live.LiveRunsView`), redrawn as runs finish.
        on_result: called with each finished run's row (cached ones too).
    """
    # Every argument is checked before the first run starts: nothing fails after minutes of work.
    variants = _as_variants(configs)
    seeds = _check_seeds(seeds)
    n_jobs = rule.count("n_jobs", n_jobs, 2, minimum=-1)
    if n_jobs == 0:
        raise ValueError("n_jobs must be -1 (all cores) or a positive number of parallel runs, got 0.")
    final_eval_episodes = rule.count("final_eval_episodes", final_eval_episodes, 20, minimum=0)
    for name, flag in (("cache", cache), ("progress", progress), ("keep_agents", keep_agents), ("live", live)):
        rule.boolean(name, flag)
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
    specs = {name: _env_spec(name, job) for name, job in variants.items() if isinstance(job, DQNConfig)}
    use_cache = cache and os.environ.get("DQN_CACHE", "1") != "0"
    store = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if use_cache:
        _check_cache_dir(store)

    tasks = [(name, seed, job.replace(seed=seed) if isinstance(job, DQNConfig) else job)
             for name, job in variants.items() for seed in seeds]
    outputs: dict[int, dict] = {}
    to_run = []
    for index, (name, seed, job) in enumerate(tasks):
        path = store / f"{_cache_key(job, seed, final_eval_episodes, specs.get(name))}.joblib"
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
        if view is not None and row["error"] is None and "reward_threshold" in row:
            if view.threshold is None:
                view.threshold = row.get("reward_threshold")
            view.add(row, outputs[index].get("evaluations"))
        if on_result is not None:
            on_result(row)

    for index in sorted(outputs):  # the cached runs
        report(index)
    bar = tqdm(total=len(tasks), initial=len(outputs), disable=not progress, unit="run", desc="runs")
    if to_run:
        jobs = len(to_run) if n_jobs == -1 else min(n_jobs, len(to_run))
        if backend is None and n_jobs == -1:
            jobs = min(jobs, os.cpu_count() or 1)
        calls = (joblib.delayed(_indexed)(index, tasks[index][2], tasks[index][1], final_eval_episodes,
                                          specs.get(tasks[index][0])) for index, _ in to_run)
        paths = dict(to_run)
        with joblib.parallel_config(backend="dask") if backend == "dask" else nullcontext():
            parallel = joblib.Parallel(n_jobs=1 if jobs == 1 and backend is None else jobs,
                                       return_as="generator_unordered")
            for index, output in parallel(calls):
                output["row"]["cached"] = False
                if use_cache and output["row"]["error"] is None:
                    try:
                        _store(paths[index], output)
                    except OSError as err:  # keep the result in memory; say so once per failure
                        print(f"could not store a finished run in the cache {str(store)!r} ({err}); "
                              f"its result is kept for this call")
                outputs[index] = output
                bar.update(1)
                report(index)
    bar.close()
    if view is not None:
        view.close()
    return _collect(tasks, outputs, keep_agents)


def _indexed(index: int, job, seed: int, final_eval_episodes: int, env_spec) -> tuple[int, dict]:
    if isinstance(job, DQNConfig):
        return index, run_one(job, final_eval_episodes, env_spec)
    return index, run_function(job, seed)


def _store(path: Path, output: dict) -> None:
    """Write a finished run to the cache atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    joblib.dump(output, partial)
    os.replace(partial, path)


def _collect(tasks: list, outputs: dict[int, dict], keep_agents: bool) -> ExperimentResults:
    rows, frames, agents, failures, tracebacks, extras = [], {}, {}, [], {}, {}
    for index, (name, seed, _) in enumerate(tasks):
        output = outputs[index]
        row = {k: v for k, v in output["row"].items() if k != "traceback"}
        rows.append({"variant": name, "seed": seed, **row})
        if row["error"] is not None:
            failures.append((name, seed, row["error"]))
            tracebacks[(name, seed)] = output["row"].get("traceback", "")
            continue
        named = output.get("frames", {k: output[k] for k in FRAMES if k in output})
        for key, frame in named.items():
            if len(frame):
                frames.setdefault(key, []).append(frame.assign(variant=name, seed=seed))
        if output.get("outputs"):
            extras[(name, seed)] = output["outputs"]
        if keep_agents and "agent" in output:
            agent = DeepQLearner(**output["agent"]["settings"])
            agent.load_state_dict(output["agent"]["weights"])
            # the run's seed, not the constructor's (which would reseed this process's torch): an
            # agent that acts epsilon-greedily acts the same on every run of the notebook
            agent.rng = random_stream(seed, "exploration")
            agent.epsilon = agent.epsilon_end
            agents[(name, seed)] = agent
    if failures:
        listed = "; ".join(f"{name!r} seed {seed}: {error}" for name, seed, error in failures)
        print(f"{len(failures)} of {len(tasks)} runs failed (the other results are kept; tracebacks in "
              f".tracebacks): {listed}")

    def tidy(parts: list) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["variant", "seed"])

    tidied = {key: tidy(parts) for key, parts in frames.items()}
    empty = pd.DataFrame(columns=["variant", "seed"])
    return ExperimentResults(
        runs=pd.DataFrame(rows), **{key: tidied.pop(key, empty) for key in FRAMES}, frames=tidied,
        outputs=extras, agents=agents, failures=failures, tracebacks=tracebacks)
