"""Check of the target-network synchronization: copy the numbers, every ``sync_every`` updates.

Built step by step in ``notebooks/04_target_networks.ipynb``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.learner import DeepQLearner


def _net(seed: int) -> nn.Module:
    from dqn_helpers.q_network import make_q_network

    torch.manual_seed(seed)
    return make_q_network(4, 2, (8,))


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


COPIES = "copies the online weights when n_updates is a multiple of sync_every"
WAITS = "leaves the target alone on the other updates"


def check_synchronize(fn) -> CheckReport:
    """Check ``fn(q_network, target_network, n_updates, sync_every) -> None`` (notebook 04_target_networks).

    The function copies the online weights into the target network iff
    ``n_updates % sync_every == 0``. Tests: it copies on those updates (catches never
    syncing); it leaves the target alone on the others (catches syncing every step);
    the copy is independent of later online changes (catches aliasing such as
    ``target.weight.data = online.weight.data``); the online network is untouched; no
    gradient reaches the online network through the target; a frozen target stays frozen
    and is synchronized too (catches a copy without ``torch.no_grad()``, new parameter
    objects, and a ``requires_grad`` filter that skips every parameter of a frozen target).
    Recognises a copy of some parameters only (weights without biases, one layer), rebinding
    the argument, a filter on ``requires_grad``, a call counter of the function's own in place
    of ``n_updates``, an inverted condition, an off-by-one period, and shows the updates copied
    at for any other condition. The hints name the idea, never the one-line solution.
    """
    name = "check_synchronize"
    signature = "fn(q_network, target_network, n_updates, sync_every) -> None"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(q_network, target_network, n_updates, sync_every)")

    def pair():
        online, target = _net(0), _net(1)
        assert not _same_weights(online, target)
        return online, target

    def copies():
        for n_updates, sync_every in ((10, 5), (5, 5), (3, 1), (200, 100)):
            online, target = pair()
            fn(online, target, n_updates, sync_every)
            if not _same_weights(online, target):
                times = copy_times()
                how = ("When n_updates is a multiple of sync_every, the numbers of every online parameter must end up "
                       "in the target network's own parameters. Rebinding the argument "
                       "(`target_network = q_network`) changes nothing outside the function.")
                raise Fail(
                    f"target weights equal to the online weights after fn(..., n_updates={n_updates}, "
                    f"sync_every={sync_every})",
                    f"the target still has different weights (over n_updates = 1 to 12 with sync_every=5 your "
                    f"function made the whole target equal to the online network at {times or 'none of them'})",
                    "Your function does copy, at other updates: look at its condition." if times else how,
                )

    def waits():
        for n_updates, sync_every in ((7, 5), (1, 5), (101, 100)):
            online, target = pair()
            before = copy.deepcopy(target.state_dict())
            fn(online, target, n_updates, sync_every)
            if not all(torch.equal(before[k], v) for k, v in target.state_dict().items()):
                raise Fail(
                    f"the target unchanged after fn(..., n_updates={n_updates}, sync_every={sync_every})",
                    "the target was changed",
                    "Copy only when n_updates is a multiple of sync_every. Syncing at every update makes the target "
                    "chase the online network, which is what the target network is meant to prevent.",
                )

    def independent():
        online, target = pair()
        fn(online, target, 10, 5)
        if not _same_weights(online, target):
            raise Fail(
                "a copy at fn(..., n_updates=10, sync_every=5), then no change when the online network changes",
                "no copy was made at n_updates=10",
                "Copy when n_updates is a multiple of sync_every (see the first property).",
            )
        snapshot = copy.deepcopy(online.state_dict())
        with torch.no_grad():
            for p in online.parameters():
                p.add_(1.0)
        leaked = not all(torch.equal(snapshot[k], v) for k, v in target.state_dict().items())
        shared = {p.data_ptr() for p in online.parameters()} & {p.data_ptr() for p in target.parameters()}
        if leaked or shared:
            raise Fail(
                "a target that keeps the copied weights when the online network changes later",
                "the target changed with the online network (they share memory)",
                "`target = online` or `t.data = o.data` makes both names point to the same tensors. Write the "
                "values into the target's own tensors instead, so that each network keeps its own memory.",
            )

    def copy_times(sync_every: int = 5, last: int = 12) -> list[int]:
        """The values of n_updates (1..last) at which fn changed the target's weights."""
        times = []
        for n_updates in range(1, last + 1):
            online, target = pair()
            fn(online, target, n_updates, sync_every)
            if _same_weights(online, target):
                times.append(n_updates)
        return times

    def entries(n_updates: int = 10, sync_every: int = 5) -> tuple[list[str], list[str]]:
        """The state-dict entries of the target that fn made equal to the online ones, and the others."""
        online, target = pair()
        fn(online, target, n_updates, sync_every)
        theirs = online.state_dict()
        same = [k for k, v in target.state_dict().items() if torch.equal(v, theirs[k])]
        return same, [k for k in theirs if k not in same]

    def partial() -> bool:
        same, missed = entries()
        return bool(same) and bool(missed)

    def partial_hint() -> str:
        same, missed = entries()
        skipped = ("the biases" if all(k.endswith("bias") for k in missed) and all(k.endswith("weight") for k in same)
                   else "some parameters")
        return (f"At n_updates=10, sync_every=5 your function copied {same} but not {missed}: {skipped} kept their old "
                "values. The target must become an exact copy: every weight and every bias of every layer.")

    def never_copies() -> bool:
        return copy_times() == [] and entries()[0] == []

    def inverted() -> bool:
        return copy_times() == [t for t in range(1, 13) if t % 5]

    def once() -> bool:
        return copy_times() == [5]

    def skips_frozen() -> bool:
        """A trainable target is copied into, a frozen one is not (e.g. `if p.requires_grad:` around the copy)."""
        trainable, copied, _ = frozen_run()
        return not trainable and not copied and copies_a_trainable_target()

    def counts_its_own_calls() -> bool:
        """Two identical passes over n_updates = 1..12 copy at different updates: the answer keeps state."""
        return copy_times() != copy_times()

    def counter_hint() -> str:
        first, second = copy_times(), copy_times()
        return (f"Called twice with the same arguments, n_updates = 1 to 12 and sync_every=5, your function copied at "
                f"n_updates = {first} the first time and at {second} the second: it counts its own calls (a global, "
                "an attribute or a default argument) instead of reading n_updates. The training loop passes the "
                "number of updates in n_updates; a counter of calls drifts as soon as the function is called from "
                "somewhere else, or on a new run, and the check (like a second learner) sees a shifted period.")

    def off_by_one() -> bool:
        """n_updates + 1 or - 1 tested, or a period of sync_every + 1 or - 1."""
        shifted = [[t for t in range(1, 13) if cond(t)] for cond in (
            lambda t: (t + 1) % 5 == 0, lambda t: (t - 1) % 5 == 0, lambda t: t % 4 == 0, lambda t: t % 6 == 0)]
        return copy_times() in shifted

    def wrong_times() -> bool:  # never and always have their own hints
        return copy_times() not in ([], [5, 10], list(range(1, 13)))

    def online_untouched():
        online, target = pair()
        before = copy.deepcopy(online.state_dict())
        fn(online, target, 10, 5)
        changed = [k for k, v in online.state_dict().items() if not torch.equal(before[k], v)]
        frozen = [n for n, p in online.named_parameters() if not p.requires_grad]
        if changed or frozen:
            raise Fail(
                "the online network unchanged and still trainable",
                f"changed: {changed or 'none'}; no longer requires grad: {frozen or 'none'}",
                "Copy from q_network into target_network, not the other way round, and leave q_network as is.",
            )

    def no_gradient_link():
        online, target = pair()
        fn(online, target, 10, 5)
        out = target(torch.randn(8, 4)).sum()
        if out.requires_grad:
            out.backward()
        got = [n for n, p in online.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
        if got:
            raise Fail(
                "no gradient in the online network from a loss on the target's output",
                f"gradients in {got}",
                "The target must be a separate copy, not the online parameters themselves "
                "(e.g. `target.weight = online.weight`): give it the online numbers, not the online tensors.",
            )

    seen = {}

    def frozen_run():
        """fn on a frozen target at n_updates=10, sync_every=5: (parameters requiring grad, copied?, replaced?)."""
        online, target = pair()
        target.requires_grad_(False)
        ids = [id(p) for p in target.parameters()]
        fn(online, target, 10, 5)
        trainable = [n for n, p in target.named_parameters() if p.requires_grad]
        seen["unfrozen"] = bool(trainable) and all(p.is_leaf for p in target.parameters())  # requires_grad_(True)
        return trainable, _same_weights(online, target), [id(p) for p in target.parameters()] != ids

    def copies_a_trainable_target() -> bool:
        online, target = pair()
        fn(online, target, 10, 5)
        return _same_weights(online, target)

    def stays_frozen():
        trainable, copied, replaced = frozen_run()
        if trainable or not copied:
            if replaced:
                hint = ("Your function put new parameter objects into the target, and a new nn.Parameter is trainable. "
                        "Write the numbers into the target's existing tensors instead.")
            elif trainable and seen["unfrozen"]:
                hint = ("Your function switched gradient tracking back on for the target: its parameters are plain "
                        "tensors with requires_grad=True, not results of a tracked copy. A target network stays "
                        "frozen; it is trained by nothing, only overwritten by synchronization. Leave its "
                        "requires_grad as it was.")
            elif trainable:
                hint = ("Your copy ran with gradient tracking on: an in-place copy from a parameter that requires grad "
                        "makes the frozen target's tensors part of the autograd graph (requires_grad becomes True). "
                        "Do the copy under torch.no_grad(): synchronizing is bookkeeping, not part of any loss.")
            elif copies_a_trainable_target():
                hint = ("Your function copies into a trainable target but not into a frozen one: a filter such as "
                        "`if p.requires_grad:` skips every parameter of a frozen target, and a target network is "
                        "always frozen. Copy every parameter, whatever its requires_grad.")
            else:
                hint = "No copy was made at n_updates=10, sync_every=5: look at the first property."
            raise Fail(
                "a frozen target (requires_grad=False) that is synchronized and stays frozen",
                f"parameters requiring grad: {trainable or 'none'}; weights copied: {copied}", hint,
            )

    def own_code():
        online, target = pair()
        fn(online, target, 10, 5)

    tests = [
        Test(OWN_CODE, own_code_test(own_code, {"DeepQLearner.synchronize": DeepQLearner.synchronize}, answer=fn),
             required=True),
        Test(COPIES, copies),
        Test(WAITS, waits),
        Test("the copy is a copy: later online changes do not leak into the target", independent),
        Test("the online network is untouched", online_untouched),
        Test("no gradient reaches the online network through the target", no_gradient_link),
        Test("a frozen target stays frozen", stays_frozen),
    ]
    copy_tests = [COPIES, "the copy is a copy: later online changes do not leak into the target",
                  "a frozen target stays frozen", WAITS]
    mistakes = [
        Mistake("your function copies only some of the parameters into the target network.", partial, partial_hint,
                explains=copy_tests),
        Mistake(
            "your function never changes the target network's weights.",
            never_copies,
            "Assigning to the parameter (`target_network = copy.deepcopy(q_network)` or `= q_network`) only "
            "rebinds a name inside your function; the caller's target network stays as it was. Copy the numbers "
            "into the parameters of the network you were given.",
            explains=copy_tests,
        ),
        Mistake(
            "your condition is inverted: the function copies on every update except the multiples of sync_every.",
            inverted,
            lambda: f"Yours copied at n_updates = {copy_times()} (of 1 to 12, with sync_every=5): exactly the "
            "updates where the target should wait, and never at 5 or 10.",
            explains=copy_tests,
        ),
        Mistake(
            "your function copies only when n_updates equals sync_every, not at every multiple of it.",
            once,
            "Over n_updates = 1 to 12 with sync_every=5 yours copied at 5 only; the copies continue at 10, 15, ...",
            explains=copy_tests,
        ),
        Mistake(
            "your function keeps its own call counter instead of using n_updates.",
            counts_its_own_calls,
            counter_hint,
            explains=copy_tests,
        ),
        Mistake(
            "your function skips the parameters of a frozen target: it filters on requires_grad.",
            skips_frozen,
            "It copies into the trainable networks of the first properties, but leaves a frozen target (the only "
            "kind a training loop has) as it was. Every parameter of the target is copied, whatever its "
            "requires_grad.",
            explains=["a frozen target stays frozen"],
        ),
        Mistake(
            "the sync period is off by one.",
            off_by_one,
            lambda: f"With sync_every=5 the copy must happen at n_updates = 5, 10, 15, ...; yours copied at "
            f"n_updates = {copy_times()} (of 1 to 12). Test n_updates itself against sync_every (no +1 or -1).",
            explains=copy_tests,
        ),
        Mistake(  # last: what was seen, when no mistake above describes the condition
            "your function copies at the wrong updates.",
            wrong_times,
            lambda: f"Over n_updates = 1 to 12 with sync_every=5 yours copied at n_updates = {copy_times()}; the "
            "copies belong at 5 and 10, the multiples of sync_every, and nowhere else. The copy itself works: look "
            "at the condition.",
            explains=copy_tests,
        ),
    ]
    return run_tests(name, tests, signature, mistakes)

