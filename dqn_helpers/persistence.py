"""Save a trained agent to one file and rebuild it later.

Used in ``notebooks/07_all_together.ipynb``.

The file is written by ``torch.save`` and read with ``torch.load(weights_only=True)``,
which refuses to run code hidden in a file but also refuses objects it does not
know, NumPy numbers included. So everything saved is first turned into plain
Python values (``np.float64(1e-3)`` -> ``1e-3``, arrays -> lists), and whatever
:func:`save_agent` accepts, :func:`load_agent` loads.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from dqn_helpers.config import check_fields
from dqn_helpers.learner import DeepQLearner

FORMAT = "dqn_helpers agent"  # marks a file written by save_agent


def _plain(value, where: str):
    """``value`` with NumPy numbers, arrays, tuples and paths turned into what ``weights_only`` loads."""
    if isinstance(value, np.generic):  # np.float64, np.int64, np.bool_, np.str_ (np.float64 is a float too)
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {_plain(k, f"{where} key"): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"Cannot save {where} of type {type(value).__name__}: a saved agent holds numbers, strings, lists, "
        f"dicts and tensors only (so it loads safely). Convert it first, e.g. a DataFrame with .to_dict()."
    )


def save_agent(agent: DeepQLearner, path: str | Path, /, **metadata) -> Path:
    """Write the weights and the settings needed to rebuild ``agent`` (plus any ``metadata``).

    The file appears whole or not at all: it is written to a temporary file in the
    same folder and then renamed, so an interrupted save never leaves a broken file
    (and never destroys an earlier one at the same path). Missing folders are created.
    """
    if not isinstance(agent, DeepQLearner):
        raise TypeError(f"save_agent saves a DeepQLearner, got {type(agent).__name__} (for a training result, "
                        f"pass result.agent).")
    path = Path(path).expanduser()  # "~/agents/a.pt" is in the home folder, not in a folder named "~"
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; save the agent to a file inside it, e.g. {path / 'agent.pt'}.")
    checkpoint = {
        "format": FORMAT,
        "settings": _plain(agent.settings, "agent.settings"),
        "weights": agent.state_dict(),
        "metadata": _plain(metadata, "metadata"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            torch.save(checkpoint, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes a private file; give it the usual permissions
        os.replace(tmp_name, path)  # atomic on POSIX and Windows
    except BaseException:  # also Ctrl-C: leave no half-written temporary file behind
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_agent(path: str | Path, device: str = "cpu") -> DeepQLearner:
    """Rebuild an agent saved by :func:`save_agent`; its metadata is in ``agent.metadata``."""
    device = check_fields("load_agent", {"device": device})["device"]
    path = Path(path).expanduser()
    expected = "a file written by dqn_helpers.persistence.save_agent"
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a saved agent; pass the path of {expected}.")
    if not path.exists():
        raise FileNotFoundError(f"No saved agent at {path}. Save one first with save_agent(agent, {str(path)!r}).")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes), not a saved agent; expected {expected}. "
                         f"Was its save interrupted by an older version? Save the agent again.")
    with open(path, "rb") as file:
        head = file.read(64)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save writes a zip file (old versions: a pickle)
        try:
            what = f"a text file beginning {head.decode('utf-8')[:40]!r}"
        except UnicodeDecodeError:
            what = f"a file beginning with the bytes {head[:16]!r}"
        raise ValueError(f"{path} is {what}, not a saved agent; expected {expected}.")
    try:
        with warnings.catch_warnings():  # torch's warnings about odd pickles: the error below says more
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # a pickle of other objects, a truncated file ...
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [""]
        reason = next((line for line in lines if line.startswith("Unsupported")), lines[0])  # weights_only's reason
        raise ValueError(f"{path} is not a saved agent, or is damaged: torch.load could not read it safely "
                         f"({type(err).__name__}: {reason[:160]}); expected {expected}.") from None
    if not isinstance(saved, dict) or not {"settings", "weights"} <= saved.keys():
        got = (f"a dict with keys {sorted(map(str, saved))[:6]}" if isinstance(saved, dict)
               else f"a {type(saved).__name__}")
        state_dict = isinstance(saved, dict) and saved and all(
            isinstance(v, (torch.Tensor, dict)) for v in saved.values())
        hint = (" It looks like a bare state_dict: build the agent with DeepQLearner(...) and call "
                "agent.load_state_dict(...) or agent.q_network.load_state_dict(...) instead." if state_dict else "")
        raise ValueError(f"{path} holds {got}, not a saved agent; expected {expected} "
                         f"(a dict with 'settings' and 'weights').{hint}")
    try:
        agent = DeepQLearner(**saved["settings"], device=device)
    except TypeError as err:
        raise ValueError(f"{path}: the saved settings do not describe a DeepQLearner ({err}); expected {expected}.") \
            from None
    try:
        agent.load_state_dict(saved["weights"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"{path}: the saved weights do not fit the saved settings ({str(err).splitlines()[0]}); "
                         f"the file was edited or is damaged. Save the agent again.") from None
    agent.epsilon = agent.epsilon_end
    agent.metadata = saved.get("metadata", {})
    return agent
