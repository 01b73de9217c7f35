"""Check of the heart of DQN: one gradient step on a batch (target, loss on the taken actions, step).

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``. The student's
``update(learner, batch)`` is run on a copy of a small :class:`~dqn_helpers.DeepQLearner`
and its weights afterwards are compared with those of the reference update and of
realistic wrong versions of it, so the report can say which part is off.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.nn import functional as F

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import as_number
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.shapes import broadcast_seen
from dqn_helpers.learner import DeepQLearner


def update_variant(learner, batch, *, gamma: bool = True, mask: bool = True, target_network: bool = True,
                   taken_action: bool = True, sign: float = 1.0, zero_grad: bool = True,
                   flat_prediction: bool = True, flat_next_values: bool = True, values: bool = True) -> float:
    """The DQN update of :meth:`DeepQLearner.update`, with switches that reproduce typical mistakes.

    ``gamma=False`` drops the discount, ``mask=False`` bootstraps through terminal states,
    ``target_network=False`` bootstraps from the online network, ``taken_action=False``
    predicts the max over actions instead of the taken action's value, ``sign=-1`` climbs
    the loss, ``zero_grad=False`` lets gradients pile up between updates,
    ``flat_prediction=False`` keeps the prediction's gathered dimension (B, 1) and
    ``flat_next_values=False`` the max's (B, 1): either one broadcasts against a (B,) tensor;
    ``values=False`` bootstraps from the indices of the best next actions instead of their values.
    """
    obs = torch.as_tensor(batch.obs)  # (B, obs_dim)
    actions = torch.as_tensor(batch.actions).long()  # (B,)
    rewards = torch.as_tensor(batch.rewards, dtype=torch.float32)  # (B,)
    next_obs = torch.as_tensor(batch.next_obs)  # (B, obs_dim)
    terminated = torch.as_tensor(batch.terminated, dtype=torch.float32)  # (B,)
    with torch.no_grad():
        bootstrap_net = learner.target_network if target_network else learner.q_network
        best = bootstrap_net(next_obs).max(dim=1, keepdim=not flat_next_values)
        next_values = best.values if values else best.indices.float()  # (B,) or (B, 1)
        discount = learner.gamma if gamma else 1.0
        alive = (1.0 - terminated) if mask else torch.ones_like(terminated)
        target = rewards + discount * alive * next_values  # (B,), or (B, B) if next_values is (B, 1)
    q_all = learner.q_network(obs)  # (B, n_actions)
    q_pred = q_all.gather(1, actions.unsqueeze(1)) if taken_action else q_all.max(dim=1, keepdim=True).values  # (B, 1)
    q_pred = q_pred.squeeze(1) if flat_prediction else q_pred  # (B,)
    loss = F.mse_loss(q_pred, target)
    if zero_grad:
        learner.optimizer.zero_grad()
    (sign * loss).backward()
    learner.optimizer.step()
    return loss.item()


BROADCAST_PREDICTION = ("the prediction has shape (B, 1) and the target (B,): the loss broadcast them to (B, B) "
                        "and compared every prediction with every target")
BROADCAST_TARGET = ("the best next values have shape (B, 1) (a max that kept its dimension), so the target "
                    "broadcast to (B, B)")
BROADCAST_BOTH = "the prediction and the best next values both have shape (B, 1): the target broadcast to (B, B)"
MISTAKES = {  # switches of update_variant -> what the student most likely wrote
    BROADCAST_PREDICTION: dict(flat_prediction=False),
    BROADCAST_TARGET: dict(flat_next_values=False),
    BROADCAST_BOTH: dict(flat_prediction=False, flat_next_values=False),
    "the target has no discount (gamma is missing)": dict(gamma=False),
    "the target bootstraps from terminal states (no (1 - terminated) mask)": dict(mask=False),
    "the target comes from the online network instead of the target network": dict(target_network=False),
    "the prediction is max_a Q(s, a), not the Q-value of the action taken": dict(taken_action=False),
    "the update climbs the loss (its sign is flipped)": dict(sign=-1.0),
    "the target uses the indices of the best next actions (argmax), not their values": dict(values=False),
    "the gradients are not reset before backward() (zero_grad missing)": dict(zero_grad=False),
}
_SHAPES = "Print the shapes of the prediction and of the target just before the loss: both must be (B,). "
HINTS = {
    BROADCAST_PREDICTION: _SHAPES + "Picking each row's action with gather keeps the dimension it picked along.",
    BROADCAST_TARGET: _SHAPES + "A max over actions that keeps its dimension gives (B, 1); added to the (B,) rewards "
                                "that makes a table of every reward with every next value.",
    BROADCAST_BOTH: _SHAPES + "Both the gather and the max kept a dimension of size 1.",
    "the target has no discount (gamma is missing)":
        "The bootstrapped value is discounted: it is multiplied by learner.gamma before it is added to the reward.",
    "the target bootstraps from terminal states (no (1 - terminated) mask)":
        "A terminal state has no future: the bootstrapped term must vanish where terminated == 1.",
    "the target comes from the online network instead of the target network":
        "The next states' values come from learner.target_network (the frozen copy), under torch.no_grad().",
    "the prediction is max_a Q(s, a), not the Q-value of the action taken":
        "Predict the Q-value of the action actually taken in each row (that column of the network's output), not "
        "the best one.",
    "the update climbs the loss (its sign is flipped)":
        "Descend the loss: the gradients must come from the squared error itself, not from its negative.",
    "the target uses the indices of the best next actions (argmax), not their values":
        "A max over a dimension returns a pair (values, indices); the indices say which action is best (0, 1, "
        "...), the target needs how much it is worth.",
    "the gradients are not reset before backward() (zero_grad missing)":
        "Gradients add up across calls of backward() until they are reset: the optimizer resets them, once per "
        "update, before the backward pass.",
}



def colleague_update(learner, batch) -> float:
    """A colleague's DQN update for ``notebooks/09_write_your_own_dqn.ipynb``, section 4: it runs, it
    looks fine from the outside, and one part of it is wrong. The notebook finds which with the
    probes, without reading this code."""
    return update_variant(learner, batch, mask=False)

def _batch(seed: int, n: int = 16):
    from dqn_helpers.replay_buffer import TransitionBatch

    rng = np.random.default_rng(seed)
    return TransitionBatch(
        obs=rng.normal(size=(n, 4)).astype(np.float32),
        actions=rng.integers(3, size=n).astype(np.int64),
        rewards=rng.normal(size=n).astype(np.float32),
        next_obs=rng.normal(size=(n, 4)).astype(np.float32),
        terminated=(rng.random(n) < 0.3).astype(np.float32),
    )


def _learner():
    learner = DeepQLearner(4, 3, hidden_sizes=(16,), learning_rate=1e-2, gamma=0.9, loss="mse", double_dqn=False,
                           seed=0)  # plain DQN, whatever the package defaults become
    gen = torch.Generator().manual_seed(0)  # the notebook's random state is left alone
    with torch.no_grad():  # online and target networks differ, as they do between two syncs
        for p in learner.q_network.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return learner


def _weights(net) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def check_dqn_update(fn) -> CheckReport:
    """Check ``fn(learner, batch) -> float``, one DQN gradient step (notebook 09_write_your_own_dqn).

    ``learner`` is a :class:`~dqn_helpers.DeepQLearner` (``q_network``, ``target_network``,
    ``optimizer``, ``gamma``); ``batch`` a :class:`~dqn_helpers.TransitionBatch`. Tests:
    returns the loss before the step; moves the online network; leaves the target
    network alone; the same weights as the reference after one and after two updates.
    Names the part that differs (discount, terminal mask, target network, taken action,
    sign, zero_grad, a (B, 1) tensor broadcast against a (B,) one), and an answer that
    calls ``learner.update(batch)`` instead of its own code.
    """
    name = "check_dqn_update"
    signature = "fn(learner, batch) -> float (the loss)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(learner, batch)")
    base = _learner()

    def after(update, n_updates: int = 1, **switches):
        learner = copy.deepcopy(base)
        losses = [update(learner, _batch(k), **switches) for k in range(n_updates)]
        return learner, losses

    def student(n_updates: int = 1):
        return after(lambda learner, batch: fn(learner, batch), n_updates)

    def returns_loss():
        (_, (loss,)), (_, (want,)) = student(), after(update_variant)
        loss = as_number(loss, "Return the loss as a Python float (a one-element tensor gives it with .item()).")
        if abs(float(loss) - want) > 1e-4 * max(1.0, abs(want)):
            raise Fail(f"loss {want:.5g} (mean squared TD error of the batch, before the step)", f"{float(loss):.5g}",
                       "Return the mean over the batch of (Q(s, a) - y)^2, computed before the optimizer step.")

    def moves_online():
        learner, _ = student()
        if torch.equal(_weights(learner.q_network), _weights(base.q_network)):
            raise Fail("changed online weights after one update", "the same weights",
                       "Compute the gradients of the loss, then let learner.optimizer take its step.")

    def target_untouched():
        learner, _ = student()
        if not torch.equal(_weights(learner.target_network), _weights(base.target_network)):
            raise Fail("the target network unchanged by an update", "changed target weights",
                       "Only the online network is trained; the target network changes only in synchronize().")

    def matches(n_updates):
        def run():
            (mine, losses), (ref, ref_losses) = student(n_updates), after(update_variant, n_updates)
            if not torch.allclose(_weights(mine.q_network), _weights(ref.q_network), atol=1e-5):
                gap = float((_weights(mine.q_network) - _weights(ref.q_network)).abs().max())
                yours = ", ".join(f"{x:.5g}" if isinstance(x, float) else repr(x)[:20] for x in losses)
                theirs = ", ".join(f"{x:.5g}" for x in ref_losses)
                raise Fail(f"the online weights of the reference DQN update after {n_updates} update(s)",
                           f"weights up to {gap:.3g} away; your update returned {yours}, the reference {theirs}",
                           "Compare your target, prediction and loss with the formula: y = r + gamma * "
                           "(1 - terminated) * max_a' Q_target(s', a'); loss = mean((Q(s, a) - y)^2).")
        return run

    tests = [
        Test("returns the loss (a float) of the batch before the step", returns_loss),
        Test(OWN_CODE, own_code_test(lambda: student(), {"learner.update": DeepQLearner.update}, answer=fn),
             required=True),
        Test("takes an optimizer step on the online network", moves_online),
        Test("leaves the target network unchanged", target_untouched),
        Test("matches the reference update (target, loss on the taken actions, step)", matches(1)),
        Test("matches it again on a second update (gradients reset)", matches(2)),
    ]
    mistakes = [Mistake(what, detector(fn, switches, base), HINTS[what]) for what, switches in MISTAKES.items()]
    mistakes.append(broadcast_mistake(lambda: student(), _batch(0).actions.shape[0]))
    return run_tests(name, tests, signature, mistakes)


def broadcast_mistake(run, batch_size: int) -> Mistake:
    """The mistake "a (B, 1) tensor met a (B,) one", recognised by watching ``run()``'s tensor operations."""
    seen = {}

    def detect() -> bool:
        seen["what"] = broadcast_seen(run, batch_size)
        return seen["what"] is not None

    return Mistake("a (B, 1) tensor met a (B,) one in your update: broadcasting turned one value per transition "
                   "into a (B, B) table.", detect, lambda: f"With B = {batch_size}: {seen['what']}. " + _SHAPES.strip())


def detector(fn, switches: dict, base=None):
    """A detector: does the update ``fn(learner, batch)`` move the weights as the wrong variant ``switches`` does?"""

    def detect() -> bool:
        learner = base or _learner()
        n = 2 if "zero_grad" in switches else 1
        mine, wrong = copy.deepcopy(learner), copy.deepcopy(learner)
        for k in range(n):
            fn(mine, _batch(k))
            update_variant(wrong, _batch(k), **switches)
        return torch.allclose(_weights(mine.q_network), _weights(wrong.q_network), atol=1e-5)

    return detect
