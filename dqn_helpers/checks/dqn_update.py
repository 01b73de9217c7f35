"""Check of the heart of DQN: one gradient step on a batch (target, loss on the taken actions, step).

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``. The student's
``update(learner, batch)`` is run on a copy of a small :class:`~dqn_helpers.DeepQLearner`
and its weights afterwards are compared with those of the reference update and of
realistic wrong versions of it, so the report can say which part is off.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import as_number, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.shapes import broadcast_seen, target_is_the_column
from dqn_helpers.learner import DeepQLearner


def update_variant(learner, batch, *, gamma: bool | float = True, mask: bool = True, target_network: bool = True,
                   taken_action: bool = True, sign: float = 1.0, zero_grad: bool = True,
                   flat_prediction: bool = True, flat_next_values: bool = True, values: bool = True,
                   mask_reward: bool = False, detach_target: bool = True, double: bool = False,
                   loss: str = "mse", index_columns: bool = False, global_max: bool = False,
                   gamma_on_reward: bool = False, gather_dim0: bool = False, predict_next: bool = False,
                   target_from_obs: bool = False, all_actions: bool = False) -> float:
    """The DQN update of :meth:`DeepQLearner.update`, with switches that reproduce typical mistakes.

    ``gamma=False`` drops the discount, ``mask=False`` bootstraps through terminal states,
    ``target_network=False`` bootstraps from the online network, ``taken_action=False``
    predicts the max over actions instead of the taken action's value, ``sign=-1`` climbs
    the loss, ``zero_grad=False`` lets gradients pile up between updates,
    ``flat_prediction=False`` keeps the prediction's gathered dimension (B, 1) and
    ``flat_next_values=False`` the max's (B, 1): either one broadcasts against a (B,) tensor;
    ``values=False`` bootstraps from the indices of the best next actions instead of their values;
    ``gamma=0.99`` (a number) discounts with it instead of ``learner.gamma``; ``mask_reward=True``
    multiplies the reward by the mask too; ``detach_target=False`` keeps the target's gradient (with
    ``target_network=False``: the residual gradient); ``double=True`` is the Double DQN target;
    ``loss`` is ``"mse"``, ``"huber"``, ``"l1"`` (mean absolute error), ``"half"`` (0.5 * mse) or
    ``"sum"`` (summed squared errors); ``index_columns=True`` predicts with ``q[:, actions]``, a (B, B)
    table of every row's Q-value at every row's action; ``global_max=True`` takes one max over the whole
    batch (``.max()`` without ``dim``); ``gamma_on_reward=True`` discounts the reward too;
    ``gather_dim0=True`` gathers along dimension 0 (rows picked by action number); ``predict_next=True``
    predicts from ``next_obs`` instead of ``obs``; ``target_from_obs=True`` bootstraps from ``obs``;
    ``all_actions=True`` puts every action's Q-value in the loss, each against the target.
    """
    obs = torch.as_tensor(batch.obs)  # (B, obs_dim)
    actions = torch.as_tensor(batch.actions).long()  # (B,)
    rewards = torch.as_tensor(batch.rewards, dtype=torch.float32)  # (B,)
    next_obs = torch.as_tensor(batch.next_obs)  # (B, obs_dim)
    terminated = torch.as_tensor(batch.terminated, dtype=torch.float32)  # (B,)
    with torch.set_grad_enabled(not detach_target):
        bootstrap_net = learner.target_network if target_network else learner.q_network
        next_q = bootstrap_net(obs if target_from_obs else next_obs)  # (B, n_actions)
        if double:  # the online network picks a', the bootstrap network values it
            chosen = learner.q_network(next_obs).argmax(dim=1, keepdim=True)
            next_values = next_q.gather(1, chosen).squeeze(1) if flat_next_values else next_q.gather(1, chosen)
        elif global_max:
            next_values = next_q.max().expand(len(rewards))  # one number, the batch's largest Q-value
        else:
            best = next_q.max(dim=1, keepdim=not flat_next_values)
            next_values = best.values if values else best.indices.float()  # (B,) or (B, 1)
        discount = learner.gamma if gamma is True else 1.0 if gamma is False else float(gamma)
        alive = (1.0 - terminated) if mask else torch.ones_like(terminated)
        target = rewards + discount * alive * next_values  # (B,), or (B, B) if next_values is (B, 1)
        if mask_reward:
            target = (rewards + discount * next_values) * alive
        if gamma_on_reward:
            target = discount * (rewards + alive * next_values)
    q_all = learner.q_network(next_obs if predict_next else obs)  # (B, n_actions)
    q_pred = q_all.gather(0 if gather_dim0 else 1, actions.unsqueeze(1)) if taken_action else \
        q_all.max(dim=1, keepdim=True).values  # (B, 1)
    q_pred = q_pred.squeeze(1) if flat_prediction else q_pred  # (B,)
    if index_columns:
        q_pred = q_all[:, actions]  # (B, B): row i holds Q(s_i, a_j) for every j
    if all_actions:
        q_pred, target = q_all, target.unsqueeze(1).expand_as(q_all)  # (B, n_actions): no action picked
    loss = {"mse": F.mse_loss, "huber": F.smooth_l1_loss, "l1": F.l1_loss, "half": lambda q, y: 0.5 * F.mse_loss(q, y),
            "sum": lambda q, y: F.mse_loss(q, y, reduction="sum")}[loss](q_pred, target)
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
BROADCAST_TARGET_COLUMN = ("the target has shape (B, 1) and the prediction (B,): the loss broadcast them to (B, B) "
                           "and compared every prediction with every target")
MASKED_REWARD = "the mask multiplies the reward too: a terminal transition's target is 0, not its reward"
RESIDUAL = ("the target is computed from the online network with gradient tracking on, so the gradient also flows "
            "through the target (the residual gradient)")
DOUBLE = "this is the Double DQN target; the exercise asks for the plain DQN target"
HUBER = "the loss is the Huber loss (smooth L1); the exercise asks for the mean squared error"
L1 = "the loss is the mean absolute error (L1); the exercise asks for the mean squared error"
GLOBAL_MAX = ("the max has no dim: it took the largest Q-value of the whole batch, one number for every "
              "transition")
GAMMA_ON_REWARD = "gamma multiplies the reward too: the reward of this step is discounted along with the next value"
GATHER_ROWS = ("gather along dimension 0 picks rows (transitions) by action number, not each row's action "
               "column")
PREDICT_NEXT = "the prediction is computed from next_obs: Q(s', a) instead of Q(s, a)"
TARGET_FROM_OBS = "the target bootstraps from obs, the state the action was taken in, instead of next_obs"
ALL_ACTIONS = ("the loss includes every action's Q-value, each pulled towards the target, not only the action "
               "taken")
INDEX_COLUMNS = ("the prediction indexes columns with the action vector, q[:, actions]: a (B, B) table of every "
                 "row's Q-value at every row's action, not one value per row")
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
    MASKED_REWARD: dict(mask_reward=True),
    RESIDUAL: dict(target_network=False, detach_target=False),
    DOUBLE: dict(double=True),
    HUBER: dict(loss="huber"),
    L1: dict(loss="l1"),
    INDEX_COLUMNS: dict(index_columns=True),
    GLOBAL_MAX: dict(global_max=True),
    GAMMA_ON_REWARD: dict(gamma_on_reward=True),
    GATHER_ROWS: dict(gather_dim0=True),
    PREDICT_NEXT: dict(predict_next=True),
    TARGET_FROM_OBS: dict(target_from_obs=True),
    ALL_ACTIONS: dict(all_actions=True),
}
_SHAPES = "Print the shapes of the prediction and of the target just before the loss: both must be (B,). "
HINTS = {
    BROADCAST_PREDICTION: _SHAPES + "Picking each row's action with gather keeps the dimension it picked along.",
    BROADCAST_TARGET: _SHAPES + "A max over actions that keeps its dimension gives (B, 1); added to the (B,) rewards "
                                "that makes a table of every reward with every next value.",
    BROADCAST_BOTH: _SHAPES + "Both the gather and the max kept a dimension of size 1.",
    BROADCAST_TARGET_COLUMN: _SHAPES + "Your prediction is (B,) already; something on the target's side (an "
                             "unsqueeze, a view, or a reward or mask made into a column) gave it a dimension of size "
                             "1.",
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
    MASKED_REWARD: "The reward of the last step is earned even when the episode ends there; only the bootstrapped "
                   "future vanishes at a terminal state, so the mask multiplies that term alone.",
    RESIDUAL: "The target is a constant the prediction moves towards: build it from learner.target_network, with "
              "gradient tracking off (torch.no_grad() or .detach()), so backward() only reaches Q(s, a).",
    DOUBLE: "Your target lets the online network choose the next action and the target network value it. That is "
            "Double DQN (notebook 08); here the next state's value is simply the best one in the target network's "
            "Q-values.",
    HUBER: "Huber equals half the squared error for small TD errors and grows only linearly for large ones, so the "
           "step differs. This exercise uses the plain mean of the squared TD errors.",
    L1: "The absolute error's gradient is only the sign of each TD error: every Q(s, a) moves by the same amount "
        "whether it is off by 0.01 or by 100. This exercise uses the mean of the squared TD errors.",
    GLOBAL_MAX: "A max without a dimension reduces the whole (B, n_actions) tensor to one number. Each "
                "transition's target needs the best value of its own next state: the max over the action "
                "dimension, one value per row.",
    GAMMA_ON_REWARD: "The reward of this step is received now, so it is not discounted: gamma scales only the "
                     "bootstrapped value of the next state.",
    GATHER_ROWS: _SHAPES + "gather(dim, index) picks along the dimension you name: along dimension 0 it picks "
                 "transitions, using each action number as a row index. The action is a column of each row.",
    PREDICT_NEXT: "The prediction is the online network's value of the state the action was taken in, obs; "
                  "next_obs belongs to the target only.",
    TARGET_FROM_OBS: "The bootstrapped value looks one step ahead: the target network's values of next_obs, the "
                     "state each transition led to.",
    ALL_ACTIONS: "Only the action taken in a transition has a new sample of its value. Pick that action's Q-value "
                 "in each row before the loss; the other actions keep their values.",
    INDEX_COLUMNS: _SHAPES + "Indexing the (B, n_actions) output with a whole vector of actions in the column "
                   "position takes those columns for every row; you want one entry per row, row i at its own "
                   "action (a gather along the action dimension, or row and column indices together).",
}



def colleague_update(learner, batch) -> float:
    """A colleague's DQN update for ``notebooks/09_write_your_own_dqn.ipynb``, section 4: it runs, it
    looks fine from the outside, and one part of it is wrong. The notebook finds which with the
    probes, without reading this code."""
    return update_variant(learner, batch, mask=False)


def update_references() -> dict:
    """The package's own updates (and the target inside them): calling one is not writing the update."""
    from dqn_helpers.learner import td_target

    return {"learner.update": DeepQLearner.update, "dqn_helpers.td_target": td_target,
            "dqn_helpers.checks.dqn_update.update_variant": update_variant}


class _GradientDescent:
    """Plain gradient descent, the check's optimizer: the step is ``lr`` times the gradient.

    Adam's first step moves every weight by about lr * sign(gradient), so two different mistakes
    with gradients of the same signs leave the same weights and one is blamed for the other; a
    plain step keeps every difference in the gradient.
    """

    def __init__(self, params, lr: float):
        self.params, self.lr, self.steps = [p for p in params if p.requires_grad], lr, 0
        self.param_groups = [{"params": self.params, "lr": lr}]  # as torch.optim's, for code that reads them
        self.state = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(group["lr"] * p.grad)


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
    learner.optimizer = _GradientDescent(learner.q_network.parameters(), lr=0.1)
    return learner


def _weights(net) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


# A batch of 4 transitions small enough to read: observation i is the one-hot e_i, next observation i
# is e_(4+i), and both networks are bias-free linear layers, so column i of a weight matrix holds the
# Q-values of s_i (column 4 + i those of s'_i). The gradient of the loss then shows, entry by entry,
# which Q-values the prediction used and how far each one was from its target.
_TINY_ACTIONS, _TINY_REWARDS, _TINY_TERMINATED = [0, 2, 1, 1], [1.0, -0.5, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0]
_TINY_ONLINE = [[0.5, 1.0, -0.5], [0.2, 0.0, 0.4], [1.5, -1.0, 0.3], [0.0, 0.8, -0.2],  # Q(s_i, .)
                [1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [2.0, 1.0, 0.5], [-1.0, 0.0, 1.0]]  # Q(s'_i, .)
_TINY_TARGET = [[0.0, 0.5, 1.0], [1.0, 0.0, 0.5], [0.5, 0.5, 0.0], [1.0, 1.0, 1.0],
                [2.0, -1.0, 0.5], [1.0, 3.0, -2.0], [0.0, 0.5, 1.5], [-0.5, -1.5, 1.0]]


def _tiny():
    from torch import nn

    from dqn_helpers.replay_buffer import TransitionBatch

    learner = _learner()
    learner.obs_dim = 8
    learner.q_network, learner.target_network = nn.Linear(8, 3, bias=False), nn.Linear(8, 3, bias=False)
    with torch.no_grad():
        learner.q_network.weight.copy_(torch.tensor(_TINY_ONLINE).T)
        learner.target_network.weight.copy_(torch.tensor(_TINY_TARGET).T)
    learner.target_network.requires_grad_(False)
    learner.optimizer = _GradientDescent(learner.q_network.parameters(), lr=1.0)  # the step is the gradient
    eye = np.eye(8, dtype=np.float32)
    batch = TransitionBatch(eye[:4], np.array(_TINY_ACTIONS), np.array(_TINY_REWARDS, dtype=np.float32), eye[4:],
                            np.array(_TINY_TERMINATED, dtype=np.float32))
    return learner, batch


def observe_tiny(update) -> dict:
    """What ``update`` does on the tiny batch: its loss, the Q-values its gradient reached, the targets.

    ``targets`` are read from the gradient (``y = Q(s, a) - B / 2 * dL/dQ(s, a)``), so they are
    the targets only if the loss is the mean squared error on the taken actions (``reached``).
    """
    learner, batch = _tiny()
    before = learner.q_network.weight.detach().clone()
    loss = update(learner, batch)
    grad = (before - learner.q_network.weight.detach()).T.numpy()  # (8, 3): rows s_0..s_3, then s'_0..s'_3
    reached = [(int(i), int(a)) for i, a in np.argwhere(np.abs(grad[:4]) > 1e-6)]
    rows = np.arange(4)
    targets = np.array(_TINY_ONLINE)[rows, _TINY_ACTIONS] - 2.0 * grad[rows, _TINY_ACTIONS]
    targets[np.abs(targets) < 1e-6] = 0.0  # no "-0." in the report
    return dict(loss=loss, reached=reached, next_states=bool(np.abs(grad[4:]).max() > 1e-6), targets=targets)


def _tiny_targets(kind: str) -> np.ndarray:
    """Targets of the tiny batch made by the mistakes this check can name for sure from them."""
    best = np.array(_TINY_TARGET)[4:]
    rewards, terminated, gamma = np.array(_TINY_REWARDS), np.array(_TINY_TERMINATED), 0.9
    return {"inverted": rewards + gamma * terminated * best.max(axis=1),
            "mean": rewards + gamma * (1 - terminated) * best.mean(axis=1)}[kind]


TINY_MISTAKES = {
    "the terminal mask is inverted: the target bootstraps where terminated == 1 and not elsewhere": (
        "inverted", "The bootstrapped term is kept where terminated == 0 and dropped where terminated == 1; yours "
                    "does the opposite, so every non-terminal target is the reward alone."),
    "the next state's value is the mean over its actions, not the best one": (
        "mean", "The target uses the value of the best next action (a max over actions); an average mixes in "
                "actions the greedy policy would never take."),
}


def tiny_mistake(fn, kind: str) -> Callable[[], bool]:
    """A detector: on the tiny batch, the update's targets are those of the mistake ``kind``."""

    def detect() -> bool:
        seen = observe_tiny(fn)
        return seen["reached"] == list(enumerate(_TINY_ACTIONS)) and np.allclose(seen["targets"], _tiny_targets(kind),
                                                                                 atol=1e-4)

    return detect


def observed_mistake(fn, explains: list[str]) -> Mistake:
    """The last resort: no known mistake explains the failures, so say what the tiny batch showed."""
    seen = {}

    def detect() -> bool:
        seen.update(mine=observe_tiny(fn), ref=observe_tiny(update_variant))
        mine, ref = seen["mine"], seen["ref"]
        return (mine["reached"] != ref["reached"] or mine["next_states"]
                or not np.allclose(mine["targets"], ref["targets"], atol=1e-4))

    def hint() -> str:
        mine, ref = seen["mine"], seen["ref"]
        loss = mine["loss"]
        loss = f"{float(loss):.4g}" if isinstance(loss, float | int | torch.Tensor) and np.size(loss) == 1 else \
            repr(loss)[:30]
        said = [f"your update returned the loss {loss} (the reference {ref['loss']:.4g})"]
        if mine["reached"] != ref["reached"] or mine["next_states"]:
            said.append(f"its gradient reached Q(s_i, a) at (i, a) = {mine['reached']}, where the reference's reaches "
                        f"only the taken actions, {ref['reached']}" + (
                            "; it also reached the next states' Q-values: either the target was built with "
                            "gradient tracking on, or the prediction used next_obs" if mine["next_states"] else ""))
        else:
            said.append(f"the targets read from its gradient (if your loss is the mean squared error) are "
                        f"{fmt(mine['targets'])}, the reference's {fmt(ref['targets'])}")
        best = np.array(_TINY_TARGET)[4:].max(axis=1)
        return (f"On 4 transitions with actions {_TINY_ACTIONS}, rewards {_TINY_REWARDS}, terminated "
                f"{_TINY_TERMINATED}, gamma 0.9 and best next values {fmt(best)} (target network): "
                + "; ".join(said) + ". Print your target and prediction on such a batch and compare them term by "
                "term.")

    return Mistake("your update differs from the reference in a way this check cannot name; here is what it "
                   "observed on a tiny batch.", detect, hint, explains)


def check_dqn_update(fn) -> CheckReport:
    """Check ``fn(learner, batch) -> float``, one DQN gradient step (notebook 09_write_your_own_dqn).

    ``learner`` is a :class:`~dqn_helpers.DeepQLearner` (``q_network``, ``target_network``,
    ``optimizer``, ``gamma``); ``batch`` a :class:`~dqn_helpers.TransitionBatch`. The
    optimizer is plain gradient descent, so equal weights mean equal gradients. Tests:
    returns the loss before the step; moves the online network; leaves the target
    network alone; the same weights as the reference after one and after two updates.
    Names the part that differs (discount, a hard-coded gamma, terminal mask, an inverted one or
    one on the reward too, target network (for the target, or as the predictor of Q(s, a)), a
    residual gradient, a Double DQN target, taken action,
    sign, zero_grad, a Huber or scaled loss, a (B, 1) tensor broadcast against a (B,) one, a max
    over the batch instead of the actions); when it
    cannot tell, it says what it observed on a tiny batch (loss, Q-values reached,
    targets). An answer that calls ``learner.update``, ``td_target`` or ``update_variant``
    is not the student's own code.
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
        (mine, (loss,)), (ref, (want,)) = student(), after(update_variant)
        if isinstance(loss, torch.Tensor):
            raise Fail("the loss as a Python float", f"a tensor of shape {tuple(loss.shape)}",
                       "A tensor that keeps its graph keeps the whole batch's computation alive in every caller "
                       "that stores it (a list of losses for a plot, for instance): return the number it holds, "
                       "with .item().")
        loss = as_number(loss, "Return the loss as a Python float (a one-element tensor gives it with .item()).")
        if abs(float(loss) - want) > 1e-4 * max(1.0, abs(want)):
            # a wrong target or prediction makes a wrong loss too: then the loss is not what to fix first
            same_step = torch.allclose(_weights(mine.q_network), _weights(ref.q_network), atol=1e-5)
            hint = ("Your step matches the reference's, so the number you return is not the loss you minimized: "
                    "return the mean over the batch of (Q(s, a) - y)^2, computed before the optimizer step."
                    if same_step else "Your step differs from the reference's too (see below): the loss follows "
                    "from your target and prediction, so fix those first.")
            raise Fail(f"loss {want:.5g} (mean squared TD error of the batch, before the step)", f"{float(loss):.5g}",
                       hint)

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

    n_rows, n_actions = _batch(0).actions.shape[0], base.n_actions

    def reduced_over_batch(err: BaseException) -> str | None:
        """The hint for a tensor of one value per action meeting one of one value per transition."""
        sizes = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", str(err))
        if sizes and {int(sizes[1]), int(sizes[2])} == {n_rows, n_actions}:
            return (f"A tensor of {n_actions} values (one per action) met one of {n_rows} (one per transition of "
                    "the batch): a max or argmax over dimension 0 reduces over the batch, the best transition for "
                    "each action. The target needs the best action of each transition: reduce over the action "
                    "dimension.")
        return None

    tests = [
        Test("returns the loss (a float) of the batch before the step", returns_loss, on_error=reduced_over_batch),
        Test(OWN_CODE, own_code_test(lambda: student(), update_references() | {
            "dqn_helpers.checks.dqn_update.colleague_update": colleague_update}, answer=fn), required=True),
        Test("takes an optimizer step on the online network", moves_online, on_error=reduced_over_batch),
        Test("leaves the target network unchanged", target_untouched, on_error=reduced_over_batch),
        Test("matches the reference update (target, loss on the taken actions, step)", matches(1),
             on_error=reduced_over_batch),
        Test("matches it again on a second update (gradients reset)", matches(2), on_error=reduced_over_batch),
    ]
    column_target = Mistake(BROADCAST_TARGET_COLUMN, lambda: target_is_the_column(lambda: student(), n_rows),
                            HINTS[BROADCAST_TARGET_COLUMN])
    mistakes = [target_network_predicts(lambda: copy.deepcopy(base), lambda learner: fn(learner, _batch(0))),
                column_target] + [
        Mistake(what, detector(fn, switches, base), HINTS[what])
                                  for what, switches in MISTAKES.items()]
    mistakes += [step_before_backward(fn, base), cleared_before_step(fn, base), synchronizes(fn, base),
                 own_optimizer(fn, base), scaled_loss(fn, base), changed_after_backward(fn, base),
                 hard_coded_gamma(fn, base)]
    mistakes.append(broadcast_mistake(lambda: student(), _batch(0).actions.shape[0]))
    values = [t.name for t in tests if t.name.startswith(("returns the loss", "matches"))]
    mistakes += [Mistake(what, tiny_mistake(fn, kind), hint, values) for what, (kind, hint) in TINY_MISTAKES.items()]
    mistakes.append(observed_mistake(fn, values))  # last: what the check saw, when it cannot say which mistake it is
    return run_tests(name, tests, signature, mistakes)


def target_network_predicts(make, run) -> Mistake:
    """The mistake "Q(s, a) predicted with the target network": ``run(learner)`` is one update on ``make()``.

    The target network is frozen (no gradients), so such an update fails at backward(); the detector lets the
    target network's parameters track gradients for once and looks where the gradients of the loss land."""

    def detect() -> bool:
        learner = make()
        for p in learner.target_network.parameters():
            p.requires_grad_(True)
        run(learner)

        def has_grad(net) -> bool:
            return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())

        return has_grad(learner.target_network) and not has_grad(learner.q_network)

    return Mistake("Q(s, a) is predicted with the target network, not the online network learner.q_network.", detect,
                   "The loss's gradients would have to flow into the network that made the prediction, and the "
                   "target network is frozen (its parameters track no gradients: it only changes at a "
                   "synchronization), so backward() finds nothing to follow. The target network values the next "
                   "states for the target y; the prediction Q(s, a) comes from the online network, the one "
                   "learner.optimizer trains.")


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


def _one_step(fn, base, gamma: float | None = None) -> torch.Tensor:
    """The online weights after ``fn(learner, batch)`` once, on a copy of ``base`` (with ``gamma`` if given)."""
    learner = copy.deepcopy(base)
    if gamma is not None:
        learner.gamma = gamma
    fn(learner, _batch(0))
    return _weights(learner.q_network)


def step_before_backward(fn, base) -> Mistake:
    """The mistake "optimizer.step() before loss.backward()": gradients are computed, and never used."""

    def detect() -> bool:
        learner = copy.deepcopy(base)
        fn(learner, _batch(0))
        unchanged = torch.equal(_weights(learner.q_network), _weights(base.q_network))
        return unchanged and any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.q_network.parameters())

    return Mistake("the optimizer step comes before backward(): the gradients are computed after the step that "
                   "should use them.", detect,
                   "After your update the weights are unchanged while the network holds fresh gradients: the step "
                   "ran before they existed (or after zero_grad cleared them). The order is: clear the old "
                   "gradients, compute the new ones from the loss, then step.")


def cleared_before_step(fn, base) -> Mistake:
    """The mistake "zero_grad between backward and step": the step finds no gradients and moves nothing."""

    def detect() -> bool:
        learner = copy.deepcopy(base)
        loss = fn(learner, _batch(0))
        unchanged = torch.equal(_weights(learner.q_network), _weights(base.q_network))
        return unchanged and loss is not None and all(p.grad is None for p in learner.q_network.parameters())

    return Mistake("the gradients are cleared between backward() and the optimizer step, so the step moves "
                   "nothing.", detect,
                   "After your update the weights are unchanged and the network holds no gradients: zero_grad ran "
                   "after backward(). Clearing belongs before backward(), so that each update starts from zero; "
                   "the step then uses the gradients backward() just computed.")


def synchronizes(fn, base) -> Mistake:
    """The mistake "synchronize inside the update": the target network is overwritten with the online one."""

    def detect() -> bool:
        learner = copy.deepcopy(base)
        fn(learner, _batch(0))
        target = _weights(learner.target_network)
        changed = not torch.equal(target, _weights(base.target_network))
        return changed and (torch.allclose(target, _weights(base.q_network))
                            or torch.allclose(target, _weights(learner.q_network)))

    return Mistake("your update synchronizes the target network: it copies the online weights at every update.",
                   detect,
                   "The target network is held still for target_update_every updates, so that the targets do not "
                   "move with every step; copying belongs to the training loop, not to the update. Leave "
                   "learner.target_network alone here.")


def own_optimizer(fn, base) -> Mistake:
    """The mistake "the update builds its own optimizer": learner.optimizer never steps, the weights move anyway."""

    def detect() -> bool:
        learner = copy.deepcopy(base)
        fn(learner, _batch(0))
        return learner.optimizer.steps == 0 and not torch.equal(_weights(learner.q_network), _weights(base.q_network))

    return Mistake("your update steps an optimizer of its own, not learner.optimizer.", detect,
                   "The weights moved but learner.optimizer never took a step: the update made a new optimizer. A "
                   "new Adam on every call starts its running averages from zero each time (every step is then about "
                   "lr times the sign of the gradient), and its learning rate is yours, not the learner's. Use the "
                   "optimizer the learner owns.")


def scaled_loss(fn, base) -> Mistake:
    """The mistake "the loss is c times the mean squared error": a step along the reference's, c times as long."""
    seen = {}

    def detect() -> bool:
        start = _weights(base.q_network)
        mine, ref = _one_step(fn, base) - start, _one_step(update_variant, base) - start
        c = seen["c"] = float(mine @ ref / (ref @ ref))
        return c > 0 and abs(c - 1) > 1e-3 and torch.allclose(mine, c * ref, atol=1e-6 * max(1.0, c)) and \
            returned_ratio() is not None and abs(returned_ratio() - c) < 1e-3 * max(1.0, c)

    def returned_ratio() -> float | None:
        """The loss the update returned, over the reference's (None when it returned no number)."""
        learner, ref = copy.deepcopy(base), copy.deepcopy(base)
        try:
            return float(fn(learner, _batch(0))) / update_variant(ref, _batch(0))
        except (TypeError, ValueError):
            return None

    def hint() -> str:
        c, n = seen["c"], len(_batch(0).actions)
        why = (" (half the mean squared error)" if abs(c - 0.5) < 1e-3 else
               f" (a sum over the batch of {n}, not a mean)" if abs(c - n) < 1e-2 * n else "")
        return (f"Your step points exactly where the reference's does but is {c:.3g} times as long, and the loss "
                f"you return is {c:.3g} times the mean squared TD error{why}. This check steps with plain gradient "
                "descent, where a scaled loss scales every step; the learner's Adam mostly cancels a constant "
                "factor, but the loss you return (and log) is still off by it. The exercise asks for the mean over "
                "the batch of the squared TD errors.")

    return Mistake("the loss is scaled: the right squared TD errors, times a constant.", detect, hint)


def changed_after_backward(fn, base) -> Mistake:
    """The step is a multiple of the reference's while the returned loss is right: something after backward()."""
    seen = {}

    def detect() -> bool:
        start = _weights(base.q_network)
        learner = copy.deepcopy(base)
        loss = fn(learner, _batch(0))
        mine, ref = _weights(learner.q_network) - start, _one_step(update_variant, base) - start
        c = seen["c"] = float(mine @ ref / (ref @ ref))
        want = update_variant(copy.deepcopy(base), _batch(0))
        same_loss = isinstance(loss, float | int) and abs(float(loss) - want) < 1e-4 * max(1.0, abs(want))
        return same_loss and c > 0 and abs(c - 1) > 1e-3 and torch.allclose(mine, c * ref, atol=1e-5 * max(1.0, c))

    return Mistake("the loss is right but the step is not: something between backward() and the end of the update "
                   "changed it.", detect,
                   lambda: f"Your update returns the reference's loss, and its step points the same way but is "
                   f"{seen['c']:.3g} times as long. Gradient clipping (shorter) or a second optimizer step (about "
                   "twice) does that. The exercise's update is one plain step: zero_grad, backward, step.")


def hard_coded_gamma(fn, base) -> Mistake:
    """The mistake "gamma is a constant in the code": the step does not change with learner.gamma."""
    seen = {}

    def detect() -> bool:
        mine = _one_step(fn, base)
        if torch.equal(mine, _weights(base.q_network)) or not torch.allclose(mine, _one_step(fn, base, 0.5),
                                                                              atol=1e-6):
            return False
        # a step that ignores gamma for another reason (an L1 loss: only the signs of the TD errors) is not this
        seen["as"] = [g for g in (0.99, 0.995, 0.999, 0.98, 0.97, 0.95, 0.9, 0.8, 1.0) if torch.allclose(
            mine, _one_step(functools.partial(update_variant, gamma=g), base), atol=1e-5)]
        return bool(seen["as"])

    def hint() -> str:
        like = f" (it behaves as if gamma were {seen['as'][0]})"
        return (f"With learner.gamma = {base.gamma} and with learner.gamma = 0.5 your update takes the same step"
                f"{like}: the discount is a number written in your code. Use learner.gamma: each experiment sets its "
                "own.")

    return Mistake("gamma is hard-coded: your update ignores learner.gamma.", detect, hint)
