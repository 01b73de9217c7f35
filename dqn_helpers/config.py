"""Every knob of a training run in one place, each with a one-line explanation.

Used in every notebook's parameter cell and by ``python -m dqn_helpers train``,
which turns each field below into a command-line flag (``--total-steps`` etc.).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace


def _knob(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of a Deep Q-Learning run, with defaults tuned for CartPole-v1.

    The defaults are tuned to be fast *and* to predict values that match the returns the
    agent collects (``benchmarks/time_to_solve.py`` measures both over 10 seeds). They
    start from rl-baselines3-zoo's CartPole values (exploration, batch size) and change
    three things: a 64-64 network, whose update costs about half that of zoo's 256-256 on
    a CPU; the Double DQN target; and a target synchronized every 30 updates with a larger
    learning rate (5e-3), instead of every 10 at 2.3e-3. A target synchronized every 10
    updates learns as fast but overestimates Q by half or more, because it is too close to
    the network it is supposed to hold still (notebooks 04 and 08 measure this). Eight
    environments share one gradient update per vector step (one update per 8 env steps).

    The blog post's symbols in brackets: alpha = ``learning_rate``, T =
    ``total_steps``, n_theta = ``target_update_every``, epsilon_i/epsilon_f/
    n_epsilon = ``epsilon_start``/``epsilon_end``/``exploration_fraction``.
    """

    env_id: str = _knob("CartPole-v1", "gymnasium id of an env with Box observations and Discrete actions")
    seed: int = _knob(0, "seed of torch, NumPy, the envs and the buffer")
    total_steps: int = _knob(100_000, "env steps to train for, summed over all envs [T]")
    num_envs: int = _knob(8, "environments stepped together")
    env_backend: str = _knob("gymnasium", "'gymnasium' (gymnasium.make_vec, fast) or 'copies' (deep copies)")
    hidden_sizes: tuple[int, ...] = _knob((64, 64), "widths of the Q-network's hidden layers")
    learning_rate: float = _knob(5e-3, "Adam learning rate [alpha]")
    gamma: float = _knob(0.99, "discount factor in [0, 1]")
    buffer_capacity: int = _knob(50_000, "transitions the replay buffer holds")
    batch_size: int = _knob(64, "transitions per gradient update")
    learning_starts: int = _knob(1_000, "env steps of random-ish play before the first update")
    train_every: int = _knob(1, "vector steps between two rounds of updates")
    gradient_steps: int = _knob(1, "gradient updates per round")
    target_update_every: int = _knob(30, "gradient updates between target synchronizations [n_theta]")
    tau: float = _knob(1.0, "1.0 = hard copy at each sync; in (0, 1) = Polyak step of that size")
    epsilon_start: float = _knob(1.0, "exploration rate at the start [epsilon_i]")
    epsilon_end: float = _knob(0.04, "exploration rate after the decay [epsilon_f]")
    exploration_fraction: float = _knob(0.16, "share of total_steps spent decaying epsilon [n_epsilon]")
    loss: str = _knob("mse", "'mse' (squared TD error) or 'huber'")
    double_dqn: bool = _knob(True, "Double DQN target (online net picks a', target net values it)")
    use_replay_buffer: bool = _knob(True, "False learns from the latest transitions only (ablation)")
    use_target_network: bool = _knob(True, "False bootstraps from the online network (ablation)")
    eval_every: int = _knob(2_500, "env steps between greedy evaluations; 0 = never")
    eval_episodes: int = _knob(10, "episodes per periodic greedy evaluation")
    keep_best: bool = _knob(True, "end with the weights of the best periodic evaluation")
    stop_when_solved: bool = _knob(False, "stop once a periodic evaluation reaches the env's threshold")
    torch_threads: int = _knob(1, "torch CPU threads; 1 is fastest for such small networks; 0 = leave as is")
    device: str = _knob("cpu", "'cpu' or e.g. 'cuda'")

    def __post_init__(self):
        problems = []
        for name in ("total_steps", "num_envs", "buffer_capacity", "batch_size", "train_every",
                     "gradient_steps", "target_update_every", "eval_episodes"):
            if int(getattr(self, name)) <= 0:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("learning_starts", "eval_every", "torch_threads"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate} (try 1e-3)")
        if not 0.0 <= self.gamma <= 1.0:
            problems.append(f"gamma must lie in [0, 1], got {self.gamma} (try 0.99)")
        for name in ("epsilon_start", "epsilon_end", "exploration_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.tau <= 1.0:
            problems.append(f"tau must lie in (0, 1], got {self.tau}")
        if self.use_replay_buffer and self.batch_size > self.buffer_capacity:
            problems.append(
                f"batch_size ({self.batch_size}) is larger than buffer_capacity ({self.buffer_capacity}); "
                f"raise buffer_capacity or lower batch_size"
            )
        if self.loss not in ("mse", "huber"):
            problems.append(f"loss must be 'mse' or 'huber', got {self.loss!r}")
        if self.env_backend not in ("gymnasium", "copies"):
            problems.append(f"env_backend must be 'gymnasium' or 'copies', got {self.env_backend!r}")
        if problems:
            raise ValueError("Invalid DQNConfig: " + "; ".join(problems) + ".")

    def replace(self, **changes) -> DQNConfig:
        """A copy with some fields changed, e.g. ``config.replace(seed=1)``."""
        return replace(self, **changes)

    @classmethod
    def for_env(cls, env_id: str, **overrides) -> DQNConfig:
        """Settings known to work for ``env_id`` (its preset in ``dqn_helpers/presets.py``), then ``overrides``.

        ``DQNConfig.for_env("Acrobot-v1", seed=3)``; an env without a preset gets the defaults.
        """
        from dqn_helpers.presets import preset_for

        return cls(**{**preset_for(env_id), "env_id": env_id, **overrides})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def help(cls) -> dict[str, str]:
        """One line of explanation per field."""
        return {f.name: f.metadata["help"] for f in fields(cls)}
