"""What the TD-target checks share: fixed example batches, random batches, the no-gradient test.

Used by :mod:`dqn_helpers.checks.td_target` (notebook 02) and
:mod:`dqn_helpers.checks.double_dqn` (notebook 08).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from dqn_helpers.checks.formatting import describe
from dqn_helpers.checks.framework import Fail
from dqn_helpers.checks.shapes import broadcast_seen

# Five transitions with distinctive numbers: rows 1 and 3 are terminal.
REWARDS = torch.tensor([1.0, -0.5, 2.0, 0.0, 1.5])
NEXT_Q = torch.tensor([[0.5, 2.0, -1.0], [3.0, 1.0, 0.0], [-2.0, -1.0, -3.0], [0.0, 0.0, 4.0], [1.0, 1.5, 0.25]])
TERMINATED = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0])
Q_ONLINE = torch.tensor([[1.0, 5.0, 0.0], [2.0, 0.0, 1.0], [0.0, 0.5, 3.0], [4.0, 1.0, 2.0], [0.0, 2.0, 1.0]])
Q_TARGET = torch.tensor([[10.0, 3.0, 7.0], [1.0, 6.0, -2.0], [8.0, -1.0, 0.5], [0.25, 9.0, 4.0], [5.0, -3.0, 2.0]])


def tensor_out(out, shape: tuple[int, ...], what: str = "the target", rerun: Callable[[], object] | None = None,
               n_actions: int | None = None) -> torch.Tensor:
    """The student's output as a float tensor of ``shape``, or a :class:`Fail` that says what is off.

    ``rerun()`` calls the student's function again: for a (B, B) answer it is watched for the
    (B, 1) tensor meeting a (B,) one that usually makes it.
    """
    if out is None:
        raise Fail(f"a torch.Tensor of shape {shape}", "None", "Did you forget the `return` statement?")
    if not isinstance(out, torch.Tensor):
        raise Fail(
            f"a torch.Tensor of shape {shape}",
            describe(out),
            f"Compute {what} with torch operations on the input tensors so the loss can use it.",
        )
    if tuple(out.shape) != shape:
        seen = broadcast_seen(rerun, shape[0]) if rerun and tuple(out.shape) == (shape[0],) * 2 else None
        raise Fail(f"a tensor of shape {shape} (one value per transition)", describe(out),
                   shape_hint(out, shape, seen, n_actions))
    return out.detach().float()


def shape_hint(out: torch.Tensor, shape: tuple[int, ...], seen: str | None = None, n_actions: int | None = None
               ) -> str:
    """What a wrong target shape says about the code that made it (``seen``: the broadcast observed)."""
    batch = shape[0]
    got = tuple(out.shape)
    if n_actions is not None and n_actions != batch and got == (n_actions,):
        return (f"Shape {got}: one value per action, not per transition. A max or argmax over dimension 0 runs "
                "over the batch; the best next action of each transition is found over the action dimension.")
    if got == (batch, batch) and batch > 1 and seen:
        return (f"Shape {got}, a value for every pair of transitions, made by broadcasting: {seen}. A reduction or "
                "a gather kept a dimension of size 1; make each term one value per transition before combining.")
    if got == (batch, batch) and batch > 1:
        return (f"Shape {got}: a value for every pair of transitions. Indexing q[:, idx] with a vector of actions "
                "does that (every row's Q-values at every row's action); pick one entry per row. Print the shape of "
                "each term.")
    if got == (batch, 1):
        return (f"One value per transition, but with an extra dimension of size 1 (shape {got}), kept by a "
                "reduction or a gather: the target must be flat.")
    if len(got) == 2 and got[0] == batch:
        return (f"Shape {got}: {got[1]} values per transition, one per action. The target keeps one number per "
                "transition: the value of the next state under its best action.")
    return f"Expected one number per transition, got shape {got}: print the shape of each term of your target."


def random_batches(seed: int, sizes: tuple[tuple[int, int], ...], n_q: int = 1) -> Iterator[tuple]:
    """``(rewards, terminated, q_1, ..., q_n_q)`` for each ``(batch, n_actions)`` in ``sizes``."""
    gen = torch.Generator().manual_seed(seed)
    for batch, n_actions in sizes:
        rewards = torch.randn(batch, generator=gen)
        terminated = (torch.rand(batch, generator=gen) < 0.3).float()
        qs = tuple(torch.randn(batch, n_actions, generator=gen) * 3 for _ in range(n_q))
        yield (rewards, terminated, *qs)


def no_gradient_test(call_with_grad: Callable[[], object]) -> Callable[[], None]:
    """A test that fails when the target built by ``call_with_grad()`` requires grad.

    ``call_with_grad`` calls the student's function on Q-value tensors that require grad.
    """

    def run():
        out = call_with_grad()
        tensor_out(out, (len(REWARDS),))
        if out.requires_grad:
            raise Fail(
                "a target that does not require grad (a constant for the loss)",
                "a tensor with requires_grad=True",
                "Compute the target under torch.no_grad(), or detach it, so the "
                "update only moves Q(s, a) towards the target and not the target itself.",
            )

    return run
