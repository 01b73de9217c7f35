"""Correct answers written the way students write them, not copied from the package.

The checks refuse an answer that subclasses or calls the package's own solution
(``dqn_helpers.ReplayBuffer``, ``VectorizedEnvWrapper``, ``td_target``, ...), so the tests
build their wrong answers on these instead: each wrong answer is one of these with one
mistake put in.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import torch

from dqn_helpers import TransitionBatch


class StudentRing:
    """A ring replay buffer of preallocated arrays, as notebook 03 asks: the rows to write are a modulo."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.position, self.size = int(capacity), 0, 0
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        slots = np.arange(self.position, self.position + n) % self.capacity
        self.obs[slots], self.next_obs[slots] = obs, next_obs
        self.actions[slots], self.rewards[slots], self.terminated[slots] = actions, rewards, terminated
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"asked for {batch_size} transitions, only {self.size} stored")
        idx = self.rng.integers(0, self.size, size=batch_size)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])

    def __len__(self):
        return self.size


class StudentVecEnv:
    """A vectorized env of deep copies, returning a SimpleNamespace like notebook 05's exercise."""

    def __init__(self, env, num_envs):
        self.num_envs = num_envs
        self.envs = [copy.deepcopy(env) for _ in range(num_envs)]

    def reset(self, seed=None):
        return np.stack([env.reset(seed=None if seed is None else seed + i)[0]
                         for i, env in enumerate(self.envs)]).astype(np.float32)

    def step(self, actions):
        results = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        final_obs = np.array([r[0] for r in results], dtype=np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        next_obs = np.array(final_obs)  # a copy: the resets below must not touch final_obs
        for i in np.flatnonzero(terminated | truncated):
            next_obs[i] = self._reset_copy(i)
        return SimpleNamespace(next_obs=next_obs, final_obs=final_obs, terminated=terminated, truncated=truncated,
                               rewards=np.array([r[1] for r in results], dtype=np.float32))

    def _reset_copy(self, i):
        """The first observation of copy i's next episode (a hook for the wrong answers that reset it otherwise)."""
        return self.envs[i].reset()[0]


def student_q_learning_update(q, s, a, r, s2, terminated, alpha, gamma):
    """Notebook 01's tabular update: one step alpha from Q[s, a] towards the target, no bootstrap when terminated."""
    target = r + (0.0 if terminated else gamma * q[s2].max())
    q[s, a] += alpha * (target - q[s, a])


def student_discretise(obs, low, high, n_bins):
    """Notebook 01's binning, dimension by dimension: clip, floor, combine the digits in base n_bins[d]."""
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(int(fraction * n), n - 1)
    return int(index)


def student_td_target(rewards, terminated, next_q_values, gamma):
    """The TD target with torch.where for the mask instead of (1 - terminated)."""
    best = next_q_values.detach().amax(dim=1)
    return torch.where(terminated.bool(), rewards, rewards + gamma * best)


def student_double_dqn_target(rewards, terminated, next_q_online, next_q_target, gamma):
    """Double DQN with indexing by arange instead of gather."""
    with torch.no_grad():
        chosen = next_q_online.argmax(dim=1)
        value = next_q_target[torch.arange(len(chosen)), chosen]
        return torch.where(terminated > 0.5, rewards, rewards + gamma * value)


def student_update(learner, batch):
    """One DQN step with indexing by arange and a hand-written squared error."""
    obs, next_obs = torch.as_tensor(batch.obs), torch.as_tensor(batch.next_obs)
    actions = torch.as_tensor(batch.actions).long()
    rewards = torch.as_tensor(batch.rewards, dtype=torch.float32)
    alive = 1.0 - torch.as_tensor(batch.terminated, dtype=torch.float32)
    with torch.no_grad():
        target = rewards + learner.gamma * alive * learner.target_network(next_obs).amax(dim=1)
    q_taken = learner.q_network(obs)[torch.arange(len(actions)), actions]
    loss = ((q_taken - target) ** 2).mean()
    learner.optimizer.zero_grad()
    loss.backward()
    learner.optimizer.step()
    return float(loss)


def student_evaluate(policy, env_id, n_episodes, seed):
    """Greedy evaluation on one env, episode by episode, with a while loop on `done`."""
    import gymnasium as gym

    env = gym.make(env_id)
    returns = []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(np.asarray(policy(obs[None]))[0]))
            total += reward
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.array(returns)
