"""Bad values get one clear message naming the field and the fix, whichever door they come through."""

import inspect
import math

import numpy as np
import pytest
import torch

from dqn_helpers import DeepQLearner, DQNConfig, ReplayBuffer, linear_epsilon, train
from dqn_helpers import training as training_module

# (field, bad value, words the message must contain): each must be refused, not coerced
BAD_VALUES = [
    ("learning_rate", math.inf, "learning_rate must be a finite number"),
    ("learning_rate", -math.inf, "learning_rate must be a finite number"),
    ("learning_rate", "1e-3", "write 1e-3 without quotes"),
    ("learning_rate", None, "learning_rate must be a number"),
    ("gamma", math.nan, "gamma must be a finite number"),
    ("gamma", "0.99", "write 0.99 without quotes"),
    ("gamma", 1.0000001, "gamma must lie in [0, 1]"),
    ("gamma", True, "gamma must be a number"),
    ("gamma", 1j, "gamma must be a number"),
    ("double_dqn", "false", "write False without quotes"),
    ("double_dqn", "True", "double_dqn must be True or False"),
    ("double_dqn", 1, "double_dqn must be True or False"),
    ("double_dqn", None, "double_dqn must be True or False"),
    ("use_target_network", "no", "use_target_network must be True or False"),
    ("hidden_sizes", 256, "write (256,)"),
    ("hidden_sizes", "64,64", "hidden_sizes must be a tuple"),
    ("hidden_sizes", (64.5, 64), "hidden_sizes[0] counts something"),
    ("hidden_sizes", (64, 0), "hidden_sizes[1] must be a positive whole number"),
    ("tau", 0.0, "tau must lie in (0, 1]"),
    ("tau", math.nan, "tau must be a finite number"),
    ("epsilon_end", -0.01, "epsilon_end must lie in [0, 1]"),
    ("exploration_fraction", math.inf, "exploration_fraction must be a finite number"),
    ("loss", "MSE", "loss must be one of 'mse', 'huber'"),
    ("loss", None, "loss must be one of"),
    ("device", "nonsense", "device 'nonsense' is not a torch device"),
    ("device", "cuda:0:1", "is not a torch device"),
    ("device", "meta", "device 'meta' is not supported"),
    ("device", 0, "device must be a device name"),
]
LEARNER_FIELDS = set(inspect.signature(DeepQLearner).parameters) - {"obs_dim", "n_actions"}
CONFIG_ONLY = [
    ("total_steps", math.nan, "total_steps must be a finite number"),
    ("total_steps", 1e5 + 0.5, "total_steps counts something"),
    ("total_steps", "100000", "write 100000 without quotes"),
    ("batch_size", 64.5, "batch_size counts something and must be a whole number such as 64"),
    ("batch_size", True, "batch_size must be a number"),
    ("num_envs", 0, "num_envs must be a positive whole number"),
    ("num_envs", 2.5, "num_envs counts something"),
    ("learning_starts", -1, "learning_starts must be a whole number >= 0"),
    ("eval_every", math.inf, "eval_every must be a finite number"),
    ("seed", -1, "seed must be a whole number >= 0"),
    ("seed", 0.5, "seed counts something"),
    ("seed", None, "seed must be a number"),
    ("keep_best", "yes", "keep_best must be True or False"),
    ("env_id", "", "env_id must be a non-empty string"),
    ("env_id", None, "env_id must be a non-empty string"),
    ("env_backend", "Copies", "env_backend must be one of 'gymnasium', 'copies'"),
    ("torch_threads", -2, "torch_threads must be a whole number >= 0"),
]


@pytest.mark.parametrize("name, value, words", BAD_VALUES + CONFIG_ONLY)
def test_config_refuses_bad_values_with_the_field_and_fix(name, value, words):
    with pytest.raises(ValueError, match="Invalid DQNConfig") as err:
        DQNConfig(**{name: value})
    assert words in str(err.value)


@pytest.mark.parametrize("name, value, words", [case for case in BAD_VALUES if case[0] in LEARNER_FIELDS])
def test_learner_refuses_the_same_values_with_the_same_words(name, value, words):
    with pytest.raises(ValueError, match="Invalid DeepQLearner") as err:
        DeepQLearner(4, 2, **{name: value})
    assert words in str(err.value)


@pytest.mark.parametrize("name, value, words", BAD_VALUES + CONFIG_ONLY)
def test_train_refuses_bad_values_before_building_any_env(monkeypatch, name, value, words):
    def no_env(*args, **kwargs):
        raise AssertionError("an environment was built before the config was checked")

    monkeypatch.setattr(training_module, "make_vector_env", no_env)
    with pytest.raises(ValueError, match="Invalid DQNConfig") as err:
        train(**{name: value}, progress=False)
    assert words in str(err.value)


def test_all_problems_come_in_one_message():
    with pytest.raises(ValueError) as err:
        DQNConfig(learning_rate=math.inf, total_steps=math.nan, batch_size=64.5, hidden_sizes=256,
                  device="nonsense", double_dqn="false", gamma="0.99")
    message = str(err.value)
    assert len(message.splitlines()) == 1
    for name in ("learning_rate", "total_steps", "batch_size", "hidden_sizes", "device", "double_dqn", "gamma"):
        assert name in message


def test_unavailable_gpu_is_named_with_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for make in (lambda: DQNConfig(device="cuda"), lambda: DeepQLearner(4, 2, device="cuda:0")):
        with pytest.raises(ValueError, match=r"device 'cuda(:0)?' is not available.*use 'cpu'"):
            make()


def test_plain_python_values_come_out_of_numpy_and_integral_floats():
    config = DQNConfig(learning_rate=np.logspace(-4, -2, 3)[1], total_steps=1e4, batch_size=np.int64(32),
                       hidden_sizes=[np.int64(32), 32.0], double_dqn=np.bool_(True), device=torch.device("cpu"))
    assert type(config.learning_rate) is float and config.learning_rate == pytest.approx(1e-3)
    assert type(config.total_steps) is int and config.total_steps == 10_000
    assert type(config.batch_size) is int and config.hidden_sizes == (32, 32)
    assert config.double_dqn is True and config.device == "cpu"
    assert config == DQNConfig(learning_rate=1e-3, total_steps=10_000, batch_size=32, hidden_sizes=(32, 32),
                               double_dqn=True).replace(learning_rate=config.learning_rate)


def test_cross_field_problems_name_both_fields():
    with pytest.raises(ValueError, match=r"num_envs \(16\) is larger than buffer_capacity \(8\)"):
        DQNConfig(num_envs=16, buffer_capacity=8, batch_size=4)


def test_misspelt_field_names_get_the_closest_field():
    with pytest.raises(TypeError, match="did you mean 'learning_rate'"):
        DQNConfig().replace(learnig_rate=1e-3)
    with pytest.raises(TypeError, match="did you mean 'double_dqn'"):
        train(doubledqn=True, progress=False)


def test_train_wants_a_config_not_a_dict_and_a_real_boolean():
    with pytest.raises(TypeError, match="train needs a DQNConfig, got dict"):
        train({"seed": 1}, progress=False)
    with pytest.raises(ValueError, match="progress must be True or False"):
        train(progress="no")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(capacity=100.5, obs_shape=(4,)), "capacity counts something"),
        (dict(capacity="100", obs_shape=(4,)), "write 100 without quotes"),
        (dict(capacity=math.inf, obs_shape=(4,)), "capacity must be a finite number"),
        (dict(capacity=100, obs_shape=4), "write (4,)"),
        (dict(capacity=100, obs_shape=(4,), seed=-1), "seed must be a whole number >= 0"),
    ],
)
def test_replay_buffer_refuses_bad_values(kwargs, words):
    with pytest.raises(ValueError, match="Invalid ReplayBuffer") as err:
        ReplayBuffer(**kwargs)
    assert words in str(err.value)


@pytest.mark.parametrize("batch_size, words", [(2.5, "counts something"), ("4", "without quotes"),
                                               (math.nan, "finite"), (0, "positive")])
def test_replay_buffer_sample_refuses_bad_batch_sizes(batch_size, words):
    buffer = ReplayBuffer(10, (2,), seed=0)
    buffer.remember(np.zeros((5, 2)), np.zeros(5, int), np.zeros(5), np.zeros((5, 2)), np.zeros(5, bool))
    with pytest.raises(ValueError, match=words):
        buffer.sample(batch_size)


def test_learner_obs_dim_and_n_actions_follow_the_count_rule():
    with pytest.raises(ValueError, match="obs_dim counts something.*n_actions must be a positive whole number"):
        DeepQLearner(4.5, 0)


def test_defaults_have_one_source():
    config = DQNConfig()
    # linear_epsilon's defaults are DQNConfig's (they were 0.05 / 0.1 against 0.04 / 0.16)
    assert linear_epsilon(0.0) == config.epsilon_start
    assert linear_epsilon(1.0) == pytest.approx(config.epsilon_end)
    half = (config.epsilon_start + config.epsilon_end) / 2
    assert linear_epsilon(config.exploration_fraction / 2) == pytest.approx(half)
    # so are DeepQLearner's
    for name, parameter in inspect.signature(DeepQLearner).parameters.items():
        if name in LEARNER_FIELDS - {"seed"}:
            assert parameter.default == getattr(config, name), name


def test_linear_epsilon_checks_its_arguments_with_the_config_rules():
    with pytest.raises(ValueError, match="start must lie in .*fraction must be a number"):
        linear_epsilon(0.5, 1.5, 0.1, "0.1")
