import json
import subprocess
import sys
from contextlib import nullcontext

import pytest

from dqn_helpers.cli import main

FAST = ["--total-steps", "2000", "--learning-starts", "500", "--eval-every", "1000", "--eval-episodes", "2",
        "--final-eval-episodes", "3"]


def test_json_summary_has_the_promised_fields(capsys, tmp_path):
    code = main(["train", "--env", "CartPole-v1", "--seed", "3", *FAST, "--json",
                 "--save", str(tmp_path / "agent.pt"), "--plot", str(tmp_path / "returns.png")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env"] == "CartPole-v1" and summary["seed"] == 3
    assert summary["env_steps"] == 2000
    assert summary["wall_seconds"] > 0
    assert summary["final_eval_episodes"] == 3 and isinstance(summary["final_eval_mean"], float)
    assert "solved_at_step" in summary and summary["solved_at_step"] is None  # 2,000 steps are too few
    assert (tmp_path / "agent.pt").stat().st_size > 0 and (tmp_path / "returns.png").stat().st_size > 0


def test_text_summary_for_another_env(capsys):
    assert main(["train", "--env", "Acrobot-v1", *FAST, "--hidden-sizes", "32", "32", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Acrobot-v1 seed 0 (preset: Acrobot-v1): 2,000 env steps" in out and "final greedy evaluation" in out
    assert "predicted value of the start states" in out


def test_the_env_preset_is_used_and_each_flag_overrides_one_field(capsys, tmp_path):
    from dqn_helpers import DQNConfig
    from dqn_helpers.persistence import load_agent
    from dqn_helpers.presets import PRESETS

    path = tmp_path / "acrobot.pt"
    assert main(["train", "--env", "Acrobot-v1", *FAST, "--learning-rate", "0.001", "--json", "--save", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["preset"] == "Acrobot-v1"
    assert {"q_start_mean", "discounted_return_mean", "q_ratio"} <= set(summary)
    config = load_agent(path).metadata["config"]
    assert config["learning_rate"] == 0.001  # the flag wins over the preset
    assert config["target_update_every"] == PRESETS["Acrobot-v1"]["target_update_every"]  # preset kept
    assert config["target_update_every"] != DQNConfig().target_update_every


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dqn_helpers", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--env", "CartPole-v7"], "Unknown gymnasium environment id 'CartPole-v7'"),
        (["--env", "Pendulum-v1"], "Discrete action space"),
        (["--gamma", "1.5"], "gamma must lie in [0, 1]"),
    ],
)
def test_bad_input_exits_non_zero_with_one_clear_line(args, expected):
    proc = run_cli("train", *args)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], proc.stderr


# --- nothing a user does loses a finished run or prints a traceback (issue 10) ---

@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if training starts: the checks under test must come first."""
    from dqn_helpers import training

    def train(*args, **kwargs):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(training, "train", train)


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--final-eval-episodes", "-1"], "--final-eval-episodes must be >= 0"),
        (["--plot", "returns.xyz"], "matplotlib cannot write .xyz files"),
        (["--plot", "returns"], "matplotlib cannot write a file without an extension"),
        (["--env", "CartPol-v1"], "Closest registered ids: CartPole-v1"),
        (["--env", "lunarlander-v3"], "Closest registered ids: LunarLander-v3"),
        (["--env", "LunarLander-v2"], "Please use `LunarLander-v3` instead"),
        (["--env", "MountainCarContinuous-v0"], "Discrete action space"),
        (["--learning-rate", "inf"], "learning_rate must be a finite number"),
        (["--gamma", "nan"], "gamma must be a finite number"),
        (["--device", "nonsense"], "device 'nonsense' is not a torch device"),
        (["--hidden-sizes", "0"], "hidden_sizes[0] must be a positive whole number"),
        (["--batch-size", "64.5"], "--batch-size: expected a whole number, got '64.5'"),
        (["--total-steps", "lots"], "--total-steps: expected a whole number"),
        (["--double-dqn", "maybe"], "--double-dqn: expected true or false"),
        (["--num-envs", "16", "--buffer-capacity", "8", "--batch-size", "4"], "num_envs (16) is larger"),
    ],
)
def test_bad_input_is_refused_before_training(no_training, capsys, args, expected):
    with pytest.raises(SystemExit) if "expected" in expected else nullcontext():
        assert main(["train", *args]) == 2
    assert expected in one_error_line(capsys)


def test_output_paths_are_checked_before_training(no_training, capsys, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    cases = [
        (["--save", str(tmp_path)], "is a folder; give a file name inside it"),
        (["--save", str(a_file / "agent.pt")], "notes.txt is a file, not a folder"),
        (["--plot", str(a_file / "deeper" / "returns.png")], "notes.txt is a file, not a folder"),
        (["--plot", str(tmp_path)], "is a folder"),
        (["--save", str(tmp_path / "x.png"), "--plot", str(tmp_path / "x.png")], "name the same file"),
        (["--save", str(tmp_path / "new" / "a.pt"), "--plot", str(tmp_path / "new" / "r.xyz")], "cannot write .xyz"),
    ]
    for args, expected in cases:
        assert main(["train", *args]) == 2
        assert expected in one_error_line(capsys)
    assert not (tmp_path / "new").exists()  # folders are created only once every check passed


def test_missing_folders_are_created_up_front_and_final_eval_zero_skips(capsys, tmp_path):
    save, plot = tmp_path / "new" / "deeper" / "agent.pt", tmp_path / "figures" / "returns.png"
    code = main(["train", *FAST, "--final-eval-episodes", "0", "--save", str(save), "--plot", str(plot), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["final_eval_mean"] is None and summary["final_eval_episodes"] == 0
    assert save.stat().st_size > 0 and plot.stat().st_size > 0


def test_a_run_without_finished_episodes_still_ends_well(capsys, tmp_path):
    code = main(["train", "--total-steps", "5", "--num-envs", "2", "--learning-starts", "0", "--batch-size", "2",
                 "--eval-every", "0", "--final-eval-episodes", "1", "--plot", str(tmp_path / "r.png"),
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "5 env steps" in out and "plot: none (no episode finished)" in out


def test_learning_starts_beyond_the_budget_warns_in_one_line(capsys):
    assert main(["train", *FAST, "--learning-starts", "5000", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: learning_starts (5000) is not below total_steps (2000)" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_ctrl_c_prints_one_line_and_the_summary_saves_and_exits_130(monkeypatch, capsys, tmp_path):
    from dqn_helpers import DeepQLearner

    calls = []
    original = DeepQLearner.update

    def update(self, batch):
        calls.append(1)
        if len(calls) == 100:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(DeepQLearner, "update", update)
    code = main(["train", *FAST, "--save", str(tmp_path / "agent.pt"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 130
    assert captured.err.startswith("Interrupted (Ctrl-C) after ") and "of 2,000 env steps" in captured.err
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err
    assert "CartPole-v1 seed 0 (preset: CartPole-v1):" in captured.out
    assert "final greedy evaluation: skipped" in captured.out
    from dqn_helpers.persistence import load_agent

    saved = load_agent(tmp_path / "agent.pt")
    assert saved.metadata["summary"]["interrupted"] is True and saved.metadata["summary"]["env_steps"] < 2000


DRIVER = """
import os, signal, sys
from dqn_helpers import DeepQLearner
from dqn_helpers.cli import main
original, calls = DeepQLearner.update, []
def update(self, batch):  # a real SIGINT, as from Ctrl-C in a terminal, at the 50th update
    calls.append(1)
    if len(calls) == 50:
        os.kill(os.getpid(), signal.SIGINT)
    return original(self, batch)
DeepQLearner.update = update
sys.exit(main(sys.argv[1:]))
"""


def test_real_sigint_in_a_subprocess_exits_130_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-c", DRIVER, "train", *FAST, "--json", "--save", str(tmp_path / "a.pt")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("Interrupted (Ctrl-C)")
    summary = json.loads(proc.stdout)
    assert summary["interrupted"] is True and summary["env_steps"] < 2000 and summary["saved_to"]


def test_missing_extra_dependency_is_one_line_before_training(tmp_path):
    hide_box2d = ("import sys; sys.modules['Box2D'] = None; from dqn_helpers.cli import main; "
                  "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", hide_box2d, "train", "--env", "LunarLander-v3",
                           "--save", str(tmp_path / "a.pt")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "LunarLander-v3 needs a package that is not installed" in lines[0]
    assert 'pip install "gymnasium[box2d]"' in lines[0]
    assert not (tmp_path / "a.pt").exists()


def test_final_evaluation_uses_the_shared_seed_offset(monkeypatch, capsys):
    from dqn_helpers import evaluation
    from dqn_helpers.seeds import FINAL_EVAL_SEED_OFFSET

    seeds = []
    original = evaluation.greedy_rollouts
    monkeypatch.setattr(evaluation, "greedy_rollouts",
                        lambda *a, seed, **k: seeds.append(seed) or original(*a, seed=seed, **k))
    assert main(["train", *FAST, "--seed", "4", "--no-progress"]) == 0
    assert seeds == [4 + FINAL_EVAL_SEED_OFFSET]


def test_ctrl_c_during_the_final_evaluation_keeps_the_trained_agent(monkeypatch, capsys, tmp_path):
    from dqn_helpers import evaluation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "greedy_rollouts", interrupted)
    code = main(["train", *FAST, "--save", str(tmp_path / "agent.pt"), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 130 and summary["interrupted"] and summary["env_steps"] == 2000
    assert summary["final_eval_mean"] is None and (tmp_path / "agent.pt").exists()
    assert captured.err.startswith("Interrupted (Ctrl-C) after 2,000 of 2,000 env steps")


def test_ctrl_c_before_training_exits_130_in_one_line(monkeypatch, capsys):
    from dqn_helpers import vector_env

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vector_env, "make_env", interrupted)
    assert main(["train", *FAST]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "Interrupted (Ctrl-C); nothing was saved.\n"


# --- issue 21: divergence is reported, JSON stays JSON, paths and sizes are checked up front ---

def test_a_diverged_run_exits_3_with_one_line_and_valid_json(capsys, tmp_path):
    code = main(["train", *FAST, "--learning-rate", "1e30", "--json", "--save", str(tmp_path / "a.pt"),
                 "--plot", str(tmp_path / "r.png")])
    captured = capsys.readouterr()
    assert code == 3
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Training diverged at env step "), captured.err
    assert "learning rate too large (1e+30" in lines[0] and "Nothing saved" in lines[0]
    summary = json.loads(captured.out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert summary["diverged_at_step"] == summary["env_steps"] < 2000 and summary["final_eval_mean"] is None
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "r.png").exists()


def test_a_diverged_run_in_text_says_so(capsys):
    assert main(["train", *FAST, "--learning-rate", "1e30", "--no-progress"]) == 3
    captured = capsys.readouterr()
    assert "error: Training diverged" in captured.err and "diverged at env step" in captured.out


def test_json_has_null_where_a_number_is_nan(capsys):
    """Rewards NaN and no update to notice it (learning_starts beyond the budget): the JSON is still JSON."""
    import gymnasium as gym

    gym.register("NaNRewardCartPoleCli-v0", max_episode_steps=100,
                 entry_point=lambda: gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: float("nan")))
    code = main(["train", "--env", "NaNRewardCartPoleCli-v0", "--total-steps", "400", "--learning-starts", "1000",
                 "--eval-every", "0", "--final-eval-episodes", "2", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON: {out}"))
    assert summary["final_eval_mean"] is None  # NaN in Python, null in JSON


def test_tilde_is_the_home_folder_for_save_and_plot(capsys, tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert main(["train", *FAST, "--save", "~/runs/agent.pt", "--plot", "~/runs/returns.png", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (home / "runs" / "agent.pt").stat().st_size > 0 and (home / "runs" / "returns.png").stat().st_size > 0
    assert not (work / "~").exists()
    assert summary["saved_to"] == str(home / "runs" / "agent.pt") and summary["plot"] == str(home / "runs" /
                                                                                             "returns.png")


def test_a_module_colon_env_id_trains(capsys):
    assert main(["train", "--env", "gymnasium.envs.classic_control:CartPole-v1", *FAST, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env"] == "CartPole-v1" and summary["preset"] == "CartPole-v1"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--buffer-capacity", "1e13"], "--buffer-capacity 10000000000000: training would need about"),
        (["--hidden-sizes", "1000000", "1000000"], "--hidden-sizes 1000000 1000000: training would need about"),
        (["--num-envs", "1e9", "--use-replay-buffer", "false"], "--num-envs 1,000,000,000 asks for that many"),
        (["--eval-episodes", "1e9"], "--eval-episodes 1,000,000,000 asks for that many env copies"),
        (["--final-eval-episodes", "1e9"], "--final-eval-episodes 1,000,000,000 asks for that many env copies"),
        (["--torch-threads", "100000"], "--torch-threads 100,000: this machine has"),
        (["--seed", "1e30"], "--seed must be below 2**32"),
        (["--save", ""], "--save needs a file name"),
        (["--plot", " "], "--plot needs a file name"),
        (["--env", "nosuchmodule:CartPole-v1"], "importing the module 'nosuchmodule'"),
        (["--env", "os:NoSuchEnv-v0"], "the module 'os' was imported but registers no env 'NoSuchEnv-v0'"),
        (["--env", ":CartPole-v1"], "write module:EnvId"),
        (["--total-steps", "1e18"], "--total-steps 1,000,000,000,000,000,000 would take years"),
        (["--save", "/dev/null"], "--save /dev/null is not a regular file"),
    ],
)
def test_huge_values_and_odd_ids_get_one_line_before_training(no_training, capsys, args, expected):
    assert main(["train", *args]) == 2
    assert expected in one_error_line(capsys)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--total_steps", "100"], "did you mean --total-steps for --total_steps?"),
        (["--total_steps=100"], "did you mean --total-steps for --total_steps?"),
        (["--lr", "0.1"], "did you mean --learning-rate for --lr?"),
        (["--learning_rate", "0.1", "--Seed", "3"], "--learning-rate for --learning_rate, --seed for --Seed?"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag (see"),  # nothing close: no guess
        (["--hidden-sizes", "64,64"], "write the widths separated by spaces (--hidden-sizes 64 64)"),
        (["--hidden-sizes", "(64, 64)"], "write the widths separated by spaces (--hidden-sizes 64 64)"),
    ],
)
def test_an_unknown_flag_gets_the_closest_known_one(no_training, capsys, args, expected):
    with pytest.raises(SystemExit) as exit_:
        main(["train", *args])
    assert exit_.value.code == 2
    assert expected in one_error_line(capsys)


def test_env_id_is_a_synonym_of_env():
    from dqn_helpers.cli import build_parser

    assert build_parser().parse_args(["train", "--env-id", "Acrobot-v1"]).env_id == "Acrobot-v1"


def test_a_boolean_flag_alone_means_true_and_version_prints(capsys):
    from dqn_helpers.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "--stop-when-solved"]).stop_when_solved is True
    assert parser.parse_args(["train", "--double-dqn", "false", "--seed", "1"]).double_dqn is False
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("python -m dqn_helpers ")


def test_an_unversioned_env_id_trains_its_latest_version(capsys):
    code = main(["train", "--env", "CartPole", *FAST, "--json"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["env"] == "CartPole-v1"
    assert "warning: Using the latest versioned environment `CartPole-v1`" in captured.err
    assert "\x1b[" not in captured.err  # gymnasium's colour codes are removed


def test_json_safe_handles_nested_values_and_numpy_scalars():
    import numpy as np

    from dqn_helpers.cli import _json_safe

    value = {"a": float("nan"), "b": [float("inf"), 1.5, {"c": -float("inf")}], "d": np.float32("nan"),
             "e": np.int64(3), "f": "nan", "g": None}
    assert _json_safe(value) == {"a": None, "b": [None, 1.5, {"c": None}], "d": None, "e": 3, "f": "nan", "g": None}
    json.dumps(_json_safe(value), allow_nan=False)
