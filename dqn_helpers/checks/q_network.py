"""Check of a Q-network builder: one output per action, trainable, nonlinear, unbounded.

Built step by step in ``notebooks/02_q_networks.ipynb`` (exercise 1).
"""

from __future__ import annotations

import torch
from torch import nn

from dqn_helpers.adam import Adam
from dqn_helpers.checks.delegation import OWN_CODE, own_code_test
from dqn_helpers.checks.formatting import describe
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

_FIT_TARGETS = (50.0, -20.0, 100.0)  # Q-values of three actions, of the size CartPole's returns have


def _one_row_error(err: BaseException) -> str | None:
    """The hint for a network that cannot take one observation alone (BatchNorm in training mode)."""
    if "more than 1 value per channel" in str(err):
        return ("BatchNorm in training mode needs at least two observations to compute its statistics, so one "
                "observation alone (as when the agent acts) raises this error. A Q-network must not mix the rows "
                "of a batch: leave BatchNorm out.")
    return None


_SCALE = 1000.0  # how much the last Linear layer is scaled to see whether anything after it caps the outputs


def _capped(net: nn.Module, forward, x: torch.Tensor) -> tuple[float, float] | None:
    """The range of the outputs when the last ``nn.Linear`` to run has its weights and bias scaled by ``_SCALE``,
    if they grow far less than that (a bounded function after it, e.g. ``100 * tanh``); else ``None``.

    The last layer is the one whose forward ran last (forward hooks), not the last one registered. A hidden
    tanh or a dueling head keeps the outputs growing with that layer, so it is not capped."""
    import copy

    net = copy.deepcopy(net)
    order: list[nn.Linear] = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m))
             for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        before = forward(net, x)
        for h in hooks:
            h.remove()
        if not order or float(before.abs().max()) == 0.0:
            return None
        for p in order[-1].parameters():
            p.mul_(_SCALE)
        after = forward(net, x)
    if float(after.abs().max()) < 0.01 * _SCALE * float(before.abs().max()):
        return float(after.min()), float(after.max())
    return None


def check_q_network(make_fn) -> CheckReport:
    """Check ``make_fn(obs_dim, n_actions) -> torch.nn.Module`` (notebook 02_q_networks).

    Tests: it returns an ``nn.Module``; a batch ``(B, obs_dim)`` gives ``(B, n_actions)``
    for two sizes; a single observation works; it has trainable parameters that all
    receive gradients; it is not a linear map (an activation between the layers); its
    outputs are unbounded Q-values, one free value per action (a few hundred Adam steps
    reach targets 50, -20 and 100; no softmax/sigmoid/tanh); each row depends only on its
    own observation; it is the student's own network (not :func:`dqn_helpers.make_q_network`).
    Recognises Dropout in training mode, a log-softmax, one output copied to every action,
    a bounded activation at the end and one scaled up (``100 * tanh``: outputs that do not grow
    when the last linear layer's weights do).
    """
    from dqn_helpers.q_network import make_q_network

    name = "check_q_network"
    signature = "make_fn(obs_dim, n_actions) -> torch.nn.Module"
    if not callable(make_fn):
        return not_callable_report(name, make_fn, "a function make_fn(obs_dim, n_actions)")

    def build(obs_dim=4, n_actions=2) -> nn.Module:
        net = make_fn(obs_dim, n_actions)
        if not isinstance(net, nn.Module):
            raise Fail(
                "a torch.nn.Module (e.g. nn.Sequential)",
                describe(net),
                "Return the network object itself (a module such as nn.Sequential of your layers), not its output or "
                "a list of layers.",
            )
        return net

    def forward(net, x) -> torch.Tensor:
        out = net(x)
        if not isinstance(out, torch.Tensor):
            raise Fail("a tensor of Q-values", describe(out), "forward must return one tensor.")
        return out

    def is_module():
        build()

    def shapes():
        for obs_dim, n_actions in ((4, 2), (6, 3)):
            out = forward(build(obs_dim, n_actions), torch.randn(32, obs_dim))
            if tuple(out.shape) != (32, n_actions):
                raise Fail(
                    f"output shape (32, {n_actions}) for input (32, {obs_dim}) with obs_dim={obs_dim}, "
                    f"n_actions={n_actions}",
                    f"shape {tuple(out.shape)}",
                    "The first layer takes obs_dim inputs and the last layer gives n_actions outputs "
                    "(one Q-value per action); do not hard-code 4 and 2.",
                )

    def single():
        out = forward(build(), torch.randn(1, 4))
        if tuple(out.shape) != (1, 2):
            raise Fail("shape (1, 2) for one observation of shape (1, 4)", f"shape {tuple(out.shape)}")

    def trainable():
        params = [p for p in build().parameters() if p.requires_grad]
        if not params:
            raise Fail(
                "trainable parameters",
                "none",
                "Build the layers with nn.Linear inside the module (nn.Sequential registers them).",
            )

    def gradients():
        net = build()
        forward(net, torch.randn(64, 4) * 2).pow(2).mean().backward()
        missing = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        if missing:
            raise Fail(
                "a gradient for every parameter after backward()",
                f"no gradient for {missing}",
                "Do not detach intermediate results or use layers outside the forward pass.",
            )

    def nonlinear():
        net = build()
        with torch.no_grad():
            x1, x2 = torch.randn(256, 4) * 3, torch.randn(256, 4) * 3
            mid = forward(net, (x1 + x2) / 2)
            avg = (forward(net, x1) + forward(net, x2)) / 2
        gap = float((mid - avg).abs().max())
        if gap < 1e-5:
            raise Fail(
                "a nonlinear function of the observation",
                f"an affine map (f((x+y)/2) equals (f(x)+f(y))/2 to within {gap:.1e})",
                "Put an activation such as nn.ReLU() between the Linear layers: stacked Linear layers "
                "collapse into one linear map.",
            )

    def unbounded():
        with torch.no_grad():
            out = forward(build(), torch.randn(64, 4) * 5)
        if bool(torch.allclose(out.sum(dim=1), torch.ones(64), atol=1e-4)):
            raise Fail(
                "raw Q-values (any real numbers)",
                "rows summing to 1",
                "Remove the softmax at the end: Q-values are expected returns, not probabilities.",
            )
        if bool(((out >= 0) & (out <= 1)).all()) or bool((out >= 0).all()):
            raise Fail(
                "raw Q-values that can be negative",
                f"only values in [{float(out.min()):.3g}, {float(out.max()):.3g}]",
                "End with a plain nn.Linear layer (no ReLU, sigmoid or softmax after it).",
            )
        # Values of any size, and a different one per action: a few hundred Adam steps towards
        # returns such as 50, -20 and 100 must get there.
        net = build(4, 3)
        x = torch.randn(32, 4)
        wanted = torch.tensor(_FIT_TARGETS).expand(32, 3)
        with torch.no_grad():
            if (shape := tuple(forward(net, x).shape)) != (32, 3):  # the shape test says why
                raise Fail("output shape (32, 3) for n_actions=3, to fit three Q-values", f"shape {shape}",
                           "The output shape is off: see the shape test above.")
        optimizer = Adam(net.parameters(), lr=0.1)  # the package's: torch.optim would import the compiler
        for _ in range(300):
            loss = (forward(net, x) - wanted).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            got = forward(net, x)
        error = float((got - wanted).abs().max())
        if error > 10.0:
            raise Fail(
                f"after 300 Adam steps towards the Q-values {list(_FIT_TARGETS)} (3 actions), "
                "outputs within 10 of them",
                f"outputs in [{float(got.min()):.3g}, {float(got.max()):.3g}], up to {error:.3g} away",
                "Q-values are expected returns: any real number, and a different one for each action. The last "
                "layer must give n_actions free outputs, with nothing after it that limits or ties them.",
            )
        if (capped := _capped(build(4, 3), forward, torch.randn(64, 4))) is not None:
            raise Fail(
                f"outputs that grow with the last linear layer: its weights and bias scaled by {_SCALE:g} scale "
                "the Q-values too",
                f"outputs still within [{capped[0]:.4g}, {capped[1]:.4g}]: something after that layer caps them",
                "A Q-value has no ceiling fixed in advance: the returns grow with the reward scale, the episode "
                "length and gamma. Nothing after the last linear layer may limit its outputs.",
            )

    def rowwise():
        net = build()
        x = torch.randn(16, 4)
        with torch.no_grad():
            together = forward(net, x)
            alone = torch.cat([forward(net, x[i : i + 1]) for i in range(16)])
        if not torch.allclose(together, alone, atol=1e-5):
            raise Fail(
                "the Q-values of an observation do not depend on the rest of the batch",
                "different values when the observation is passed alone",
                "Avoid layers that mix rows (BatchNorm, softmax over dim=0).",
            )

    def random_layers() -> bool:
        net, x = build(), torch.randn(16, 4)
        with torch.no_grad():
            return not torch.equal(forward(net, x), forward(net, x))

    def log_softmax() -> bool:
        with torch.no_grad():
            out = forward(build(), torch.randn(64, 4) * 5)
        return bool(torch.allclose(out.exp().sum(dim=1), torch.ones(64), atol=1e-3))

    def same_value() -> bool:
        with torch.no_grad():
            out = forward(build(4, 3), torch.randn(64, 4) * 5)
        return bool(torch.allclose(out, out[:, :1].expand_as(out), atol=1e-6))

    def sizes_seen() -> dict:
        """What the network gives for sizes other than 4 and 2: its output shape, or the error it raised."""
        seen_sizes = {}
        for obs_dim, n_actions in ((4, 2), (6, 2), (4, 3)):
            try:
                with torch.no_grad():
                    seen_sizes[obs_dim, n_actions] = tuple(forward(build(obs_dim, n_actions),
                                                                   torch.randn(8, obs_dim)).shape)
            except Exception as err:
                seen_sizes[obs_dim, n_actions] = type(err).__name__
        return seen_sizes

    def hard_coded() -> bool:
        got = sizes_seen()
        return got[4, 2] == (8, 2) and (got[6, 2] != (8, 2) or got[4, 3] != (8, 3))

    def hard_coded_hint() -> str:
        said = [f"with obs_dim={o}, n_actions={a} " + (f"it raised {v}" if isinstance(v, str) else f"it gave shape {v}")
                for (o, a), v in sizes_seen().items() if v != (8, a)]
        return (f"For a batch of 8 observations your network works with obs_dim=4 and n_actions=2, but "
                f"{' and '.join(said)}. "
                "The builder is called for other environments too: the first layer's input size comes from "
                "obs_dim and the last layer's output size from n_actions, not from CartPole's 4 and 2.")

    def batch_softmax() -> bool:
        with torch.no_grad():
            out = forward(build(4, 3), torch.randn(64, 4) * 5)
        return bool(torch.allclose(out.sum(dim=0), torch.ones(3), atol=1e-4))

    def action_norm() -> bool:
        """Every row of Q-values has mean 0 and the same spread: a normalisation over the actions (LayerNorm)."""
        with torch.no_grad():
            out = forward(build(4, 3), torch.randn(64, 4) * 5)
        spread = out.std(dim=1, unbiased=False)
        seen["spread"] = float(spread.mean())
        return bool(out.mean(dim=1).abs().max() < 1e-4 and spread.min() > 0.9 * spread.max() > 1e-3)

    def bounded_end() -> bool:
        with torch.no_grad():
            out = forward(build(4, 3), torch.randn(256, 4) * 1000)
        return float(out.abs().max()) <= 1.0 + 1e-4

    def scaled_bound() -> bool:
        seen["capped"] = _capped(build(4, 3), forward, torch.randn(64, 4))
        return seen["capped"] is not None

    seen: dict = {}
    tests = [
        Test("returns a torch.nn.Module", is_module, required=True),
        Test(OWN_CODE, own_code_test(build, {"dqn_helpers.make_q_network": make_q_network}, answer=make_fn),
             required=True),
        Test("output shape (batch, n_actions)", shapes),
        Test("works for a single observation of shape (1, obs_dim)", single, on_error=_one_row_error),
        Test("has trainable parameters", trainable),
        Test("gradients reach every parameter", gradients),
        Test("is nonlinear (activation between the layers)", nonlinear),
        Test("outputs unbounded Q-values, one free value per action (no softmax, sigmoid or tanh at the end)",
             unbounded),
        Test("each row depends only on its own observation", rowwise, on_error=_one_row_error),
    ]
    mistakes = [
        Mistake(
            "random layers (Dropout) in training mode: the same observation gives different Q-values.",
            random_layers,
            "Two calls on the same batch gave different outputs. The greedy action and the TD target must not "
            "change from one call to the next: leave Dropout (and any other random layer) out of a Q-network.",
        ),
        Mistake(
            "log-softmax: log-probabilities, not values (a log-softmax at the end).",
            log_softmax,
            "Your outputs are the logarithms of probabilities: each row's exponentials sum to 1, so every output is "
            "at most 0 and raising one action lowers the others. Q-values are expected returns: remove the "
            "(log-)softmax and keep the last linear layer's outputs.",
        ),
        Mistake(
            "all actions get the same value: the network has one output, copied to every action.",
            same_value,
            "Every column of your output is identical, so the greedy action can never depend on the state and the "
            "TD loss cannot tell the actions apart. Give the last layer one output per action.",
        ),
        Mistake(
            "sizes hard-coded: your network does not follow obs_dim and n_actions.", hard_coded, hard_coded_hint,
            ["output shape (batch, n_actions)",
             "outputs unbounded Q-values, one free value per action (no softmax, sigmoid or tanh at the end)"],
        ),
        Mistake(
            "a softmax over the batch dimension (dim=0) at the end: each action's outputs are normalised across "
            "the rows of the batch, so an observation's Q-values depend on the other observations in it.",
            batch_softmax,
            "For a batch of 64 observations each column of your output sums to 1: the outputs are shared out among "
            "the rows, so the same observation gets other values in another batch, and alone (as when the agent "
            "acts) it always gets 1. Q-values are expected returns of one observation's actions, not shares of "
            "anything: remove the softmax.",
        ),
        Mistake(
            "a normalization over the actions at the end (such as LayerNorm(n_actions)): it ties the action values "
            "of each observation together.",
            action_norm,
            lambda: "Every row of your output has mean 0 and the same spread (about "
            f"{seen['spread']:.3g}), whatever the observation: a normalization across the outputs. Then raising "
            "one action's value lowers the others', and no state can have all its values high or all low, so "
            "the returns (50, -20 and 100 in the test) cannot be reached. Normalising hidden features is "
            "allowed; the Q-values themselves must be the last linear layer's outputs.",
        ),
        Mistake(
            "a bounded activation at the end (tanh, sigmoid, clamp): Q-values cannot reach the returns.",
            bounded_end,
            "Even for huge inputs your outputs stay within [-1, 1]. A CartPole return is worth up to about 100; "
            "remove the squashing function after the last linear layer.",
        ),
        Mistake(
            "a bounded function at the end, scaled up (e.g. 100 * tanh): your Q-values have a fixed ceiling.",
            scaled_bound,
            lambda: f"With the last linear layer's weights and bias {_SCALE:g} times larger, your outputs still lie "
            f"within [{seen['capped'][0]:.4g}, {seen['capped'][1]:.4g}]: a squashing function after that layer caps "
            "them, and a factor in front of it only moves the cap. Returns near or above it cannot be represented "
            "(and near it the squashing function's gradient vanishes, so learning stalls); a CartPole return with "
            "gamma = 0.99 approaches 100, a longer task's more. End with the linear layer itself.",
        ),
    ]
    return run_tests(name, tests, signature, mistakes)

