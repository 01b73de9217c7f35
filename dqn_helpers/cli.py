"""Command line: ``python -m dqn_helpers train --env CartPole-v1 --seed 0``.

Every field of :class:`~dqn_helpers.config.DQNConfig` is a flag (``--total-steps``,
``--learning-rate``, ...); ``python -m dqn_helpers train --help`` lists them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from dqn_helpers.config import DQNConfig


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dqn_helpers",
                                     description="Deep Q-Learning from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser(
        "train", help="train, evaluate and summarize one agent",
        description="Train with the settings known to work for --env (see dqn_helpers/presets.py); "
                    "every flag you give overrides one of them.")
    defaults = DQNConfig()
    # Flags left out take the env's preset (dqn_helpers/presets.py), so every default shown
    # here is CartPole-v1's and the parser itself fills in nothing (argparse.SUPPRESS).
    for f in fields(DQNConfig):
        flag = "--env" if f.name == "env_id" else "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (CartPole-v1: {default})"
        if isinstance(default, bool):
            train_cmd.add_argument(flag, dest=f.name, type=_bool, default=argparse.SUPPRESS, metavar="BOOL",
                                   help=help_text)
        elif isinstance(default, tuple):
            train_cmd.add_argument(flag, dest=f.name, type=int, nargs="+", default=argparse.SUPPRESS,
                                   help=help_text)
        else:
            train_cmd.add_argument(flag, dest=f.name, type=type(default), default=argparse.SUPPRESS,
                                   help=help_text)
    train_cmd.add_argument("--final-eval-episodes", type=int, default=20,
                           help="episodes of the final greedy evaluation")
    train_cmd.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    train_cmd.add_argument("--save", metavar="PATH", help="save the trained agent to this file (.pt)")
    train_cmd.add_argument("--plot", metavar="PATH", help="save a plot of the returns to this file (.png)")
    train_cmd.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run_train(args: argparse.Namespace) -> dict:
    """Train as the parsed arguments say; return the summary as a dict."""
    from dqn_helpers.evaluation import greedy_rollouts
    from dqn_helpers.presets import PRESETS
    from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET
    from dqn_helpers.training import train

    given = {f.name: (tuple(v) if isinstance(v := getattr(args, f.name), list) else v)
             for f in fields(DQNConfig) if hasattr(args, f.name)}
    config = DQNConfig.for_env(given.pop("env_id", DQNConfig().env_id), **given)
    show_progress = not (args.no_progress or args.json) and sys.stderr.isatty()
    result = train(config, progress=show_progress)
    final = greedy_rollouts(result.agent, config.env_id, args.final_eval_episodes,
                            seed=config.seed + FINAL_EVAL_SEED_OFFSET)
    summary = {
        "env": config.env_id,
        "preset": config.env_id if config.env_id in PRESETS else "none (DQNConfig defaults)",
        "seed": config.seed,
        "env_steps": result.env_steps,
        "updates": result.n_updates,
        "wall_seconds": round(result.wall_seconds, 2),
        "reward_threshold": result.reward_threshold,
        "solved_at_step": result.solved_at_step,
        "solved_at_seconds": None if result.solved_at_seconds is None else round(result.solved_at_seconds, 2),
        "final_eval_mean": float(final.episode_return.mean()),
        "final_eval_std": float(final.episode_return.std(ddof=0)),
        # calibration: what the agent predicted at the start states vs what it collected
        "q_start_mean": round(float(final.q_start.mean()), 2),
        "discounted_return_mean": round(float(final.discounted_return.mean()), 2),
        "q_ratio": round(float(final.q_start.mean() / final.discounted_return.mean()), 3),
        "final_eval_episodes": args.final_eval_episodes,
        "episodes": len(result.episodes),
    }
    if args.save:
        from dqn_helpers.persistence import save_agent

        save_agent(result.agent, args.save, config=config.to_dict(), summary=summary)
        summary["saved_to"] = args.save
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from dqn_helpers.plotting import plot_returns

        plot_returns(result.episodes, threshold=result.reward_threshold, path=args.plot,
                     title=f"DQN on {config.env_id}, seed {config.seed}")
        summary["plot"] = args.plot
    return summary


def print_summary(summary: dict) -> None:
    solved = (f"reached {summary['reward_threshold']:g} at env step {summary['solved_at_step']:,} "
              f"({summary['solved_at_seconds']} s)" if summary["solved_at_step"] is not None
              else "never reached the threshold in a periodic evaluation")
    print(f"{summary['env']} seed {summary['seed']} (preset: {summary['preset']}): {summary['env_steps']:,} env steps, "
          f"{summary['updates']:,} updates in {summary['wall_seconds']} s")
    print(f"  periodic greedy evaluation {solved}")
    print(f"  final greedy evaluation: {summary['final_eval_mean']:.1f} ± {summary['final_eval_std']:.1f} "
          f"over {summary['final_eval_episodes']} episodes")
    print(f"  predicted value of the start states {summary['q_start_mean']:.1f} vs discounted return "
          f"collected {summary['discounted_return_mean']:.1f} (ratio {summary['q_ratio']:.2f}; 1 = calibrated)")
    for key in ("saved_to", "plot"):
        if key in summary:
            print(f"  {key.replace('_', ' ')}: {summary[key]}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run_train(args)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary))
    else:
        print_summary(summary)
    return 0
