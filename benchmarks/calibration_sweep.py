"""How the defaults were chosen: speed and value calibration of candidate configs (CartPole-v1).

Each candidate changes one or two fields of the *old* defaults (rl-baselines3-zoo's
CartPole values: 256-256 network, learning rate 2.3e-3, plain DQN target, target synced
every 10 updates) on the way to the current ones. For each it prints, over the seeds:
how many solve (a greedy evaluation of 10 fresh episodes reaches 475), the median env
steps to solve, the median final greedy return, and the calibration ratio: predicted
value of the greedy action at 20 fresh start states / discounted return collected
from them, at the end of the budget (1 = calibrated; the target is [0.8, 1.2]).
Env steps and ratios do not depend on the machine; seconds do, so they are left out here
(benchmarks/time_to_solve.py times the defaults).

Usage:  python benchmarks/calibration_sweep.py [--seeds 6] [--total-steps 100000] [--only NAME ...]
"""

from __future__ import annotations

import argparse

import pandas as pd

from dqn_helpers import DQNConfig, run_experiments

OLD = DQNConfig(hidden_sizes=(256, 256), learning_rate=2.3e-3, double_dqn=False, target_update_every=10)
CANDIDATES = {
    "old defaults": OLD,
    "+ Double DQN": OLD.replace(double_dqn=True),
    "+ Double DQN, 64-64": OLD.replace(double_dqn=True, hidden_sizes=(64, 64)),
    "  ... batch 256": OLD.replace(double_dqn=True, hidden_sizes=(64, 64), batch_size=256),
    "  ... Huber loss": OLD.replace(double_dqn=True, hidden_sizes=(64, 64), loss="huber"),
    "  ... sync 30, lr 5e-3": OLD.replace(double_dqn=True, hidden_sizes=(64, 64), target_update_every=30,
                                          learning_rate=5e-3),
    "  ... sync 30, lr 7e-3": OLD.replace(double_dqn=True, hidden_sizes=(64, 64), target_update_every=30,
                                          learning_rate=7e-3),
    "  ... sync 50, lr 5e-3 (= new defaults)": OLD.replace(double_dqn=True, hidden_sizes=(64, 64),
                                                           target_update_every=50, learning_rate=5e-3),
    "  ... sync 30, lr 5e-3, 16 envs, batch 128": OLD.replace(double_dqn=True, hidden_sizes=(64, 64),
                                                              target_update_every=30, learning_rate=5e-3,
                                                              num_envs=16, batch_size=128),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--total-steps", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", help="candidate names (prefixes) to run")
    args = parser.parse_args()
    candidates = {name: config.replace(total_steps=args.total_steps) for name, config in CANDIDATES.items()
                  if not args.only or any(name.strip(" .").startswith(p) for p in args.only)}
    assert DQNConfig() == CANDIDATES["  ... sync 50, lr 5e-3 (= new defaults)"], "the defaults moved: update the sweep"
    results = run_experiments(candidates, seeds=range(args.seeds))
    runs = results.runs.groupby("variant", sort=False)
    table = pd.DataFrame({
        "solved": runs.solved_at_step.apply(lambda s: f"{s.notna().sum()}/{len(s)}"),
        "env steps to solve": runs.solved_at_step.median(),
        "final greedy return": runs.final_return_mean.median(),
        "Q / return, median": runs.q_ratio.median(),
        "Q / return, min": runs.q_ratio.min(),
        "Q / return, max": runs.q_ratio.max(),
    })
    pd.set_option("display.width", 200)
    print(f"{args.seeds} seeds, {args.total_steps:,} env steps each; medians over seeds\n")
    print(table.round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
