"""The original blog post's agent, run literally, as the baseline of the benchmark.

This is deliberately NOT the tutorial's implementation: it reproduces the blog's
choices, including the ones the notebooks correct, so that the benchmark compares
against what the post really ran:

* 32 deep copies of CartPole-v0 stepped one by one; a copy that ends is reset and
  its *reset* observation is stored as the next state (the final one is lost);
* ``done`` (termination or time limit) masks the bootstrap;
* a deque of whole vectorized transitions, sampled with batch size 1, so each
  update sees the 32 transitions of one past step;
* one coin for the whole batch decides whether all 32 envs explore;
* a float64 MLP with two hidden layers of 24 units, Adam(lr=1e-3), gamma = 0.95;
* T = 20,000 loop iterations (640,000 env steps), target synchronized every 100,
  epsilon from 1 to 0 over the first 10% of T; torch's default thread count.
"""

from __future__ import annotations

import copy
import random
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch


def run_blog_config(seed: int = 0, T: int = 20_000, num_envs: int = 32, env_id: str = "CartPole-v0") -> dict:
    """Train as the blog did; return wall and CPU seconds and the trained greedy policy."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()

    template = gym.make(env_id)
    envs = [copy.deepcopy(template) for _ in range(num_envs)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    n_obs, n_actions = template.observation_space.shape[0], template.action_space.n

    q = torch.nn.Sequential(
        torch.nn.Linear(n_obs, 24), torch.nn.ReLU(),
        torch.nn.Linear(24, 24), torch.nn.ReLU(),
        torch.nn.Linear(24, n_actions),
    ).double()
    q_target = copy.deepcopy(q)
    optimizer = torch.optim.Adam(q.parameters(), lr=1e-3)
    memory: deque = deque(maxlen=1_000_000)
    gamma, epsilon = 0.95, 1.0

    for t in range(T):
        if t % 100 == 0:
            q_target.load_state_dict(q.state_dict())
        if np.random.rand() < epsilon:
            actions = np.random.randint(n_actions, size=num_envs)
        else:
            with torch.no_grad():
                actions = q(torch.as_tensor(obs).double()).argmax(dim=1).numpy()
        next_obs, rewards, dones = [], [], []
        for env, action in zip(envs, actions):
            o, r, terminated, truncated, _ = env.step(int(action))
            done = terminated or truncated
            if done:
                o, _ = env.reset()
            next_obs.append(o)
            rewards.append(r)
            dones.append(float(done))
        next_obs = np.asarray(next_obs)
        memory.append((obs, actions, np.asarray(rewards), next_obs, np.asarray(dones)))
        obs = next_obs

        for s, a, r, s2, d in random.sample(memory, min(1, len(memory))):
            s, s2 = torch.as_tensor(s).double(), torch.as_tensor(s2).double()
            r, d, a = torch.as_tensor(r).double(), torch.as_tensor(d).double(), torch.as_tensor(a).long()
            with torch.no_grad():
                target = r + (1 - d) * gamma * q_target(s2).max(dim=1).values
            pred = q(s)[torch.arange(num_envs), a]
            loss = torch.mean((target - pred) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        epsilon = max(0.0, 1.0 - (t / T) / 0.1)

    def policy(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return q(torch.as_tensor(batch).double()).argmax(dim=1).numpy()

    return {
        "wall_seconds": time.perf_counter() - wall0,
        "cpu_seconds": time.process_time() - cpu0,
        "env_steps": T * num_envs,
        "updates": T,
        "policy": policy,
    }
