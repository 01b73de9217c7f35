"""How the defaults were chosen: speed and value calibration of candidate configs (CartPole-v1).

Each candidate changes one or two fields of the previous defaults (8 envs sharing one
gradient update per vector step, 64-64 network, Double DQN, target synced every 50
updates, learning rate 5e-3). Every candidate runs twice per seed:

* **to the solve point** (``stop_when_solved=True``): env steps and gradient updates until a
  greedy evaluation of 10 fresh episodes first reaches 475, and the calibration of the
  agent at that moment;
* **for the whole budget** (``keep_best=False``): the final greedy return and calibration of
  the weights training ends with.

Calibration ("Q / return"): predicted value of the greedy action at 20 fresh start states,
divided by the discounted return the greedy episodes from them actually collect
(1 = calibrated; the target is a median in [0.8, 1.2]). Env steps, updates and ratios do
not depend on the machine; seconds do, so they are left out here
(``benchmarks/time_to_solve.py`` times the chosen defaults).

Usage:  python benchmarks/calibration_sweep.py [--seeds 10] [--first-seed 0] [--total-steps 100000]
                                               [--only NAME ...]
"""

from __future__ import annotations

import argparse

import pandas as pd

from dqn_helpers import DQNConfig, run_experiments

PREVIOUS = DQNConfig(num_envs=8, target_update_every=50)  # the defaults before this sweep
CANDIDATES = {
    "previous defaults (8 envs)": PREVIOUS,
    "4 envs": PREVIOUS.replace(num_envs=4),
    "4 envs, sync 100": PREVIOUS.replace(num_envs=4, target_update_every=100),
    "4 envs, exploration 0.1": PREVIOUS.replace(num_envs=4, exploration_fraction=0.1),
    "4 envs, lr 2.5e-3": PREVIOUS.replace(num_envs=4, learning_rate=2.5e-3),
    "2 envs": PREVIOUS.replace(num_envs=2),
    "2 envs, sync 100": PREVIOUS.replace(num_envs=2, target_update_every=100),
}
CHOSEN = "4 envs"  # = DQNConfig() now
# Acrobot-v1's preset (dqn_helpers/presets.py) before and after the new default num_envs.
ACROBOT = {
    "Acrobot preset, 8 envs (before)": DQNConfig.for_env("Acrobot-v1", num_envs=8),
    "Acrobot preset, 4 envs": DQNConfig.for_env("Acrobot-v1", num_envs=4),
}


def solved_count(solved_at: pd.Series) -> str:
    """'7/10': how many seeds reached the threshold (a solve step that is not NaN)."""
    return f"{solved_at.notna().sum()}/{len(solved_at)}"


def median_range(values: pd.Series, digits: int = 0) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    fmt = f"{{:,.{digits}f}}"
    return f"{fmt.format(values.median())} ({fmt.format(values.min())}-{fmt.format(values.max())})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (a held-out set: 100)")
    parser.add_argument("--total-steps", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", help="candidate names (prefixes) to run")
    parser.add_argument("--acrobot", action="store_true", help="Acrobot-v1's preset before/after instead "
                        "(one budget run per seed: first evaluation at -100 and the final return)")
    parser.add_argument("--wall-time", action="store_true", help="time to solve of the previous and the new "
                        "defaults side by side in one run (cache off, two runs at a time)")
    args = parser.parse_args()
    if args.wall_time:
        return wall_time(range(args.first_seed, args.first_seed + args.seeds))
    if args.acrobot:
        return acrobot(range(args.first_seed, args.first_seed + args.seeds))
    assert DQNConfig() == CANDIDATES[CHOSEN], "the defaults moved: update CHOSEN in the sweep"
    chosen = {name: config.replace(total_steps=args.total_steps) for name, config in CANDIDATES.items()
              if not args.only or any(name.startswith(prefix) for prefix in args.only)}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    to_solve = run_experiments({name: c.replace(stop_when_solved=True) for name, c in chosen.items()}, seeds=seeds)
    budget = run_experiments({name: c.replace(keep_best=False) for name, c in chosen.items()}, seeds=seeds)
    solve = to_solve.runs.groupby("variant", sort=False)
    end = budget.runs.groupby("variant", sort=False)
    table = pd.DataFrame({
        "solved": solve.solved_at_step.apply(solved_count),
        "env steps to solve": solve.solved_at_step.apply(median_range),
        "updates to solve": solve.n_updates.apply(median_range),
        "Q/return at solve": solve.q_ratio.apply(median_range, digits=2),
        "final greedy return": end.final_return_mean.apply(median_range),
        "Q/return at end": end.q_ratio.apply(median_range, digits=2),
    })
    pd.set_option("display.width", 250)
    print(f"CartPole-v1, seeds {seeds.start}-{seeds.stop - 1}, budget {args.total_steps:,} env steps; "
          f"median (min-max) over seeds; unsolved seeds left out of 'to solve' columns\n")
    print(table.to_string())
    return 0


def wall_time(seeds: range) -> int:
    pair = {"previous defaults (8 envs)": PREVIOUS, "4 envs (= defaults)": CANDIDATES[CHOSEN]}
    results = run_experiments({name: c.replace(stop_when_solved=True) for name, c in pair.items()}, seeds=seeds,
                              cache=False, final_eval_episodes=0)
    runs = results.runs.groupby("variant", sort=False)
    print(f"CartPole-v1, seeds {seeds.start}-{seeds.stop - 1}, wall seconds and updates until the first greedy "
          f"evaluation at 475; median (min-max)\n")
    print(pd.DataFrame({"solved": runs.solved_at_step.apply(solved_count),
                        "seconds to solve": runs.solved_at_seconds.apply(median_range, digits=2),
                        "updates to solve": runs.n_updates.apply(median_range)}).to_string())
    return 0


def acrobot(seeds: range) -> int:
    results = run_experiments({name: c.replace(keep_best=False) for name, c in ACROBOT.items()}, seeds=seeds)
    runs = results.runs.groupby("variant", sort=False)
    table = pd.DataFrame({
        "reached -100": runs.solved_at_step.apply(solved_count),
        "env steps to reach -100": runs.solved_at_step.apply(median_range),
        "updates in the budget": runs.n_updates.median(),
        "final greedy return": runs.final_return_mean.apply(median_range, digits=1),
        "Q/return at end": runs.q_ratio.apply(median_range, digits=2),
    })
    pd.set_option("display.width", 250)
    print(f"Acrobot-v1, seeds {seeds.start}-{seeds.stop - 1}, 100,000 env steps, final weights; "
          f"median (min-max) over seeds\n")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
