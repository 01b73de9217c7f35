"""Notebooks 07, 08 and 09's checks catch what students really write (fourth and fifth reads of 07-09).

Each exercise has one student answer below, correct by default; ``slip`` switches in one mistake,
written the way a student writes it. The check must fail and name the mistake actually made;
correct answers written differently still pass.
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

UPDATES = "one update per vector step from learning_starts on, batches of batch_size"

# --------------------------------------------------------------------------- 07: check_evaluate


def student_evaluate(policy, env_id, n_episodes, seed, slip=None):
    """One env, one episode after another (exercise 1's form); ``slip`` puts in one mistake."""
    env = gym.make(env_id).unwrapped if slip == "unwrapped" else gym.make(env_id)
    returns = np.zeros(n_episodes, dtype=int if slip == "integer returns" else float)
    done = False
    obs, _ = env.reset(seed=seed)
    for i in range(n_episodes):
        if i > 0:
            obs, _ = env.reset() if slip == "seeded once" else env.reset(seed=seed + i)
        if slip != "done never reset":
            done = False
        first = obs
        while not done:
            seen = first if slip == "stale observation" else obs
            action = int(np.argmax(policy(seen[None]))) if slip == "argmax over actions" else int(policy(seen[None])[0])
            if slip == "old gym api":
                obs, reward, done, _ = env.step(action)
            else:
                obs, reward, terminated, truncated, _ = env.step(action)
                done = truncated if slip == "truncated only" else terminated or truncated
            if slip == "assignment":
                returns[i] = reward
            else:
                returns[i] += int(reward) if slip == "integer returns" else reward
    return returns


def vector_evaluate(policy, env_id, n_episodes, seed, slip):
    """All episodes side by side in a vector env, with one of three ways to get the ending wrong."""
    env = make_vector_env(env_id, n_episodes)
    obs, returns, alive, ended = env.reset(seed=seed), np.zeros(n_episodes), np.ones(n_episodes, dtype=bool), []
    while True:
        step = env.step(np.asarray(policy(obs)))
        if slip == "first to end":  # the first n episodes to end, in whichever copies
            returns += step.rewards
            for i in np.flatnonzero(step.done):
                ended.append(returns[i])
                returns[i] = 0.0
            if len(ended) >= n_episodes:
                return np.array(ended[:n_episodes])
        elif slip == "until any copy ends":
            returns += step.rewards
            if step.done.any():
                return returns
        else:  # "overwritten mask": alive = ~done instead of alive &= ~done, so it ends only when all end together
            returns += step.rewards * alive
            alive = ~step.done
            if not alive.any():
                return returns
        obs = step.next_obs


@pytest.mark.parametrize(("answer", "words"), [
    (functools.partial(vector_evaluate, slip="first to end"), "first n_episodes episodes to end, in whichever env"),
    (functools.partial(student_evaluate, slip="seeded once"), "only the first episode was reset with a seed"),
    (functools.partial(student_evaluate, slip="stale observation"), "the same observation at every step"),
    (functools.partial(student_evaluate, slip="integer returns"), "rewards of 0.5 were rounded away"),
    (functools.partial(student_evaluate, slip="assignment"), "the sum is overwritten"),
    (functools.partial(student_evaluate, slip="done never reset"), "only the first episode was played"),
    (functools.partial(vector_evaluate, slip="until any copy ends"), "stopped when the first episode ended, in any"),
    (functools.partial(student_evaluate, slip="truncated only"), "end only at the time limit (truncated)"),
    (functools.partial(student_evaluate, slip="unwrapped"), "`.unwrapped`: that strips every wrapper"),
], ids=["first to end", "seeded once", "stale observation", "integer returns", "assignment", "done never reset",
        "until any copy ends", "truncated only", "unwrapped"])
def test_evaluate_mistakes_are_named(answer, words):
    named(check_evaluate(answer), words, absent=("discounted",))


def evaluate_by_episode(policy, env_id, n_episodes, seed, slip=None):
    """A list of returns, one episode at a time; ``slip`` puts in one mistake."""
    env, returns = gym.make(env_id), []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed + i)
        total = 1.0 if slip == "sum starts at 1" else 0.0  # a step counter's habit: the first step is step 1
        while True:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            total += reward
            if terminated:
                returns.append(total)
                break
            if truncated:
                if slip != "terminated episodes only":
                    returns.append(total)
                break
    return np.array(returns)


def test_evaluate_by_episode_without_a_slip_passes():
    assert check_evaluate(evaluate_by_episode)


def test_evaluate_a_return_one_too_high_is_not_called_a_time_limit_problem():
    text = named(check_evaluate(functools.partial(evaluate_by_episode, slip="sum starts at 1")),
                 "each return is exactly 1 too high", absent=("never stops",))
    assert "(501 for 500 steps)" in text, text


def test_evaluate_truncated_episodes_dropped_is_named():
    text = named(check_evaluate(functools.partial(evaluate_by_episode, slip="terminated episodes only")),
                 "episodes that end by truncation (the time limit) were dropped",
                 absent=("Collect one undiscounted return",))
    assert "shape (0,)" in text, text


def test_student_evaluate_without_a_slip_passes():
    assert check_evaluate(student_evaluate)


def test_evaluate_first_to_end_fails_the_first_episode_test():
    report = check_evaluate(functools.partial(vector_evaluate, slip="first to end"))
    assert "counts only the first episode of each env" in failed(report)


def test_evaluate_with_the_old_gym_api_gets_the_five_values_hint():
    assert "returns five values" in str(check_evaluate(functools.partial(student_evaluate, slip="old gym api")))


def test_evaluate_argmax_over_the_actions_is_not_called_exploration():
    named(check_evaluate(functools.partial(student_evaluate, slip="argmax over actions")),
          "the same action, whatever the policy chose", absent=("explores",))


def test_a_check_that_times_out_reports_at_once_without_diagnosing(monkeypatch):
    from dqn_helpers.checks.limits import TIME_LIMIT_ENV_VAR

    monkeypatch.setenv(TIME_LIMIT_ENV_VAR, "1")
    report = check_evaluate(functools.partial(vector_evaluate, slip="overwritten mask"))
    assert report.timed_out and report.mistake is None
    assert "did not return within 1 s" in str(report), str(report)


# --------------------------------------------------------------------------- 09: check_training_loop


def student_loop(env, learner, buffer, update, total_steps, batch_size, learning_starts, target_update_every, seed,
                 slip=None):
    """Exercise 2 of notebook 09, correct by default; ``slip`` puts in one mistake."""
    obs, n_updates = env.reset(seed=seed), 0
    for env_steps in range(0, total_steps, env.num_envs):
        learner.decay_epsilon(env_steps / total_steps)
        ready = {"update before step": env_steps + env.num_envs >= learning_starts and len(buffer) >= batch_size,
                 "start late": env_steps >= learning_starts, "start two late": env_steps > learning_starts}
        if slip == "update before step" and ready[slip]:
            n_updates = _update_and_sync(learner, buffer, update, batch_size, target_update_every, n_updates)
        actions = learner.act(obs)
        step = env.step(actions)
        keep = step.learnable & ~step.truncated if slip == "drop truncated" else step.learnable
        next_obs = step.final_obs
        if slip == "final_obs if terminated":
            next_obs = np.where(step.terminated[:, None], step.final_obs, step.next_obs)
        buffer.remember(obs[keep], actions[keep], step.rewards[keep], next_obs[keep], step.terminated[keep])
        obs = step.next_obs
        if slip in ("start late", "start two late"):
            go = ready[slip]
        elif slip == "buffer length":
            go = len(buffer) >= learning_starts
        elif slip == "batch gate":
            go = len(buffer) >= batch_size
        else:
            go = slip != "update before step" and env_steps + env.num_envs >= learning_starts
        for _ in range(env.num_envs if go and slip == "per env" else int(go)):
            n_updates = _update_and_sync(learner, buffer, update, batch_size, target_update_every, n_updates,
                                         sync_on=env_steps + env.num_envs if slip == "sync on env steps" else None,
                                         sync_first=slip == "sync before update")


def _update_and_sync(learner, buffer, update, batch_size, target_update_every, n_updates, sync_on=None,
                     sync_first=False):
    if sync_first and n_updates % target_update_every == 0:  # also before the first update: a harmless copy
        learner.synchronize()
    update(learner, buffer.sample(batch_size))
    n_updates += 1
    if not sync_first and (n_updates if sync_on is None else sync_on) % target_update_every == 0:
        learner.synchronize()
    return n_updates


@pytest.mark.parametrize(("slip", "words"), [
    ("start late", "one vector step late"),
    ("update before step", "early"),
    ("buffer length", "You compared learning_starts with len(buffer)"),
    ("per env", "updates once per env of the vector step"),
    ("sync on env steps", "counted in updates, not env steps"),
    ("batch gate", "as soon as the buffer held a batch"),
    ("final_obs if terminated", "where it was truncated"),
    ("drop truncated", "dropped the transitions that the time limit"),
    ("start two late", "2 vector steps late"),
])
def test_training_loop_mistakes_are_named(slip, words):
    report = check_training_loop(functools.partial(student_loop, slip=slip), learning_steps=0)
    assert words in str(report), str(report)
    if slip in ("start late", "update before step"):
        assert UPDATES in failed(report)


def test_training_loop_that_also_synchronizes_before_its_first_update_passes_the_sync_test():
    report = check_training_loop(functools.partial(student_loop, slip="sync before update"), learning_steps=0)
    assert "synchronizes the target network every target_update_every updates" not in failed(report), str(report)


def test_student_loop_and_reference_loop_keep_the_exact_update_schedule():
    for loop in (student_loop, reference_loop):
        assert UPDATES not in failed(check_training_loop(loop, learning_steps=0))


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
    assert UPDATES not in failed(report)


# --------------------------------------------------------------------------- 09: check_dqn_update and check_probes


def student_update(learner, batch, slip=None):
    """Exercise 1 of notebook 09, correct by default (row-and-column indexing, not gather); ``slip``: one mistake."""
    obs, actions = torch.as_tensor(batch.obs), torch.as_tensor(batch.actions)
    rewards, next_obs = torch.as_tensor(batch.rewards), torch.as_tensor(batch.next_obs)
    terminated = torch.as_tensor(batch.terminated)
    with torch.no_grad():
        next_q = learner.target_network(obs if slip == "target from obs" else next_obs)
        best = {"global max": lambda: next_q.max(), "max over the batch": lambda: next_q.max(dim=0).values,
                "no values": lambda: next_q.max(dim=1)}.get(slip, lambda: next_q.max(dim=1).values)()
        target = rewards + learner.gamma * (terminated if slip == "inverted mask" else 1 - terminated) * best
        if slip == "target column":
            target = target.unsqueeze(1)
        if slip == "gamma on reward":
            target = learner.gamma * (rewards + (1 - terminated) * best)
        if slip == "prediction under no_grad":
            q_all = learner.q_network(obs)
    if slip == "predicted by the target network":
        q_all = learner.target_network(obs)
    elif slip != "prediction under no_grad":
        q_all = learner.q_network(next_obs if slip == "next obs" else obs)
    if slip == "every action":
        q_taken, target = q_all, target.unsqueeze(1).expand_as(q_all)
    elif slip == "gather rows":
        q_taken = q_all.gather(0, actions.unsqueeze(1)).squeeze(1)
    elif slip == "index columns":
        q_taken = q_all[:, actions]
    else:
        q_taken = q_all[torch.arange(len(actions)), actions]
    loss = {"l1": F.l1_loss, "summed": functools.partial(F.mse_loss, reduction="sum")}.get(slip, F.mse_loss)(
        q_taken, target)
    optimizer = torch.optim.Adam(learner.q_network.parameters(), lr=1e-3) if slip == "own adam" else \
        learner.optimizer
    optimizer.zero_grad()
    if slip == "step first":
        optimizer.step()
    loss.backward()
    if slip == "cleared before step":
        optimizer.zero_grad()
    if slip == "clip":
        torch.nn.utils.clip_grad_norm_(learner.q_network.parameters(), 0.1)
    if slip != "step first":
        optimizer.step()
    if slip == "double step":
        optimizer.step()
    if slip == "synchronizes":
        learner.synchronize()
    return loss if slip == "tensor loss" else loss.item()


def test_student_update_without_a_slip_passes():
    assert check_dqn_update(student_update)


def test_dqn_update_that_reads_the_learning_rate_from_param_groups_passes():
    def scaled_by_hand(learner, batch):
        for group in learner.optimizer.param_groups:  # e.g. a student's learning-rate schedule
            group["lr"] = group["lr"]
        return student_update(learner, batch)

    assert check_dqn_update(scaled_by_hand)


@pytest.mark.parametrize(("slip", "words"), [
    ("l1", "mean absolute error (L1)"),
    ("own adam", "an optimizer of its own"),
    ("index columns", "q[:, actions]"),
    ("global max", "the max has no dim"),
    ("gamma on reward", "gamma multiplies the reward too"),
    ("gather rows", "gather along dimension 0"),
    ("next obs", "computed from next_obs"),
    ("step first", "the optimizer step comes before backward()"),
    ("target from obs", "the target bootstraps from obs"),
    ("every action", "the loss includes every action's Q-value"),
    ("cleared before step", "cleared between backward() and the optimizer step"),
    ("synchronizes", "your update synchronizes the target network"),
    ("clip", "the loss is right but the step"),
    ("double step", "the loss is right but the step"),
    ("summed", "the loss is scaled"),
])
def test_dqn_update_mistakes_are_named(slip, words):
    absent = {"l1": ("gamma is hard-coded",), "clip": ("the loss is scaled",),
              "double step": ("the loss is scaled",)}.get(slip, ())
    named(check_dqn_update(functools.partial(student_update, slip=slip)), words, absent=absent)


def test_dqn_update_max_over_the_batch_is_told_it_reduced_over_the_batch():
    report = check_dqn_update(functools.partial(student_update, slip="max over the batch"))
    assert not report and "reduces over the batch" in report.failures[0].hint, str(report)


def test_dqn_update_a_target_column_is_told_apart_from_a_prediction_column():
    named(check_dqn_update(functools.partial(student_update, slip="target column")),
          "the target has shape (B, 1) and the prediction (B,)", absent=("the prediction has shape (B, 1)",))


def test_dqn_update_max_without_values_gets_the_values_hint():
    report = check_dqn_update(functools.partial(student_update, slip="no values"))
    assert not report and "(values, indices)" in report.failures[0].hint, str(report)


def test_dqn_update_that_returns_the_loss_tensor_is_told_to_return_a_float():
    report = check_dqn_update(functools.partial(student_update, slip="tensor loss"))
    failed = [r.name for r in report.failures]
    assert failed == ["returns the loss (a float) of the batch before the step"], str(report)
    assert ".item()" in report.failures[0].hint


def test_dqn_update_prediction_under_no_grad_gets_the_gradient_hint():
    report = check_dqn_update(functools.partial(student_update, slip="prediction under no_grad"))
    assert not report and "Only the target belongs under no_grad" in str(report), str(report)


def test_dqn_update_prediction_by_the_target_network_is_named():
    named(check_dqn_update(functools.partial(student_update, slip="predicted by the target network")),
          "Q(s, a) is predicted with the target network", absent=("prediction made under torch.no_grad()",))


@pytest.mark.parametrize(("slip", "words", "absent"), [
    ("predicted by the target network", "Q(s, a) is predicted with the target network",
     ("prediction made under torch.no_grad()",)),
    ("inverted mask", "your terminal mask is inverted", ("you bootstrap through terminal states",)),
])
def test_probes_name_the_predictor_and_the_inverted_mask(slip, words, absent):
    named(check_probes(functools.partial(student_update, slip=slip)), words, absent=absent)


def test_probes_gamma_on_the_reward_is_named():
    named(check_probes(functools.partial(student_update, slip="gamma on reward")), "gamma times the optimal one")


# --------------------------------------------------------------------------- 08: check_double_dqn_target


def double_target(rewards, terminated, next_q_online, next_q_target, gamma, slip=None):
    """Exercise 1 of notebook 08, correct by default; ``slip`` puts in one mistake."""
    best = {"flat": lambda: next_q_online.argmax().expand(len(rewards)),
            "values": lambda: next_q_online.max(dim=1).values.long(),
            "sum of both": lambda: (next_q_online + next_q_target).argmax(dim=1)}.get(
        slip, lambda: next_q_online.argmax(dim=1))()
    with torch.no_grad():
        if slip == "no unsqueeze":
            next_values = next_q_target.gather(1, best).squeeze()
        elif slip == "index as a row":
            next_values = next_q_target.gather(1, best.unsqueeze(0)).squeeze(0)
        elif slip == "min of both":  # clipped double Q-learning (TD3), not Double DQN
            next_values = torch.min(next_q_online, next_q_target).max(dim=1).values
        elif slip == "min at the online choice":  # TD3's clipped double Q in discrete form
            chosen = best.unsqueeze(1)
            next_values = torch.min(next_q_online.gather(1, chosen), next_q_target.gather(1, chosen)).squeeze(1)
        elif slip == "mean at the online choice":
            chosen = best.unsqueeze(1)
            next_values = ((next_q_online.gather(1, chosen) + next_q_target.gather(1, chosen)) / 2).squeeze(1)
        elif slip == "min of target":  # min instead of max, and the online network left out
            next_values = next_q_target.min(1).values
        elif slip == "argmin":
            next_values = next_q_target[torch.arange(len(rewards)), next_q_online.argmin(dim=1)]
        elif slip == "keepdim index":  # a' of shape (B, 1) next to arange's (B,)
            next_values = next_q_target[torch.arange(len(rewards)), next_q_online.argmax(dim=1, keepdim=True)]
        elif slip in ("where on floats", "where on bools"):
            chosen = next_q_target[torch.arange(len(rewards)), best]
            done = terminated if slip == "where on floats" else terminated.bool()
            return torch.where(done, rewards, rewards + gamma * chosen)
        elif slip == "mean of both":
            next_values = (next_q_online.max(dim=1).values + next_q_target.max(dim=1).values) / 2
        else:
            next_values = next_q_target[torch.arange(len(rewards)), best]
        return rewards + (0.99 if slip == "hard-coded gamma" else gamma) * (1 - terminated) * next_values


def test_double_dqn_argmax_without_a_dimension():
    named(check_double_dqn_target(functools.partial(double_target, slip="flat")), "argmax without a dimension")


@pytest.mark.parametrize("slip", ["min of target", "argmin"])
def test_double_dqn_a_minimum_is_named_and_not_called_a_flattened_argmax(slip):
    # the fixed example's non-terminal rows have their target minimum in column 1, the flattened argmax's column
    named(check_double_dqn_target(functools.partial(double_target, slip=slip)), "a minimum where a maximum belongs",
          absent=("argmax without a dimension",))


def test_double_dqn_where_with_a_float_mask_is_told_it_needs_a_bool_condition():
    report = check_double_dqn_target(functools.partial(double_target, slip="where on floats"))
    assert not report and "takes a bool condition" in report.failures[0].hint, str(report)
    assert "int64" not in str(report), str(report)
    assert check_double_dqn_target(functools.partial(double_target, slip="where on bools"))


def test_double_dqn_an_index_of_shape_b_1_is_named():
    report = check_double_dqn_target(functools.partial(double_target, slip="keepdim index"))
    assert not report and "your indices of a' have shape (B, 1)" in report.failures[0].hint, str(report)


def test_double_dqn_values_used_as_indices_get_an_index_hint():
    report = check_double_dqn_target(functools.partial(double_target, slip="values"))
    assert not report
    assert "action numbers" in report.failures[0].hint, str(report)


def test_double_dqn_masking_test_points_at_the_argmax_when_that_fails():
    def plain_max(rewards, terminated, next_q_online, next_q_target, gamma):
        return rewards + gamma * (1 - terminated) * next_q_target.max(dim=1).values

    report = check_double_dqn_target(plain_max)
    masking = [r for r in report.failures if r.name == "terminal masking and gamma scaling"]
    assert masking and "fix what it reports first" in masking[0].hint, str(report)


def test_double_dqn_hard_coded_gamma_is_named():
    named(check_double_dqn_target(functools.partial(double_target, slip="hard-coded gamma")), "gamma is hard-coded")


def test_double_dqn_gather_without_unsqueeze_gets_the_index_shape_hint():
    report = check_double_dqn_target(functools.partial(double_target, slip="no unsqueeze"))
    assert "shape (B, 1)" in report.failures[0].hint, str(report)


@pytest.mark.parametrize(("slip", "words"), [
    ("index as a row", "the first row of next_q_target"),
    ("min of both", "the smaller of the two networks' values"),
    ("mean of both", "averages the two networks' values"),
    ("min at the online choice", "that is clipped double Q (TD3's rule, in discrete form), not Double DQN"),
    ("mean at the online choice", "the mean of the online and the target network's values at the online network's"),
])
def test_double_dqn_values_from_both_networks_or_one_row_are_named(slip, words):
    named(check_double_dqn_target(functools.partial(double_target, slip=slip)), words)


def test_double_dqn_clipped_double_q_is_not_told_to_stop_hard_coding_sizes():
    report = check_double_dqn_target(functools.partial(double_target, slip="min at the online choice"))
    assert "hard-code" not in str(report), str(report)


def test_double_dqn_random_batch_failure_shows_the_rows_that_differ():
    def off_in_last_rows(rewards, terminated, next_q_online, next_q_target, gamma):  # wrong in rows 28 and up
        out = double_target(rewards, terminated, next_q_online, next_q_target, gamma)
        return torch.cat([out[:28], out[28:] + 1.0])

    report = check_double_dqn_target(off_in_last_rows)
    random = [r for r in report.failures if r.name == "matches the reference on random batches"]
    assert random and "..." not in random[0].expected + random[0].got, str(report)
    assert "row 28:" in random[0].expected and "4 of 32 rows differ; row 28:" in random[0].got, str(report)


def test_double_dqn_a_choice_that_only_looks_plain_is_not_called_plain():
    report = check_double_dqn_target(functools.partial(double_target, slip="sum of both"))
    assert not report and "This is the plain DQN target" not in str(report), str(report)


def test_double_dqn_valued_with_the_online_network_is_not_called_a_min_of_both():
    def online_value(rewards, terminated, next_q_online, next_q_target, gamma):
        return rewards + gamma * (1 - terminated) * next_q_online.detach().max(dim=1).values

    report = check_double_dqn_target(online_value)
    assert not report and "smaller of the two networks" not in str(report), str(report)
    assert "You valued the action with the online network" in str(report), str(report)
