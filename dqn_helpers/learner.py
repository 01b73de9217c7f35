"""The Deep Q-learner: online network, target network, epsilon-greedy acting.

Built step by step in notebooks 02 (Q-network and TD loss), 04 (target network)
and 06 (epsilon decay); all together in ``notebooks/07_all_together.ipynb``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dqn_helpers import validation
from dqn_helpers.adam import Adam
from dqn_helpers.config import LOSSES, DQNConfig, check_fields
from dqn_helpers.q_network import make_q_network
from dqn_helpers.replay_buffer import TransitionBatch
from dqn_helpers.schedules import linear_epsilon
from dqn_helpers.seeds import random_stream

__all__ = ["LOSSES", "DeepQLearner", "count_parameters", "td_target"]  # LOSSES: kept importable from here


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_q_values: torch.Tensor,
    gamma: float,
    next_actions: torch.Tensor | None = None,
) -> torch.Tensor:
    """The bootstrapped target ``y = r + (1 - terminated) * gamma * Q(s', a')``.

    Built step by step in ``notebooks/02_q_networks.ipynb``.

    Args:
        rewards: ``(B,)`` rewards ``r``.
        terminated: ``(B,)`` 1.0 where the episode truly ended (no bootstrap),
            0.0 otherwise (a time-limit truncation still bootstraps).
        next_q_values: ``(B, n_actions)`` Q-values of the next states ``s'``.
        gamma: discount factor in [0, 1].
        next_actions: ``(B,)`` actions ``a'`` to evaluate; ``None`` takes the max
            over actions (plain DQN). Double DQN passes the online network's argmax.
    """
    if next_actions is None:
        next_values = next_q_values.max(dim=1).values
    else:
        next_values = next_q_values.gather(1, next_actions.view(-1, 1)).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_values


class DeepQLearner:
    """Q-network, its target copy, an optimizer and an epsilon-greedy policy.

    Built step by step in notebooks 02, 04 and 06; used whole in notebook 07.

    Args:
        obs_dim: length of one observation vector.
        n_actions: number of discrete actions.
        hidden_sizes: widths of the hidden layers of the MLP.
        learning_rate: Adam step size (the blog's alpha).
        gamma: discount factor in [0, 1].
        epsilon_start, epsilon_end, exploration_fraction: the linear epsilon
            schedule (the blog's epsilon_i, epsilon_f, n_epsilon).
        loss: ``"mse"`` (squared TD error, as in the blog) or ``"huber"``.
        double_dqn: choose the next action with the online network and value it
            with the target network, which curbs the max operator's overestimation.
        use_target_network: False bootstraps from the online network itself
            (for the ablations in notebooks 04 and 08).
        tau: 1.0 copies the weights at each synchronization (hard update); a
            value in (0, 1) moves the target a step of size ``tau`` (Polyak).
        device: ``"cpu"`` (fastest for networks this small) or e.g. ``"cuda"``.
        seed: seeds the weight initialization and the exploration RNG.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        *,  # the defaults are DQNConfig's, so the two never disagree
        hidden_sizes: Sequence[int] = DQNConfig.hidden_sizes,
        learning_rate: float = DQNConfig.learning_rate,
        gamma: float = DQNConfig.gamma,
        epsilon_start: float = DQNConfig.epsilon_start,
        epsilon_end: float = DQNConfig.epsilon_end,
        exploration_fraction: float = DQNConfig.exploration_fraction,
        loss: str = DQNConfig.loss,
        double_dqn: bool = DQNConfig.double_dqn,
        use_target_network: bool = DQNConfig.use_target_network,
        tau: float = DQNConfig.tau,
        device: str | torch.device = DQNConfig.device,
        seed: int | None = None,
    ):
        # DQNConfig's rules for the fields of the same names (dqn_helpers.validation): every
        # problem in one message, and the values back as plain Python types.
        v = check_fields(
            "DeepQLearner",
            dict(obs_dim=obs_dim, n_actions=n_actions, hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                 gamma=gamma, epsilon_start=epsilon_start, epsilon_end=epsilon_end,
                 exploration_fraction=exploration_fraction, loss=loss, double_dqn=double_dqn,
                 use_target_network=use_target_network, tau=tau, device=device, seed=seed),
            obs_dim=validation.count, n_actions=validation.count, seed=validation.seed,
        )
        if v["seed"] is not None:
            torch.manual_seed(v["seed"])
        # Everything needed to rebuild this learner (see dqn_helpers.persistence), as plain
        # Python values: np.float64 hyperparameters would make a saved file unloadable.
        self.settings = {k: v[k] for k in ("obs_dim", "n_actions", "hidden_sizes", "learning_rate", "gamma",
                                           "epsilon_start", "epsilon_end", "exploration_fraction", "loss",
                                           "double_dqn", "use_target_network", "tau")}
        self.obs_dim, self.n_actions = v["obs_dim"], v["n_actions"]
        self.gamma = v["gamma"]
        self.epsilon_start, self.epsilon_end = v["epsilon_start"], v["epsilon_end"]
        self.exploration_fraction = v["exploration_fraction"]
        self.epsilon = self.epsilon_start
        self.loss_name = v["loss"]
        self.double_dqn = v["double_dqn"]
        self.tau = v["tau"]
        self.device = torch.device(v["device"])
        self.rng = random_stream(v["seed"], "exploration")  # independent of the replay buffer's stream
        obs_dim, n_actions, hidden_sizes = v["obs_dim"], v["n_actions"], v["hidden_sizes"]
        learning_rate, use_target_network = v["learning_rate"], v["use_target_network"]

        self.q_network = make_q_network(obs_dim, n_actions, hidden_sizes).to(self.device)
        if use_target_network:
            self.target_network = copy.deepcopy(self.q_network)
            self.target_network.requires_grad_(False)  # it is never trained, only synchronized
        else:
            self.target_network = self.q_network
        # the package's own Adam: same numbers as torch.optim.Adam, without its ~1 s import (see adam.py)
        self.optimizer = Adam(self.q_network.parameters(), lr=learning_rate)
        self.last_q_mean = torch.zeros(())  # mean predicted Q of the last batch, for logging

    @classmethod
    def from_config(cls, config: DQNConfig, obs_dim: int, n_actions: int) -> DeepQLearner:
        """The learner a :class:`~dqn_helpers.config.DQNConfig` describes, for an env's sizes.

        Used by :func:`dqn_helpers.train` and ``notebooks/07_all_together.ipynb``.
        """
        learner_fields = ("hidden_sizes", "learning_rate", "gamma", "epsilon_start", "epsilon_end",
                          "exploration_fraction", "loss", "double_dqn", "use_target_network", "tau", "device",
                          "seed")
        return cls(obs_dim, n_actions, **{name: getattr(config, name) for name in learner_fields})

    @property
    def uses_target_network(self) -> bool:
        return self.target_network is not self.q_network

    def _as_batch(self, obs) -> tuple[np.ndarray, bool]:
        """``obs`` as a float32 batch ``(N, obs_dim)``, and whether it was one unbatched observation."""
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim == 1 and obs.shape[0] == self.obs_dim:
            return obs[None, :], True
        if obs.ndim == 2 and obs.shape[1] == self.obs_dim:
            return obs, False
        raise ValueError(
            f"Expected one observation of shape ({self.obs_dim},) or a batch of shape (N, {self.obs_dim}), "
            f"got shape {obs.shape}. Stack observations along a first batch dimension "
            f"(np.stack or obs[None] for a single one)."
        )

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q-values ``(N, n_actions)`` of a batch of observations ``(N, obs_dim)``, without gradients.

        One unbatched observation ``(obs_dim,)`` gives its ``(n_actions,)`` Q-values.
        """
        batch, single = self._as_batch(obs)
        with torch.inference_mode():
            q = self.q_network(torch.as_tensor(batch, device=self.device)).cpu().numpy()
        return q[0] if single else q

    def greedy_actions(self, obs: np.ndarray) -> np.ndarray | int:
        """The action with the highest estimated value for each observation (an ``int`` for one)."""
        batch, single = self._as_batch(obs)
        actions = self.q_values(batch).argmax(axis=1)
        return int(actions[0]) if single else actions

    def act(self, obs: np.ndarray) -> np.ndarray | int:
        """Epsilon-greedy actions for a batch of observations, one per environment.

        Each environment explores on its own: with probability epsilon, *its*
        action is random, while the other environments act greedily. (Drawing
        one coin for the whole batch would make all envs explore together.)
        One unbatched observation ``(obs_dim,)`` gets one ``int`` action.
        """
        obs, single = self._as_batch(obs)
        n = len(obs)
        explore = self.rng.random(n) < self.epsilon
        if explore.all():  # no need for a forward pass
            actions = self.rng.integers(self.n_actions, size=n)
        else:
            actions = self.greedy_actions(obs)
            n_random = int(explore.sum())
            if n_random:
                actions[explore] = self.rng.integers(self.n_actions, size=n_random)
        return int(actions[0]) if single else actions

    def decay_epsilon(self, progress: float) -> float:
        """Set epsilon for a fraction ``progress`` (0 to 1) of training done; returns it."""
        self.epsilon = linear_epsilon(progress, self.epsilon_start, self.epsilon_end, self.exploration_fraction)
        return self.epsilon

    def synchronize(self) -> None:
        """Move the target network to the online network (hard copy if tau == 1)."""
        if not self.uses_target_network:
            return
        with torch.no_grad():
            if self.tau >= 1.0:
                self.target_network.load_state_dict(self.q_network.state_dict())
            else:
                for target, online in zip(self.target_network.parameters(), self.q_network.parameters()):
                    target.lerp_(online, self.tau)

    def update(self, batch: TransitionBatch) -> float:
        """One gradient step on a batch of transitions; returns the loss.

        Minimizes ``mean((Q(s, a) - y)^2)`` (or the Huber loss) where the target
        ``y`` (see :func:`td_target`) is computed without gradient: it is treated
        as a constant, so the network only moves ``Q(s, a)`` towards it.
        """
        obs = torch.as_tensor(batch.obs, device=self.device)
        actions = torch.as_tensor(batch.actions, device=self.device)
        rewards = torch.as_tensor(batch.rewards, device=self.device)
        next_obs = torch.as_tensor(batch.next_obs, device=self.device)
        terminated = torch.as_tensor(batch.terminated, device=self.device)

        with torch.no_grad():
            next_q = self.target_network(next_obs)
            next_actions = self.q_network(next_obs).argmax(dim=1) if self.double_dqn else None
            target = td_target(rewards, terminated, next_q, self.gamma, next_actions)

        q_pred = self.q_network(obs).gather(1, actions.view(-1, 1)).squeeze(1)
        if self.loss_name == "huber":
            loss = F.smooth_l1_loss(q_pred, target)
        else:
            loss = F.mse_loss(q_pred, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.last_q_mean = q_pred.detach().mean()
        return loss.item()

    def state_dict(self) -> dict:
        """Weights of both networks (the optimizer is not needed to act)."""
        return {"q_network": self.q_network.state_dict(), "target_network": self.target_network.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.q_network.load_state_dict(state["q_network"])
        if self.uses_target_network:
            self.target_network.load_state_dict(state["target_network"])


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of a network."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
