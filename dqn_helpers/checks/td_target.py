"""Check of the TD target ``r + gamma * (1 - terminated) * max_a' Q(s', a')``.

Built step by step in ``notebooks/02_q_networks.ipynb`` (exercise 2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import close, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.targets import NEXT_Q, REWARDS, TERMINATED, no_gradient_test, random_batches, tensor_out


def check_td_target(fn) -> CheckReport:
    """Check ``fn(rewards, terminated, next_q_values, gamma) -> Tensor (B,)`` (notebook 02_q_networks).

    Tests against :func:`dqn_helpers.td_target`: output shape ``(B,)``; max over
    actions; gamma scaling; terminal masking (no bootstrap where ``terminated == 1``);
    rows with ``terminated == 0`` (time-limit truncations included) still bootstrap;
    random batches; no gradient flows through the target; inputs left unchanged.
    Recognises indices taken for values (``.max(dim=1)[1]``), a (B, 1) term broadcast
    against a (B,) one, a missing reward, gamma applied to the reward too or twice, a mean
    over the batch, and an answer that calls :func:`dqn_helpers.td_target` itself.
    """
    from dqn_helpers.learner import td_target

    name = "check_td_target"
    signature = "fn(rewards (B,), terminated (B,) float 0/1, next_q_values (B, n_actions), gamma) -> Tensor (B,)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(rewards, terminated, next_q_values, gamma)")

    def call(rewards, terminated, next_q, gamma) -> torch.Tensor:
        out = fn(rewards.clone(), terminated.clone(), next_q.clone(), gamma)
        return tensor_out(out, tuple(rewards.shape),
                          rerun=lambda: fn(rewards.clone(), terminated.clone(), next_q.clone(), gamma))

    def compare(rewards, terminated, next_q, gamma, expected_text, hint_for_got) -> None:
        got = call(rewards, terminated, next_q, gamma)
        expected = td_target(rewards, terminated, next_q, gamma)
        if not close(got, expected):
            raise Fail(f"{fmt(expected)} {expected_text}", fmt(got), hint_for_got(got))

    def shape():
        call(REWARDS, TERMINATED, NEXT_Q, 0.9)

    def max_over_actions():
        def hint(got):
            if close(got, NEXT_Q.mean(dim=1)):
                return "You averaged over the actions; the target uses the value of the best next action."
            if close(got, NEXT_Q.max(dim=0).values[: len(got)]):
                return "You took the max over the batch (dim=0); the best action is chosen within each row."
            if close(got, NEXT_Q.max().expand(len(got))):
                return "You took one max over the whole tensor; each row (transition) has its own best action."
            if close(got, NEXT_Q[:, 0]):
                return "You used the first action's value in every row; the target uses the best one of each row."
            return "With rewards 0, gamma 1 and no terminal rows, the target of a row is the largest entry of that row."

        zeros = torch.zeros(5)
        text = f"(rewards 0, gamma 1, not terminated: the max of each row of {fmt(NEXT_Q)})"
        compare(zeros, zeros, NEXT_Q, 1.0, text, hint)

    def gamma_scaling():
        best = NEXT_Q.max(dim=1).values
        for gamma in (0.5, 0.0):
            def hint(got, gamma=gamma):
                if close(got, gamma * (REWARDS + best)):
                    return "You multiplied the reward by gamma too; only the bootstrapped value is discounted."
                if close(got, REWARDS + gamma**2 * best):
                    return "You applied gamma twice; the next state is one step away, so it is discounted once."
                if close(got, gamma * best):
                    return "The reward is missing: the target starts with the reward of this transition."
                return ("Check each term with gamma = 0.5: the target is the reward plus gamma times the best "
                        "next value.")

            compare(REWARDS, torch.zeros(5), NEXT_Q, gamma, f"with gamma={gamma} (r + gamma * max Q(s', a'))", hint)

    def terminal_masking():
        def hint(got):
            if close(got, td_target(REWARDS, torch.zeros(5), NEXT_Q, 0.9)):
                return ("You bootstrapped from terminal states (terminated = 1 at rows 1 and 3). A terminal "
                        "state has no future: there the bootstrapped term must vanish.")
            if close(got, td_target(REWARDS, 1.0 - TERMINATED, NEXT_Q, 0.9)):
                return "Your mask is inverted: keep the bootstrap where terminated == 0, drop it where it is 1."
            if close(got, td_target(REWARDS, TERMINATED, NEXT_Q, 0.9) * (1 - TERMINATED)):
                return ("Your terminal rows are 0: the mask multiplied the reward too. A terminal step still earns "
                        "its reward; only the bootstrapped term vanishes.")
            return "Where terminated == 1 the target is the reward alone; elsewhere it bootstraps."

        compare(REWARDS, TERMINATED, NEXT_Q, 0.9,
                f"for terminated={fmt(TERMINATED)}, gamma=0.9 (rows 1 and 3 equal their reward)", hint)

    def truncation_bootstraps():
        def hint(got):
            if close(got, REWARDS):
                return ("No row bootstrapped although terminated == 0 everywhere. An episode cut by a time limit "
                        "(truncated) still has a future: only `terminated` may switch the bootstrap off.")
            return "With terminated == 0 every row bootstraps from the best next value, discounted by gamma."

        compare(REWARDS, torch.zeros(5), NEXT_Q, 0.99,
                "(terminated = 0 everywhere, e.g. time-limit truncations, gamma=0.99)", hint)

    def random():
        for rewards, terminated, next_q in random_batches(0, ((32, 2), (7, 5))):
            compare(rewards, terminated, next_q, 0.97, f"(batch {len(rewards)}, {next_q.shape[1]} actions, gamma=0.97)",
                    lambda got: "Your target differs from r + gamma * (1 - terminated) * max Q(s', a') on these random "
                                "batches. If the examples above pass, look for anything fixed to their size (5 rows, "
                                "3 actions); otherwise fix the first failing line above first.")

    def inputs_unchanged():
        rewards, terminated, next_q = REWARDS.clone(), TERMINATED.clone(), NEXT_Q.clone()
        fn(rewards, terminated, next_q, 0.9)
        for arg, original, label in ((rewards, REWARDS, "rewards"), (terminated, TERMINATED, "terminated"),
                                     (next_q, NEXT_Q, "next_q_values")):
            if not torch.equal(arg, original):
                raise Fail(f"`{label}` left unchanged", f"modified in place to {fmt(arg)}",
                           "Avoid in-place operations (such as *=, +=, .mul_()) on the inputs.")

    def with_grad():
        return fn(REWARDS.clone(), TERMINATED.clone(), NEXT_Q.clone().requires_grad_(True), 0.9)

    def indices_not_values() -> bool:
        indices = NEXT_Q.argmax(dim=1).float()
        got = call(REWARDS, TERMINATED, NEXT_Q, 0.9)
        return close(got, REWARDS + 0.9 * (1 - TERMINATED) * indices) and not close(indices, NEXT_Q.max(dim=1).values)

    def formula(*wrong_formulas) -> Callable[[], bool]:
        """True when the answer computes one of ``wrong_formulas(rewards, not_terminal, best, gamma)`` at two gammas."""
        def matches(terms) -> bool:
            best = NEXT_Q.max(dim=1).values
            for gamma in (0.9, 0.5):
                got = call(REWARDS, TERMINATED, NEXT_Q, gamma)
                wrong = terms(REWARDS, 1 - TERMINATED, best, gamma).expand(len(REWARDS))
                if not close(got, wrong) or close(wrong, td_target(REWARDS, TERMINATED, NEXT_Q, gamma)):
                    return False
            return True

        return lambda: any(matches(terms) for terms in wrong_formulas)

    tests = [
        Test("returns a tensor of shape (B,)", shape, required=True),
        Test(OWN_CODE, own_code_test(shape, {"dqn_helpers.td_target": td_target}, answer=fn), required=True),
        Test("takes the max over actions", max_over_actions),
        Test("scales the bootstrapped value by gamma", gamma_scaling),
        Test("terminal masking: no bootstrap where terminated = 1", terminal_masking),
        Test("rows with terminated = 0 bootstrap",
             truncation_bootstraps),
        Test("matches dqn_helpers.td_target on random batches", random),
        Test("no gradient flows through the target", no_gradient_test(with_grad)),
        Test("leaves its inputs unchanged", inputs_unchanged),
    ]
    mistakes = [
        Mistake(
            "you used the *indices* of the best actions (argmax), not their *values*.",
            indices_not_values,
            "`max(dim=1)` returns a pair (values, indices), and `[1]` picks the indices (0, 1, 2, ...), the "
            "positions of the best actions. The target needs the best Q-values themselves.",
        ),
        Mistake(
            "the reward is missing from your target.",
            formula(lambda r, keep, best, g: g * keep * best),
            "Your target is only the discounted bootstrap term. The reward of the transition comes first: it is "
            "earned whether or not the episode goes on.",
        ),
        Mistake(
            "you multiplied the reward by gamma too.",
            formula(lambda r, keep, best, g: g * (r + keep * best)),
            "The reward is received now and is not discounted; only the value of the next state, one step away, "
            "is multiplied by gamma.",
        ),
        Mistake(
            "you applied gamma twice (gamma squared).",
            formula(lambda r, keep, best, g: r + g * g * keep * best),
            "The next state is one step away, so its value is discounted once, by gamma.",
        ),
        Mistake(
            "you averaged over the batch: every transition got the same bootstrap value.",
            formula(lambda r, keep, best, g: r + g * keep * best.mean(),
                    lambda r, keep, best, g: r + g * (keep * best).mean(),
                    lambda r, keep, best, g: (r + g * keep * best).mean()),
            "A mean (or a max) over the batch mixes transitions: each row's target must use its own next state "
            "only. Reduce over the actions (dim=1), never over the batch.",
        ),
    ]
    return run_tests(name, tests, signature, mistakes)
