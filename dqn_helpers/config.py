"""Every knob of a training run in one place, each with a one-line explanation.

Used in every notebook's parameter cell and by ``python -m dqn_helpers train``,
which turns each field below into a command-line flag (``--total-steps`` etc.).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from difflib import get_close_matches
from functools import partial

from dqn_helpers import validation as rule
from dqn_helpers.validation import fail

LOSSES = ("mse", "huber")
ENV_BACKENDS = ("gymnasium", "copies")


def _knob(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of a Deep Q-Learning run, with defaults tuned for CartPole-v1.

    The defaults are tuned to learn in few env steps *and* to predict values that match the
    returns the agent collects (``benchmarks/calibration_sweep.py`` chose them over 10 seeds;
    ``benchmarks/time_to_solve.py`` measures them). They start from rl-baselines3-zoo's
    CartPole values (exploration, batch size) and change four things: a 64-64 network,
    whose update costs about half that of zoo's 256-256 on a CPU; the Double DQN target; a
    target synchronized every 50 updates with a larger learning rate (5e-3), instead of
    every 10 at 2.3e-3 (synchronized every 10 updates, the predicted values ended 40-80%
    above the returns collected: the target stays too close to the network it should hold
    still; notebooks 04 and 08 measure this); and four environments sharing one gradient
    update per vector step, i.e. one update per 4 env steps. With eight environments (one
    update per 8 env steps) the same settings needed about twice the env steps to solve
    (median 55,000 against 28,750) for about the same number of updates.

    The blog post's symbols in brackets: alpha = ``learning_rate``, T =
    ``total_steps``, n_theta = ``target_update_every``, epsilon_i/epsilon_f/
    n_epsilon = ``epsilon_start``/``epsilon_end``/``exploration_fraction``.
    """

    env_id: str = _knob("CartPole-v1", "gymnasium id of an env with Box observations and Discrete actions")
    seed: int = _knob(0, "seed of torch, NumPy, the envs and the buffer")
    total_steps: int = _knob(100_000, "env steps to train for, summed over all envs [T]")
    num_envs: int = _knob(4, "environments stepped together; one round of updates per vector step")
    env_backend: str = _knob("gymnasium", "'gymnasium' (gymnasium.make_vec, fast) or 'copies' (deep copies)")
    hidden_sizes: tuple[int, ...] = _knob((64, 64), "widths of the Q-network's hidden layers")
    learning_rate: float = _knob(5e-3, "Adam learning rate [alpha]")
    gamma: float = _knob(0.99, "discount factor in [0, 1]")
    buffer_capacity: int = _knob(50_000, "transitions the replay buffer holds")
    batch_size: int = _knob(64, "transitions per gradient update")
    learning_starts: int = _knob(1_000, "env steps of random-ish play before the first update")
    train_every: int = _knob(1, "vector steps between two rounds of updates")
    gradient_steps: int = _knob(1, "gradient updates per round")
    target_update_every: int = _knob(50, "gradient updates between target synchronizations [n_theta]")
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
        # Every field is checked by its rule in FIELD_RULES (the same rules DeepQLearner and
        # ReplayBuffer use) and stored as a plain Python value, so np.float64(1e-3) and 1e-3
        # make equal configs and a saved config loads anywhere.
        checked = check_fields("DQNConfig", self.to_dict())
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: this is the only place values change
        problems = []
        if self.use_replay_buffer and self.batch_size > self.buffer_capacity:
            problems.append(
                f"batch_size ({self.batch_size}) is larger than buffer_capacity ({self.buffer_capacity}); "
                f"raise buffer_capacity or lower batch_size"
            )
        if self.use_replay_buffer and self.num_envs > self.buffer_capacity:
            problems.append(
                f"num_envs ({self.num_envs}) is larger than buffer_capacity ({self.buffer_capacity}): one "
                f"vector step would not fit; raise buffer_capacity"
            )
        fail("DQNConfig", problems)

    def replace(self, **changes) -> DQNConfig:
        """A copy with some fields changed, e.g. ``config.replace(seed=1)``."""
        unknown = [name for name in changes if name not in FIELD_RULES]
        if unknown:
            hints = [f"{name!r}" + "".join(f" (did you mean {close!r}?)"
                                           for close in get_close_matches(name, FIELD_RULES, 1))
                     for name in unknown]
            raise TypeError(f"DQNConfig has no field {', '.join(hints)}; DQNConfig.help() lists its fields.")
        return replace(self, **changes)

    @classmethod
    def for_env(cls, env_id: str, **overrides) -> DQNConfig:
        """Settings known to work for ``env_id`` (its preset in ``dqn_helpers/presets.py``), then ``overrides``.

        ``DQNConfig.for_env("Acrobot-v1", seed=3)``; an env without a preset gets the defaults.
        """
        from dqn_helpers.presets import preset_for

        return cls(**{**preset_for(env_id), "env_id": env_id, **overrides})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # asdict would deep-copy

    @classmethod
    def help(cls) -> dict[str, str]:
        """One line of explanation per field."""
        return {f.name: f.metadata["help"] for f in fields(cls)}


# The rule each field must follow (see dqn_helpers.validation). DeepQLearner and
# ReplayBuffer check their arguments of the same names with these same rules.
FIELD_RULES = {
    "env_id": rule.text,
    "seed": partial(rule.count, minimum=0),
    "total_steps": rule.count,
    "num_envs": rule.count,
    "env_backend": partial(rule.choice, options=ENV_BACKENDS),
    "hidden_sizes": rule.sizes,
    "learning_rate": rule.positive,
    "gamma": partial(rule.real, low=0.0, high=1.0),
    "buffer_capacity": rule.count,
    "batch_size": rule.count,
    "learning_starts": partial(rule.count, minimum=0),
    "train_every": rule.count,
    "gradient_steps": rule.count,
    "target_update_every": rule.count,
    "tau": partial(rule.real, low=0.0, high=1.0, open_low=True),
    "epsilon_start": partial(rule.real, low=0.0, high=1.0),
    "epsilon_end": partial(rule.real, low=0.0, high=1.0),
    "exploration_fraction": partial(rule.real, low=0.0, high=1.0),
    "loss": partial(rule.choice, options=LOSSES),
    "double_dqn": rule.boolean,
    "use_replay_buffer": rule.boolean,
    "use_target_network": rule.boolean,
    "eval_every": partial(rule.count, minimum=0),
    "eval_episodes": rule.count,
    "keep_best": rule.boolean,
    "stop_when_solved": rule.boolean,
    "torch_threads": partial(rule.count, minimum=0),
    "device": rule.device,
}


def check_fields(owner: str, values: dict, **other_rules) -> dict:
    """Check ``{field name: value}`` with each field's rule; the defaults serve as examples.

    ``other_rules`` add or replace rules by name (e.g. ``seed=validation.seed``, which
    also allows ``None``). Returns the values as plain Python types; raises one
    ``ValueError`` naming every field that breaks its rule and how to fix it.
    """
    examples = {name: getattr(DQNConfig, name) for name in values if hasattr(DQNConfig, name)}
    return rule.check_all(owner, values, {**FIELD_RULES, **other_rules}, examples)
