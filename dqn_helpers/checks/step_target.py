"""Check of the bootstrap mask where it is applied: the target of one transition from ``env.step``.

Built step by step in ``notebooks/02_q_networks.ipynb`` (exercise 3, for the online loop of section 4).
The TD-target function of exercise 2 receives ``terminated`` ready-made; the mistake of
masking with ``done = terminated or truncated`` happens one step earlier, in the loop that
unpacks ``env.step``. This check tests that call site.
"""

from __future__ import annotations

import numpy as np
import torch

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import as_number
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

_NEXT_OBS = np.array([0.01, 0.2, -0.03, -0.3], dtype=np.float32)


def check_step_target(fn) -> CheckReport:
    """Check ``fn(q_network, reward, next_obs, terminated, truncated, gamma) -> y`` (notebook 02_q_networks).

    ``next_obs`` is one observation ``(obs_dim,)`` as ``env.step`` returns it; ``y`` is
    one number (a float or a 0-dim tensor): ``reward + gamma * max_a Q(next_obs, a)``
    unless ``terminated``. Tests: a number; a running episode bootstraps; a terminated
    one does not; a time-limit truncation still bootstraps; terminated and truncated
    together do not; gamma; no gradient; the student's own code (not a call of
    :func:`dqn_helpers.td_target`). Recognises masking with ``terminated or truncated``.
    """
    from dqn_helpers.learner import td_target
    from dqn_helpers.q_network import make_q_network

    name = "check_step_target"
    signature = "fn(q_network, reward, next_obs (obs_dim,), terminated, truncated, gamma) -> float"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(q_network, reward, next_obs, terminated, truncated, gamma)")
    torch.manual_seed(0)
    net = make_q_network(4, 2, (16,))
    with torch.no_grad():
        net[-1].bias.add_(5.0)  # values far from 0, so a missing bootstrap is plain to see
        best_next = float(net(torch.as_tensor(_NEXT_OBS[None])).max())

    def value(terminated, truncated, gamma=0.9, reward=1.0) -> float:
        out = fn(net, reward, _NEXT_OBS.copy(), terminated, truncated, gamma)
        return as_number(out, "Return the target of this one transition (a float).")

    def compare(terminated, truncated, gamma, bootstraps, what, hint):
        got = value(terminated, truncated, gamma)
        want = 1.0 + (gamma * best_next if bootstraps else 0.0)
        if abs(got - want) > 1e-4:
            raise Fail(f"y = {want:.4f} ({what}; reward 1, gamma {gamma}, max Q(next_obs) = {best_next:.4f})",
                       f"{got:.4f}", hint)

    def running():
        compare(False, False, 0.9, True, "episode still running", "y = reward + gamma * max_a Q(next_obs, a).")

    def terminated():
        compare(True, False, 0.9, False, "terminated: no future", "Where terminated, y is the reward alone.")

    def truncated():
        compare(False, True, 0.9, True, "truncated by the time limit: the state still has a future",
                "Only `terminated` switches the bootstrap off; `truncated` only tells you to reset the env.")

    def both():
        compare(True, True, 0.9, False, "terminated at the time limit", "Where terminated, y is the reward alone.")

    def gamma():
        compare(False, False, 0.5, True, "gamma 0.5", "Multiply the bootstrapped value (not the reward) by gamma.")

    def no_gradient():
        out = fn(net, 1.0, _NEXT_OBS.copy(), False, False, 0.9)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            raise Fail("a target without gradient", "a tensor with requires_grad=True",
                       "Compute Q(next_obs) under torch.no_grad(): the target is a constant for the loss.")

    def masks_with_done() -> bool:
        return abs(value(False, True) - 1.0) < 1e-4 and abs(value(False, False) - 1.0 - 0.9 * best_next) < 1e-4

    tests = [
        Test("returns one number", lambda: value(False, False), required=True),
        Test(OWN_CODE, own_code_test(lambda: value(False, False), {"dqn_helpers.td_target": td_target}, answer=fn),
             required=True),
        Test("a running episode bootstraps: y = r + gamma * max Q(s')", running),
        Test("a terminated episode does not bootstrap: y = r", terminated),
        Test("a time-limit truncation still bootstraps", truncated),
        Test("terminated and truncated together: y = r", both),
        Test("scales the bootstrapped value by gamma", gamma),
        Test("no gradient flows through the target", no_gradient),
    ]
    mistakes = [
        Mistake(
            "you switched the bootstrap off with `terminated or truncated`.",
            masks_with_done,
            "A time limit is not a death: the truncated state has a future worth max Q(s'). Mask with "
            "`(1 - terminated)` only; use `terminated or truncated` just to decide when to reset the env.",
            explains=["a time-limit truncation still bootstraps"],
        )
    ]
    return run_tests(name, tests, signature, mistakes)
