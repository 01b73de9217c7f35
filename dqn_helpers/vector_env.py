"""Vectorized environments with one transition contract for the learner.

Built step by step in ``notebooks/05_vectorized_envs.ipynb``.

Running ``N`` copies of an environment side by side lets the Q-network choose
``N`` actions with one forward pass, which costs barely more than choosing one.
The subtle part is what happens when one copy's episode ends while the others
go on. Every vector env in this module answers ``step(actions)`` with a
:class:`VectorStep` that keeps three things apart that naive code mixes up:

* ``terminated`` (the task really ended: no future reward, do not bootstrap)
  vs ``truncated`` (a time limit cut the episode: the state still has a future);
* ``final_obs``: the true next state of each transition. For a copy whose
  episode just ended it is that episode's last observation, while ``next_obs``
  (what the agent acts on next) is already the first observation of the new one;
* ``learnable``: False for a step that is no real transition (gymnasium's
  ``NEXT_STEP`` autoreset spends one step on the reset; it must not be learned).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from difflib import get_close_matches

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


@dataclass(frozen=True)
class VectorStep:
    """What one step of ``N`` environments tells the learner (all arrays have length N).

    ``next_obs`` ``(N, obs_dim)``: observations to act on next.
    ``final_obs`` ``(N, obs_dim)``: true next state of each transition; equal to
    ``next_obs`` except where an episode just ended.
    ``rewards`` float32, ``terminated``/``truncated`` bool, ``learnable`` bool.
    """

    next_obs: np.ndarray
    final_obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    learnable: np.ndarray

    @property
    def done(self) -> np.ndarray:
        """True where an episode ended, whatever the reason."""
        return self.terminated | self.truncated


def check_env_spaces(observation_space: gym.Space, action_space: gym.Space, name: str) -> None:
    """Raise a clear error unless observations are a Box and actions are Discrete."""
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{name} has a {type(action_space).__name__} action space ({action_space}); DQN "
            f"picks one of finitely many actions and needs a Discrete action space. Choose "
            f"an env such as CartPole-v1, Acrobot-v1, MountainCar-v0 or LunarLander-v3, or "
            f"use an algorithm for continuous actions (e.g. SAC, TD3)."
        )
    if isinstance(observation_space, gym.spaces.Discrete):
        raise ValueError(
            f"{name} has a Discrete observation space ({observation_space}); the Q-network "
            f"needs vectors of numbers. Encode the state first, e.g. wrap the env with "
            f"gymnasium.wrappers.DiscreteToBoxObservation (one-hot), or use tabular "
            f"Q-learning (notebooks/01_continuous_states.ipynb)."
        )
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(
            f"{name} has observation space {observation_space}; this MLP Q-network needs a "
            f"flat Box of shape (obs_dim,). Flatten it first (gymnasium.wrappers."
            f"FlattenObservation) or choose an env with vector observations."
        )


class VectorizedEnvWrapper:
    """``N`` deep copies of one environment, each reset automatically when it ends.

    Built step by step in ``notebooks/05_vectorized_envs.ipynb``; the idea of the
    original blog post, written for gymnasium 1.x. It is easy to read and works
    for any env; :func:`make_vector_env` with ``backend="gymnasium"`` is faster.

    Args:
        env: the environment to copy (it is not stepped itself).
        num_envs: number of copies.
    """

    def __init__(self, env: gym.Env, num_envs: int = 1):
        if int(num_envs) <= 0:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs}.")
        name = env.spec.id if env.spec is not None else type(env).__name__
        check_env_spaces(env.observation_space, env.action_space, name)
        self.num_envs = int(num_envs)
        self.envs = [copy.deepcopy(env) for _ in range(self.num_envs)]
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.spec = env.spec

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy; copy ``i`` gets seed ``seed + i`` so no two copies agree."""
        seeds = [None] * self.num_envs if seed is None else [seed + i for i in range(self.num_envs)]
        return np.stack([env.reset(seed=s)[0] for env, s in zip(self.envs, seeds)]).astype(
            np.float32
        )

    def step(self, actions: np.ndarray) -> VectorStep:
        """Step every copy with its own action; a copy whose episode ends is reset at once."""
        next_obs, final_obs, rewards, terminated, truncated = [], [], [], [], []
        for env, action in zip(self.envs, actions):
            obs, reward, term, trunc, _ = env.step(int(action))
            final_obs.append(obs)  # the true next state, even when the episode just ended
            if term or trunc:
                obs, _ = env.reset()  # the copy's RNG continues from its first seed
            next_obs.append(obs)
            rewards.append(reward)
            terminated.append(term)
            truncated.append(trunc)
        return VectorStep(
            next_obs=np.asarray(next_obs, dtype=np.float32),
            final_obs=np.asarray(final_obs, dtype=np.float32),
            rewards=np.asarray(rewards, dtype=np.float32),
            terminated=np.asarray(terminated, dtype=bool),
            truncated=np.asarray(truncated, dtype=bool),
            learnable=np.ones(self.num_envs, dtype=bool),
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()


class GymnasiumVectorEnv:
    """Adapter giving a ``gymnasium.vector.VectorEnv`` the :class:`VectorStep` contract.

    Built step by step in ``notebooks/05_vectorized_envs.ipynb``. It understands
    both of gymnasium's autoreset modes:

    * ``SAME_STEP``: an ended copy is reset within the same step; its last
      observation arrives in ``info["final_obs"]`` (masked by ``info["_final_obs"]``).
    * ``NEXT_STEP`` (the default, and the only mode of the fast native CartPole):
      the step that ends an episode returns the true last observation; the next
      step ignores that copy's action and returns the reset observation with
      reward 0. That step is marked ``learnable=False``.
    """

    def __init__(self, vec_env: gym.vector.VectorEnv):
        self.env = vec_env
        self.num_envs = vec_env.num_envs
        self.single_observation_space = vec_env.single_observation_space
        self.single_action_space = vec_env.single_action_space
        self.spec = getattr(vec_env, "spec", None)
        mode = vec_env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
            raise ValueError(f"Autoreset mode {mode} is not supported; use SAME_STEP or NEXT_STEP.")
        self.autoreset_mode = mode
        self._resetting = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP bookkeeping

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy; gymnasium gives copy ``i`` the seed ``seed + i``."""
        obs, _ = self.env.reset(seed=seed)
        self._resetting[:] = False
        return np.asarray(obs, dtype=np.float32)

    def step(self, actions: np.ndarray) -> VectorStep:
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        obs = np.asarray(obs, dtype=np.float32)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        final_obs = obs
        learnable = np.ones(self.num_envs, dtype=bool)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            if "_final_obs" in info:
                ended = np.flatnonzero(info["_final_obs"])
                if len(ended):
                    final_obs = obs.copy()
                    final_obs[ended] = np.stack(info["final_obs"][ended])
        else:
            learnable = ~self._resetting
            self._resetting = terminated | truncated
        return VectorStep(
            next_obs=obs,
            final_obs=final_obs,
            rewards=np.asarray(rewards, dtype=np.float32),
            terminated=terminated,
            truncated=truncated,
            learnable=learnable,
        )

    def close(self) -> None:
        self.env.close()


VectorEnv = VectorizedEnvWrapper | GymnasiumVectorEnv


def make_env(env_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` with errors that say what to do: unknown ids get the closest
    registered ids, envs that need extra packages say which to install."""
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as err:
        raise ImportError(f"{env_id} needs a package that is not installed: {err}") from None
    except ModuleNotFoundError as err:  # "module:EnvId" ids import the module first
        raise ImportError(f"Could not make {env_id!r}: {err}") from None
    except gym.error.Error as err:
        if env_id in gym.registry:
            raise
        by_lower = {name.lower(): name for name in gym.registry}
        close = [by_lower[name] for name in get_close_matches(str(env_id).lower(), by_lower, n=3, cutoff=0.6)]
        hint = (f"Closest registered ids: {', '.join(close)}." if close else "Pick a registered id such as "
                "CartPole-v1, Acrobot-v1, MountainCar-v0 or LunarLander-v3 (gymnasium.pprint_registry() lists all).")
        raise ValueError(f"Unknown gymnasium environment id {env_id!r} (gymnasium says: {err}). {hint}") from None


def make_vector_env(env_id: str, num_envs: int, backend: str = "gymnasium") -> VectorEnv:
    """Build ``num_envs`` copies of ``env_id`` behind the :class:`VectorStep` contract.

    Built step by step in ``notebooks/05_vectorized_envs.ipynb``.

    Args:
        env_id: a registered gymnasium id with Box observations and Discrete actions.
        num_envs: number of environments stepped together.
        backend: ``"gymnasium"`` uses ``gymnasium.make_vec`` (a natively vectorized
            NumPy implementation for CartPole, ``SyncVectorEnv`` with ``SAME_STEP``
            autoreset otherwise); ``"copies"`` uses :class:`VectorizedEnvWrapper`.
    """
    if int(num_envs) <= 0:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs}.")
    single = make_env(env_id)
    check_env_spaces(single.observation_space, single.action_space, env_id)
    if backend == "copies":
        return VectorizedEnvWrapper(single, num_envs)
    if backend != "gymnasium":
        raise ValueError(f"backend must be 'gymnasium' or 'copies', got {backend!r}.")
    single.close()
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None:  # native vectorized env (CartPole): NEXT_STEP only
        vec = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    else:
        vec = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        )
    return GymnasiumVectorEnv(vec)
