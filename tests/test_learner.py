import numpy as np
import pytest
import torch

from dqn_helpers import DeepQLearner, ReplayBuffer, linear_epsilon, make_q_network, td_target


def random_batch(n=32, obs_dim=4, seed=0):
    buffer = ReplayBuffer(capacity=n, obs_shape=(obs_dim,), seed=seed)
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, obs_dim))
    buffer.remember(obs, rng.integers(2, size=n), rng.normal(size=n), obs + 0.1, rng.random(n) < 0.2)
    return buffer.sample(n)


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_td_target_masks_terminal_transitions_only():
    rewards = torch.tensor([1.0, 1.0, 0.5])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[2.0, 3.0], [10.0, 20.0], [-1.0, -4.0]])
    y = td_target(rewards, terminated, next_q, gamma=0.9)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.9 * 3.0, 1.0, 0.5 + 0.9 * -1.0]))


def test_td_target_with_given_next_actions_evaluates_those_actions():
    y = td_target(torch.zeros(2), torch.zeros(2), torch.tensor([[1.0, 5.0], [7.0, 2.0]]), 1.0,
                  next_actions=torch.tensor([0, 1]))
    torch.testing.assert_close(y, torch.tensor([1.0, 2.0]))


def test_q_network_has_one_output_per_action_and_nonlinearities():
    net = make_q_network(6, 3, hidden_sizes=(16, 16))
    assert net(torch.zeros(5, 6)).shape == (5, 3)
    assert any(isinstance(m, torch.nn.ReLU) for m in net)
    with pytest.raises(ValueError, match="hidden_sizes"):
        make_q_network(4, 2, hidden_sizes=(0,))


def test_target_network_gets_no_gradient_and_changes_only_on_synchronize():
    agent = DeepQLearner(4, 2, seed=0, learning_rate=1e-2)
    target_before, online_before = params(agent.target_network), params(agent.q_network)
    for seed in range(5):
        agent.update(random_batch(seed=seed))
    assert all(p.grad is None and not p.requires_grad for p in agent.target_network.parameters())
    assert same(params(agent.target_network), target_before)
    assert not same(params(agent.q_network), online_before)
    agent.synchronize()
    assert same(params(agent.target_network), params(agent.q_network))
    agent.update(random_batch(seed=9))  # a copy, not an alias: training moves only the online net
    assert not same(params(agent.target_network), params(agent.q_network))


def test_soft_update_moves_target_a_fraction_tau():
    agent = DeepQLearner(4, 2, seed=0, tau=0.25, learning_rate=1e-2)
    agent.update(random_batch())
    old_target, online = params(agent.target_network), params(agent.q_network)
    agent.synchronize()
    for new, old, on in zip(params(agent.target_network), old_target, online):
        torch.testing.assert_close(new, old + 0.25 * (on - old))


def test_without_target_network_the_target_is_the_online_network():
    agent = DeepQLearner(4, 2, use_target_network=False)
    assert agent.target_network is agent.q_network and not agent.uses_target_network


def test_update_returns_the_loss_and_lowers_it_on_a_fixed_batch():
    agent = DeepQLearner(4, 2, seed=0, gamma=0.0, learning_rate=1e-2)  # gamma 0: a plain regression
    batch = random_batch()
    losses = [agent.update(batch) for _ in range(200)]
    assert isinstance(losses[0], float) and losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("double_dqn", [True, False])
def test_loss_and_double_dqn_options_train(loss, double_dqn):
    agent = DeepQLearner(4, 2, seed=0, loss=loss, double_dqn=double_dqn)
    assert np.isfinite(agent.update(random_batch()))


def test_double_dqn_uses_online_argmax_and_target_value():
    agent = DeepQLearner(2, 2, seed=0, double_dqn=True, gamma=1.0, learning_rate=1e-9)
    with torch.no_grad():  # online prefers action 0, target values action 0 at 1 and action 1 at 100
        agent.q_network[-1].weight.zero_()
        agent.q_network[-1].bias.copy_(torch.tensor([5.0, 0.0]))
        agent.target_network[-1].weight.zero_()
        agent.target_network[-1].bias.copy_(torch.tensor([1.0, 100.0]))
    batch = random_batch(n=4, obs_dim=2)
    captured = {}
    original = agent.target_network.forward
    agent.target_network.forward = lambda x: captured.setdefault("q", original(x))
    agent.update(batch)
    q_next = captured["q"]
    torch.testing.assert_close(q_next[:, 0], torch.ones(4))  # the value Double DQN bootstraps from


def test_each_env_explores_on_its_own():
    agent = DeepQLearner(4, 2, seed=0)
    agent.epsilon = 0.5
    obs = np.zeros((2000, 4), dtype=np.float32)
    greedy = agent.greedy_actions(obs)
    differs = (agent.act(obs) != greedy).mean()
    # a random action differs from the greedy one half the time: about 25% of envs.
    # One coin for the whole batch would give either 0% or about 50%.
    assert 0.2 < differs < 0.3


def test_greedy_when_epsilon_is_zero_and_random_when_one():
    agent = DeepQLearner(4, 3, seed=0)
    obs = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    agent.epsilon = 0.0
    np.testing.assert_array_equal(agent.act(obs), agent.greedy_actions(obs))
    agent.epsilon = 1.0
    assert set(np.unique(agent.act(obs))) == {0, 1, 2}


def test_epsilon_schedule_endpoints_and_decay():
    assert linear_epsilon(0.0, 1.0, 0.05, 0.1) == 1.0
    assert linear_epsilon(0.1, 1.0, 0.05, 0.1) == pytest.approx(0.05)
    assert linear_epsilon(1.0, 1.0, 0.05, 0.1) == pytest.approx(0.05)
    assert linear_epsilon(0.05, 1.0, 0.0, 0.1) == pytest.approx(0.5)
    values = [linear_epsilon(p / 100, 1.0, 0.05, 0.5) for p in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert linear_epsilon(0.3, 0.5, 0.5, 0.0) == 0.5
    agent = DeepQLearner(4, 2, epsilon_start=0.8, epsilon_end=0.1, exploration_fraction=0.5)
    assert agent.decay_epsilon(0.25) == pytest.approx(0.45) and agent.epsilon == pytest.approx(0.45)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(gamma=1.5), "gamma"),
        (dict(gamma=-0.1), "gamma"),
        (dict(learning_rate=0.0), "learning_rate must be positive"),
        (dict(epsilon_start=1.2), "epsilon_start must lie in"),
        (dict(epsilon_end=-0.1), "epsilon_end must lie in"),
        (dict(loss="l1"), "loss"),
        (dict(tau=0.0), "tau"),
    ],
)
def test_impossible_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeepQLearner(4, 2, **kwargs)


@pytest.mark.parametrize("epsilon", [0.0, 1.0])
def test_act_on_one_unbatched_observation_returns_one_action(epsilon):
    agent = DeepQLearner(4, 3, seed=0)
    agent.epsilon = epsilon
    obs = np.array([0.1, -0.2, 0.03, 0.4], dtype=np.float32)
    action = agent.act(obs)
    assert isinstance(action, int) and 0 <= action < 3
    if epsilon == 0.0:
        assert action == agent.greedy_actions(obs) == int(agent.greedy_actions(obs[None])[0])
    assert agent.q_values(obs).shape == (3,)
    assert agent.act(list(obs)) in range(3)  # a plain list works too


@pytest.mark.parametrize("shape", [(5,), (2, 3), (1, 1, 4), (0,)])
def test_observations_of_the_wrong_shape_say_how_to_batch_them(shape):
    agent = DeepQLearner(4, 2, seed=0)
    for method in (agent.act, agent.greedy_actions, agent.q_values):
        with pytest.raises(ValueError, match=r"shape \(4,\) or a batch of shape \(N, 4\).*batch dimension"):
            method(np.zeros(shape, dtype=np.float32))


def test_from_config_builds_the_learner_the_config_describes():
    from dqn_helpers import DQNConfig

    config = DQNConfig(hidden_sizes=(16, 8), learning_rate=1e-4, gamma=0.5, epsilon_start=0.9, epsilon_end=0.2,
                       exploration_fraction=0.3, loss="huber", double_dqn=True, use_target_network=False,
                       tau=0.5, seed=3)
    agent = DeepQLearner.from_config(config, obs_dim=6, n_actions=3)
    expected = {name: getattr(config, name) for name in agent.settings if name not in ("obs_dim", "n_actions")}
    assert agent.settings == {"obs_dim": 6, "n_actions": 3, **expected}
    assert agent.optimizer.lr == 1e-4 and not agent.uses_target_network
    same_seed = DeepQLearner.from_config(config, 6, 3)
    assert same(params(agent.q_network), params(same_seed.q_network))  # config.seed seeds the weights

