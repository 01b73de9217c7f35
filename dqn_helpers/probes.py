"""Probe environments: five tiny tasks with known optimal Q-values, to debug a DQN piece by piece.

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``.

A DQN that fails on CartPole can be broken anywhere: the loss, the network input, the
discount, the bootstrap mask, the choice of action in the loss. Each probe below
isolates one of these. It is so small that a correct learner gets its Q-values right
within a few hundred updates, and the value it must reach is known exactly:

==========================  =======  ==============================================  ==========================
id                          actions  the task                                        optimal Q
==========================  =======  ==============================================  ==========================
``dqn_helpers/Probe1-v0``   1        one step, reward +1                             Q(s) = 1
``dqn_helpers/Probe2-v0``   1        one step, obs ±1, reward = obs                  Q(s) = obs
``dqn_helpers/Probe3-v0``   1        two steps: obs 0 then obs 1, reward 0 then +1   Q(0) = gamma, Q(1) = 1
``dqn_helpers/Probe4-v0``   2        one step, reward +1 for action 1, -1 for 0      Q(s, 0) = -1, Q(s, 1) = +1
``dqn_helpers/Probe5-v0``   2        one step, obs ±1, reward +1 if the action        Q(s, a) = +1 if a matches
                                     matches the sign (1 for +1, 0 for -1), else -1  the sign, else -1
==========================  =======  ==============================================  ==========================

Every episode ends with ``terminated=True`` (never truncated), so the targets of the
last step are the reward alone. Observations are ``Box(-1, 1, (1,))`` float32.
``import dqn_helpers`` registers them with gymnasium: ``gymnasium.make("dqn_helpers/Probe3-v0")``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class ProbeEnv(gym.Env):
    """Base class: a Box(-1, 1, (1,)) observation and a known optimal Q for each probe state.

    Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``.
    """

    n_actions = 1
    name = ""  # what a report calls it: "the discounting probe"
    title = ""  # the part of DQN this probe isolates, in plain words
    look_at = ""  # where to look in the update when a learner fails it
    loop_look_at = ""  # where to look in the training loop when the update passes and the whole agent fails it

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self.obs = np.zeros(1, dtype=np.float32)

    @staticmethod
    def _obs(x: float) -> np.ndarray:
        return np.array([x], dtype=np.float32)

    def probe_states(self) -> list[np.ndarray]:
        """The observations at which a learner's Q-values are compared with :meth:`optimal_q`."""
        return [self._obs(0.0)]

    def optimal_q(self, obs: np.ndarray, gamma: float) -> np.ndarray:
        """The optimal Q-values ``(n_actions,)`` of observation ``obs`` for discount ``gamma``."""
        raise NotImplementedError

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.obs = self._first_obs()
        return self.obs.copy(), {}

    def _first_obs(self) -> np.ndarray:
        return self._obs(0.0)


class ConstantRewardProbe(ProbeEnv):
    """Probe 1: one step, reward +1. Fails when the loss or the optimizer step is broken."""

    name = "constant-reward"
    title = "constant reward (the loss and the optimizer step)"
    look_at = "the loss (Q(s, a) - y)^2, its sign, and zero_grad / backward / step; also the (1 - terminated) mask"
    loop_look_at = ("whether the loop updates at all (a batch sampled and update called on every pass from "
                    "learning_starts on), and the rewards and terminated flags it remembers")

    def optimal_q(self, obs, gamma):
        return np.array([1.0])

    def step(self, action):
        return self._obs(0.0), 1.0, True, False, {}


class ObservationRewardProbe(ProbeEnv):
    """Probe 2: obs ±1 at random, reward = obs. Fails when the network ignores its input."""

    name = "observation"
    title = "observation-dependent reward (the network's input)"
    look_at = "which observations go into the network for Q(s, a): the batch's obs, as float32 of shape (B, obs_dim)"
    loop_look_at = "the observations: remember the one the agent acted on, then continue from the env's new one"

    def probe_states(self):
        return [self._obs(-1.0), self._obs(1.0)]

    def optimal_q(self, obs, gamma):
        return np.array([float(obs[0])])

    def _first_obs(self):
        return self._obs(float(self.np_random.choice([-1.0, 1.0])))

    def step(self, action):
        return self._obs(0.0), float(self.obs[0]), True, False, {}


class DiscountingProbe(ProbeEnv):
    """Probe 3: obs 0 (reward 0), then obs 1 (reward +1, end). Fails on a wrong discount or bootstrap."""

    name = "discounting"
    title = "two-step discounting (gamma and the bootstrap)"
    look_at = "gamma in the target y = r + gamma * (1 - terminated) * max Q_target(s', a'), and next_obs in it"
    loop_look_at = ("the next state remembered (the true last observation of the step) and the synchronization of "
                    "the target network")

    def probe_states(self):
        return [self._obs(0.0), self._obs(1.0)]

    def optimal_q(self, obs, gamma):
        return np.array([gamma if obs[0] < 0.5 else 1.0])

    def step(self, action):
        if self.obs[0] < 0.5:
            self.obs = self._obs(1.0)
            return self.obs.copy(), 0.0, False, False, {}
        return self._obs(0.0), 1.0, True, False, {}


class ActionRewardProbe(ProbeEnv):
    """Probe 4: two actions, reward +1 for action 1 and -1 for action 0. Fails when the loss ignores the action."""

    n_actions = 2
    name = "action"
    title = "action-dependent reward (the Q-value of the action taken)"
    look_at = "the prediction Q(s, a): the Q-value of the action taken in each row, not the max or mean over actions"
    loop_look_at = "the actions remembered: the ones learner.act returned for the observations of this step"

    def optimal_q(self, obs, gamma):
        return np.array([-1.0, 1.0])

    def step(self, action):
        return self._obs(0.0), 1.0 if int(action) == 1 else -1.0, True, False, {}


class ObservationActionProbe(ProbeEnv):
    """Probe 5: obs ±1; reward +1 when the action matches the sign (1 for +1, 0 for -1), else -1. Fails when
    the rows' observations and actions get mixed up. (A (B, 1) column broadcast against (B,) fails it too, but
    fails probe 2 first; check_probes names that case itself.)"""

    n_actions = 2
    name = "observation-and-action"
    title = "observation and action together (each row's own action)"
    look_at = "how actions index the Q-values row by row: each row's own action, with actions of shape (B,)"
    loop_look_at = "that each remembered row keeps its own observation and its own action together"

    def probe_states(self):
        return [self._obs(-1.0), self._obs(1.0)]

    def optimal_q(self, obs, gamma):
        return np.array([1.0, -1.0]) if obs[0] < 0 else np.array([-1.0, 1.0])

    def _first_obs(self):
        return self._obs(float(self.np_random.choice([-1.0, 1.0])))

    def step(self, action):
        good = int(action) == int(self.obs[0] > 0)
        return self._obs(0.0), 1.0 if good else -1.0, True, False, {}


PROBES = {
    "dqn_helpers/Probe1-v0": ConstantRewardProbe,
    "dqn_helpers/Probe2-v0": ObservationRewardProbe,
    "dqn_helpers/Probe3-v0": DiscountingProbe,
    "dqn_helpers/Probe4-v0": ActionRewardProbe,
    "dqn_helpers/Probe5-v0": ObservationActionProbe,
}


def register_probes() -> None:
    """Register the five probes with gymnasium (idempotent; done by ``import dqn_helpers``)."""
    for env_id, cls in PROBES.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=f"{__name__}:{cls.__name__}")
