"""Notebooks 07, 08 and 09's checks catch what students really write (fourth reads of 07-09).

Each wrong answer is written the way a student writes it; the check must fail and name the
mistake actually made. Correct answers written differently still pass.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)
from test_probes_and_dqn_checks import reference_loop
from torch.nn import functional as F

from dqn_helpers import make_vector_env
from dqn_helpers.checks import (
    check_double_dqn_target,
    check_dqn_update,
    check_evaluate,
    check_probes,
    check_training_loop,
)

# --------------------------------------------------------------------------- 07: check_evaluate


def evaluate_first_to_end(policy, env_id, n_episodes, seed):
    """Plays n copies side by side and keeps the first n episodes to end, in whichever copies."""
    env = make_vector_env(env_id, n_episodes)
    obs, running, returns = env.reset(seed=seed), np.zeros(n_episodes), []
    while len(returns) < n_episodes:
        step = env.step(np.asarray(policy(obs)))
        running += step.rewards
        for i in np.flatnonzero(step.done):
            returns.append(running[i])
            running[i] = 0.0
        obs = step.next_obs
    return np.array(returns[:n_episodes])


def evaluate_seeded_once(policy, env_id, n_episodes, seed):
    env, returns = gym.make(env_id), np.zeros(n_episodes)
    obs, _ = env.reset(seed=seed)
    for i in range(n_episodes):
        if i > 0:
            obs, _ = env.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            returns[i] += reward
            done = terminated or truncated
    return returns


def evaluate_stale_observation(policy, env_id, n_episodes, seed):
    env, returns = gym.make(env_id), np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))  # obs is never updated
            returns[i] += reward
            done = terminated or truncated
    return returns


def test_evaluate_first_episodes_to_end_in_any_copy():
    report = check_evaluate(evaluate_first_to_end)
    named(report, "first n_episodes episodes to end, in whichever env copies")
    assert "counts only the first episode of each env" in failed(report)


def test_evaluate_seeding_only_the_first_reset():
    named(check_evaluate(evaluate_seeded_once), "only the first episode was reset with a seed")


def test_evaluate_acting_on_a_stale_observation():
    named(check_evaluate(evaluate_stale_observation), "the same observation at every step")


# --------------------------------------------------------------------------- 09: check_training_loop


def loop_starting_late(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every,
                       seed):
    """Compares learning_starts with the env steps counted *before* this pass's step."""
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep], step.terminated[keep])
        obs = step.next_obs
        if env_steps >= learning_starts:
            update(learner, buffer.sample(batch_size))
            n_updates += 1
            if n_updates % target_update_every == 0:
                learner.synchronize()


def loop_updating_before_the_step(env, learner, buffer, update, total_steps, batch_size, learning_starts,
                                  target_update_every, seed):
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        if env_steps + env.num_envs >= learning_starts and len(buffer) >= batch_size:
            update(learner, buffer.sample(batch_size))
            n_updates += 1
            if n_updates % target_update_every == 0:
                learner.synchronize()
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep], step.terminated[keep])
        obs = step.next_obs


def test_training_loop_starting_one_vector_step_late():
    report = check_training_loop(loop_starting_late, learning_steps=0)
    assert "one update per vector step from learning_starts on, batches of batch_size" in failed(report)
    assert "one vector step late" in str(report), str(report)


def test_training_loop_updating_before_the_step():
    report = check_training_loop(loop_updating_before_the_step, learning_steps=0)
    assert "one update per vector step from learning_starts on, batches of batch_size" in failed(report)
    assert "early" in str(report), str(report)


def test_training_loop_counting_updates_either_way_passes():
    """The reference with a while loop and its own env-step counter, written differently, passes."""

    def while_loop(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed):
        obs, collected, n_updates = env.reset(seed=seed), 0, 0
        while collected < total_steps:
            learner.decay_epsilon(collected / total_steps)
            actions = learner.act(obs)
            step = env.step(actions)
            collected += env.num_envs
            rows = np.flatnonzero(step.learnable)
            buffer.remember(obs[rows], actions[rows], step.rewards[rows], step.final_obs[rows], step.terminated[rows])
            obs = step.next_obs
            if collected >= learning_starts:
                update(learner, buffer.sample(batch_size))
                n_updates += 1
                if n_updates % target_update_every == 0:
                    learner.synchronize()

    report = check_training_loop(while_loop, learning_steps=0)
    assert failed(report) in ([], ["learns: greedy return >= 100 on CartPole-v1 after 0 env steps"]), str(report)
    assert "one update per vector step from learning_starts on, batches of batch_size" not in failed(report)


def test_reference_loop_has_the_exact_update_schedule():
    report = check_training_loop(functools.partial(reference_loop), learning_steps=0)
    assert "one update per vector step from learning_starts on, batches of batch_size" not in failed(report)


# --------------------------------------------------------------------------- 09: check_dqn_update


def dqn_update(learner, batch, *, loss_fn=F.mse_loss, own_adam=False, index_columns=False):
    obs, actions = torch.as_tensor(batch.obs), torch.as_tensor(batch.actions)
    rewards, next_obs = torch.as_tensor(batch.rewards), torch.as_tensor(batch.next_obs)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        target = rewards + learner.gamma * (1 - terminated) * learner.target_network(next_obs).max(dim=1).values
    q_all = learner.q_network(obs)
    q_taken = q_all[:, actions] if index_columns else q_all[torch.arange(len(actions)), actions]
    loss = loss_fn(q_taken, target)
    optimizer = torch.optim.Adam(learner.q_network.parameters(), lr=1e-3) if own_adam else learner.optimizer
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_dqn_update_written_with_row_and_column_indices_passes():
    assert check_dqn_update(dqn_update)


def test_dqn_update_with_an_l1_loss_is_not_blamed_on_gamma():
    report = check_dqn_update(functools.partial(dqn_update, loss_fn=F.l1_loss))
    named(report, "mean absolute error (L1)", absent=("gamma is hard-coded",))


def test_dqn_update_with_its_own_optimizer():
    named(check_dqn_update(functools.partial(dqn_update, own_adam=True)), "an optimizer of its own")


def test_dqn_update_indexing_columns_with_the_action_vector():
    named(check_dqn_update(functools.partial(dqn_update, index_columns=True)), "q[:, actions]")


def test_dqn_update_that_reads_the_learning_rate_from_param_groups_passes():
    def scaled_by_hand(learner, batch):
        for group in learner.optimizer.param_groups:  # e.g. a student's learning-rate schedule
            group["lr"] = group["lr"]
        return dqn_update(learner, batch)

    assert check_dqn_update(scaled_by_hand)


# --------------------------------------------------------------------------- 08: check_double_dqn_target


def double_target(rewards, terminated, next_q_online, next_q_target, gamma, *, picks="argmax"):
    if picks == "flat":
        best = next_q_online.argmax().expand(len(rewards))  # no dim
    elif picks == "values":
        best = next_q_online.max(dim=1).values.long()  # values used as indices
    else:
        best = next_q_online.argmax(dim=1)
    next_values = next_q_target[torch.arange(len(rewards)), best]
    return rewards + gamma * (1 - terminated) * next_values


def test_double_dqn_argmax_without_a_dimension():
    named(check_double_dqn_target(functools.partial(double_target, picks="flat")), "argmax without a dimension")


def test_double_dqn_values_used_as_indices_get_an_index_hint():
    report = check_double_dqn_target(functools.partial(double_target, picks="values"))
    assert not report
    assert "action numbers" in report.failures[0].hint, str(report)


def test_double_dqn_masking_test_points_at_the_argmax_when_that_fails():
    def plain_max(rewards, terminated, next_q_online, next_q_target, gamma):
        return rewards + gamma * (1 - terminated) * next_q_target.max(dim=1).values

    report = check_double_dqn_target(plain_max)
    masking = [r for r in report.failures if r.name == "terminal masking and gamma scaling"]
    assert masking and "fix what it reports first" in masking[0].hint, str(report)


def evaluate_with_integer_returns(policy, env_id, n_episodes, seed):
    env, returns = gym.make(env_id), np.zeros(n_episodes, dtype=int)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            returns[i] += int(reward)
            done = terminated or truncated
    return returns


def evaluate_with_the_old_gym_api(policy, env_id, n_episodes, seed):
    env, returns = gym.make(env_id), np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, done, _ = env.step(int(policy(obs[None])[0]))
            returns[i] += reward
    return returns


def test_evaluate_with_integer_returns():
    named(check_evaluate(evaluate_with_integer_returns), "rewards of 0.5 were rounded away")


def test_evaluate_with_the_old_gym_api_gets_the_five_values_hint():
    assert "returns five values" in str(check_evaluate(evaluate_with_the_old_gym_api))


# --------------------------------------------------------------------------- 09: more update and loop mistakes


def update_kind(learner, batch, kind):
    obs, actions = torch.as_tensor(batch.obs), torch.as_tensor(batch.actions)
    rewards, next_obs = torch.as_tensor(batch.rewards), torch.as_tensor(batch.next_obs)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        next_q = learner.target_network(next_obs)
        best = next_q.max() if kind == "global max" else next_q.max(dim=1).values
        target = rewards + learner.gamma * (1 - terminated) * best
        if kind == "gamma on reward":
            target = learner.gamma * (rewards + (1 - terminated) * best)
    q_all = learner.q_network(next_obs if kind == "next obs" else obs)
    q_taken = q_all.gather(0 if kind == "gather rows" else 1, actions.unsqueeze(1)).squeeze(1)
    loss = F.mse_loss(q_taken, target)
    learner.optimizer.zero_grad()
    if kind == "step first":
        learner.optimizer.step()
        loss.backward()
    else:
        loss.backward()
        learner.optimizer.step()
    return loss.item()


@pytest.mark.parametrize(("kind", "words"), [
    ("global max", "the max has no dim"), ("gamma on reward", "gamma multiplies the reward too"),
    ("gather rows", "gather along dimension 0"), ("next obs", "computed from next_obs"),
    ("step first", "the optimizer step comes before backward()"),
])
def test_dqn_update_more_named_mistakes(kind, words):
    named(check_dqn_update(functools.partial(update_kind, kind=kind)), words)


def loop_variant(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed,
                 kind):
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep], step.terminated[keep])
        obs = step.next_obs
        collected = len(buffer) if kind == "buffer length" else env_steps + env.num_envs
        ready = collected >= learning_starts
        if ready:
            for _ in range(env.num_envs if kind == "per env" else 1):
                update(learner, buffer.sample(batch_size))
                n_updates += 1
                synced = (env_steps + env.num_envs) if kind == "sync on env steps" else n_updates
                if synced % target_update_every == 0:
                    learner.synchronize()


@pytest.mark.parametrize(("kind", "words"), [
    ("buffer length", "You compared learning_starts with len(buffer)"),
    ("per env", "updates once per env of the vector step"),
    ("sync on env steps", "counted in updates, not env steps"),
])
def test_training_loop_more_named_mistakes(kind, words):
    report = check_training_loop(functools.partial(loop_variant, kind=kind), learning_steps=0)
    assert words in str(report), str(report)


def test_probes_gamma_on_the_reward_is_named():
    named(check_probes(functools.partial(update_kind, kind="gamma on reward")), "gamma times the optimal one")


# --------------------------------------------------------------------------- fifth reads: more kinds


def update_slip(learner, batch, slip):
    obs, actions = torch.as_tensor(batch.obs), torch.as_tensor(batch.actions)
    rewards, next_obs = torch.as_tensor(batch.rewards), torch.as_tensor(batch.next_obs)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        best = learner.target_network(obs if slip == "target from obs" else next_obs).max(dim=1).values
        target = rewards + learner.gamma * (1 - terminated) * best
        if slip == "prediction under no_grad":
            q_taken = learner.q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    if slip != "prediction under no_grad":
        q_all = learner.q_network(obs)
        q_taken = q_all if slip == "every action" else q_all.gather(1, actions.unsqueeze(1)).squeeze(1)
    loss = F.mse_loss(q_taken, target.unsqueeze(1).expand_as(q_taken) if slip == "every action" else target)
    learner.optimizer.zero_grad()
    loss.backward()
    if slip == "cleared before step":
        learner.optimizer.zero_grad()
    learner.optimizer.step()
    if slip == "synchronizes":
        learner.synchronize()
    return loss.item()


@pytest.mark.parametrize(("slip", "words"), [
    ("target from obs", "the target bootstraps from obs"),
    ("every action", "the loss includes every action's Q-value"),
    ("cleared before step", "cleared between backward() and the optimizer step"),
    ("synchronizes", "your update synchronizes the target network"),
])
def test_dqn_update_slips_are_named(slip, words):
    named(check_dqn_update(functools.partial(update_slip, slip=slip)), words)


def test_dqn_update_prediction_under_no_grad_gets_the_gradient_hint():
    report = check_dqn_update(functools.partial(update_slip, slip="prediction under no_grad"))
    assert not report and "Only the target belongs under no_grad" in str(report), str(report)


def loop_gated(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed,
               slip):
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable
        next_obs = step.final_obs
        if slip == "final_obs if terminated":
            next_obs = np.where(step.terminated[:, None], step.final_obs, step.next_obs)
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], next_obs[keep], step.terminated[keep])
        obs = step.next_obs
        ready = len(buffer) >= batch_size if slip == "batch gate" else env_steps + env.num_envs >= learning_starts
        if ready:
            update(learner, buffer.sample(batch_size))
            n_updates += 1
            if n_updates % target_update_every == 0:
                learner.synchronize()


@pytest.mark.parametrize(("slip", "words"), [
    ("batch gate", "as soon as the buffer held a batch"),
    ("final_obs if terminated", "where it was truncated"),
])
def test_training_loop_slips_are_named(slip, words):
    report = check_training_loop(functools.partial(loop_gated, slip=slip), learning_steps=0)
    assert words in str(report), str(report)


def double_target_slip(rewards, terminated, next_q_online, next_q_target, gamma, slip):
    if slip == "sum of both":
        best = (next_q_online + next_q_target).argmax(dim=1)
    else:
        best = next_q_online.argmax(dim=1)
    with torch.no_grad():
        if slip == "no unsqueeze":
            next_values = next_q_target.gather(1, best).squeeze()
        else:
            next_values = next_q_target.gather(1, best.unsqueeze(1)).squeeze(1)
        return rewards + (0.99 if slip == "hard-coded gamma" else gamma) * (1 - terminated) * next_values


def test_double_dqn_hard_coded_gamma_is_named():
    named(check_double_dqn_target(functools.partial(double_target_slip, slip="hard-coded gamma")),
          "gamma is hard-coded")


def test_double_dqn_gather_without_unsqueeze_gets_the_index_shape_hint():
    report = check_double_dqn_target(functools.partial(double_target_slip, slip="no unsqueeze"))
    assert "shape (B, 1)" in report.failures[0].hint, str(report)


def test_double_dqn_a_choice_that_only_looks_plain_is_not_called_plain():
    report = check_double_dqn_target(functools.partial(double_target_slip, slip="sum of both"))
    assert not report and "This is the plain DQN target" not in str(report), str(report)


def evaluate_slip(policy, env_id, n_episodes, seed, slip):
    env, returns, done = gym.make(env_id), np.zeros(n_episodes), False
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        if slip != "done never reset":
            done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            if slip == "assignment":
                returns[i] = reward
            else:
                returns[i] += reward
            done = terminated or truncated
    return returns


def evaluate_until_any_copy_ends(policy, env_id, n_episodes, seed):
    env = make_vector_env(env_id, n_episodes)
    obs, returns = env.reset(seed=seed), np.zeros(n_episodes)
    while True:
        step = env.step(np.asarray(policy(obs)))
        returns += step.rewards
        if step.done.any():
            return returns
        obs = step.next_obs


@pytest.mark.parametrize(("answer", "words"), [
    (functools.partial(evaluate_slip, slip="assignment"), "the sum is overwritten"),
    (functools.partial(evaluate_slip, slip="done never reset"), "only the first episode was played"),
    (evaluate_until_any_copy_ends, "stopped when the first episode ended, in any copy"),
], ids=["assignment", "done never reset", "any copy ends"])
def test_evaluate_slips_are_named(answer, words):
    named(check_evaluate(answer), words, absent=("discounted",))


def evaluate_with_argmax_over_actions(policy, env_id, n_episodes, seed):
    """Treats the policy's actions as Q-values: the argmax of one action is always 0."""
    env, returns = gym.make(env_id), np.zeros(n_episodes)
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(np.argmax(policy(obs[None]))))
            returns[i] += reward
            done = terminated or truncated
    return returns


def test_evaluate_argmax_over_the_actions_is_not_called_exploration():
    named(check_evaluate(evaluate_with_argmax_over_actions), "the same action, whatever the policy chose",
          absent=("explores",))


def update_after_backward(learner, batch, extra):
    loss = F.mse_loss(*_prediction_and_target(learner, batch))
    learner.optimizer.zero_grad()
    loss.backward()
    if extra == "clip":
        torch.nn.utils.clip_grad_norm_(learner.q_network.parameters(), 0.1)
    learner.optimizer.step()
    if extra == "double step":
        learner.optimizer.step()
    return loss.item()


def _prediction_and_target(learner, batch):
    obs, actions = torch.as_tensor(batch.obs), torch.as_tensor(batch.actions)
    rewards, next_obs = torch.as_tensor(batch.rewards), torch.as_tensor(batch.next_obs)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        target = rewards + learner.gamma * (1 - terminated) * learner.target_network(next_obs).max(dim=1).values
    return learner.q_network(obs).gather(1, actions.unsqueeze(1)).squeeze(1), target


@pytest.mark.parametrize("extra", ["clip", "double step"])
def test_dqn_update_changed_after_backward_is_not_called_a_scaled_loss(extra):
    named(check_dqn_update(functools.partial(update_after_backward, extra=extra)), "the loss is right but the step",
          absent=("the loss is scaled",))


def test_dqn_update_with_a_summed_loss_is_still_a_scaled_loss():
    def summed(learner, batch):
        loss = F.mse_loss(*_prediction_and_target(learner, batch), reduction="sum")
        learner.optimizer.zero_grad()
        loss.backward()
        learner.optimizer.step()
        return loss.item()

    named(check_dqn_update(summed), "the loss is scaled")


def loop_dropping_truncated(env, learner, buffer, update, total_steps, batch_size, learning_starts,
                            target_update_every, seed, late=False):
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable if late else step.learnable & ~step.truncated
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], step.final_obs[keep], step.terminated[keep])
        obs = step.next_obs
        if (env_steps > learning_starts) if late else (env_steps + env.num_envs >= learning_starts):
            update(learner, buffer.sample(batch_size))
            n_updates += 1
            if n_updates % target_update_every == 0:
                learner.synchronize()


def test_training_loop_dropping_truncated_transitions_is_named():
    named(check_training_loop(loop_dropping_truncated, learning_steps=0), "dropped the transitions that the time limit")


def test_training_loop_starting_two_vector_steps_late_is_named():
    report = check_training_loop(functools.partial(loop_dropping_truncated, late=True), learning_steps=0)
    assert "2 vector steps late" in str(report), str(report)


def evaluate_with_an_overwritten_mask(policy, env_id, n_episodes, seed):
    """alive = ~done instead of alive &= ~done: the loop runs until every copy ends on the same step."""
    env = make_vector_env(env_id, n_episodes)
    obs, returns, alive = env.reset(seed=seed), np.zeros(n_episodes), np.ones(n_episodes, dtype=bool)
    while alive.any():
        step = env.step(np.asarray(policy(obs)))
        returns += step.rewards * alive
        alive = ~step.done
        obs = step.next_obs
    return returns


def test_a_check_that_times_out_reports_at_once_without_diagnosing(monkeypatch):
    from dqn_helpers.checks.limits import TIME_LIMIT_ENV_VAR

    monkeypatch.setenv(TIME_LIMIT_ENV_VAR, "1")
    report = check_evaluate(evaluate_with_an_overwritten_mask)
    assert report.timed_out and report.mistake is None
    assert "did not return within 1 s" in str(report), str(report)
