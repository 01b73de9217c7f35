"""Check of the Double DQN target: the online network picks a', the target network values it.

Built step by step in ``notebooks/08_going_further.ipynb``.
"""

from __future__ import annotations

import torch

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import close, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Test, not_callable_report, run_tests
from dqn_helpers.checks.targets import (
    Q_ONLINE,
    Q_TARGET,
    REWARDS,
    TERMINATED,
    no_gradient_test,
    random_batches,
    tensor_out,
)


def check_double_dqn_target(fn) -> CheckReport:
    """Check ``fn(rewards, terminated, next_q_online, next_q_target, gamma) -> Tensor (B,)`` (notebook 08).

    Belongs to notebook 08_going_further. Tests against :func:`dqn_helpers.td_target`
    with ``next_actions = next_q_online.argmax(1)``: output shape; the next action is
    the online network's argmax and its value comes from the target network; terminal
    masking; gamma scaling; random batches; no gradient through the target; the answer's own
    code (not a call of :func:`dqn_helpers.td_target`). A (B, 1) term broadcast against a
    (B,) one is named by the shape test.
    """
    from dqn_helpers.learner import td_target

    name = "check_double_dqn_target"
    signature = "fn(rewards (B,), terminated (B,), next_q_online (B, A), next_q_target (B, A), gamma) -> Tensor (B,)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(rewards, terminated, next_q_online, next_q_target, gamma)")

    def reference(rewards, terminated, online, target, gamma):
        return td_target(rewards, terminated, target, gamma, next_actions=online.argmax(dim=1))

    def call(rewards, terminated, online, target, gamma):
        out = fn(rewards.clone(), terminated.clone(), online.clone(), target.clone(), gamma)
        return tensor_out(out, tuple(rewards.shape),
                          rerun=lambda: fn(rewards.clone(), terminated.clone(), online.clone(), target.clone(), gamma))

    def shape():
        call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 0.9)

    def argmax_online_value_target():
        zeros = torch.zeros(5)
        got = call(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0)
        expected = reference(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0)
        if not close(got, expected):
            hint = (
                "Let the online network's Q-values choose a' (the best action of each row), then read the value of "
                "that a' in the target network's Q-values, row by row."
            )
            if close(got, Q_TARGET.max(dim=1).values):
                hint = "This is the plain DQN target (max of the target network). " + hint
            elif close(got, Q_ONLINE.max(dim=1).values):
                hint = "You valued the action with the online network; the value must come from the target. " + hint
            elif close(got, Q_ONLINE.gather(1, Q_TARGET.argmax(dim=1, keepdim=True)).squeeze(1)):
                hint = "The roles are swapped: choose with the online network, evaluate with the target. " + hint
            raise Fail(
                f"{fmt(expected)} (rewards 0, gamma 1: next_q_target at the online argmax {fmt(Q_ONLINE.argmax(1))})",
                fmt(got),
                hint,
            )

    def masking_and_gamma():
        for gamma in (0.9, 0.5):
            got = call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, gamma)
            expected = reference(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, gamma)
            if not close(got, expected):
                hint = ("Where terminated == 1 the target is the reward alone; elsewhere it is the reward plus gamma "
                        "times the target network's value of a'.")
                if close(got, reference(REWARDS, torch.zeros(5), Q_ONLINE, Q_TARGET, gamma)):
                    hint = "You bootstrapped from terminal states (rows 1 and 3): there the target is the reward alone."
                raise Fail(f"{fmt(expected)} for terminated={fmt(TERMINATED)}, gamma={gamma}", fmt(got), hint)

    def random():
        for rewards, terminated, online, target in random_batches(1, ((32, 2), (6, 4)), n_q=2):
            got = call(rewards, terminated, online, target, 0.97)
            expected = reference(rewards, terminated, online, target, 0.97)
            if not close(got, expected):
                raise Fail(f"{fmt(expected)} (batch {len(rewards)}, {online.shape[1]} actions)", fmt(got),
                           "The fixed examples pass but a random batch does not: do not hard-code the batch size, "
                           "the number of actions or any value of the examples.")

    def with_grad():
        online, target = Q_ONLINE.clone().requires_grad_(True), Q_TARGET.clone().requires_grad_(True)
        return fn(REWARDS.clone(), TERMINATED.clone(), online, target, 0.9)

    tests = [
        Test("returns a tensor of shape (B,)", shape, required=True),
        Test(OWN_CODE, own_code_test(shape, {"dqn_helpers.td_target": td_target}, answer=fn), required=True),
        Test("argmax from the online network, value from the target network", argmax_online_value_target),
        Test("terminal masking and gamma scaling", masking_and_gamma),
        Test("matches the reference on random batches", random),
        Test("no gradient flows through the target", no_gradient_test(with_grad)),
    ]
    return run_tests(name, tests, signature)
