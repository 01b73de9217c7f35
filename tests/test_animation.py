"""agent_gif: frames, size, determinism, and that it displays as an image/gif output."""

import base64
import io
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from dqn_helpers import DeepQLearner
from dqn_helpers.animation import agent_gif, record_frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from notebook_outputs import MAX_BYTES  # noqa: E402


def lean_rule(obs):
    """Push toward the side the pole leans to: balances CartPole for a long time."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def always_left(obs):
    return np.zeros(len(obs), dtype=np.int64)


def decoded_frames(data: bytes) -> list[np.ndarray]:
    gif = Image.open(io.BytesIO(data))
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    return frames


def test_frame_count_and_size_follow_the_arguments():
    gif = agent_gif([always_left, lean_rule], seed=1, titles=["left", "lean"], n_steps=50, frame_every=4)
    assert gif.n_frames == math.ceil(50 / 4)
    image = Image.open(io.BytesIO(gif.data))
    assert image.format == "GIF" and image.n_frames == gif.n_frames
    assert image.size == (gif.width, gif.height) and gif.width == 2 * 320
    assert image.info["duration"] == round(1000 / (50 / 4))  # CartPole renders 50 fps: real time

    capped = agent_gif(lean_rule, n_steps=1_000, frame_every=2, max_frames=7)
    assert capped.n_frames == 7

    one = agent_gif(lean_rule, n_steps=3, frame_every=3, width=300)
    grid = agent_gif([lean_rule] * 3, n_steps=3, frame_every=3, width=300, columns=2)  # two rows
    assert (grid.width, grid.height) == (2 * one.width, 2 * one.height)


def test_three_agents_fit_comfortably_in_a_notebook():
    gif = agent_gif([DeepQLearner(4, 2, seed=0), always_left, lean_rule], seed=0)  # the defaults
    assert gif.width >= 3 * 300
    encoded = len(gif._repr_mimebundle_()["image/gif"])  # as stored in the .ipynb (base64)
    assert encoded < MAX_BYTES / 4, f"{encoded / 1e3:.0f} kB of a {MAX_BYTES / 1e3:.0f} kB notebook"
    assert gif.falls[1] > 0 and gif.falls[2] == 0  # 'always left' falls, the lean rule does not


def test_same_seed_same_bytes_and_another_seed_differs():
    first = agent_gif([DeepQLearner(4, 2, seed=0), always_left], seed=3, n_steps=60)
    again = agent_gif([DeepQLearner(4, 2, seed=0), always_left], seed=3, n_steps=60)
    other = agent_gif([DeepQLearner(4, 2, seed=0), always_left], seed=4, n_steps=60)
    assert first.data == again.data
    assert first.data != other.data


def test_decoded_frames_show_the_recorded_scenes_in_order():
    """Unchanged pixels are stored as transparent: the decoded frames must still be the scenes."""
    n_steps, every = 90, 3
    gif = agent_gif(always_left, seed=5, n_steps=n_steps, frame_every=every, colors=16)
    scenes = record_frames(always_left, "CartPole-v1", seed=5, n_steps=n_steps, frame_every=every).frames
    frames = decoded_frames(gif.data)
    caption = gif.height - round(scenes[0].shape[0] * gif.width / scenes[0].shape[1])

    def scene(k):
        return np.asarray(Image.fromarray(scenes[k]).resize((gif.width, gif.height - caption)), dtype=np.int16)

    for k in (1, len(frames) // 2, len(frames) - 1):
        shown = frames[k][caption:]
        right = np.abs(shown - scene(k)).mean()
        wrong = min(np.abs(shown - scene(j)).mean() for j in range(len(frames)) if abs(j - k) > 2)
        assert right < wrong, (k, right, wrong)
    assert any(np.abs(frames[0] - f).max() > 0 for f in frames[1:])  # it moves


def test_displays_as_a_gif_without_a_display():
    gif = agent_gif(lean_rule, n_steps=9, frame_every=3)
    bundle = gif._repr_mimebundle_()
    assert base64.b64decode(bundle["image/gif"]) == gif.data
    assert gif.data[:6] == b"GIF89a"
    assert "3 frames" in bundle["text/plain"]


def test_bad_arguments_are_named_before_any_rendering():
    with pytest.raises(ValueError, match="2 titles for 1 agents"):
        agent_gif(lean_rule, titles=["a", "b"])
    with pytest.raises(ValueError, match="colors must be <= 255"):
        agent_gif(lean_rule, colors=256)
    with pytest.raises(ValueError, match="DeepQLearner or a function"):
        agent_gif([lean_rule, "not a policy"], titles=["a", "b"])
    with pytest.raises(ValueError, match="agents is empty"):
        agent_gif([])



class Blind(gym.Env):
    """An env that draws nothing (lists no render modes)."""

    metadata = {"render_modes": []}
    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(4, dtype=np.float32), 1.0, False, False, {}


class BlindWithoutRenderMode(Blind):
    """As hand-written envs often are: ``__init__`` takes no ``render_mode``."""

    def __init__(self):
        super().__init__()


gym.register("BlindEnv-v0", entry_point=Blind, max_episode_steps=10)
gym.register("BlindWithoutRenderMode-v0", entry_point=BlindWithoutRenderMode, max_episode_steps=10)

@pytest.fixture
def no_recording(monkeypatch):
    """Fail if a frame is recorded: the checks under test must come first."""
    from dqn_helpers import animation

    monkeypatch.setattr(animation, "record_frames", lambda *a, **k: pytest.fail("recorded before checking"))


def test_an_env_without_rgb_frames_fails_up_front(no_recording):
    with pytest.raises(ValueError, match=r"needs an env that renders RGB frames.*BlindEnv-v0 renders None"):
        agent_gif(always_left, "BlindEnv-v0")
    with pytest.raises(ValueError, match="BlindWithoutRenderMode-v0 cannot be made with render_mode='rgb_array'"):
        agent_gif(always_left, "BlindWithoutRenderMode-v0")


@pytest.mark.parametrize("kwargs, words", [
    (dict(fps=0), "fps must be positive"),
    (dict(fps=-5), "fps must be positive"),
    (dict(fps="20"), "write 20 without quotes"),
    (dict(fps=float("nan")), "fps must be a finite number"),
    (dict(n_steps="abc"), "n_steps must be a number"),
    (dict(width=2.5), "width counts something"),
    (dict(columns=0), "columns must be a positive whole number"),
    (dict(env_id="CartPol-v1"), "Closest registered ids: CartPole-v1"),
    (dict(agents=DeepQLearner(6, 3)), r"takes observations of shape \(6,\).*CartPole-v1 gives"),
    (dict(agents=type("Result", (), {"agent": None})()), "for a training result, pass result.agent"),
])
def test_bad_settings_fail_before_recording(no_recording, kwargs, words):
    agents = kwargs.pop("agents", always_left)
    with pytest.raises(ValueError, match=words):
        agent_gif(agents, **kwargs)


def test_one_title_may_be_a_string_and_save_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    gif = agent_gif(always_left, titles="left", n_steps=3, frame_every=3)
    gif.save("~/left.gif")
    assert (tmp_path / "left.gif").read_bytes() == gif.data
