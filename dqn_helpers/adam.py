"""Adam in a dozen lines, for the Q-network's small parameter list.

Used by :class:`~dqn_helpers.learner.DeepQLearner`. Why not ``torch.optim.Adam``?
It computes the same numbers (``tests/test_adam.py`` checks it step for step), but
constructing the first ``torch.optim`` optimizer in a process imports ``torch._dynamo``,
the compiler, which costs about a second on a laptop CPU: a third of the time this
tutorial needs to solve CartPole. Written with ``torch._foreach_*`` ops, which update
all parameter tensors in one call each, it is as fast as torch's fused Adam here.

The update (Kingma & Ba, 2015), for each parameter ``p`` with gradient ``g`` at step ``t``::

    m <- beta1 * m + (1 - beta1) * g          (running mean of gradients)
    v <- beta2 * v + (1 - beta2) * g^2        (running mean of squared gradients)
    p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """Minimal Adam with the ``zero_grad()`` / ``step()`` interface of ``torch.optim``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]  # m
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]  # v
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        # like torch.optim.Adam, a parameter without a gradient (zero_grad after backward) is left alone
        with_grad = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not with_grad:
            return
        self.steps += 1
        params, exp_avg, exp_avg_sq = self.params, self.exp_avg, self.exp_avg_sq
        if len(with_grad) < len(params):
            params, exp_avg, exp_avg_sq = ([xs[i] for i in with_grad] for xs in (params, exp_avg, exp_avg_sq))
        grads = [p.grad for p in params]
        torch._foreach_lerp_(exp_avg, grads, 1 - beta1)  # m += (1 - beta1) (g - m)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2)
        denominator = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denominator, (1 - beta2 ** self.steps) ** 0.5)  # bias-corrected sqrt(v)
        torch._foreach_add_(denominator, self.eps)
        step_size = self.lr / (1 - beta1 ** self.steps)  # bias correction of m
        torch._foreach_addcdiv_(params, exp_avg, denominator, value=-step_size)
