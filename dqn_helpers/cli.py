"""Command line: ``python -m dqn_helpers train --env CartPole-v1 --seed 0``.

Every field of :class:`~dqn_helpers.config.DQNConfig` is a flag (``--total-steps``,
``--learning-rate``, ...); ``python -m dqn_helpers train --help`` lists them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import sys
import warnings
from dataclasses import fields
from difflib import get_close_matches
from pathlib import Path

from dqn_helpers.config import DQNConfig
from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET

DIVERGED = 3  # exit status of a run whose loss became NaN or infinite
INTERRUPTED = 130  # exit status of a program stopped by Ctrl-C (128 + SIGINT)
MAX_ENV_COPIES = 100_000  # env copies side by side (--num-envs, --eval-episodes, --final-eval-episodes)
MAX_TOTAL_STEPS = 10**10  # about ten days at the ~10,000 env steps per second of a CPU run
# Flags people type from other libraries' habits, and the flag meant here.
FLAG_ALIASES = {"--lr": "--learning-rate", "--steps": "--total-steps", "--timesteps": "--total-steps",
                "--total-timesteps": "--total-steps", "--n-envs": "--num-envs", "--buffer-size": "--buffer-capacity",
                "--env-name": "--env", "--hidden": "--hidden-sizes", "--output": "--save", "--out": "--save"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line (not the whole usage) like every other bad input,
    and an unknown flag gets the closest known one (``--total_steps``: did you mean ``--total-steps``?)."""

    def error(self, message):
        if message.startswith("unrecognized arguments:"):
            message += _suggestions(message.split(":", 1)[1].split(), _known_flags(self))
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _known_flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every ``--flag`` of ``parser`` and of its subcommands."""
    flags = []
    for action in parser._actions:  # argparse keeps its actions here; there is no public accessor
        flags += [o for o in action.option_strings if o.startswith("--")]
        for sub in (getattr(action, "choices", None) or {}).values():
            if isinstance(sub, argparse.ArgumentParser):
                flags += _known_flags(sub)
    return flags


def _suggestions(words: list[str], known: list[str]) -> str:
    """``"; did you mean --total-steps for --total_steps?"`` for each unknown flag with a close known one."""
    hints = []
    for word in words:
        if not word.startswith("-") or _looks_like_number(word):
            continue
        flag = word.split("=", 1)[0]
        dashed = "--" + flag.lstrip("-").replace("_", "-").lower()
        guess = (dashed if dashed in known else FLAG_ALIASES.get(dashed)
                 or next(iter(get_close_matches(dashed, known, n=1, cutoff=0.75)), None))
        if guess is not None:
            hints.append(f"{guess} for {flag}")
    return "; did you mean " + ", ".join(hints) + "?" if hints else ""


def _looks_like_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _whole(text: str) -> int:
    """A whole number, also written ``1e5`` or ``100_000``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def _width(text: str) -> int:
    """One layer width of ``--hidden-sizes 64 64``; ``64,64`` gets told to use spaces."""
    try:
        return _whole(text)
    except argparse.ArgumentTypeError:
        if "," in text:
            numbers = " ".join(part for part in text.strip("()[] ").replace(",", " ").split())
            raise argparse.ArgumentTypeError(f"write the widths separated by spaces (--hidden-sizes {numbers}), got "
                                             f"{text!r}") from None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dqn_helpers", description="Deep Q-Learning from the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser(
        "train", help="train, evaluate and summarize one agent",
        description="Train with the settings known to work for --env (see dqn_helpers/presets.py); "
                    "every flag you give overrides one of them.")
    defaults = DQNConfig()
    # Flags left out take the env's preset (dqn_helpers/presets.py), so every default shown
    # here is CartPole-v1's and the parser itself fills in nothing (argparse.SUPPRESS).
    for f in fields(DQNConfig):
        flags = ["--env", "--env-id"] if f.name == "env_id" else ["--" + f.name.replace("_", "-")]
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (CartPole-v1: {default})"
        if isinstance(default, bool):  # --double-dqn alone means true, as a switch would
            train_cmd.add_argument(*flags, dest=f.name, type=_bool, nargs="?", const=True, default=argparse.SUPPRESS,
                                   metavar="BOOL", help=help_text)
        elif isinstance(default, tuple):
            train_cmd.add_argument(*flags, dest=f.name, type=_width, nargs="+", default=argparse.SUPPRESS,
                                   help=help_text)
        else:
            train_cmd.add_argument(*flags, dest=f.name, type=_whole if isinstance(default, int) else type(default),
                                   default=argparse.SUPPRESS, help=help_text)
    train_cmd.add_argument("--final-eval-episodes", type=_whole, default=20,
                           help="episodes of the final greedy evaluation; 0 skips it")
    train_cmd.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    train_cmd.add_argument("--save", metavar="PATH", help="save the trained agent to this file (.pt)")
    train_cmd.add_argument("--plot", metavar="PATH", help="save a plot of the returns to this file (.png)")
    train_cmd.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _check_output_file(path: str, flag: str) -> Path:
    """Refuse now, not after training, a path that cannot be written; ``~`` is the home folder."""
    if not path.strip():
        raise ValueError(f"{flag} needs a file name, got an empty one")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name inside it, e.g. {path / 'agent.pt'}")
    if path.exists() and not path.is_file():  # /dev/null, a pipe: the atomic save would replace it
        raise ValueError(f"{flag} {path} is not a regular file; give the name of a file to write")
    existing = next(p for p in path.parents if p.exists())  # the filesystem root always exists
    if not existing.is_dir():
        raise ValueError(f"{flag} {path}: {existing} is a file, not a folder; choose another path")
    if not os.access(existing, os.W_OK):
        raise ValueError(f"{flag} {path}: no permission to write into {existing}; choose another folder")
    return path


def _import_env_module(env_id: str) -> str:
    """gymnasium's ``module:EnvId`` form: import ``module`` (which registers the env) and return ``EnvId``.

    Training then uses the bare id (the module stays imported), and the env's preset applies.
    """
    if ":" not in env_id:
        return env_id
    module, _, name = env_id.partition(":")
    if not module or not name:
        raise ValueError(f"--env {env_id}: write module:EnvId (e.g. gymnasium.envs.classic_control:CartPole-v1) "
                         f"or just the registered id")
    try:
        importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - whatever the module raises, one line names it
        raise ValueError(f"--env {env_id}: importing the module {module!r} (which should register {name!r}) "
                         f"failed with {type(err).__name__}: {err}") from None
    import gymnasium as gym

    if name not in gym.registry and ":" not in name:
        from dqn_helpers.vector_env import make_env

        try:
            make_env(name).close()
        except ValueError as err:
            raise ValueError(f"--env {env_id}: the module {module!r} was imported but registers no env "
                             f"{name!r}. {err}") from None
    return name


def _physical_memory() -> int | None:
    """Bytes of RAM of this machine (``None`` where the OS does not say, e.g. Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_sizes(config: DQNConfig, final_eval_episodes: int, obs_dim: int, n_actions: int) -> None:
    """Refuse sizes that cannot fit this machine, in one line before training, not as a MemoryError later."""
    copies = {"--num-envs": config.num_envs, "--eval-episodes": config.eval_episodes,
              "--final-eval-episodes": final_eval_episodes}
    for flag, n in copies.items():
        if n > MAX_ENV_COPIES:
            raise ValueError(f"{flag} {n:,} asks for that many env copies side by side; use at most "
                             f"{MAX_ENV_COPIES:,}")
    cores = os.cpu_count() or 1
    if config.torch_threads > cores:
        raise ValueError(f"--torch-threads {config.torch_threads:,}: this machine has {cores} CPU cores; use at "
                         f"most {cores} (1 is fastest for networks this small)")
    widths = [obs_dim, *config.hidden_sizes, n_actions]
    parameters = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    per_transition = 2 * 4 * obs_dim + 8 + 4 + 4  # obs and next_obs float32, action int64, reward, terminated
    needs = {  # bytes; the network counts 5 times: online, target, gradient, Adam's two moments
        "--buffer-capacity": per_transition * config.buffer_capacity if config.use_replay_buffer else 0,
        "--hidden-sizes": 5 * 4 * parameters + 4 * 4 * config.batch_size * sum(widths),
    }
    memory = _physical_memory()
    if memory is not None and sum(needs.values()) > memory:
        flag = max(needs, key=needs.get)
        value = config.buffer_capacity if flag == "--buffer-capacity" else " ".join(map(str, config.hidden_sizes))
        hint = (f"a buffer larger than --total-steps ({config.total_steps:,}) never fills, so "
                f"{min(config.total_steps, 50_000):,} is plenty" if flag == "--buffer-capacity"
                else "networks of a few hundred units per layer are plenty here")
        raise ValueError(f"{flag} {value}: training would need about {_bytes(sum(needs.values()))} of memory, "
                         f"more than this machine's {_bytes(memory)}; {hint}")


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024


def check_before_training(args: argparse.Namespace) -> DQNConfig:
    """Every check that can be made before training, so no finished run is lost to a typo.

    ``--save`` and ``--plot`` come back in ``args`` with ``~`` expanded; their missing
    folders are created once everything else passed.
    """
    given = {f.name: (tuple(v) if isinstance(v := getattr(args, f.name), list) else v)
             for f in fields(DQNConfig) if hasattr(args, f.name)}
    env_id = _import_env_module(given.pop("env_id", DQNConfig().env_id))
    config = DQNConfig.for_env(env_id, **given)
    if args.final_eval_episodes < 0:
        raise ValueError(f"--final-eval-episodes must be >= 0 (0 skips the final evaluation), got "
                         f"{args.final_eval_episodes}")
    if config.total_steps > MAX_TOTAL_STEPS:
        raise ValueError(f"--total-steps {config.total_steps:,} would take years (a CPU runs about 10,000 env steps "
                         f"a second); use at most {MAX_TOTAL_STEPS:.0e} (CartPole needs about 5e4, Atari 1e7)")
    if config.seed >= 2**32:
        raise ValueError(f"--seed must be below 2**32 = {2**32:,} (NumPy's seeds stop there), got {config.seed:,}")
    outputs = []
    if args.save is not None:
        args.save = str(_check_output_file(args.save, "--save"))
        outputs.append(Path(args.save))
    if args.plot is not None:
        args.plot = str(_check_output_file(args.plot, "--plot"))
        outputs.append(Path(args.plot))
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        supported = Figure().canvas.get_supported_filetypes()
        suffix = Path(args.plot).suffix.lstrip(".").lower()
        if suffix not in supported:
            kind = f".{suffix} files" if suffix else "a file without an extension"
            raise ValueError(f"--plot {args.plot}: matplotlib cannot write {kind}; end the name with one of "
                             f"{', '.join('.' + k for k in sorted(supported))} (e.g. .png)")
    if len(outputs) == 2 and outputs[0].resolve() == outputs[1].resolve():
        raise ValueError("--save and --plot name the same file; give them different names")
    from dqn_helpers.vector_env import check_env_spaces, make_env

    env = make_env(config.env_id)  # unknown ids and missing extra packages (box2d) fail here, not after training
    check_env_spaces(env.observation_space, env.action_space, config.env_id)
    env.close()
    if env.spec is not None and env.spec.id != config.env_id:  # "CartPole" is CartPole-v1: train (and preset) that
        config = DQNConfig.for_env(env.spec.id, **given)
    _check_sizes(config, args.final_eval_episodes, env.observation_space.shape[0], int(env.action_space.n))
    for path in outputs:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"cannot create the folder {path.parent} ({err.strerror})") from None
    return config


def run_train(args: argparse.Namespace) -> dict:
    """Train as the parsed arguments say; return the summary as a dict.

    Ctrl-C during training or the final evaluation ends them early; the summary
    then covers what was done and says ``"interrupted": true``. A run whose loss
    became NaN or infinite stops there; its summary has ``diverged_at_step`` and
    ``diverged_reason``, and neither the agent nor the plot is saved.
    """
    from dqn_helpers.evaluation import greedy_rollouts
    from dqn_helpers.presets import PRESETS
    from dqn_helpers.training import train

    config = check_before_training(args)
    show_progress = not (args.no_progress or args.json) and sys.stderr.isatty()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Training (interrupted|diverged)")  # main() prints its own line
        result = train(config, progress=show_progress)
    interrupted, final = result.interrupted, None
    if args.final_eval_episodes and not interrupted and not result.diverged:
        try:
            final = greedy_rollouts(result.agent, config.env_id, args.final_eval_episodes,
                                    seed=config.seed + FINAL_EVAL_SEED_OFFSET)
        except KeyboardInterrupt:
            interrupted = True
    collected = None if final is None else float(final.discounted_return.mean())
    predicted = None if final is None else float(final.q_start.mean())
    summary = {
        "env": config.env_id,
        "preset": config.env_id if config.env_id in PRESETS else "none (DQNConfig defaults)",
        "seed": config.seed,
        "env_steps": result.env_steps,
        "total_steps": config.total_steps,
        "interrupted": interrupted,
        "diverged_at_step": result.diverged_at_step,  # None unless the loss became NaN or infinite
        "updates": result.n_updates,
        "wall_seconds": round(result.wall_seconds, 2),
        "reward_threshold": result.reward_threshold,
        "solved_at_step": result.solved_at_step,
        "solved_at_seconds": None if result.solved_at_seconds is None else round(result.solved_at_seconds, 2),
        "final_eval_mean": None if final is None else float(final.episode_return.mean()),
        "final_eval_std": None if final is None else float(final.episode_return.std(ddof=0)),
        # calibration: what the agent predicted at the start states vs what it collected
        "q_start_mean": None if final is None else round(predicted, 2),
        "discounted_return_mean": None if final is None else round(collected, 2),
        "q_ratio": round(predicted / collected, 3) if collected else None,  # None: nothing to compare with
        "final_eval_episodes": 0 if final is None else args.final_eval_episodes,
        "episodes": len(result.episodes),
    }
    if result.diverged:  # to be fixed and run again: no final evaluation, nothing saved
        summary["diverged_reason"] = result.diverged_reason
        return summary
    if args.save:
        from dqn_helpers.persistence import save_agent

        save_agent(result.agent, args.save, config=config.to_dict(), summary=summary)
        summary["saved_to"] = args.save
    if args.plot and len(result.episodes) == 0:
        summary["plot"] = None  # nothing to draw: no episode finished
    elif args.plot:
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
    if summary["diverged_at_step"] is not None:
        print(f"  diverged at env step {summary['diverged_at_step']:,}: the loss became NaN or infinite "
              f"(see the error line); training stopped there")
    if summary["final_eval_mean"] is None:
        print("  final greedy evaluation: skipped")
    else:
        print(f"  final greedy evaluation: {summary['final_eval_mean']:.1f} ± {summary['final_eval_std']:.1f} "
              f"over {summary['final_eval_episodes']} episodes")
        ratio = "n/a" if summary["q_ratio"] is None else f"{summary['q_ratio']:.2f}"
        print(f"  predicted value of the start states {summary['q_start_mean']:.1f} vs discounted return "
              f"collected {summary['discounted_return_mean']:.1f} (ratio {ratio}; 1 = calibrated)")
    if "saved_to" in summary:
        print(f"  saved to: {summary['saved_to']}")
    if "plot" in summary:
        print(f"  plot: {summary['plot'] or 'none (no episode finished)'}")


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(message)).removeprefix("WARN: ")  # gymnasium colours its notes
    print(f"warning: {text}", file=sys.stderr if file is None else file)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dqn-helpers")
    except PackageNotFoundError:  # run from a checkout without pip install -e .
        return "(not installed)"


def _json_safe(value):
    """``value`` with every NaN and infinity turned into ``None``: JSON has no such numbers."""
    if hasattr(value, "item") and not isinstance(value, (dict, list, tuple, str)):  # NumPy and torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 bad input (one line on stderr, before any training), 3 training
    diverged (one line on stderr, then the summary), 130 Ctrl-C."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning  # e.g. learning_starts beyond the budget: one line
        warnings.simplefilter("ignore", DeprecationWarning)  # libraries' notes to developers, not to users
        try:
            summary = run_train(args)
        except (ValueError, TypeError, OSError, ImportError) as err:  # bad input: one clear line, no traceback
            print(f"error: {err}", file=sys.stderr)
            return 2
        except MemoryError as err:  # a size _check_sizes let through; numpy's message names the array
            print(f"error: out of memory ({err or 'MemoryError'}); lower --buffer-capacity, --hidden-sizes, "
                  f"--batch-size or the number of env copies", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # before training started, or while saving (the save is atomic)
            print("Interrupted (Ctrl-C); nothing was saved.", file=sys.stderr)
            return INTERRUPTED
    if summary["interrupted"]:
        print(f"Interrupted (Ctrl-C) after {summary['env_steps']:,} of {summary['total_steps']:,} env steps; "
              f"summary of what was done{' (agent saved)' if 'saved_to' in summary else ''}:", file=sys.stderr)
    elif summary["diverged_at_step"] is not None:
        print(f"error: {summary['diverged_reason']} Nothing saved; the summary of the steps before follows.",
              file=sys.stderr)
    if args.json:
        print(json.dumps(_json_safe(summary), allow_nan=False))
    else:
        print_summary(summary)
    if summary["interrupted"]:
        return INTERRUPTED
    return DIVERGED if summary["diverged_at_step"] is not None else 0
