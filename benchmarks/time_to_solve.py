"""How fast does the tutorial's DQN solve CartPole on this machine? (``make benchmark``)

Criterion ("time to solve"): wall seconds, and env steps, from the start of training
until a greedy evaluation of 10 fresh seeded episodes, run every 2,500 env steps,
first reaches the env's reward threshold (CartPole-v1: 475, CartPole-v0: 195).
Evaluation time counts. "Final": greedy mean return over 20 fresh episodes of the
agent that training returns. "Q / return": at the end of training, the predicted
value of the greedy action at those 20 episodes' start states divided by the
discounted return the episodes actually collected (1 = calibrated values).

In one run it measures, for N seeds (two runs at a time, through dqn_helpers.run_experiments
with its cache off):
  1. the tutorial's DQNConfig defaults on CartPole-v1 (full budget, to show no collapse);
  2. the same defaults on CartPole-v0 (its preset: a 50,000-step budget), against the
     blog post's configuration run literally (benchmarks/blog_config.py), and the ratios
     of wall and CPU time;
  3. Stable-Baselines3's DQN with the rl-baselines3-zoo CartPole-v1 hyperparameters,
     if stable-baselines3 is installed (pip install -e .[sb3]), on the same seeds;
  4. with --envs, other envs with their presets (dqn_helpers/presets.py).

Usage:  python benchmarks/time_to_solve.py [--seeds 10] [--blog-seeds 3] [--jobs 2] [--json out.json]
        python benchmarks/time_to_solve.py --seeds 3 --envs Acrobot-v1 LunarLander-v3 --no-cartpole
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, os.path.dirname(__file__))
from blog_config import run_blog_config  # noqa: E402

from dqn_helpers import DQNConfig, evaluate, run_experiments  # noqa: E402
from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET, PERIODIC_EVAL_SEED_OFFSET  # noqa: E402

FINAL_EPISODES = 20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(env_ids: list[str], seeds: range, jobs: int) -> pd.DataFrame:
    """The tutorial's DQN with each env's preset, through the package's experiment runner."""
    results = run_experiments({env_id: DQNConfig.for_env(env_id) for env_id in env_ids}, seeds=seeds,
                              n_jobs=jobs, cache=False, final_eval_episodes=FINAL_EPISODES)
    runs = results.runs.rename(columns={"variant": "env", "solved_at_seconds": "solve_seconds",
                                        "solved_at_step": "solve_steps", "final_return_mean": "final"})
    return runs.assign(impl="dqn_helpers", env_steps_per_s=runs.env_steps / runs.wall_seconds,
                       updates_per_s=runs.n_updates / runs.wall_seconds)


def run_blog(seed: int) -> dict:
    out = run_blog_config(seed=seed)
    final = evaluate(out["policy"], "CartPole-v0", FINAL_EPISODES, seed=seed + FINAL_EVAL_SEED_OFFSET)
    return {
        "impl": "blog post", "env": "CartPole-v0", "seed": seed, "solve_seconds": None, "solve_steps": None,
        "final": final.mean(), "wall_seconds": out["wall_seconds"], "cpu_seconds": out["cpu_seconds"],
        "env_steps_per_s": out["env_steps"] / out["wall_seconds"],
        "updates_per_s": out["updates"] / out["wall_seconds"], "peak_rss_mb": peak_rss_mb(),
    }


def run_sb3(seed: int, total_steps: int = 100_000) -> dict:
    """SB3 DQN with rl-baselines3-zoo's CartPole-v1 hyperparameters, evaluated like ours."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)
    start, cpu0 = time.perf_counter(), time.process_time()

    class SolveClock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.solved = None

        def _on_step(self) -> bool:
            if self.num_timesteps % 2_500 == 0:
                policy = lambda obs: self.model.predict(obs, deterministic=True)[0]  # noqa: E731
                if evaluate(policy, "CartPole-v1", 10, seed=seed + PERIODIC_EVAL_SEED_OFFSET).mean() >= 475:
                    self.solved = (time.perf_counter() - start, self.num_timesteps)
                    return False
            return True

    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                learning_starts=1_000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
                seed=seed, device="cpu")
    clock = SolveClock()
    model.learn(total_steps, callback=clock)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    final = evaluate(lambda obs: model.predict(obs, deterministic=True)[0], "CartPole-v1", FINAL_EPISODES,
                     seed=seed + FINAL_EVAL_SEED_OFFSET)
    return {
        "impl": "stable-baselines3", "env": "CartPole-v1", "seed": seed,
        "solve_seconds": clock.solved[0] if clock.solved else None,
        "solve_steps": clock.solved[1] if clock.solved else None,
        "final": final.mean(), "wall_seconds": wall, "cpu_seconds": cpu,
        "env_steps_per_s": model.num_timesteps / wall, "updates_per_s": model._n_updates / wall,
        "peak_rss_mb": peak_rss_mb(),
    }


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Median [min, max] of each metric per implementation and env."""
    metrics = ["solve_seconds", "solve_steps", "final", "q_ratio", "wall_seconds", "cpu_seconds",
               "env_steps_per_s", "updates_per_s", "peak_rss_mb"]
    table = {}
    for (impl, env), group in rows.groupby(["impl", "env"], sort=False):
        column = {"seeds": str(len(group)), "solved": f"{group['solve_seconds'].notna().sum()}/{len(group)}"}
        for metric in metrics:
            values = group[metric].dropna().astype(float) if metric in group else pd.Series(dtype=float)
            column[metric] = "-" if values.empty else f"{values.median():.4g} [{values.min():.4g}, {values.max():.4g}]"
        table[f"{impl} / {env}"] = column
    return pd.DataFrame(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the tutorial's DQN (and SB3)")
    parser.add_argument("--blog-seeds", type=int, default=3, help="seeds of the blog's configuration (~20 s each)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="runs in parallel")
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 even if installed")
    parser.add_argument("--no-cartpole", action="store_true", help="skip CartPole, the blog and SB3 (use with --envs)")
    parser.add_argument("--envs", nargs="*", default=[], help="other envs to run with their presets")
    parser.add_argument("--json", help="also write every run's numbers to this file")
    args = parser.parse_args()

    seeds = range(args.seeds)
    env_ids = ([] if args.no_cartpole else ["CartPole-v1", "CartPole-v0"]) + list(args.envs)
    print(f"Running the tutorial's DQN on {', '.join(env_ids)}, {args.seeds} seeds, {args.jobs} at a time ...",
          flush=True)
    rows = [run_ours(env_ids, seeds, args.jobs)]
    if not args.no_cartpole:
        try:
            import stable_baselines3  # noqa: F401

            if not args.no_sb3:
                print(f"Running Stable-Baselines3 on the same seeds, {args.jobs} at a time ...", flush=True)
                rows.append(pd.DataFrame(Parallel(n_jobs=args.jobs)(delayed(run_sb3)(s) for s in seeds)))
        except ImportError:
            print("stable-baselines3 is not installed: skipping it (pip install -e .[sb3])")
        # The blog's configuration runs alone, with torch's default threads, as the post ran it.
        print(f"Running the blog's configuration for {args.blog_seeds} seeds, one at a time ...", flush=True)
        rows.append(pd.DataFrame([run_blog(s) for s in range(args.blog_seeds)]))
    rows = pd.concat(rows, ignore_index=True)

    pd.set_option("display.width", 200)
    print("\nmedian [min, max] over seeds")
    print(summarize(rows).to_string())

    if not args.no_cartpole:
        ours_v1 = rows[(rows.impl == "dqn_helpers") & (rows.env == "CartPole-v1")]
        sb3 = rows[rows.impl == "stable-baselines3"]
        if len(sb3):
            print(f"\nCartPole-v1 time to solve: dqn_helpers {ours_v1.solve_seconds.median():.2f} s, "
                  f"Stable-Baselines3 {sb3.solve_seconds.median():.2f} s (medians; unsolved runs left out): "
                  f"ratio {ours_v1.solve_seconds.median() / sb3.solve_seconds.median():.3f}")
        ours_v0 = rows[(rows.impl == "dqn_helpers") & (rows.env == "CartPole-v0")]
        blog = rows[rows.impl == "blog post"]
        # CPU time to solve: wall time to solve scaled by the run's CPU/wall ratio (one thread: ~1).
        ours_cpu_to_solve = (ours_v0.solve_seconds * ours_v0.cpu_seconds / ours_v0.wall_seconds).median()
        print(f"CartPole-v0: blog configuration, 20,000 steps: {blog.wall_seconds.median():.1f} s wall, "
              f"{blog.cpu_seconds.median():.1f} s CPU, final greedy return {blog.final.median():.1f} (threshold 195)")
        print(f"CartPole-v0: dqn_helpers reaches 195 in {ours_v0.solve_seconds.median():.2f} s wall, "
              f"~{ours_cpu_to_solve:.2f} s CPU (median over {len(ours_v0)} seeds)")
        print(f"ratio: {ours_v0.solve_seconds.median() / blog.wall_seconds.median():.3f} of the blog's wall time, "
              f"{ours_cpu_to_solve / blog.cpu_seconds.median():.3f} of its CPU time")
    if args.json:
        rows.to_json(args.json, orient="records", indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
