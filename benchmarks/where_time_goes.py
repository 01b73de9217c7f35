"""Where does the time of one CartPole-v1 solve go? (``make profile``)

Runs ``train`` once with the default DQNConfig and ``stop_when_solved=True`` under
cProfile, then sorts the profiled time into the parts of the algorithm: gradient
updates, acting, stepping the environments, storing and sampling transitions, the
periodic greedy evaluations, and the one-off cost of building envs and networks.
(The package's own Adam avoids ``torch.optim``, whose first use imports ``torch._dynamo``
and used to cost about a second per process.)

Usage:  python benchmarks/where_time_goes.py [--seed 0] [--top 12]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

from dqn_helpers import DQNConfig, train

# (label, function names whose *cumulative* time is that part). Checked in order, and
# the parts do not overlap: evaluation calls greedy_actions, so it comes first and
# acting is counted from the training loop's calls to act() only.
PARTS = [
    ("greedy evaluations", ("evaluation.py", "evaluate")),
    ("gradient updates (forward, backward, Adam)", ("learner.py", "update")),
    ("acting (epsilon-greedy forward pass)", ("learner.py", "act")),
    ("stepping the vector env", ("vector_env.py", "step")),
    ("storing transitions", ("replay_buffer.py", "remember")),
    ("target synchronizations", ("learner.py", "synchronize")),
    ("building the learner", ("learner.py", "__init__")),
    ("building the envs", ("vector_env.py", "make_vector_env")),
]


def cumulative_seconds(stats: pstats.Stats, filename: str, function: str, caller_file: str | None = None) -> float:
    """Cumulative time of ``function`` in ``filename``; only calls from ``caller_file`` if given."""
    total = 0.0
    for (file, _, name), (_, _, _, cumulative, callers) in stats.stats.items():
        if not (file.endswith(filename) and name == function):
            continue
        if caller_file is None:
            total += cumulative
        else:
            total += sum(c[3] for (cfile, _, _), c in callers.items() if cfile.endswith(caller_file))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=12, help="also print the N most expensive functions")
    args = parser.parse_args()

    profiler = cProfile.Profile()
    profiler.enable()
    result = train(DQNConfig(seed=args.seed, stop_when_solved=True), progress=False)
    profiler.disable()
    stats = pstats.Stats(profiler)

    print(f"solved at env step {result.solved_at_step} after {result.solved_at_seconds:.2f} s "
          f"({result.n_updates:,} gradient updates; profiling adds overhead, so times run long)")
    total = cumulative_seconds(stats, "training.py", "train")
    counted = 0.0
    print(f"\n{'part':58s} {'seconds':>8s} {'share':>6s}")
    for label, (filename, function) in PARTS:
        # Count vector-env steps and acting from the training loop only (evaluation has its own line).
        caller = "training.py" if function in ("step", "act") else None
        seconds = cumulative_seconds(stats, filename, function, caller)
        counted += seconds
        print(f"{label:58s} {seconds:8.2f} {seconds / total:6.1%}")
    print(f"{'rest of the loop (bookkeeping, epsilon, Python overhead)':58s} {total - counted:8.2f} "
          f"{(total - counted) / total:6.1%}")
    print(f"{'total inside train()':58s} {total:8.2f}")
    if result.n_updates:
        per_update = cumulative_seconds(stats, "learner.py", "update") / result.n_updates
        print(f"\none gradient update: {1e6 * per_update:.0f} µs (profiled)")
    print(f"\nthe {args.top} functions with the most time of their own:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
