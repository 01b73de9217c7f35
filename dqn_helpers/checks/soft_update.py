"""Check of the soft (Polyak) target update: every target parameter a fraction tau towards the online one.

Built step by step in ``notebooks/04_target_networks.ipynb`` (exercise 2), whose reference is
:meth:`DeepQLearner.synchronize` with ``tau < 1``. The target blends only parameters (a network with
buffers, such as BatchNorm's running statistics, keeps its target's own buffers, as the package does).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

TAU = 0.1
BLENDS = "moves every target parameter a fraction tau of the way towards the online one"
IN_PLACE = "changes the target network passed in (in place), keeping its parameter tensors"
REPEATED = "five soft steps match DeepQLearner.synchronize with tau = 0.1"


def _pair():
    """An online network and a frozen target that differs from it, as in a DeepQLearner between syncs."""
    from dqn_helpers.q_network import make_q_network

    torch.manual_seed(0)
    online = make_q_network(4, 2, (8,))
    torch.manual_seed(1)
    target = make_q_network(4, 2, (8,)).requires_grad_(False)
    return online, target


def _params(net: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def _blend(target: dict, online: dict, tau: float) -> dict[str, torch.Tensor]:
    return {name: (1 - tau) * target[name] + tau * online[name] for name in target}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def check_soft_update(fn) -> CheckReport:
    """Check ``fn(q_network, target_network, tau) -> None``, a soft target update (notebook 04, exercise 2).

    Each target parameter becomes ``(1 - tau) * target + tau * online``, in place and without
    gradients. Tests: the blend for tau = 0.1 (and 0.5, and 1, a hard copy); the target
    network passed in changes, keeping its own tensors; the online network is untouched and
    gets no gradient through the target; a frozen target stays frozen; five steps match
    :meth:`DeepQLearner.synchronize`; the answer's own code. Names tau and 1 - tau swapped,
    a copy instead of a blend, a new network returned or a name rebound instead of an update
    in place, new storage behind the old parameters (``p.data = ...``), a filter on
    ``requires_grad`` that skips every parameter of a frozen target, some parameters left out
    (the biases, a layer), a missing (1 - tau) factor, and two in-place steps in an order where
    the second reads the target the first has already changed.
    """
    from dqn_helpers.learner import DeepQLearner

    name = "check_soft_update"
    signature = "fn(q_network, target_network, tau) -> None"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(q_network, target_network, tau)")

    def step(tau: float = TAU):
        """One call of fn; the target's parameters before and after, the online ones, and what fn returned."""
        online, target = _pair()
        before = _params(target)
        out = fn(online, target, tau)
        return before, _params(target), _params(online), out, (online, target)

    def blends():
        for tau in (TAU, 0.5, 1.0):
            before, after, online, _, _ = step(tau)
            want = _blend(before, online, tau)
            if not _same(after, want):
                wrong = [k for k in want if not torch.allclose(after[k], want[k], atol=1e-6)]
                k = wrong[0]
                i = int((after[k] - want[k]).abs().flatten().argmax())  # the entry that is furthest off
                raise Fail(f"{k} moved a fraction tau = {tau} of the way from its old value towards the online "
                           f"one: {want[k].flatten()[i]:.6g} in its entry {i}",
                           f"{after[k].flatten()[i]:.6g} (off by {float((after[k] - want[k]).abs().max()):.2g}); "
                           f"parameters off: {wrong}",
                           "Move each target parameter a fraction tau of the way from its own value towards the "
                           "online network's.")

    def in_place():
        before, after, online, out, _ = step()
        if _same(after, before):
            returned = isinstance(out, nn.Module)
            raise Fail("the target network passed in changed", "it is unchanged" + (
                "; your function returned a network" if returned else ""),
                "The caller keeps using the network it passed in and ignores what you return: change the numbers "
                "inside its parameters, not a copy or a new name.")
        online, target = _pair()
        ids = [id(p) for p in target.parameters()]
        pointers = [p.data_ptr() for p in target.parameters()]
        fn(online, target, TAU)
        if [id(p) for p in target.parameters()] != ids:
            raise Fail("the same parameter tensors in the target, with new values", "new parameter objects",
                       "Write the blended values into the existing tensors (in-place operations under "
                       "torch.no_grad()): the optimizer and other code hold references to them.")
        moved = [n for (n, p), ptr in zip(target.named_parameters(), pointers, strict=True) if p.data_ptr() != ptr]
        if moved:
            raise Fail("the same parameter tensors in the target, with new values written into their memory",
                       f"the same parameter objects, but new memory behind {moved}",
                       "Assigning to `.data` swaps the storage behind a parameter instead of writing into it: it "
                       "allocates a new tensor at every call, and whatever shares the old storage (a view, a "
                       "buffer handed to other code) keeps the stale numbers. Write into the existing storage "
                       "with in-place operations, under torch.no_grad().")

    def online_untouched():
        _, _, online, _, (net, _) = step()
        fresh, _ = _pair()
        changed = [k for k, v in _params(fresh).items() if not torch.equal(v, online[k])]
        frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
        if changed or frozen:
            raise Fail("the online network unchanged and still trainable",
                       f"changed: {changed or 'none'}; no longer requires grad: {frozen or 'none'}",
                       "Blend into target_network only; q_network is read, never written.")

    def frozen_and_detached():
        online, target = _pair()
        ids = [id(p) for p in target.parameters()]
        fn(online, target, TAU)
        replaced = [id(p) for p in target.parameters()] != ids
        trainable = [n for n, p in target.named_parameters() if p.requires_grad]
        out = target(torch.randn(8, 4)).sum()
        if out.requires_grad:
            out.backward()
        leaked = [n for n, p in online.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
        if trainable or leaked:
            raise Fail("a frozen target that stays frozen, and no gradient from it into the online network",
                       f"target parameters requiring grad: {trainable or 'none'}; online gradients: {leaked or 'none'}",
                       "New nn.Parameter objects are trainable: write into the target's own tensors instead."
                       if replaced else "Do the blend under torch.no_grad(): it is bookkeeping, not part of any loss.")

    def repeated():
        reference = DeepQLearner(4, 2, hidden_sizes=(8,), tau=TAU, seed=3)
        with torch.no_grad():
            for p in reference.q_network.parameters():
                p.add_(1.0)  # the online network differs from its target
        mine = copy.deepcopy(reference.target_network)
        for _ in range(5):
            reference.synchronize()
            fn(reference.q_network, mine, TAU)
        if not _same(_params(mine), _params(reference.target_network)):
            raise Fail("the target weights of DeepQLearner.synchronize after 5 soft steps", "other weights",
                       "Each call moves the target a fraction tau closer, so after k calls a fraction (1 - tau)^k of "
                       "the original gap is left.")

    def own_code():
        online, target = _pair()
        fn(online, target, TAU)

    def is_blend(expected) -> bool:
        """fn's target after one step is ``expected(before, online)`` for tau = 0.1 and 0.3."""
        for tau in (TAU, 0.3):
            before, after, online, _, _ = step(tau)
            if not _same(after, expected(before, online, tau)):
                return False
        return True

    def returned_or_rebound() -> bool:
        before, after, online, out, _ = step()
        return _same(after, before) and (out is None or isinstance(out, nn.Module))

    def returned_hint() -> str:
        out = step()[3]
        if isinstance(out, nn.Module):
            return ("Your function returned a new network and left target_network as it was; the caller never "
                    "sees the new one. Write the blended values into the parameters of target_network itself.")
        return ("Assigning to a name (the argument, or the loop variable of a parameter) only rebinds that name "
                "inside your function; the tensors of target_network stay as they were. Change the numbers "
                "inside those tensors themselves (PyTorch's in-place operations), under torch.no_grad().")

    def swapped_roles() -> bool:
        """The online network moved towards the target and the target stayed: the loop's names are swapped."""
        online, target = _pair()
        online_before, target_before = _params(online), _params(target)
        fn(online, target, TAU)
        return _same(_params(target), target_before) and _same(_params(online), _blend(online_before, target_before,
                                                                                        TAU))

    def skips_frozen() -> bool:
        """The frozen target is left alone, but an unfrozen copy of it is blended (a `requires_grad` filter)."""
        before, after, online, _, _ = step()
        if not _same(after, before):
            return False
        net_online, target = _pair()
        target.requires_grad_(True)
        start = _params(target)
        fn(net_online, target, TAU)
        return _same(_params(target), _blend(start, _params(net_online), TAU))

    def partial() -> bool:
        before, after, online, _, _ = step()
        want = _blend(before, online, TAU)
        blended = [k for k in want if torch.allclose(after[k], want[k], atol=1e-6)]
        return 0 < len(blended) < len(want) and all(torch.equal(after[k], before[k]) for k in want
                                                    if k not in blended)

    def partial_hint() -> str:
        before, after, online, _, _ = step()
        left = [k for k in before if torch.equal(after[k], before[k])]
        which = "the biases" if all(k.endswith("bias") for k in left) else "some parameters"
        return (f"Your function left {left} unchanged: {which} kept the target's old values. Every parameter of "
                "every layer, weights and biases, moves towards the online network.")

    tests = [
        Test(BLENDS, blends),
        Test(OWN_CODE, own_code_test(own_code, {"DeepQLearner.synchronize": DeepQLearner.synchronize}, answer=fn),
             required=True),
        Test(IN_PLACE, in_place),
        Test("the online network is untouched", online_untouched),
        Test("a frozen target stays frozen, and no gradient flows into the online network", frozen_and_detached),
        Test(REPEATED, repeated),
    ]
    values = [BLENDS, IN_PLACE, REPEATED]
    mistakes = [
        Mistake("tau and 1 - tau are swapped: the target keeps a fraction tau of its own weights.",
                lambda: is_blend(lambda t, o, tau: _blend(o, t, tau)),
                "With tau = 0.1 your target jumped 90% of the way to the online network. tau is the small step "
                "towards the online weights; the target keeps (1 - tau) of its own.", values),
        Mistake("you copied the online weights (a hard update) instead of blending them.",
                lambda: is_blend(lambda t, o, tau: o),
                "A soft update keeps (1 - tau) of the target's own value and adds tau of the online one; a copy "
                "is the special case tau = 1.", values),
        Mistake("the target's own weights are not scaled by (1 - tau): you added tau * online to them.",
                lambda: is_blend(lambda t, o, tau: {k: t[k] + tau * o[k] for k in t}),
                "Adding tau * online alone makes the target grow at every call. Shrink the target's value by "
                "(1 - tau) first, so the result stays between the two networks.", values),
        Mistake("your function skips the parameters of a frozen target: it filters on requires_grad.", skips_frozen,
                "On a trainable network your function blends correctly, but the target it is given is frozen "
                "(requires_grad=False, as every target network is), and a filter such as `if p.requires_grad:` "
                "skips all of its parameters. Blend every parameter, whatever its requires_grad.", values),
        Mistake("the second term uses the already-scaled target: the target keeps (1 - tau)^2 of itself.",
                lambda: is_blend(lambda t, o, tau: {k: (1 - tau) ** 2 * t[k] + tau * o[k] for k in t}),
                "Your first in-place operation scaled the target by (1 - tau); the second then read the target "
                "again (as in tau * (online - target)) and got the scaled value, not the old one. An in-place "
                "operation changes the tensor for every later read: use the old value before you overwrite it.",
                values),
        Mistake("(1 - tau) is applied after the step towards the online weights, so it scales the online part too.",
                lambda: is_blend(lambda t, o, tau: {k: (1 - tau) * ((1 - tau) * t[k] + tau * o[k]) for k in t}),
                "Your function first moved the target towards the online network and then multiplied the result by "
                "(1 - tau) again, which shrinks both terms. The factor (1 - tau) belongs to the target's old value "
                "only.", values),
        Mistake("the roles are swapped: your function moved the online network towards the target and left the "
                "target as it was.", swapped_roles,
                "Look at which network each name in your loop really holds: zip pairs its arguments in the order "
                "you give them. The target network is the one that changes; the online network is only read."),
        Mistake("your function does not update the target network in place.", returned_or_rebound, returned_hint,
                values),
        Mistake("only some parameters were blended.", partial, partial_hint, values),
    ]
    return run_tests(name, tests, signature, mistakes)
