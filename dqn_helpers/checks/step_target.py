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


def numpy_input(err: BaseException) -> str | None:
    """The hint for a NumPy observation passed to the network as it came from ``env.step``."""
    text = str(err)
    if "must be Tensor, not numpy.ndarray" in text or ("numpy.ndarray" in text and "Tensor" in text):
        return ("Your network was given next_obs as it came from env.step: a NumPy array. A torch network takes a "
                "torch tensor (float32, like its weights): convert the observation first, and give the network the "
                "batch shape it expects.")
    return None


def check_step_target(fn) -> CheckReport:
    """Check ``fn(q_network, reward, next_obs, terminated, truncated, gamma) -> y`` (notebook 02_q_networks).

    ``next_obs`` is one observation ``(obs_dim,)`` as ``env.step`` returns it; ``y`` is
    one number (a float or a 0-dim tensor): ``reward + gamma * max_a Q(next_obs, a)``
    unless ``terminated``. Tests: a number; a running episode bootstraps; a terminated
    one does not; a time-limit truncation still bootstraps; terminated and truncated
    together do not; gamma; no gradient; the student's own code (not a call of
    :func:`dqn_helpers.td_target`). Recognises a mask of ``1 - terminated - truncated`` (-1 where
    both are set), masking with ``terminated or truncated``, masking
    with ``truncated`` instead of ``terminated``, the argmax index used as a value, and a mean
    over the actions.
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
        net[-1].bias[1] += 2.0  # action 1 is clearly the best: its index (1) and the mean are both wrong answers
        next_q = net(torch.as_tensor(_NEXT_OBS[None]))[0]
        best_next = float(next_q.max())
        best_index, mean_next = int(next_q.argmax()), float(next_q.mean())

    def value(terminated, truncated, gamma=0.9, reward=1.0) -> float:
        out = fn(net, reward, _NEXT_OBS.copy(), terminated, truncated, gamma)
        return as_number(out, "Return the target of this one transition (a float).")

    def compare(terminated, truncated, gamma, bootstraps, what, hint):
        got = value(terminated, truncated, gamma)
        want = 1.0 + (gamma * best_next if bootstraps else 0.0)
        if abs(got - want) > 1e-4:
            raise Fail(f"y = {want:.4f} ({what}; reward 1, gamma {gamma}, max Q(next_obs) = {best_next:.4f})",
                       f"{got:.4f}", hint)

    def is_close(got, want) -> bool:
        return abs(got - want) < 1e-4

    def running_ok() -> bool:
        """The running case is right: only then do the truncation and gamma hints make sense."""
        try:
            return is_close(value(False, False), 1.0 + 0.9 * best_next)
        except Exception:
            return False

    def after_running(hint: str) -> str:
        if running_ok():
            return hint
        return ("A running episode already gets a wrong target (see the line above); this case bootstraps the same "
                "way, so fix that one first.")

    def running():
        compare(False, False, 0.9, True, "episode still running",
                "The target of a running episode is the reward plus the discounted value of the best next action: "
                "the largest of the Q-values of next_obs (a value, not an action index), times gamma.")

    def terminated():
        compare(True, False, 0.9, False, "terminated: no future", "Where terminated, y is the reward alone.")

    def truncated():
        compare(False, True, 0.9, True, "truncated by the time limit: the state still has a future",
                after_running("Only `terminated` switches the bootstrap off; `truncated` only tells you to reset "
                              "the env."))

    def both():
        compare(True, True, 0.9, False, "terminated at the time limit", "Where terminated, y is the reward alone.")

    def gamma():
        compare(False, False, 0.5, True, "gamma 0.5",
                after_running("Use the gamma you receive, once, on the bootstrapped value (not on the reward)."))

    def no_gradient():
        out = fn(net, 1.0, _NEXT_OBS.copy(), False, False, 0.9)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            raise Fail("a target without gradient", "a tensor with requires_grad=True",
                       "Compute Q(next_obs) under torch.no_grad(): the target is a constant for the loss.")

    def masks_with_done() -> bool:
        return (is_close(value(False, True), 1.0) and is_close(value(True, False), 1.0)
                and is_close(value(False, False), 1.0 + 0.9 * best_next))

    def subtracts_both_flags() -> bool:
        """A mask of 1 - terminated - truncated: 0 for either flag, and -1 where both are set."""
        return masks_with_done() and is_close(value(True, True), 1.0 - 0.9 * best_next)

    def masks_with_truncated() -> bool:
        return (is_close(value(False, True), 1.0) and is_close(value(True, False), 1.0 + 0.9 * best_next)
                and is_close(value(False, False), 1.0 + 0.9 * best_next))

    def drops_reward_at_truncation() -> bool:
        return running_ok() and is_close(value(False, True), 0.9 * best_next) and is_close(value(True, False), 1.0)

    def uses_index() -> bool:
        return is_close(value(False, False), 1.0 + 0.9 * best_index) and is_close(value(True, False), 1.0)

    def uses_mean() -> bool:
        return is_close(value(False, False), 1.0 + 0.9 * mean_next)

    tests = [
        Test("returns one number", lambda: value(False, False), required=True, on_error=numpy_input),
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
            "your mask subtracts both flags from 1 (1 - terminated - truncated): it is -1 where both are set, and "
            "it switches the bootstrap off at a truncation.",
            subtracts_both_flags,
            lambda: "Terminated and truncated together give a mask of 1 - 1 - 1 = -1: your target there is r - "
            f"gamma * max Q(s') ({value(True, True):.4f} here), a future subtracted rather than dropped. And a "
            "time-limit truncation must not cut the bootstrap at all: a time limit is not a death, the truncated "
            "state has a future worth max Q(s'). Only `terminated` decides whether to bootstrap; `truncated` only "
            "tells you to reset the env.",
            explains=["a time-limit truncation still bootstraps", "terminated and truncated together: y = r"],
        ),
        Mistake(
            "you switched the bootstrap off with `terminated or truncated`.",
            masks_with_done,
            "A time limit is not a death: the truncated state has a future worth max Q(s'). Of the two flags, only "
            "one says the future is worth nothing, the one set when the task itself is over (the pole fell); the "
            "other says only that the env stopped the episode, so that you reset it. Let the mask read that one "
            "flag, and keep the pair of flags for deciding when to reset.",
            explains=["a time-limit truncation still bootstraps"],
        ),
        Mistake(
            "at a truncation your target drops the reward: y = gamma * max Q(s') without r.",
            drops_reward_at_truncation,
            f"Your truncated target is {0.9 * best_next:.4f}, gamma times max Q(next_obs), with the reward 1 left "
            "out. The reward of the last step was earned whatever ended the episode, and a time-limit cut does not "
            "end the future either: a truncated transition's target is built the same way as a running one's.",
            explains=["a time-limit truncation still bootstraps"],
        ),
        Mistake(
            "you masked with `truncated` instead of `terminated`.",
            masks_with_truncated,
            "Your target drops the future after a time limit and keeps it after the pole fell: the two flags are "
            "swapped. A terminated episode has no future (y = r); a truncated one still does.",
        ),
        Mistake(
            "you used the *index* of the best next action (argmax), not its *value*.",
            uses_index,
            f"Your target adds gamma times {best_index}, the position of the best action in the Q-values of "
            "next_obs. The bootstrap needs the best Q-value itself.",
        ),
        Mistake(
            "you averaged the Q-values of the next state instead of taking the best one.",
            uses_mean,
            "Q-learning bootstraps from the greedy action: the largest Q-value of next_obs, not their mean "
            "(the mean is the value of a random next action).",
        ),
    ]
    return run_tests(name, tests, signature, mistakes)
