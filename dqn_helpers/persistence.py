"""Save a trained agent to one file and rebuild it later.

Used in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dqn_helpers.learner import DeepQLearner


def save_agent(agent: DeepQLearner, path: str | Path, **metadata) -> Path:
    """Write the weights and the settings needed to rebuild ``agent`` (plus any ``metadata``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"settings": agent.settings, "weights": agent.state_dict(), "metadata": metadata}, path)
    return path


def load_agent(path: str | Path, device: str = "cpu") -> DeepQLearner:
    """Rebuild an agent saved by :func:`save_agent`; its metadata is in ``agent.metadata``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved agent at {path}. Save one first with save_agent(agent, {str(path)!r}).")
    saved = torch.load(path, map_location=device, weights_only=True)
    agent = DeepQLearner(**saved["settings"], device=device)
    agent.load_state_dict(saved["weights"])
    agent.epsilon = agent.epsilon_end
    agent.metadata = saved.get("metadata", {})
    return agent
