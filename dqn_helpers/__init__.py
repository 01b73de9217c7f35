"""dqn_helpers: the tested reference implementation behind the notebooks.

Each piece names the notebook that builds it step by step:

========================  =============================================
``make_q_network``        notebooks/02_q_networks.ipynb
``td_target``             notebooks/02_q_networks.ipynb
``ReplayBuffer``          notebooks/03_replay_buffers.ipynb
``DeepQLearner``          notebooks/04_target_networks.ipynb (+ 02, 06)
``VectorizedEnvWrapper``  notebooks/05_vectorized_envs.ipynb
``make_vector_env``       notebooks/05_vectorized_envs.ipynb
``linear_epsilon``        notebooks/06_epsilon_decay.ipynb
``train``, ``evaluate``   notebooks/07_all_together.ipynb
``plot_returns``          notebooks/07_all_together.ipynb
``run_experiments``       notebooks/02_q_networks.ipynb (and every later comparison)
``greedy_rollouts``       notebooks/07_all_together.ipynb
probe environments        notebooks/09_write_your_own_dqn.ipynb
========================  =============================================
"""

from dqn_helpers.config import DQNConfig
from dqn_helpers.evaluation import evaluate, greedy_rollouts
from dqn_helpers.experiments import ExperimentResults, run_experiments
from dqn_helpers.learner import DeepQLearner, td_target
from dqn_helpers.probes import register_probes
from dqn_helpers.q_network import make_q_network
from dqn_helpers.replay_buffer import ReplayBuffer, TransitionBatch
from dqn_helpers.schedules import linear_epsilon
from dqn_helpers.training import TrainingResult, seed_everything, train
from dqn_helpers.vector_env import (
    GymnasiumVectorEnv,
    VectorizedEnvWrapper,
    VectorStep,
    make_env,
    make_vector_env,
)

register_probes()  # gymnasium.make("dqn_helpers/Probe1-v0") ... "Probe5-v0"

__all__ = [
    "DQNConfig",
    "DeepQLearner",
    "ExperimentResults",
    "GymnasiumVectorEnv",
    "ReplayBuffer",
    "TrainingResult",
    "TransitionBatch",
    "VectorStep",
    "VectorizedEnvWrapper",
    "evaluate",
    "greedy_rollouts",
    "linear_epsilon",
    "make_env",
    "make_q_network",
    "make_vector_env",
    "run_experiments",
    "seed_everything",
    "td_target",
    "train",
]
