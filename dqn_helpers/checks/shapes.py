"""Watch the student's tensor operations for a (B, 1) tensor meeting a (B,) one.

``gather`` without ``squeeze``, or a ``max(..., keepdim=True)``, gives a (B, 1) tensor;
combined with a (B,) tensor it broadcasts to a (B, B) table, and the loss silently
compares every prediction with every target. The numbers that come out rarely point
at the cause, so :func:`broadcast_seen` runs the student's code under a
``TorchFunctionMode`` and reports the first operation that received both shapes.
Parameters are ignored (a layer's bias can have B entries by chance).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


class _BroadcastSpy(TorchFunctionMode):
    def __init__(self, batch: int):
        super().__init__()
        self.batch, self.seen = batch, None
        self.name, self.column_first = "", False  # the operation, and whether its (B, 1) operand came first

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.seen is None:
            shapes = {tuple(a.shape) for a in (*args, *kwargs.values())
                      if isinstance(a, torch.Tensor) and not isinstance(a, nn.Parameter)}
            flat, column = (self.batch,), (self.batch, 1)
            if flat in shapes and column in shapes:
                name = getattr(func, "__name__", str(func)).strip("_")
                ordered = [tuple(a.shape) for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)
                           and not isinstance(a, nn.Parameter) and tuple(a.shape) in (flat, column)]
                self.name, self.column_first = name, ordered[0] == column
                result = f", giving {tuple(out.shape)}" if isinstance(out, torch.Tensor) and out.dim() == 2 else ""
                self.seen = f"`{name}` received tensors of shapes {column} and {flat}{result}"
        return out


def broadcast_seen(run: Callable[[], object], batch: int) -> str | None:
    """What ``run()`` did that mixed a (batch, 1) tensor with a (batch,) one, or ``None``.

    Exceptions of the student's code are ignored here (other tests report them), except a
    stub's ``NotImplementedError``.
    """
    return _watch(run, batch).seen


def target_is_the_column(run: Callable[[], object], batch: int) -> bool:
    """True when the first mix of shapes is a loss (or difference) whose *second* operand, the target, is (B, 1).

    ``F.mse_loss(q, y)`` and ``q - y`` take the prediction first: a (B,) prediction against a (B, 1)
    target is then told apart from the opposite, which gives the same numbers.
    """
    spy = _watch(run, batch)
    losses = ("mse_loss", "smooth_l1_loss", "l1_loss", "huber_loss", "sub", "rsub")
    return spy.seen is not None and spy.name in losses and not spy.column_first


def _watch(run: Callable[[], object], batch: int) -> _BroadcastSpy:
    spy = _BroadcastSpy(batch)
    try:
        with spy:
            run()
    except NotImplementedError:  # a stub: the report says "not implemented yet"
        raise
    except Exception:
        pass
    return spy
