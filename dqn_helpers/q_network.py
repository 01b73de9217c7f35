"""The Q-network: one forward pass gives the value of every action.

Built step by step in ``notebooks/02_q_networks.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def make_q_network(obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256)) -> nn.Sequential:
    """A multilayer perceptron ``R^obs_dim -> R^n_actions``.

    Built step by step in ``notebooks/02_q_networks.ipynb``.

    Output ``j`` estimates ``Q(s, a_j)``. Each hidden layer is followed by a ReLU:
    without a nonlinearity between them, stacked ``Linear`` layers collapse into a
    single linear map, which cannot represent CartPole's Q-function.
    Input: a float32 tensor ``(batch, obs_dim)``; output ``(batch, n_actions)``.
    """
    if obs_dim <= 0 or n_actions <= 0:
        raise ValueError(f"obs_dim and n_actions must be positive, got {obs_dim} and {n_actions}.")
    if any(int(h) <= 0 for h in hidden_sizes):
        raise ValueError(f"hidden_sizes must be positive layer widths, got {tuple(hidden_sizes)}.")
    layers: list[nn.Module] = []
    width = obs_dim
    for hidden in hidden_sizes:
        layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
        width = int(hidden)
    layers.append(nn.Linear(width, n_actions))
    return nn.Sequential(*layers)
