"""Self-checks for the "implement it yourself" exercises of the notebooks.

Each ``check_*`` function runs a handful of small, targeted tests on the object
you pass in, prints a plain-language report (one line per property, with what
was expected, what came back and a hint when something is off) and returns a
:class:`CheckReport`, which is truthy iff every test passed::

    from dqn_helpers.checks import check_td_target
    check_td_target(my_td_target)

=============================  ==========================================
``check_q_network``            notebooks/02_q_networks.ipynb
``check_td_target``            notebooks/02_q_networks.ipynb
``check_replay_buffer``        notebooks/03_replay_buffers.ipynb
``check_synchronize``          notebooks/04_target_networks.ipynb
``check_vectorized_env``       notebooks/05_vectorized_envs.ipynb
``check_epsilon_schedule``     notebooks/06_epsilon_decay.ipynb
``check_evaluate``             notebooks/07_all_together.ipynb
``check_double_dqn_target``    notebooks/08_going_further.ipynb
=============================  ==========================================

A check never crashes on a broken answer: an exception raised by your code
(``NotImplementedError`` included, reported as "not implemented yet") becomes a
failed line in the report. Set the environment variable ``DQN_CHECKS_STRICT=1``
to turn a failed report into an ``AssertionError`` carrying the same message
(CI uses it to make sure the reference solutions pass).
"""

from __future__ import annotations

import copy
import math
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = [
    "CheckReport",
    "CheckResult",
    "check_double_dqn_target",
    "check_epsilon_schedule",
    "check_evaluate",
    "check_q_network",
    "check_replay_buffer",
    "check_synchronize",
    "check_td_target",
    "check_vectorized_env",
]

STRICT_ENV_VAR = "DQN_CHECKS_STRICT"


# --------------------------------------------------------------------------- reports


@dataclass
class CheckResult:
    """Outcome of one tested property."""

    name: str
    passed: bool
    expected: str = ""
    got: str = ""
    hint: str = ""
    not_implemented: bool = False


@dataclass
class CheckReport:
    """What a check found: one :class:`CheckResult` per property.

    ``bool(report)`` is ``report.passed``; ``str(report)`` is the full text that
    the check printed; ``repr(report)`` is a one-line summary.
    """

    check: str
    results: list[CheckResult] = field(default_factory=list)
    skipped: int = 0

    @property
    def passed(self) -> bool:
        return self.skipped == 0 and all(r.passed for r in self.results)

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def message(self) -> str:
        n = len(self.results) + self.skipped
        if self.passed:
            lines = [f"{self.check}: All {n} checks passed."]
            lines += [f"  ✓ {r.name}" for r in self.results]
            return "\n".join(lines)
        failures = self.failures
        if self.n_passed == 0 and failures and all(r.not_implemented for r in failures):
            return (
                f"{self.check}: ✗ not implemented yet. Your code raised NotImplementedError: replace "
                f"the lines `# YOUR CODE HERE` and `raise NotImplementedError()` with your solution, "
                f"then run the check again ({n} checks waiting)."
            )
        lines = [f"{self.check}: {self.n_passed} of {n} checks passed, {len(failures)} failed."]
        for r in self.results:
            if r.passed:
                lines.append(f"  ✓ {r.name}")
                continue
            lines.append(f"  ✗ {r.name}")
            if r.expected:
                lines.append(f"      expected: {r.expected}")
            if r.got:
                lines.append(f"      got:      {r.got}")
            if r.hint:
                lines.append(f"      hint:     {r.hint}")
        if self.skipped:
            lines.append(f"  … {self.skipped} further checks skipped until the problems above are fixed.")
        return "\n".join(lines)

    __str__ = message

    def __repr__(self) -> str:
        n = len(self.results) + self.skipped
        verdict = "all passed" if self.passed else f"{len(self.failures)} failed"
        return f"<CheckReport {self.check}: {self.n_passed}/{n} checks passed, {verdict}>"


class _Fail(Exception):
    """Raised by a test when a property does not hold."""

    def __init__(self, expected: str, got: str, hint: str = ""):
        super().__init__(f"expected {expected}, got {got}")
        self.expected, self.got, self.hint = expected, got, hint


@dataclass
class _Test:
    name: str
    run: Callable[[], None]
    required: bool = False  # stop after a failure: later tests would only repeat it


def _where(err: BaseException) -> str:
    """File and line of the innermost frame (usually the student's code)."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    place = (
        "your notebook cell"
        if frame.filename.startswith("<") or "ipykernel" in frame.filename
        else (os.path.basename(frame.filename))
    )
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" (raised at line {frame.lineno} of {place}{code})"


def _hint_for(err: Exception, signature: str) -> str:
    text = str(err)
    if isinstance(err, AttributeError):
        return f"Something is missing or misspelled: {text}. Expected interface: {signature}."
    if isinstance(err, TypeError):
        return f"Check the arguments and the types your code works with. Expected interface: {signature}."
    if isinstance(err, RuntimeError) and "leaf Variable" in text:
        return "Copy weights inside `with torch.no_grad():` (or use load_state_dict)."
    if isinstance(err, RuntimeError) and ("shape" in text or "size" in text):
        return "A shape does not fit: print the shapes of the tensors on the line that failed."
    if isinstance(err, IndexError | ValueError) and ("index" in text or "shape" in text or "broadcast" in text):
        return "An index or shape does not fit: print the shapes and indices on the line that failed."
    return "Read the error message and the line it points to."


def _run_tests(check: str, tests: Sequence[_Test], signature: str) -> CheckReport:
    report = CheckReport(check)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is many times faster than two competing ones
    try:
        _run_each(report, tests, signature)
    finally:
        torch.set_num_threads(threads)
    text = report.message()
    print(text)
    if not report.passed and os.environ.get(STRICT_ENV_VAR) == "1":
        raise AssertionError(text)
    return report


def _run_each(report: CheckReport, tests: Sequence[_Test], signature: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, test in enumerate(tests):
            try:
                with torch.random.fork_rng():  # never disturb the notebook's own random state
                    torch.manual_seed(1234 + i)
                    test.run()
            except _Fail as fail:
                report.results.append(CheckResult(test.name, False, fail.expected, fail.got, fail.hint))
            except NotImplementedError as err:
                report.results.append(
                    CheckResult(
                        test.name,
                        False,
                        "an implementation",
                        f"not implemented yet (NotImplementedError{_where(err)})",
                        "Replace `raise NotImplementedError()` with your code.",
                        not_implemented=True,
                    )
                )
            except Exception as err:  # the student's code raised: report it, never crash
                report.results.append(
                    CheckResult(
                        test.name,
                        False,
                        "no error",
                        f"{type(err).__name__}: {err}{_where(err)}",
                        _hint_for(err, signature),
                    )
                )
            else:
                report.results.append(CheckResult(test.name, True))
                continue
            if test.required:
                report.skipped = len(tests) - i - 1
                break


def _not_callable_report(check: str, obj, what: str) -> CheckReport:
    def fail():
        raise _Fail(
            what,
            f"{type(obj).__name__}: {obj!r:.60}",
            "Pass the function or class itself, without calling it (no parentheses).",
        )

    return _run_tests(check, [_Test(f"{what} is callable", fail)], what)


# --------------------------------------------------------------------------- helpers


def _fmt(x) -> str:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=4, suppress_small=True, separator=", ", threshold=12)
    if isinstance(x, float):
        return f"{x:.6g}"
    return f"{x!r:.200}"


def _describe(x) -> str:
    if isinstance(x, torch.Tensor | np.ndarray):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}: {_fmt(x)}"
    return f"{type(x).__name__}: {_fmt(x)}"


def _tensor_out(out, shape: tuple[int, ...], what: str = "the target") -> torch.Tensor:
    if out is None:
        raise _Fail(f"a torch.Tensor of shape {shape}", "None", "Did you forget the `return` statement?")
    if not isinstance(out, torch.Tensor):
        raise _Fail(
            f"a torch.Tensor of shape {shape}",
            _describe(out),
            f"Compute {what} with torch operations on the input tensors so the loss can use it.",
        )
    if tuple(out.shape) != shape:
        hint = "Reduce over the action dimension (dim=1) and return one number per transition."
        if len(out.shape) == 2 and out.shape[0] == shape[0] and out.shape[1] == 1:
            hint = "You kept a dimension of size 1: use .max(dim=1).values or .squeeze(1)."
        raise _Fail(f"a tensor of shape {shape} (one value per transition)", _describe(out), hint)
    return out.detach().float()


def _close(a, b, atol: float = 1e-5) -> bool:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=1e-5))


def _attr(obj, name: str, what: str):
    if isinstance(obj, dict) and name in obj:
        return obj[name]
    if not hasattr(obj, name):
        fields = [a for a in dir(obj) if not a.startswith("_")] if obj is not None else []
        raise _Fail(
            f"{what} with an attribute `{name}`",
            f"{type(obj).__name__} with attributes {fields[:10]}",
            f"Return an object (e.g. a dataclass or namedtuple) with the fields {what} needs.",
        )
    return getattr(obj, name)


def _array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as err:
        raise _Fail(f"`{name}` as an array", f"{type(x).__name__} ({err})") from err


# --------------------------------------------------------------------------- 02: Q-network


def check_q_network(make_fn) -> CheckReport:
    """Check ``make_fn(obs_dim, n_actions) -> torch.nn.Module`` (notebook 02_q_networks).

    Tests: it returns an ``nn.Module``; a batch ``(B, obs_dim)`` gives ``(B, n_actions)``
    for two sizes; a single observation works; it has trainable parameters that all
    receive gradients; it is not a linear map (an activation between the layers); its
    outputs are unbounded Q-values (no softmax/sigmoid); each row depends only on its
    own observation.
    """
    name = "check_q_network"
    signature = "make_fn(obs_dim, n_actions) -> torch.nn.Module"
    if not callable(make_fn):
        return _not_callable_report(name, make_fn, "a function make_fn(obs_dim, n_actions)")

    def build(obs_dim=4, n_actions=2) -> nn.Module:
        net = make_fn(obs_dim, n_actions)
        if not isinstance(net, nn.Module):
            raise _Fail(
                "a torch.nn.Module (e.g. nn.Sequential)",
                _describe(net),
                "Return the network, e.g. `return nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU(), ...)`.",
            )
        return net

    def forward(net, x) -> torch.Tensor:
        out = net(x)
        if not isinstance(out, torch.Tensor):
            raise _Fail("a tensor of Q-values", _describe(out), "forward must return one tensor.")
        return out

    def is_module():
        build()

    def shapes():
        for obs_dim, n_actions in ((4, 2), (6, 3)):
            out = forward(build(obs_dim, n_actions), torch.randn(32, obs_dim))
            if tuple(out.shape) != (32, n_actions):
                raise _Fail(
                    f"output shape (32, {n_actions}) for input (32, {obs_dim}) with obs_dim={obs_dim}, "
                    f"n_actions={n_actions}",
                    f"shape {tuple(out.shape)}",
                    "The first layer takes obs_dim inputs and the last layer gives n_actions outputs "
                    "(one Q-value per action); do not hard-code 4 and 2.",
                )

    def single():
        out = forward(build(), torch.randn(1, 4))
        if tuple(out.shape) != (1, 2):
            raise _Fail("shape (1, 2) for one observation of shape (1, 4)", f"shape {tuple(out.shape)}")

    def trainable():
        params = [p for p in build().parameters() if p.requires_grad]
        if not params:
            raise _Fail(
                "trainable parameters",
                "none",
                "Build the layers with nn.Linear inside the module (nn.Sequential registers them).",
            )

    def gradients():
        net = build()
        forward(net, torch.randn(64, 4) * 2).pow(2).mean().backward()
        missing = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        if missing:
            raise _Fail(
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
            raise _Fail(
                "a nonlinear function of the observation",
                f"an affine map (f((x+y)/2) equals (f(x)+f(y))/2 to within {gap:.1e})",
                "Put an activation such as nn.ReLU() between the Linear layers: stacked Linear layers "
                "collapse into one linear map.",
            )

    def unbounded():
        with torch.no_grad():
            out = forward(build(), torch.randn(64, 4) * 5)
        if bool(torch.allclose(out.sum(dim=1), torch.ones(64), atol=1e-4)):
            raise _Fail(
                "raw Q-values (any real numbers)",
                "rows summing to 1",
                "Remove the softmax at the end: Q-values are expected returns, not probabilities.",
            )
        if bool(((out >= 0) & (out <= 1)).all()) or bool((out >= 0).all()):
            raise _Fail(
                "raw Q-values that can be negative",
                f"only values in [{float(out.min()):.3g}, {float(out.max()):.3g}]",
                "End with a plain nn.Linear layer (no ReLU, sigmoid or softmax after it).",
            )

    def rowwise():
        net = build()
        x = torch.randn(16, 4)
        with torch.no_grad():
            together = forward(net, x)
            alone = torch.cat([forward(net, x[i : i + 1]) for i in range(16)])
        if not torch.allclose(together, alone, atol=1e-5):
            raise _Fail(
                "the Q-values of an observation do not depend on the rest of the batch",
                "different values when the observation is passed alone",
                "Avoid layers that mix rows (BatchNorm, softmax over dim=0).",
            )

    tests = [
        _Test("returns a torch.nn.Module", is_module, required=True),
        _Test("output shape (batch, n_actions)", shapes),
        _Test("works for a single observation of shape (1, obs_dim)", single),
        _Test("has trainable parameters", trainable),
        _Test("gradients reach every parameter", gradients),
        _Test("is nonlinear (activation between the layers)", nonlinear),
        _Test("outputs unbounded Q-values (no softmax or sigmoid at the end)", unbounded),
        _Test("each row depends only on its own observation", rowwise),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 02: TD target

_REWARDS = torch.tensor([1.0, -0.5, 2.0, 0.0, 1.5])
_NEXT_Q = torch.tensor([[0.5, 2.0, -1.0], [3.0, 1.0, 0.0], [-2.0, -1.0, -3.0], [0.0, 0.0, 4.0], [1.0, 1.5, 0.25]])
_TERMINATED = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0])


def check_td_target(fn) -> CheckReport:
    """Check ``fn(rewards, terminated, next_q_values, gamma) -> Tensor (B,)`` (notebook 02_q_networks).

    Tests against :func:`dqn_helpers.td_target`: output shape ``(B,)``; max over
    actions; gamma scaling; terminal masking (no bootstrap where ``terminated == 1``);
    rows with ``terminated == 0`` (time-limit truncations included) still bootstrap;
    random batches; no gradient flows through the target; inputs left unchanged.
    """
    from dqn_helpers.learner import td_target

    name = "check_td_target"
    signature = "fn(rewards (B,), terminated (B,) float 0/1, next_q_values (B, n_actions), gamma) -> Tensor (B,)"
    if not callable(fn):
        return _not_callable_report(name, fn, "a function fn(rewards, terminated, next_q_values, gamma)")

    def call(rewards, terminated, next_q, gamma) -> torch.Tensor:
        out = fn(rewards.clone(), terminated.clone(), next_q.clone(), gamma)
        return _tensor_out(out, tuple(rewards.shape))

    def shape():
        call(_REWARDS, _TERMINATED, _NEXT_Q, 0.9)

    def max_over_actions():
        zeros = torch.zeros(5)
        got = call(zeros, zeros, _NEXT_Q, 1.0)
        expected = td_target(zeros, zeros, _NEXT_Q, 1.0)
        if not _close(got, expected):
            hint = "Take the maximum over actions: next_q_values.max(dim=1).values."
            if _close(got, _NEXT_Q.mean(dim=1)):
                hint = "You averaged over actions; the target uses the best action: .max(dim=1).values."
            elif _close(got, _NEXT_Q.max(dim=0).values[: len(got)]):
                hint = "You took the max over the batch (dim=0); take it over actions (dim=1)."
            elif _close(got, _NEXT_Q[:, 0]):
                hint = "You used the first action's value; take the max over actions (dim=1)."
            raise _Fail(
                f"{_fmt(expected)} (rewards 0, gamma 1, not terminated: the max of each row of {_fmt(_NEXT_Q)})",
                _fmt(got),
                hint,
            )

    def gamma_scaling():
        zeros = torch.zeros(5)
        for gamma in (0.5, 0.0):
            got = call(_REWARDS, zeros, _NEXT_Q, gamma)
            expected = td_target(_REWARDS, zeros, _NEXT_Q, gamma)
            if not _close(got, expected):
                raise _Fail(
                    f"{_fmt(expected)} with gamma={gamma} (r + gamma * max Q(s', a'))",
                    _fmt(got),
                    "Multiply the bootstrapped value (not the reward) by gamma.",
                )

    def terminal_masking():
        got = call(_REWARDS, _TERMINATED, _NEXT_Q, 0.9)
        expected = td_target(_REWARDS, _TERMINATED, _NEXT_Q, 0.9)
        if not _close(got, expected):
            hint = "Where terminated == 1 the target is the reward alone: multiply the bootstrap by (1 - terminated)."
            if _close(got, td_target(_REWARDS, torch.zeros(5), _NEXT_Q, 0.9)):
                hint = (
                    "You bootstrapped from terminal states (terminated = 1 at rows 1 and 3). A terminal "
                    "state has no future: multiply the bootstrap by (1 - terminated)."
                )
            elif _close(got, td_target(_REWARDS, 1.0 - _TERMINATED, _NEXT_Q, 0.9)):
                hint = "Your mask is inverted: keep the bootstrap where terminated == 0, drop it where it is 1."
            raise _Fail(
                f"{_fmt(expected)} for terminated={_fmt(_TERMINATED)}, gamma=0.9 (rows 1 and 3 equal their reward)",
                _fmt(got),
                hint,
            )

    def truncation_bootstraps():
        zeros = torch.zeros(5)
        got = call(_REWARDS, zeros, _NEXT_Q, 0.99)
        expected = td_target(_REWARDS, zeros, _NEXT_Q, 0.99)
        if not _close(got, expected):
            hint = "With terminated == 0 every row bootstraps: r + gamma * max_a' Q(s', a')."
            if _close(got, _REWARDS):
                hint = (
                    "No row bootstrapped although terminated == 0 everywhere. An episode cut by a time limit "
                    "(truncated) still has a future: only `terminated` may switch the bootstrap off."
                )
            raise _Fail(
                f"{_fmt(expected)} (terminated = 0 everywhere, e.g. time-limit truncations, gamma=0.99)",
                _fmt(got),
                hint,
            )

    def random_batches():
        gen = torch.Generator().manual_seed(0)
        for batch, n_actions in ((32, 2), (7, 5)):
            rewards = torch.randn(batch, generator=gen)
            terminated = (torch.rand(batch, generator=gen) < 0.3).float()
            next_q = torch.randn(batch, n_actions, generator=gen) * 3
            got = call(rewards, terminated, next_q, 0.97)
            expected = td_target(rewards, terminated, next_q, 0.97)
            if not _close(got, expected):
                raise _Fail(
                    f"{_fmt(expected)} (batch {batch}, {n_actions} actions, gamma=0.97)",
                    _fmt(got),
                    "Do not hard-code the batch size or the number of actions.",
                )

    def no_gradient():
        next_q = _NEXT_Q.clone().requires_grad_(True)
        out = fn(_REWARDS.clone(), _TERMINATED.clone(), next_q, 0.9)
        _tensor_out(out, (5,))
        if out.requires_grad:
            raise _Fail(
                "a target that does not require grad (a constant for the loss)",
                "a tensor with requires_grad=True",
                "Compute the target under `with torch.no_grad():` or call .detach() on it, so the "
                "update only moves Q(s, a) towards the target and not the target itself.",
            )

    def inputs_unchanged():
        rewards, terminated, next_q = _REWARDS.clone(), _TERMINATED.clone(), _NEXT_Q.clone()
        fn(rewards, terminated, next_q, 0.9)
        for arg, original, label in (
            (rewards, _REWARDS, "rewards"),
            (terminated, _TERMINATED, "terminated"),
            (next_q, _NEXT_Q, "next_q_values"),
        ):
            if not torch.equal(arg, original):
                raise _Fail(
                    f"`{label}` left unchanged",
                    f"modified in place to {_fmt(arg)}",
                    "Avoid in-place operations (such as *=, +=, .mul_()) on the inputs.",
                )

    tests = [
        _Test("returns a tensor of shape (B,)", shape, required=True),
        _Test("takes the max over actions", max_over_actions),
        _Test("scales the bootstrapped value by gamma", gamma_scaling),
        _Test("terminal masking: no bootstrap where terminated = 1", terminal_masking),
        _Test("truncation still bootstraps: rows with terminated = 0 use r + gamma * max Q", truncation_bootstraps),
        _Test("matches dqn_helpers.td_target on random batches", random_batches),
        _Test("no gradient flows through the target", no_gradient),
        _Test("leaves its inputs unchanged", inputs_unchanged),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 08: Double DQN target

_Q_ONLINE = torch.tensor([[1.0, 5.0, 0.0], [2.0, 0.0, 1.0], [0.0, 0.5, 3.0], [4.0, 1.0, 2.0], [0.0, 2.0, 1.0]])
_Q_TARGET = torch.tensor([[10.0, 3.0, 7.0], [1.0, 6.0, -2.0], [8.0, -1.0, 0.5], [0.25, 9.0, 4.0], [5.0, -3.0, 2.0]])


def check_double_dqn_target(fn) -> CheckReport:
    """Check ``fn(rewards, terminated, next_q_online, next_q_target, gamma) -> Tensor (B,)`` (notebook 08).

    Belongs to notebook 08_going_further. Tests against :func:`dqn_helpers.td_target`
    with ``next_actions = next_q_online.argmax(1)``: output shape; the next action is
    the online network's argmax and its value comes from the target network; terminal
    masking; gamma scaling; random batches; no gradient through the target.
    """
    from dqn_helpers.learner import td_target

    name = "check_double_dqn_target"
    signature = "fn(rewards (B,), terminated (B,), next_q_online (B, A), next_q_target (B, A), gamma) -> Tensor (B,)"
    if not callable(fn):
        return _not_callable_report(name, fn, "a function fn(rewards, terminated, next_q_online, next_q_target, gamma)")

    def reference(rewards, terminated, online, target, gamma):
        return td_target(rewards, terminated, target, gamma, next_actions=online.argmax(dim=1))

    def call(rewards, terminated, online, target, gamma):
        out = fn(rewards.clone(), terminated.clone(), online.clone(), target.clone(), gamma)
        return _tensor_out(out, tuple(rewards.shape))

    def shape():
        call(_REWARDS, _TERMINATED, _Q_ONLINE, _Q_TARGET, 0.9)

    def argmax_online_value_target():
        zeros = torch.zeros(5)
        got = call(zeros, zeros, _Q_ONLINE, _Q_TARGET, 1.0)
        expected = reference(zeros, zeros, _Q_ONLINE, _Q_TARGET, 1.0)
        if not _close(got, expected):
            hint = (
                "Pick a' = next_q_online.argmax(dim=1), then read its value from the target network: "
                "next_q_target.gather(1, a'.unsqueeze(1)).squeeze(1)."
            )
            if _close(got, _Q_TARGET.max(dim=1).values):
                hint = "This is the plain DQN target (max of the target network). " + hint
            elif _close(got, _Q_ONLINE.max(dim=1).values):
                hint = "You valued the action with the online network; the value must come from the target. " + hint
            elif _close(got, _Q_ONLINE.gather(1, _Q_TARGET.argmax(dim=1, keepdim=True)).squeeze(1)):
                hint = "The roles are swapped: choose with the online network, evaluate with the target. " + hint
            raise _Fail(
                f"{_fmt(expected)} (rewards 0, gamma 1: next_q_target at the online argmax "
                f"{_fmt(_Q_ONLINE.argmax(1))})",
                _fmt(got),
                hint,
            )

    def masking_and_gamma():
        for gamma in (0.9, 0.5):
            got = call(_REWARDS, _TERMINATED, _Q_ONLINE, _Q_TARGET, gamma)
            expected = reference(_REWARDS, _TERMINATED, _Q_ONLINE, _Q_TARGET, gamma)
            if not _close(got, expected):
                hint = "Use r + gamma * (1 - terminated) * next_q_target[a'] with a' the online argmax."
                if _close(got, reference(_REWARDS, torch.zeros(5), _Q_ONLINE, _Q_TARGET, gamma)):
                    hint = "You bootstrapped from terminal states: multiply the bootstrap by (1 - terminated)."
                raise _Fail(f"{_fmt(expected)} for terminated={_fmt(_TERMINATED)}, gamma={gamma}", _fmt(got), hint)

    def random_batches():
        gen = torch.Generator().manual_seed(1)
        for batch, n_actions in ((32, 2), (6, 4)):
            rewards = torch.randn(batch, generator=gen)
            terminated = (torch.rand(batch, generator=gen) < 0.3).float()
            online = torch.randn(batch, n_actions, generator=gen)
            target = torch.randn(batch, n_actions, generator=gen)
            got = call(rewards, terminated, online, target, 0.97)
            expected = reference(rewards, terminated, online, target, 0.97)
            if not _close(got, expected):
                raise _Fail(f"{_fmt(expected)} (batch {batch}, {n_actions} actions)", _fmt(got))

    def no_gradient():
        online = _Q_ONLINE.clone().requires_grad_(True)
        target = _Q_TARGET.clone().requires_grad_(True)
        out = fn(_REWARDS.clone(), _TERMINATED.clone(), online, target, 0.9)
        _tensor_out(out, (5,))
        if out.requires_grad:
            raise _Fail(
                "a target that does not require grad",
                "a tensor with requires_grad=True",
                "Compute the target under `with torch.no_grad():` or .detach() it.",
            )

    tests = [
        _Test("returns a tensor of shape (B,)", shape, required=True),
        _Test("argmax from the online network, value from the target network", argmax_online_value_target),
        _Test("terminal masking and gamma scaling", masking_and_gamma),
        _Test("matches the reference on random batches", random_batches),
        _Test("no gradient flows through the target", no_gradient),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 03: replay buffer


def _rows(start: int, n: int) -> dict[str, np.ndarray]:
    """``n`` distinctive transitions numbered ``start .. start+n-1``."""
    k = np.arange(start, start + n)
    obs = (1000.0 + k[:, None] + np.array([0.0, 0.125, 0.25, 0.375])).astype(np.float32)
    return dict(
        obs=obs,
        actions=(k % 3).astype(np.int64),
        rewards=(10.0 + k).astype(np.float32),
        next_obs=(obs + 1000.0).astype(np.float32),
        terminated=(k % 2).astype(np.float32),
    )


def check_replay_buffer(cls) -> CheckReport:
    """Check a replay buffer class ``cls(capacity, obs_shape, seed=None)`` (notebook 03_replay_buffers).

    Expected interface: ``.remember(obs, actions, rewards, next_obs, terminated)``
    stores ``n`` rows at once, ``.sample(batch_size)`` returns an object with
    ``.obs .actions .rewards .next_obs .terminated``, ``len()`` counts what is stored.
    Tests: interface; ``len`` after remember; a batch of ``n`` rows in one call;
    sampling only written slots; fields of a transition stay together; shapes and
    dtypes; wrap-around overwrites the oldest first; fixed memory; sampling more
    than stored raises an error.
    """
    name = "check_replay_buffer"
    signature = (
        "cls(capacity, obs_shape, seed=None) with .remember(obs, actions, rewards, next_obs, terminated), "
        ".sample(batch_size) and len()"
    )
    if not callable(cls):
        return _not_callable_report(name, cls, "a class cls(capacity, obs_shape, seed=None)")

    def make(capacity: int):
        return cls(capacity, (4,), seed=0)

    def remember(buf, start: int, n: int) -> None:
        r = _rows(start, n)
        buf.remember(r["obs"], r["actions"], r["rewards"], r["next_obs"], r["terminated"])

    def length(buf) -> int:
        return int(len(buf))

    def sample_ids(buf, batch_size: int, repeats: int) -> np.ndarray:
        ids = []
        for _ in range(repeats):
            batch = buf.sample(batch_size)
            obs = _array(_attr(batch, "obs", "the sampled batch"), "obs").reshape(-1, 4)
            ids.append(np.rint(obs[:, 0] - 1000.0).astype(np.int64))
        return np.concatenate(ids)

    def interface():
        missing = [m for m in ("remember", "sample", "__len__") if not callable(getattr(cls, m, None))]
        if missing:
            raise _Fail(
                "a class with the methods remember, sample and __len__",
                f"missing {missing}",
                f"Define every method of the interface: {signature}.",
            )
        buf = make(100)
        if length(buf) != 0:
            raise _Fail("len 0 for a new buffer", f"len {length(buf)}", "Count stored transitions, not capacity.")

    def len_after_remember():
        buf = make(100)
        remember(buf, 0, 3)
        first = length(buf)
        remember(buf, 3, 5)
        second = length(buf)
        if (first, second) != (3, 8):
            raise _Fail(
                "len 3 after storing 3 rows, then 8 after 5 more",
                f"len {first}, then {second}",
                "len() should return how many transitions are stored (at most the capacity).",
            )

    def batch_of_rows():
        buf = make(100)
        remember(buf, 0, 4)
        seen = set(sample_ids(buf, 4, 50).tolist())
        if seen != {0, 1, 2, 3}:
            raise _Fail(
                "the 4 rows of one remember() call stored as 4 transitions (ids {0, 1, 2, 3} when sampling)",
                f"sampled ids {sorted(seen)[:10]}",
                "remember() receives n rows at once (one per env): store each row in its own slot.",
            )

    def only_written():
        buf = make(100)
        remember(buf, 0, 3)
        ids = sample_ids(buf, 3, 40)
        bad = sorted(set(ids.tolist()) - {0, 1, 2})
        if bad:
            raise _Fail(
                "only the 3 stored transitions (obs[:, 0] in {1000, 1001, 1002}) in samples from a buffer of "
                "capacity 100",
                f"also obs[:, 0] = {sorted({float(b) + 1000 for b in bad})[:5]} (never stored)",
                "Draw indices from range(len(self)), not range(capacity): the other slots are still empty.",
            )

    def together():
        buf = make(100)
        remember(buf, 0, 10)
        batch = buf.sample(10)
        ids = np.rint(_array(_attr(batch, "obs", "the batch"), "obs").reshape(-1, 4)[:, 0] - 1000).astype(int)
        expected = _rows(0, 10)
        for field_name in ("actions", "rewards", "next_obs", "terminated"):
            got = _array(_attr(batch, field_name, "the batch"), field_name)
            want = expected[field_name][np.clip(ids, 0, 9)]
            if got.shape != want.shape or not np.allclose(got.astype(np.float64), want):
                raise _Fail(
                    f"`{field_name}` of the same transitions as `obs` ({_fmt(want)})",
                    _fmt(got),
                    "Use the same indices for every field when sampling.",
                )

    def shapes_dtypes():
        buf = make(100)
        remember(buf, 0, 12)
        batch = buf.sample(8)
        wanted = dict(obs=(8, 4), next_obs=(8, 4), actions=(8,), rewards=(8,), terminated=(8,))
        for field_name, shape in wanted.items():
            got = _array(_attr(batch, field_name, "the batch"), field_name)
            if got.shape != shape:
                raise _Fail(f"`{field_name}` of shape {shape} for sample(8)", f"shape {got.shape}")
        for field_name in ("obs", "next_obs"):
            got = _array(_attr(batch, field_name, "the batch"), field_name)
            if got.dtype != np.float32:
                raise _Fail(
                    f"`{field_name}` as float32 (what the network expects)",
                    f"dtype {got.dtype}",
                    "Allocate the arrays with dtype=np.float32.",
                )
        actions = _array(_attr(batch, "actions", "the batch"), "actions")
        if not np.issubdtype(actions.dtype, np.integer):
            raise _Fail("integer `actions` (they index the Q-values)", f"dtype {actions.dtype}", "Use dtype=np.int64.")

    def wrap_around():
        for plan in ((1,) * 7, (3, 4)):
            buf = make(5)
            start = 0
            for n in plan:
                remember(buf, start, n)
                start += n
            seen = set(sample_ids(buf, 5, 60).tolist())
            if length(buf) != 5 or seen != {2, 3, 4, 5, 6}:
                how = "one at a time" if len(plan) == 7 else "as 3 then 4 rows"
                raise _Fail(
                    f"after storing transitions 0..6 {how} in a buffer of capacity 5: len 5 and samples from "
                    "{2, 3, 4, 5, 6} (the oldest, 0 and 1, overwritten)",
                    f"len {length(buf)}, sampled ids {sorted(seen)}",
                    "Write at position % capacity and advance the position by the number of rows, wrapping "
                    "around within a batch too.",
                )

    def fixed_memory():
        buf = make(10)
        for start in range(0, 35, 5):
            remember(buf, start, 5)
        too_big = {}
        for attr, value in vars(buf).items():
            if isinstance(value, np.ndarray | torch.Tensor) and value.ndim >= 1 and value.shape[0] > 10:
                too_big[attr] = tuple(value.shape)
            elif isinstance(value, list | tuple) or type(value).__name__ == "deque":
                if len(value) > 10:
                    too_big[attr] = len(value)
        if length(buf) != 10 or too_big:
            raise _Fail(
                "len 10 and no stored array longer than the capacity (10) after 35 transitions",
                f"len {length(buf)}; too long: {too_big or 'none'}",
                "Allocate the arrays once with `capacity` rows and overwrite old slots.",
            )

    def oversample():
        buf = make(100)
        remember(buf, 0, 3)
        try:
            batch = buf.sample(10)
        except Exception as err:
            if not str(err).strip():
                raise _Fail(
                    "an error with a message", f"{type(err).__name__} without a message", "Say what went wrong."
                ) from err
            return
        obs = _attr(batch, "obs", "the batch")
        raise _Fail(
            "an error when asking for 10 transitions from a buffer holding 3",
            f"a batch with obs of shape {tuple(_array(obs, 'obs').shape)}",
            "Raise a ValueError that says how many transitions are stored, e.g. `raise ValueError(f'...')`.",
        )

    tests = [
        _Test("has remember, sample and len; a new buffer is empty", interface, required=True),
        _Test("len counts the stored transitions", len_after_remember),
        _Test("stores a batch of n rows in one remember() call", batch_of_rows),
        _Test("samples only written slots", only_written),
        _Test("the fields of a sampled transition belong together", together),
        _Test("sample shapes (batch, obs_dim) and dtypes (float32 obs, integer actions)", shapes_dtypes),
        _Test("when full, overwrites the oldest transitions first (wrap-around)", wrap_around),
        _Test("memory stays fixed at the capacity", fixed_memory),
        _Test("sampling more than is stored raises an error", oversample),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 04: synchronize


def _net(seed: int) -> nn.Module:
    from dqn_helpers.q_network import make_q_network

    torch.manual_seed(seed)
    return make_q_network(4, 2, (8,))


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def check_synchronize(fn) -> CheckReport:
    """Check ``fn(q_network, target_network, n_updates, sync_every) -> None`` (notebook 04_target_networks).

    The function copies the online weights into the target network iff
    ``n_updates % sync_every == 0``. Tests: it copies on those updates (catches never
    syncing); it leaves the target alone on the others (catches syncing every step);
    the copy is independent of later online changes (catches aliasing such as
    ``target.weight.data = online.weight.data``); the online network is untouched; no
    gradient reaches the online network through the target; a frozen target stays frozen.
    """
    name = "check_synchronize"
    signature = "fn(q_network, target_network, n_updates, sync_every) -> None"
    if not callable(fn):
        return _not_callable_report(name, fn, "a function fn(q_network, target_network, n_updates, sync_every)")

    def pair():
        online, target = _net(0), _net(1)
        assert not _same_weights(online, target)
        return online, target

    def copies():
        for n_updates, sync_every in ((10, 5), (5, 5), (3, 1), (200, 100)):
            online, target = pair()
            fn(online, target, n_updates, sync_every)
            if not _same_weights(online, target):
                raise _Fail(
                    f"target weights equal to the online weights after fn(..., n_updates={n_updates}, "
                    f"sync_every={sync_every})",
                    "the target still has different weights",
                    "Copy when n_updates % sync_every == 0, e.g. "
                    "target_network.load_state_dict(q_network.state_dict()). Rebinding the argument "
                    "(`target_network = q_network`) changes nothing outside the function.",
                )

    def waits():
        for n_updates, sync_every in ((7, 5), (1, 5), (101, 100)):
            online, target = pair()
            before = copy.deepcopy(target.state_dict())
            fn(online, target, n_updates, sync_every)
            if not all(torch.equal(before[k], v) for k, v in target.state_dict().items()):
                raise _Fail(
                    f"the target unchanged after fn(..., n_updates={n_updates}, sync_every={sync_every})",
                    "the target was changed",
                    "Copy only when n_updates % sync_every == 0. Syncing at every update makes the target "
                    "chase the online network, which is what the target network is meant to prevent.",
                )

    def independent():
        online, target = pair()
        fn(online, target, 10, 5)
        snapshot = copy.deepcopy(online.state_dict())
        with torch.no_grad():
            for p in online.parameters():
                p.add_(1.0)
        leaked = not all(torch.equal(snapshot[k], v) for k, v in target.state_dict().items())
        shared = {p.data_ptr() for p in online.parameters()} & {p.data_ptr() for p in target.parameters()}
        if leaked or shared:
            raise _Fail(
                "a target that keeps the copied weights when the online network changes later",
                "the target changed with the online network (they share memory)",
                "`target = online` or `t.data = o.data` makes both names point to the same tensors. Copy the "
                "values: target_network.load_state_dict(q_network.state_dict()) or t.copy_(o) under no_grad.",
            )

    def online_untouched():
        online, target = pair()
        before = copy.deepcopy(online.state_dict())
        fn(online, target, 10, 5)
        changed = [k for k, v in online.state_dict().items() if not torch.equal(before[k], v)]
        frozen = [n for n, p in online.named_parameters() if not p.requires_grad]
        if changed or frozen:
            raise _Fail(
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
            raise _Fail(
                "no gradient in the online network from a loss on the target's output",
                f"gradients in {got}",
                "The target must be a separate copy, not the online parameters themselves "
                "(e.g. `target.weight = online.weight`). Use load_state_dict.",
            )

    def stays_frozen():
        online, target = pair()
        target.requires_grad_(False)
        fn(online, target, 10, 5)
        trainable = [n for n, p in target.named_parameters() if p.requires_grad]
        if trainable or not _same_weights(online, target):
            raise _Fail(
                "a frozen target (requires_grad=False) that is synchronized and stays frozen",
                f"parameters requiring grad: {trainable or 'none'}; weights copied: {_same_weights(online, target)}",
                "Copy values into the existing parameters (load_state_dict) instead of replacing them.",
            )

    tests = [
        _Test("copies the online weights when n_updates % sync_every == 0", copies),
        _Test("leaves the target alone on the other updates", waits),
        _Test("the copy is a copy: later online changes do not leak into the target", independent),
        _Test("the online network is untouched", online_untouched),
        _Test("no gradient reaches the online network through the target", no_gradient_link),
        _Test("a frozen target stays frozen", stays_frozen),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 06: epsilon schedule


def check_epsilon_schedule(fn) -> CheckReport:
    """Check ``fn(progress, start, end, fraction) -> float`` (notebook 06_epsilon_decay).

    Compares with :func:`dqn_helpers.linear_epsilon`: endpoints, midpoint, monotone
    decay, staying at ``end`` after ``fraction`` of training (catches decaying past
    the end and never decaying), ``fraction = 0`` and ``fraction = 1``.
    """
    from dqn_helpers.schedules import linear_epsilon

    name = "check_epsilon_schedule"
    signature = "fn(progress, start, end, fraction) -> float"
    if not callable(fn):
        return _not_callable_report(name, fn, "a function fn(progress, start, end, fraction)")

    settings = ((1.0, 0.05, 0.1), (0.8, 0.1, 0.5), (0.5, 0.01, 0.25))

    def value(progress, start, end, fraction) -> float:
        out = fn(progress, start, end, fraction)
        if isinstance(out, torch.Tensor | np.ndarray) and np.size(out) == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, int | float | np.floating | np.integer):
            raise _Fail("a float", _describe(out), "Return one number (a Python float).")
        out = float(out)
        if not math.isfinite(out):
            raise _Fail("a finite number", repr(out), "Guard the division by fraction.")
        return out

    def compare(progress, start, end, fraction, hint):
        got = value(progress, start, end, fraction)
        expected = linear_epsilon(progress, start, end, fraction)
        if abs(got - expected) > 1e-6:
            raise _Fail(
                f"{expected:.6g} for progress={progress}, start={start}, end={end}, fraction={fraction}",
                f"{got:.6g}",
                hint,
            )

    def returns_float():
        value(0.0, 1.0, 0.05, 0.1)

    def start_point():
        for start, end, fraction in settings:
            compare(0.0, start, end, fraction, "At progress 0 epsilon equals start.")

    def end_point():
        for start, end, fraction in settings:
            compare(
                fraction,
                start,
                end,
                fraction,
                "At progress == fraction epsilon has reached end. If it is still at start, it never decays.",
            )

    def midpoint():
        for start, end, fraction in settings:
            compare(fraction / 2, start, end, fraction, "Halfway through the decay epsilon is (start + end) / 2.")

    def monotone():
        for start, end, fraction in settings:
            values = [value(p, start, end, fraction) for p in np.linspace(0.0, 1.0, 41)]
            if any(b > a + 1e-9 for a, b in zip(values[:-1], values[1:], strict=True)):
                raise _Fail(
                    "epsilon that never increases as progress goes from 0 to 1",
                    _fmt(np.round(values, 3)),
                    "Epsilon falls from start to end, then stays there.",
                )

    def stays_at_end():
        for start, end, fraction in settings:
            for progress in (min(1.0, fraction * 1.5), min(1.0, fraction * 3), 1.0):
                got = value(progress, start, end, fraction)
                if abs(got - end) > 1e-6:
                    hint = "After the decay, clip at end: max(end, ...)."
                    if got < end:
                        hint = "Epsilon decayed past end: clip it with max(end, ...) once progress > fraction."
                    elif abs(got - start) < 1e-9:
                        hint = "Epsilon never decayed: it should fall linearly from start to end."
                    raise _Fail(
                        f"{end} (= end) for progress={progress} > fraction={fraction}",
                        f"{got:.6g}",
                        hint,
                    )

    def zero_fraction():
        for progress in (0.0, 0.5, 1.0):
            compare(
                progress,
                1.0,
                0.05,
                0.0,
                "fraction=0 means no decay phase: return end straight away (and avoid dividing by zero).",
            )

    def whole_training():
        for progress in (0.25, 0.75, 1.0):
            compare(progress, 1.0, 0.0, 1.0, "With fraction=1 the decay lasts the whole training.")

    tests = [
        _Test("returns a number", returns_float, required=True),
        _Test("starts at `start` (progress 0)", start_point),
        _Test("reaches `end` at progress == fraction", end_point),
        _Test("midpoint of the decay is (start + end) / 2", midpoint),
        _Test("decays monotonically", monotone),
        _Test("stays at `end` after the decay phase", stays_at_end),
        _Test("fraction = 0 edge case gives `end`", zero_fraction),
        _Test("fraction = 1 decays over the whole training", whole_training),
    ]
    return _run_tests(name, tests, signature)


# --------------------------------------------------------------------------- 05: vectorized env


def check_vectorized_env(cls) -> CheckReport:
    """Check ``cls(env: gym.Env, num_envs)`` (notebook 05_vectorized_envs).

    Expected interface: ``.reset(seed) -> (num_envs, obs_dim)`` array and
    ``.step(actions)`` returning an object with ``next_obs``, ``final_obs``,
    ``rewards``, ``terminated``, ``truncated`` (like :class:`dqn_helpers.VectorizedEnvWrapper`).
    Uses CartPole-v1 and keeps pushing right so episodes end within ~10 steps.
    Every transition is replayed on a reference CartPole started from the same
    observation with the same action, so any seeding convention is accepted.
    Tests: reset shapes; different copies get different seeds; the same seed
    reproduces the same start; step output shapes; ``final_obs`` is the true last
    observation; auto-reset after an episode ends; ``terminated`` flags CartPole
    failures; time-limit truncations (``max_episode_steps=5``) are ``truncated``, not
    ``terminated``.
    """
    import gymnasium as gym

    name = "check_vectorized_env"
    signature = "cls(env, num_envs) with .reset(seed) -> (num_envs, obs_dim) and .step(actions) -> VectorStep"
    if not callable(cls):
        return _not_callable_report(name, cls, "a class cls(env, num_envs)")

    n_envs = 3
    reference = gym.make("CartPole-v1").unwrapped

    def true_step(obs, action):
        reference.state = np.asarray(obs, dtype=np.float64).copy()
        reference.steps_beyond_terminated = None
        next_obs, reward, terminated, _, _ = reference.step(int(action))
        return np.asarray(next_obs, dtype=np.float32), float(reward), bool(terminated)

    def make(num_envs=n_envs, **kwargs):
        return cls(gym.make("CartPole-v1", **kwargs), num_envs)

    def reset(env, seed, num_envs=n_envs) -> np.ndarray:
        out = env.reset(seed=seed)
        if isinstance(out, tuple):
            raise _Fail(
                f"an array of shape ({num_envs}, 4)",
                "a tuple",
                "Return only the observations (drop the info dicts gymnasium's reset gives you).",
            )
        obs = _array(out, "reset(seed)")
        if obs.shape != (num_envs, 4):
            raise _Fail(f"reset(seed) -> array of shape ({num_envs}, 4)", f"shape {obs.shape}")
        return obs

    def step(env, actions, num_envs=n_envs) -> dict[str, np.ndarray]:
        out = env.step(np.asarray(actions, dtype=np.int64))
        fields = {}
        for field_name in ("next_obs", "final_obs", "rewards", "terminated", "truncated"):
            fields[field_name] = _array(_attr(out, field_name, "step()'s result"), field_name)
            shape = (num_envs, 4) if field_name.endswith("obs") else (num_envs,)
            if fields[field_name].shape != shape:
                raise _Fail(f"`{field_name}` of shape {shape}", f"shape {fields[field_name].shape}")
        for flag in ("terminated", "truncated"):
            fields[flag] = fields[flag].astype(bool)
        return fields

    run: dict[str, list] = {}

    def rollout():
        """Push right for 40 steps; record (prev_obs, step fields) once, share between tests."""
        if "steps" not in run:
            env = make()
            prev = reset(env, 0)
            steps = []
            for _ in range(40):
                fields = step(env, np.ones(n_envs, dtype=np.int64))
                steps.append((prev, fields))
                prev = fields["next_obs"]
            run["steps"] = steps
        return run["steps"]

    def reset_shape():
        reset(make(), 0)

    def different_seeds():
        obs = reset(make(), 0)
        same = [(i, j) for i in range(n_envs) for j in range(i + 1, n_envs) if np.allclose(obs[i], obs[j])]
        if same:
            raise _Fail(
                "a different start for every copy after reset(seed=0)",
                f"copies {same} start identically: {_fmt(obs)}",
                "Give copy i its own seed, e.g. env.reset(seed=seed + i), and make real copies "
                "(copy.deepcopy(env)) rather than the same env object several times.",
            )

    def reproducible():
        a, b = reset(make(), 7), reset(make(), 7)
        env = make()
        reset(env, 3)
        c = reset(env, 7)
        if not (np.allclose(a, b) and np.allclose(a, c)):
            raise _Fail(
                "the same observations whenever reset(seed=7) is called",
                f"{_fmt(a)} vs {_fmt(b)} vs {_fmt(c)}",
                "Pass the seed on to every copy's reset.",
            )

    def step_shapes():
        env = make()
        reset(env, 0)
        step(env, np.zeros(n_envs, dtype=np.int64))

    def final_obs_true():
        for t, (prev, fields) in enumerate(rollout()):
            for i in range(n_envs):
                want, _, _ = true_step(prev[i], 1)
                if not np.allclose(fields["final_obs"][i], want, atol=1e-4):
                    done = bool(fields["terminated"][i] or fields["truncated"][i])
                    hint = (
                        "final_obs is the observation env.step() returned, before any reset. Each copy must be "
                        "its own env (copy.deepcopy(env)), not the same object used several times."
                    )
                    if done and np.allclose(fields["final_obs"][i], fields["next_obs"][i]):
                        hint = (
                            "At the end of an episode you stored the reset observation as final_obs. Keep the "
                            "observation returned by env.step() as final_obs, then reset for next_obs."
                        )
                    raise _Fail(
                        f"final_obs[{i}] = {_fmt(want)} at step {t} (CartPole stepped from the previous "
                        "observation with the same action)",
                        _fmt(fields["final_obs"][i]),
                        hint,
                    )

    def auto_reset():
        episodes = 0
        for t, (_, fields) in enumerate(rollout()):
            for i in np.flatnonzero(fields["terminated"] | fields["truncated"]):
                episodes += 1
                nxt, fin = fields["next_obs"][i], fields["final_obs"][i]
                if np.allclose(nxt, fin) or np.abs(nxt).max() > 0.05:
                    raise _Fail(
                        f"next_obs[{i}] at step {t}, where an episode ended, to be the first observation of a "
                        "new episode (CartPole starts within ±0.05)",
                        f"{_fmt(nxt)} (final_obs {_fmt(fin)})",
                        "When a copy's episode ends, reset that copy and return its new observation as next_obs.",
                    )
            for i in np.flatnonzero(~(fields["terminated"] | fields["truncated"])):
                if not np.allclose(fields["next_obs"][i], fields["final_obs"][i]):
                    raise _Fail(
                        f"next_obs[{i}] == final_obs[{i}] at step {t} (episode still running)",
                        f"{_fmt(fields['next_obs'][i])} vs {_fmt(fields['final_obs'][i])}",
                        "Only a copy whose episode ended is reset.",
                    )
        if episodes < n_envs:
            raise _Fail(
                f"at least {n_envs} episodes ending in 40 steps of always pushing right",
                f"{episodes}",
                "Report the terminated flag returned by each copy's env.step().",
            )

    def terminated_flags():
        for t, (prev, fields) in enumerate(rollout()):
            for i in range(n_envs):
                _, reward, terminated = true_step(prev[i], 1)
                if bool(fields["terminated"][i]) != terminated or bool(fields["truncated"][i]):
                    raise _Fail(
                        f"terminated={terminated}, truncated=False for copy {i} at step {t} "
                        "(the pole fell or not; no time limit reached)",
                        f"terminated={bool(fields['terminated'][i])}, truncated={bool(fields['truncated'][i])}",
                        "Pass on each copy's own terminated and truncated flags from env.step().",
                    )
                if abs(float(fields["rewards"][i]) - reward) > 1e-6:
                    raise _Fail(f"reward {reward} for copy {i} at step {t}", _fmt(fields["rewards"][i]))

    def truncation_apart():
        env = make(2, max_episode_steps=5)
        reset(env, 0, 2)
        for t in range(5):
            fields = step(env, np.full(2, t % 2), 2)
        term, trunc = fields["terminated"], fields["truncated"]
        if term.any() or not trunc.all():
            hint = "Keep the two flags apart: return terminated and truncated as env.step() gave them."
            if term.all() and trunc.all():
                hint = (
                    "terminated was set for a time-limit truncation (terminated = terminated or truncated?). "
                    "A truncated episode did not really end: the learner must still bootstrap from it. " + hint
                )
            raise _Fail(
                "terminated=[False, False], truncated=[True, True] at step 5 with max_episode_steps=5 "
                "(the pole is still up)",
                f"terminated={term.tolist()}, truncated={trunc.tolist()}",
                hint,
            )

    tests = [
        _Test("reset(seed) returns an array (num_envs, obs_dim)", reset_shape, required=True),
        _Test("different copies get different seeds", different_seeds),
        _Test("reset with the same seed gives the same start", reproducible),
        _Test(
            "step returns next_obs, final_obs, rewards, terminated, truncated with one row per copy",
            step_shapes,
            required=True,
        ),
        _Test("final_obs is the true last observation of each transition", final_obs_true),
        _Test("auto-reset after an episode ends (next_obs starts the new episode)", auto_reset),
        _Test("terminated and rewards match each copy's env.step()", terminated_flags),
        _Test("terminated vs truncated kept apart (time limit gives truncated)", truncation_apart),
    ]
    try:
        return _run_tests(name, tests, signature)
    finally:
        reference.close()


# --------------------------------------------------------------------------- 07: evaluate


def _constant_policy(obs):
    obs = np.asarray(obs)
    return 1 if obs.ndim == 1 else np.ones(len(obs), dtype=np.int64)


def _angle_policy(obs):
    """Push towards the side the pole leans to: episodes of 30-60 steps that differ by seed."""
    obs = np.asarray(obs, dtype=np.float32)
    return int(obs[2] > 0) if obs.ndim == 1 else (obs[:, 2] > 0).astype(np.int64)


def check_evaluate(fn) -> CheckReport:
    """Check ``fn(policy, env_id, n_episodes, seed) -> np.ndarray`` (notebook 07_all_together).

    ``policy`` maps observations ``(N, obs_dim)`` to actions ``(N,)`` (the test
    policies also accept a single observation). Compared with
    :func:`dqn_helpers.evaluate` on CartPole-v1 with deterministic policies, using
    either seeding convention of dqn_helpers (``make_vector_env(..., backend="copies")``,
    episode ``i`` seeded with ``seed + i``, or the default gymnasium backend).
    Tests: one return per episode; the requested count; only the first episode of
    each env counted; reproducible with a seed; the seed matters; matches the reference.
    """
    from dqn_helpers.evaluation import evaluate
    from dqn_helpers.vector_env import make_vector_env

    name = "check_evaluate"
    signature = "fn(policy, env_id, n_episodes, seed) -> np.ndarray of n_episodes returns"
    if not callable(fn):
        return _not_callable_report(name, fn, "a function fn(policy, env_id, n_episodes, seed)")
    env_id = "CartPole-v1"

    def references(policy, n, seed) -> list[np.ndarray]:
        return [
            evaluate(policy, make_vector_env(env_id, n, backend="copies"), n, seed),
            evaluate(policy, env_id, n, seed),
        ]

    def call(policy, n, seed) -> np.ndarray:
        out = fn(policy, env_id, n, seed)
        if out is None:
            raise _Fail(f"an array of {n} returns", "None", "Did you forget the `return` statement?")
        returns = _array(out, "the returns")
        if returns.shape != (n,):
            raise _Fail(
                f"an array of shape ({n},): one return per episode",
                _describe(out),
                "Collect one undiscounted return per episode and return np.array(returns).",
            )
        if not np.issubdtype(returns.dtype, np.number):
            raise _Fail("numbers", _describe(out))
        return returns.astype(np.float64)

    def matches_any(got, refs) -> bool:
        return any(np.allclose(got, ref) for ref in refs)

    def one_per_episode():
        call(_constant_policy, 4, 0)

    def count():
        for n in (1, 7):
            call(_constant_policy, n, 0)

    def first_episode_only():
        got = call(_angle_policy, 6, 0)
        refs = references(_angle_policy, 6, 0)
        if matches_any(got, refs):
            return
        longest = max(float(ref.max()) for ref in refs)
        all_equal = np.ptp(got) == 0 and all(np.ptp(ref) > 0 for ref in refs)
        if got.max() > 500 or all_equal or got.max() > 1.5 * longest:
            raise _Fail(
                f"one episode's return per env, e.g. {_fmt(refs[0])}",
                _fmt(got),
                "Rewards after an env's first episode ended were counted (a vector env resets that copy "
                "and plays on). Stop adding rewards for an env once it is done.",
            )

    def reproducible():
        a, b = call(_angle_policy, 5, 3), call(_angle_policy, 5, 3)
        if not np.allclose(a, b):
            raise _Fail(
                "the same returns for two calls with seed=3",
                f"{_fmt(a)} then {_fmt(b)}",
                "Reset the env(s) with the seed: env.reset(seed=seed + i) for episode i.",
            )

    def seed_matters():
        a, b = call(_angle_policy, 6, 0), call(_angle_policy, 6, 500)
        if np.allclose(a, b):
            raise _Fail(
                "different episodes for seed=0 and seed=500",
                f"{_fmt(a)} for both",
                "Use the seed argument when resetting the env(s).",
            )

    def matches_reference():
        for policy, n, seed in ((_angle_policy, 6, 3), (_constant_policy, 5, 10)):
            got = call(policy, n, seed)
            refs = references(policy, n, seed)
            if not matches_any(got, refs):
                raise _Fail(
                    f"{_fmt(refs[0])} from dqn_helpers.evaluate (n_episodes={n}, seed={seed})",
                    _fmt(got),
                    "Play episode i from env.reset(seed=seed + i), act with policy(obs) only (greedy, no "
                    "exploration) and sum the undiscounted rewards until terminated or truncated.",
                )

    tests = [
        _Test("returns one return per episode (an array of shape (n_episodes,))", one_per_episode, required=True),
        _Test("plays the requested number of episodes", count),
        _Test("counts only the first episode of each env", first_episode_only),
        _Test("reproducible with a seed", reproducible),
        _Test("the seed changes the episodes", seed_matters),
        _Test("matches dqn_helpers.evaluate with the same policy and seeds", matches_reference),
    ]
    return _run_tests(name, tests, signature)
