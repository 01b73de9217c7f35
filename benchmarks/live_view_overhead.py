"""What the live training view costs: train() with and without it, in pairs.

    python benchmarks/live_view_overhead.py [--pairs 5] [--steps 20000]

Each pair trains the same config twice, once plain and once with a LiveTrainingView
that renders every redraw to PNG exactly as in a notebook (only the send to the
notebook is left out: it hands ~50 kB to the kernel's socket). The order inside a
pair alternates so that drift of a shared machine falls on both sides; the median of
the per-pair ratios is the overhead. Target (issue 9): at most 5%.

Both clocks are reported: wall time (what a student waits) and the process's CPU
time, which other programs on a shared machine disturb far less (training runs on
one thread, so the two agree on a quiet machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

from dqn_helpers import DQNConfig, train
from dqn_helpers.live import LiveTrainingView


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    config = DQNConfig(total_steps=args.steps)
    train(config.replace(total_steps=2_000), progress=False, live=LiveTrainingView(output=lambda png: None))  # warm-up

    wall_ratios, cpu_ratios, draws, shares = [], [], [], []
    for pair in range(args.pairs):
        view = LiveTrainingView(output=lambda png: None)
        wall, cpu = {}, {}
        for name in (("plain", "live") if pair % 2 == 0 else ("live", "plain")):
            cpu_start = time.process_time()
            wall[name] = train(config, progress=False, live=view if name == "live" else False).wall_seconds
            cpu[name] = time.process_time() - cpu_start
        wall_ratios.append(wall["live"] / wall["plain"])
        cpu_ratios.append(cpu["live"] / cpu["plain"])
        draws.append(view.n_draws)
        shares.append(view.draw_seconds / wall["live"])
        print(f"pair {pair}: wall plain {wall['plain']:.2f} s, live {wall['live']:.2f} s "
              f"(ratio {wall_ratios[-1]:.3f}); "
              f"CPU plain {cpu['plain']:.2f} s, live {cpu['live']:.2f} s (ratio {cpu_ratios[-1]:.3f}); "
              f"{view.n_draws} redraws took {view.draw_seconds:.2f} s")
    # The part paid at every vector step: update() when no redraw is due (a clock read).
    idle = LiveTrainingView(min_interval=3600, output=lambda png: None)
    idle.start(config, None)
    calls = 100_000
    start = time.perf_counter()
    for _ in range(calls):
        idle.update(0, 1.0, [], [], [])
    per_call = (time.perf_counter() - start) / calls
    print(f"update() between redraws: {per_call * 1e9:.0f} ns per vector step "
          f"({per_call * config.total_steps / config.num_envs * 1e3:.1f} ms per run)")
    print(f"median overhead over {args.pairs} pairs of {args.steps} env steps: "
          f"wall {100 * (statistics.median(wall_ratios) - 1):+.1f}%, "
          f"CPU {100 * (statistics.median(cpu_ratios) - 1):+.1f}%; "
          f"drawing itself {100 * statistics.median(shares):.1f}% of the live run's wall time "
          f"({statistics.median(draws):.0f} redraws)")


if __name__ == "__main__":
    main()
