"""Check of the Double DQN target: the online network picks a', the target network values it.

Built step by step in ``notebooks/08_going_further.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import close, describe, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.targets import (
    Q_ONLINE,
    Q_TARGET,
    REWARDS,
    TERMINATED,
    no_gradient_test,
    random_batches,
    tensor_out,
)

IN_PLACE_HINT = ("An in-place operation (+=, *=, add_, ...) on an argument changes the caller's tensor: the batch "
                 "the update goes on to use would hold the target instead of the rewards.")


def check_double_dqn_target(fn) -> CheckReport:
    """Check ``fn(rewards, terminated, next_q_online, next_q_target, gamma) -> Tensor (B,)`` (notebook 08).

    Belongs to notebook 08_going_further. Tests against :func:`dqn_helpers.td_target`
    with ``next_actions = next_q_online.argmax(1)``: output shape; the next action is
    the online network's argmax and its value comes from the target network; terminal
    masking; gamma scaling; random batches (a failure shows the first rows that differ, with their
    indices); no gradient through the target; the answer's own
    code (not a call of :func:`dqn_helpers.td_target`). A (B, 1) term broadcast against a
    (B,) one is named by the shape test; an inverted terminal mask, a mask or a gamma that
    multiplies the reward too, a value that mixes both networks (their minimum or mean, over all
    actions or at the online network's choice: clipped double Q is named as such), an
    index of shape (1, B) that reads every value from the first row, and inputs changed in
    place are named too.
    """
    from dqn_helpers.learner import td_target

    name = "check_double_dqn_target"
    signature = "fn(rewards (B,), terminated (B,), next_q_online (B, A), next_q_target (B, A), gamma) -> Tensor (B,)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(rewards, terminated, next_q_online, next_q_target, gamma)")

    def reference(rewards, terminated, online, target, gamma):
        return td_target(rewards, terminated, target, gamma, next_actions=online.argmax(dim=1))

    def call(rewards, terminated, online, target, gamma):
        given = dict(rewards=rewards, terminated=terminated, next_q_online=online, next_q_target=target)
        copies = {k: v.clone() for k, v in given.items()}
        out = fn(*copies.values(), gamma)
        changed = [k for k in given if not torch.equal(copies[k], given[k])]
        if changed:  # the caller's batch would be changed: a clone hides it from the values, not from this
            raise Fail("the input tensors left as they were", f"your function changed {', '.join(changed)} in place",
                       IN_PLACE_HINT)
        column_index(out, rewards, terminated, online, target, gamma)
        return tensor_out(out, tuple(rewards.shape),
                          rerun=lambda: fn(rewards.clone(), terminated.clone(), online.clone(), target.clone(), gamma),
                          n_actions=online.shape[1])

    def changes_inputs() -> bool:
        try:
            call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 0.9)
        except Fail as fail:
            return "in place" in fail.got
        return False

    def fixed_examples_pass() -> bool:
        zeros = torch.zeros(5)
        return (close(call(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0), reference(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0))
                and all(close(call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, g),
                              reference(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, g)) for g in (0.9, 0.5)))

    def is_like(wrong) -> Callable[[], bool]:
        """A detector: on the fixed examples, for two gammas, the answer gives ``wrong(gamma)``."""
        return lambda: all(close(call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, g), wrong(g)) for g in (0.9, 0.5))

    def shape():
        call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 0.9)

    def plain_everywhere() -> bool:
        """The answer is the plain max target on random batches too, not only on the fixed example."""
        for rewards, _, online, target in random_batches(3, ((16, 3),), n_q=2):
            alive = torch.zeros(len(rewards))  # no terminal row: every row's choice of a' shows
            if not close(call(rewards, alive, online, target, 0.9), td_target(rewards, alive, target, 0.9)):
                return False
        return True

    def argmax_online_value_target():
        zeros = torch.zeros(5)
        got = call(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0)
        expected = reference(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0)
        if not close(got, expected):
            hint = (
                "Let the online network's Q-values choose a' (the best action of each row), then read the value of "
                "that a' in the target network's Q-values, row by row."
            )
            ratio = float(got @ expected / (expected @ expected)) if float(expected @ expected) > 0 else 0.0
            if close(got, Q_TARGET.max(dim=1).values) and plain_everywhere():
                hint = "This is the plain DQN target (max of the target network). " + hint
            elif abs(ratio - 1) > 1e-3 and close(got, ratio * expected):
                hint = (f"Your values are {ratio:.3g} times the expected ones, in every row: this test passes gamma = "
                        "1 and no reward, so the action and its value are right and a factor is not. Use the gamma "
                        "argument, not a number of your own.")
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
                zeros = torch.zeros(5)
                if close(got, reference(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 1.0)):
                    hint = ("Your target is the one for gamma = 1 whatever gamma is passed: the next value is not "
                            "discounted. Multiply it by gamma.")
                elif not close(call(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0), reference(zeros, zeros, Q_ONLINE, Q_TARGET,
                                                                                     1.0)):
                    hint = ("The test above (no reward, no terminal row, gamma 1) fails too: fix what it reports "
                            "first; this test adds only the reward, the mask and gamma.")
                elif close(got, reference(REWARDS, torch.zeros(5), Q_ONLINE, Q_TARGET, gamma)):
                    hint = "You bootstrapped from terminal states (rows 1 and 3): there the target is the reward alone."
                raise Fail(f"{fmt(expected)} for terminated={fmt(TERMINATED)}, gamma={gamma}", fmt(got), hint)

    def random():
        for rewards, terminated, online, target in random_batches(1, ((32, 2), (6, 4)), n_q=2):
            got = call(rewards, terminated, online, target, 0.97)
            expected = reference(rewards, terminated, online, target, 0.97)
            if not close(got, expected):
                hint = ("The fixed examples pass but a random batch does not: do not hard-code the batch size, the "
                        "number of actions or any value of the examples." if fixed_examples_pass() else
                        "The fixed examples above fail too: fix those first.")
                expected_rows, got_rows = differing_rows(expected, got)
                raise Fail(f"{expected_rows} (batch {len(rewards)}, {online.shape[1]} actions)", got_rows, hint)

    def with_grad():
        online, target = Q_ONLINE.clone().requires_grad_(True), Q_TARGET.clone().requires_grad_(True)
        return fn(REWARDS.clone(), TERMINATED.clone(), online, target, 0.9)

    def inverted_mask() -> bool:
        """The answer is the reference with its mask flipped, with and without terminal rows (not an argmax slip)."""
        zeros, ones = torch.zeros(5), torch.ones(5)
        return (close(call(zeros, zeros, Q_ONLINE, Q_TARGET, 1.0), reference(zeros, ones, Q_ONLINE, Q_TARGET, 1.0))
                and close(call(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 0.9),
                          reference(REWARDS, 1 - TERMINATED, Q_ONLINE, Q_TARGET, 0.9)))

    values = ["argmax from the online network, value from the target network", "terminal masking and gamma scaling",
              "matches the reference on random batches"]
    zeros = torch.zeros(5)

    def picked_with(actions: torch.Tensor) -> Callable[[], bool]:
        """A detector: the answer values the next states at ``actions`` (one per row) instead of the online argmax."""
        return is_like(lambda g: td_target(REWARDS, TERMINATED, Q_TARGET, g, next_actions=actions))

    def flat_everywhere() -> bool:
        """On random batches whose largest online value is planted in row 0, column 2, every row takes action 2:
        the flattened argmax, not a rule (a minimum, say) that happens to agree on the fixed example."""
        for rewards, _, online, target in random_batches(5, ((16, 3), (8, 4)), n_q=2):
            online[0, 2] = online.abs().max() + 10.0
            alive, column = torch.zeros(len(rewards)), torch.full((len(rewards),), 2)
            if not close(call(rewards, alive, online, target, 0.9),
                         td_target(rewards, alive, target, 0.9, next_actions=column)):
                return False
        return True

    flat = Q_ONLINE.argmax()  # no dim: one index into the flattened (B, A) tensor
    one_action = [Mistake(
        f"argmax without a dimension: it returned one index into the flattened tensor ({int(flat)}), so every row "
        "got the same next action.",
        lambda: picked_with(flat.expand(5) % Q_ONLINE.shape[1])() and flat_everywhere(),
        "An argmax over the whole (B, A) tensor gives a single number. The best action must be chosen per row, "
        "over the action dimension, giving one action per transition.", values)] if flat < Q_ONLINE.shape[1] else []

    def error_hint(err: BaseException) -> str | None:
        text = str(err)
        if "out of bounds" in text or "out of range" in text:
            return ("An index out of range: the indices of a' must be action numbers, 0 to A - 1. A max's values "
                    "used as indices, an argmax over the flattened tensor (no dimension), or one over dimension 0 "
                    "(the batch: it returns row numbers) gives numbers that are no actions. Choose a' per row with "
                    "an argmax over the action dimension.")
        if "where expected condition to be a boolean" in text:
            return ("torch.where takes a bool condition (True or False per row); `terminated` is a float tensor of "
                    "0.0 and 1.0, so it cannot be the condition as it is. Make a bool tensor from it, or keep it a "
                    "number and use it to switch the bootstrap term off arithmetically.")
        if "expected" in text and ("Long" in text or "int64" in text):
            return ("gather and indexing need integer indices: a' must be the argmax (which action), not the max "
                    "(how much it is worth).")
        return None

    tests = [
        Test("returns a tensor of shape (B,)", shape, required=True, on_error=error_hint),
        Test(OWN_CODE, own_code_test(shape, {"dqn_helpers.td_target": td_target}, answer=fn), required=True),
        Test("argmax from the online network, value from the target network", argmax_online_value_target),
        Test("terminal masking and gamma scaling", masking_and_gamma),
        Test("matches the reference on random batches", random),
        Test("no gradient flows through the target", no_gradient_test(with_grad)),
    ]

    mistakes = [Mistake(
        "your function changes its input tensors in place.", changes_inputs, IN_PLACE_HINT + " Build the target "
        "as a new tensor from the inputs and leave them as they were."), Mistake(
        "gamma multiplies the reward too: the reward is discounted along with the next value.",
        is_like(lambda g: g * reference(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, 1.0)),
        "The reward of this step is received now, so it is not discounted: gamma scales only the value of the next "
        "state.", values), Mistake(
        "the mask multiplies the reward too: a terminal transition's target is 0, not its reward.",
        is_like(lambda g: (1 - TERMINATED) * reference(REWARDS, zeros, Q_ONLINE, Q_TARGET, g)),
        "The reward of the last step is earned even when the episode ends there; only the bootstrapped future "
        "vanishes at a terminal state, so the mask multiplies that term alone.", values), Mistake(
        "your terminal mask is inverted: the target bootstraps where terminated == 1 and nowhere else.",
        inverted_mask,
        "`terminated` stands where `1 - terminated` belongs (or the condition is flipped): with no terminal row, "
        "as in the argmax test, every target came out as the reward alone, whatever the argmax. Keep the bootstrap "
        "where terminated == 0 and drop it where terminated == 1.",
        explains=values), Mistake(
        "gamma is hard-coded: your function ignores the gamma argument.",
        lambda: any(is_like(lambda g, c=c: reference(REWARDS, TERMINATED, Q_ONLINE, Q_TARGET, c))()
                    for c in (0.99, 0.9, 0.95, 0.999, 1.0)),
        "Whatever gamma the test passes, your targets come out the same. Discount with the gamma argument: each "
        "caller (and each environment) sets its own.", values), Mistake(
        "a minimum where a maximum belongs: your next value is the smallest Q-value (or the value of the action "
        "the online network rates worst), not the target network's value of the online network's best action.",
        on_random(call, lambda o, t: t.min(dim=1).values,
                  lambda o, t: t.gather(1, o.argmin(dim=1, keepdim=True)).squeeze(1),
                  lambda o, t: torch.min(o, t).min(dim=1).values),
        "Q-learning assumes the agent acts greedily from the next state on: a' is the action with the highest "
        "online Q-value in its row, and the target network then says what that action is worth.", values)] + one_action
    mistakes += combined_values(call, is_like, values)
    return run_tests(name, tests, signature, mistakes)


def differing_rows(expected: torch.Tensor, got: torch.Tensor, shown: int = 4) -> tuple[str, str]:
    """The first ``shown`` rows where ``got`` is off, as "row i: value" for each side (a whole batch truncated
    with "..." would hide them)."""
    off = torch.nonzero(~torch.isclose(got.detach().float(), expected.float(), rtol=1e-4, atol=1e-5)).flatten()
    rows = off[:shown].tolist()
    more = f" (and {len(off) - shown} more rows)" if len(off) > shown else ""
    side = {k: "; ".join(f"row {i}: {float(v[i]):.4g}" for i in rows) for k, v in (("e", expected), ("g", got))}
    return f"{side['e']}{more}", f"{len(off)} of {len(expected)} rows differ; {side['g']}"


def on_random(call, *rules) -> Callable[[], bool]:
    """A detector: on random batches (no terminal row), the next value is one of ``rules(online, target)``."""
    def detect() -> bool:
        for rewards, _, online, target in random_batches(3, ((16, 3),), n_q=2):
            alive = torch.zeros(len(rewards))
            got = call(rewards, alive, online, target, 0.9)
            if not any(close(got, rewards + 0.9 * rule(online, target)) for rule in rules):
                return False
        return True
    return detect


def column_index(out, rewards, terminated, online, target, gamma) -> None:
    """A :class:`Fail` naming the (B, 1) index of a' when ``out`` is the (B, B) grid that ``target[arange, a']``
    makes with it (every transition's Q-values read at every row's a')."""
    batch = len(rewards)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, batch) or batch < 2:
        return
    grid = target[torch.arange(batch), online.argmax(dim=1, keepdim=True)]  # (B, B)
    if close(out.detach().float(), rewards + gamma * (1 - terminated) * grid):
        raise Fail(f"a tensor of shape ({batch},) (one value per transition)", describe(out),
                   f"Shape ({batch}, {batch}): your indices of a' have shape (B, 1) (an argmax with keepdim=True, "
                   "or an unsqueeze), and next to the row numbers, of shape (B,), they broadcast into a (B, B) grid: "
                   "every transition's Q-values read at every row's a'. Indexing with two index tensors pairs them "
                   "element by element only when both have shape (B,).")


def combined_values(call, is_like, explains) -> list[Mistake]:
    """Mistakes that value a' with both networks at once, or read every value from the first row.

    Both networks' values are combined on random batches, not the fixed example: there every row's
    online maximum is below the target's, so "the smaller of the two" would look like "valued with
    the online network", a different mistake with its own hint."""

    def valued_as(next_values: torch.Tensor) -> Callable[[], bool]:
        return is_like(lambda g: REWARDS + g * (1 - TERMINATED) * next_values)

    def combines(*rules) -> Callable[[], bool]:
        return on_random(call, *rules)

    chosen = Q_ONLINE.argmax(dim=1)  # (B,)
    one_role = ("In Double DQN the two networks do not share the value: the online network's Q-values only say "
                "which a' to take (their argmax, per row); the value of that a' is read from the target network "
                "alone.")
    def at_choice(o, t, combine):
        """``combine`` of the two networks' values at the online network's choice of a', per row."""
        picked = o.argmax(dim=1, keepdim=True)
        return combine(o.gather(1, picked), t.gather(1, picked)).squeeze(1)

    at_choice_hint = ("Double DQN does not combine two estimates of one action: the online network chooses a' and "
                      "the target network's Q-value of that a' is the whole next value; the online network's own "
                      "value of a' is not used at all. ")
    return [Mistake(
        "your next value is the smaller of the online and the target network's values at the online network's "
        "choice of a': that is clipped double Q (TD3's rule, in discrete form), not Double DQN.",
        combines(lambda o, t: at_choice(o, t, torch.min)),
        at_choice_hint + "Clipped double Q takes the minimum of two critics to push the estimate down further; "
        "Double DQN only lets one network choose and the other value.", explains),
        Mistake(
        "your next value is the mean of the online and the target network's values at the online network's choice "
        "of a', not the target network's value alone.",
        combines(lambda o, t: at_choice(o, t, lambda a, b: (a + b) / 2)),
        at_choice_hint + "Averaging brings back half of the online network's own (overestimated) value, which is "
        "what Double DQN removes.", explains), Mistake(
        "your next value is the smaller of the two networks' values (clipped double Q-learning, as in TD3), not the "
        "target network's value of the online network's choice.",
        combines(lambda o, t: torch.min(o, t).max(dim=1).values,
                 lambda o, t: torch.min(o.max(dim=1).values, t.max(dim=1).values)),
        one_role, explains), Mistake(
        "your next value averages the two networks' values instead of letting one choose and the other value.",
        combines(lambda o, t: ((o + t) / 2).max(dim=1).values,
                 lambda o, t: (o.max(dim=1).values + t.max(dim=1).values) / 2),
        one_role, explains), Mistake(
        "every row read its value from the first row of next_q_target: the index given to gather has shape (1, B), "
        "not (B, 1).",
        valued_as(Q_TARGET[0, chosen]),
        "gather reads, for each row of its index, from the same row of the input: an index of shape (1, B) has one "
        "row, so all B actions are looked up in transition 0's Q-values. Give it one row per transition, each "
        "holding that transition's action (shape (B, 1)), and flatten the result to (B,).", explains)]
