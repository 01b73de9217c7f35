"""Settings known to work, per environment: what ``DQNConfig.for_env`` starts from.

Used by ``python -m dqn_helpers train --env ...`` and ``notebooks/08_going_further.ipynb``.

``DQNConfig()``'s own defaults are tuned for CartPole-v1. Other tasks need other
settings: Acrobot's and LunarLander's rewards arrive later and are noisier, so they want
slower target updates, a larger batch, more exploration at the end and more updates
per env step. Each preset lists only the fields that differ from ``DQNConfig()``, and
says where its values come from and what they achieved here
(``benchmarks/time_to_solve.py --env ...`` measures them on your machine).
"""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    # The DQNConfig defaults themselves (tuned over 10 seeds, see benchmarks/time_to_solve.py).
    "CartPole-v1": {},
    # CartPole-v0 is the same task with 200-step episodes (threshold 195): half the budget.
    "CartPole-v0": {"total_steps": 50_000},
    # Start: rl-baselines3-zoo's DQN values for Acrobot-v1 (lr 6.3e-4, batch 128, target
    # every 250 updates, final epsilon 0.1 reached after 12% of training, 256-256 net).
    "Acrobot-v1": {
        "total_steps": 100_000, "learning_rate": 6.3e-4, "batch_size": 128, "learning_starts": 1_000,
        "target_update_every": 250, "double_dqn": False, "tau": 1.0, "epsilon_end": 0.1,
        "exploration_fraction": 0.12, "hidden_sizes": (256, 256), "gradient_steps": 2,
    },
    # Same starting point for LunarLander (rl-baselines3-zoo uses the same values there).
    "LunarLander-v3": {
        "total_steps": 200_000, "learning_rate": 6.3e-4, "batch_size": 128, "learning_starts": 1_000,
        "target_update_every": 250, "double_dqn": False, "tau": 1.0, "epsilon_end": 0.1,
        "exploration_fraction": 0.12, "hidden_sizes": (256, 256), "gradient_steps": 2,
    },
}


def preset_for(env_id: str) -> dict:
    """The fields a preset changes for ``env_id`` (empty if there is none: CartPole's defaults)."""
    return dict(PRESETS.get(env_id, {}))
