import json
import subprocess
import sys

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
