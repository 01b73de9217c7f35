"""Watch agents play: an animated GIF of one or several agents side by side.

Built for ``notebooks/07_all_together.ipynb`` (untrained, half-trained and trained
agents next to each other).

Why a GIF: it is an ordinary image output (``image/gif``), so it plays in JupyterLab
even when the notebook is not trusted, on GitHub and in nbviewer, none of which run
the JavaScript that matplotlib's ``to_jshtml`` animations need. To keep notebooks
light, frames are skipped (``frame_every``), capped (``max_frames``) and reduced to
one small shared palette, which LZW (the GIF compression) packs tightly because the
rendered scenes are mostly flat colour.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dqn_helpers import validation
from dqn_helpers.evaluation import check_agent_fits_env
from dqn_helpers.vector_env import make_env

Policy = Callable[[np.ndarray], np.ndarray]  # observations (N, obs_dim) -> actions (N,)


class AgentGif:
    """An animated GIF in memory; Jupyter shows it as an ``image/gif`` output.

    Attributes: ``data`` (the GIF bytes), ``n_frames``, ``width``, ``height`` (pixels),
    ``falls`` (terminations per agent over the whole recording).
    """

    def __init__(self, data: bytes, n_frames: int, width: int, height: int, falls: list[int]):
        self.data, self.n_frames, self.width, self.height, self.falls = data, n_frames, width, height, falls

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "image/gif": base64.b64encode(self.data).decode("ascii"),
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:
        return f"<AgentGif {self.width}x{self.height} px, {self.n_frames} frames, {len(self.data) / 1e3:.0f} kB>"

    def save(self, path) -> None:
        """Write the GIF to a file (it plays in any browser or image viewer); ``~`` is the home folder."""
        with open(Path(path).expanduser(), "wb") as f:
            f.write(self.data)


@dataclass
class Recording:
    """What :func:`record_frames` returns.

    ``frames``: RGB arrays ``(H, W, 3)``; ``steps``: the env step of each frame;
    ``falls``: terminations (not time-limit truncations) before each frame;
    ``total_falls``: terminations over the whole recording; ``fps``: the env's
    rendering speed (simulated frames per second).
    """

    frames: list[np.ndarray]
    steps: list[int]
    falls: list[int]
    total_falls: int
    fps: float


def record_frames(policy: Policy, env_id: str, seed: int, n_steps: int, frame_every: int = 1) -> Recording:
    """Play ``policy`` for ``n_steps`` env steps, restarting after every episode.

    Built for ``notebooks/07_all_together.ipynb``. Keeps every ``frame_every``-th
    rendered frame.
    """
    env = make_env(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames, steps, falls, n_falls = [], [], [], 0
    for t in range(n_steps):
        if t % frame_every == 0:
            frames.append(_frame(env, env_id))
            steps.append(t)
            falls.append(n_falls)
        action = int(np.asarray(policy(obs[None]))[0])
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            n_falls += int(terminated)
            obs, _ = env.reset()  # the env's own RNG continues: still determined by `seed`
    fps = float(env.metadata.get("render_fps") or 30)
    env.close()
    return Recording(frames, steps, falls, n_falls, fps)


def agent_gif(
    agents: Sequence | object,
    env_id: str = "CartPole-v1",
    seed: int = 0,
    titles: Sequence[str] | None = None,
    n_steps: int = 300,
    frame_every: int = 3,
    max_frames: int = 100,
    width: int = 320,
    colors: int = 8,
    fps: float | None = None,
    columns: int | None = None,
) -> AgentGif:
    """An animated GIF of agents playing ``env_id`` side by side, from the same start state.

    Built for ``notebooks/07_all_together.ipynb``.

    Args:
        agents: one agent or a list of them: each a
            :class:`~dqn_helpers.learner.DeepQLearner` (it plays greedily) or a function
            ``observations (N, obs_dim) -> actions (N,)``.
        env_id: a gymnasium env with ``render_mode="rgb_array"``.
        seed: seed of the first episode, the same for every agent.
        titles: one caption per agent (default: "agent 1", "agent 2", ...); the
            current step and the number of falls are added under it.
        n_steps: env steps played by each agent; an episode that ends restarts.
        frame_every: keep one rendered frame in this many (3 keeps CartPole's 50
            steps per second of simulated time at about real speed).
        max_frames: at most this many frames (longer recordings are cut).
        width: pixels per agent (the height follows the env's aspect ratio).
        colors: size of the shared palette (2 to 255); fewer colours, smaller file.
        fps: frames per second of the GIF; default: real time for the env
            (its ``render_fps`` divided by ``frame_every``).
        columns: agents per row (default: all in one row). JupyterLab and GitHub
            shrink images wider than the page (~800 px), so three agents of 320 px
            are shown a little smaller unless ``columns=2`` or a smaller ``width``.

    Returns:
        an :class:`AgentGif`: the last expression of a cell displays it; ``.save(path)``
        writes it to a file.
    """
    agents = list(agents) if isinstance(agents, (list, tuple)) else [agents]
    titles = [titles] if isinstance(titles, str) else titles  # one agent, one caption
    titles = list(titles) if titles is not None else [f"agent {i + 1}" for i in range(len(agents))]
    problems = []
    if not agents:
        problems.append("agents is empty: pass at least one agent or policy")
    if len(titles) != len(agents):
        problems.append(f"got {len(titles)} titles for {len(agents)} agents: pass one title per agent")
    # Every number is checked before a frame is recorded (a bad fps used to fail only after recording).
    numbers = [("seed", seed, 0, 0), ("n_steps", n_steps, 1, 300), ("frame_every", frame_every, 1, 3),
               ("max_frames", max_frames, 1, 100), ("width", width, 16, 320), ("colors", colors, 2, 8)]
    if columns is not None:
        numbers.append(("columns", columns, 1, 2))
    for name, value, low, example in numbers:
        try:
            validation.count(name, value, example, minimum=low)
        except validation.InvalidSetting as problem:
            problems.append(str(problem))
    if fps is not None:
        try:
            validation.positive("fps", fps, 20)
        except validation.InvalidSetting as problem:
            problems.append(f"{problem} (or None: real time)")
    if isinstance(colors, int) and colors > 255:
        problems.append(f"colors must be <= 255 (a GIF palette holds 256, one is kept for 'unchanged'), got {colors}")
    policies = [getattr(a, "greedy_actions", a) for a in agents]
    if any(not callable(p) for p in policies):
        hint = " (for a training result, pass result.agent)" if any(hasattr(a, "agent") for a in agents) else ""
        problems.append(f"each agent must be a DeepQLearner or a function obs -> actions{hint}")
    if problems:
        raise ValueError("agent_gif: " + "; ".join(problems) + ".")
    _check_env(agents, env_id, seed)  # renders rgb_array frames, and fits every agent

    n_steps = min(int(n_steps), int(max_frames) * int(frame_every))  # no frames recorded just to be cut
    recordings = [record_frames(policy, env_id, seed, n_steps, frame_every) for policy in policies]
    first = recordings[0].frames[0]
    height = round(first.shape[0] * width / first.shape[1])
    caption = max(14, width // 14)  # px of text per caption line
    font = _font(caption - 3)
    columns = min(columns or len(recordings), len(recordings))
    rows = math.ceil(len(recordings) / columns)
    cell_height = height + 2 * caption
    sheets = []
    for k in range(len(recordings[0].frames)):
        sheet = Image.new("RGB", (width * columns, cell_height * rows), "white")
        draw = ImageDraw.Draw(sheet)
        for i, (title, rec) in enumerate(zip(titles, recordings)):
            x, y = (i % columns) * width, (i // columns) * cell_height
            scene = Image.fromarray(rec.frames[k]).resize((width, height), Image.Resampling.BILINEAR)
            sheet.paste(scene, (x, y + 2 * caption))
            draw.text((x + 6, y + 1), title, fill="black", font=font)
            draw.text((x + 6, y + caption), f"step {rec.steps[k]} · falls {rec.falls[k]}", fill="dimgray", font=font)
            if x:  # thin separators between agents
                draw.line([(x, y), (x, y + cell_height)], fill="lightgray")
            if y:
                draw.line([(x, y), (x + width, y)], fill="lightgray")
        sheets.append(sheet)

    # One palette for all frames (taken from a mosaic of several), no dithering: flat
    # colours stay flat, which is what makes the file small, and the result is deterministic.
    sample = sheets[:: max(1, len(sheets) // 8)]
    mosaic = Image.new("RGB", (sheets[0].width, sheets[0].height * len(sample)))
    for j, sheet in enumerate(sample):
        mosaic.paste(sheet, (0, j * sheets[0].height))
    palette = mosaic.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    indexed = [np.asarray(s.quantize(palette=palette, dither=Image.Dither.NONE)) for s in sheets]

    # Pixels that did not change since the previous frame become the transparent index
    # (one past the palette): the viewer keeps the old pixel (disposal=1) and long runs of
    # one index compress far better. The decoded frames are unchanged, the file ~40% smaller.
    clear = colors
    gif_palette = (palette.getpalette() + [0, 0, 0] * 256)[: 3 * colors] + [255, 0, 255]
    images = []
    for k, frame in enumerate(indexed):
        if k:
            frame = np.where(frame == indexed[k - 1], clear, frame).astype(np.uint8)
        image = Image.fromarray(frame, mode="P")
        image.putpalette(gif_palette)
        images.append(image)

    if fps is None:
        fps = recordings[0].fps / int(frame_every)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0, optimize=False, disposal=1, transparency=clear)
    return AgentGif(buffer.getvalue(), len(images), images[0].width, images[0].height,
                    [rec.total_falls for rec in recordings])


def _frame(env, env_id: str) -> np.ndarray:
    """``env.render()`` as an RGB array ``(H, W, 3)``, or an error saying the env cannot draw one."""
    try:
        frame = env.render()
    except (NotImplementedError, AssertionError):  # an env that draws nothing (gymnasium's checker asserts)
        frame = None
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        modes = env.metadata.get("render_modes") or []
        got = "None" if frame is None else f"a {type(frame).__name__}" + (
            f" of shape {frame.shape}" if isinstance(frame, np.ndarray) else "")
        raise ValueError(f"agent_gif needs an env that renders RGB frames (render_mode='rgb_array'); {env_id} "
                         f"renders {got} (its render modes: {', '.join(map(str, modes)) or 'none'}). Choose an "
                         f"env that lists 'rgb_array', e.g. CartPole-v1, Acrobot-v1, MountainCar-v0.")
    return frame


def _check_env(agents: list, env_id: str, seed: int) -> None:
    """Fail before recording when ``env_id`` draws no RGB frames or an agent does not fit its spaces."""
    need = ("agent_gif needs an env that renders RGB frames (render_mode='rgb_array'), e.g. CartPole-v1, "
            "Acrobot-v1, MountainCar-v0")
    with warnings.catch_warnings():  # gymnasium's note on an unlisted render mode: the error below says more
        warnings.simplefilter("ignore")
        try:
            env = make_env(env_id, render_mode="rgb_array")
        except TypeError as err:  # an env class whose __init__ takes no render_mode
            raise ValueError(f"{need}; {env_id} cannot be made with render_mode='rgb_array' ({err}).") from None
    try:
        env.reset(seed=int(seed))
        _frame(env, env_id)
        for agent in agents:
            check_agent_fits_env(agent, env.observation_space, env.action_space, env_id)
    finally:
        env.close()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()
