"""The rules every hyperparameter must follow, written once.

:class:`~dqn_helpers.config.DQNConfig`, :class:`~dqn_helpers.learner.DeepQLearner`
and :class:`~dqn_helpers.replay_buffer.ReplayBuffer` all check their arguments
with the rules below, so a value is accepted or refused (with the same words)
whichever door it comes through. Each rule takes a name and a value and returns
the value in a plain Python type (``np.float64(0.99)`` becomes ``0.99``, an
integral ``1e5`` becomes ``100000``) or raises :class:`InvalidSetting`.
:func:`check_all` runs many rules and reports every problem in one message,
naming the field and the fix, before any environment or network is built.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch


class InvalidSetting(ValueError):
    """One value that breaks its rule; the message names the field and the fix."""


def _describe(value) -> str:
    """``'0.99' (a str)``: a string or a boolean looks like a number once printed."""
    return f"{value!r} (a {type(value).__name__})" if isinstance(value, (str, bool, np.bool_)) else repr(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plain_number(name: str, value, example) -> float | int:
    """Reject what is not a real number: strings, booleans, None, complex numbers, arrays."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        hint = f"; write {value} without quotes" if isinstance(value, str) and _looks_numeric(value) else ""
        raise InvalidSetting(f"{name} must be a number such as {example}, got {_describe(value)}{hint}")
    if not math.isfinite(value):
        raise InvalidSetting(f"{name} must be a finite number such as {example}, got {value}")
    return value


def count(name: str, value, example=None, *, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (an integral float such as ``1e5`` is accepted)."""
    example = example if example is not None else max(minimum, 1)
    value = _plain_number(name, value, example)
    if not float(value).is_integer():
        raise InvalidSetting(f"{name} counts something and must be a whole number such as {example}, got {value}")
    if value < minimum:
        kind = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise InvalidSetting(f"{name} must be {kind}, got {int(value)} (e.g. {example})")
    return int(value)


def real(name: str, value, example=None, *, low: float, high: float, open_low: bool = False) -> float:
    """A finite number in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    value = float(_plain_number(name, value, example))
    if (open_low and value <= low) or value < low or value > high:
        bracket = "(" if open_low else "["
        raise InvalidSetting(f"{name} must lie in {bracket}{low:g}, {high:g}], got {value:g} (e.g. {example})")
    return value


def positive(name: str, value, example=None) -> float:
    """A finite number > 0."""
    value = float(_plain_number(name, value, example))
    if value <= 0:
        raise InvalidSetting(f"{name} must be positive, got {value:g} (try {example})")
    return value


def boolean(name: str, value, example=None) -> bool:
    """``True`` or ``False`` (NumPy booleans too); never a string, whose truth would be its length."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = f"; write {value.capitalize()} without quotes" if isinstance(value, str) and \
        value.lower() in ("true", "false") else ""
    raise InvalidSetting(f"{name} must be True or False, got {_describe(value)}{hint}")


def choice(name: str, value, example=None, *, options: tuple[str, ...]) -> str:
    """One of a few strings."""
    if value not in options:
        raise InvalidSetting(f"{name} must be one of {', '.join(map(repr, options))}, got {_describe(value)}")
    return value


def text(name: str, value, example=None) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise InvalidSetting(f"{name} must be a non-empty string such as {example!r}, got {_describe(value)}")
    return value


def sizes(name: str, value, example=None) -> tuple[int, ...]:
    """A tuple of whole numbers >= 1, e.g. layer widths ``(256, 256)`` or a shape ``(4,)``."""
    example = (256, 256) if example is None else tuple(example)
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray, torch.Size)):
        one = f"; for a single one write ({value},)" if isinstance(value, numbers.Integral) else ""
        raise InvalidSetting(f"{name} must be a tuple of whole numbers such as {tuple(example)}, got "
                      f"{_describe(value)}{one}")
    return tuple(count(f"{name}[{i}]", v, example[0] if example else 1) for i, v in enumerate(value))


def seed(name: str, value, example=0) -> int | None:
    """``None`` (fresh randomness) or a whole number >= 0."""
    return None if value is None else count(name, value, 0 if example is None else example, minimum=0)


def device(name: str, value, example="cpu") -> str:
    """A torch device this machine has: ``"cpu"``, or ``"cuda"`` / ``"cuda:1"`` / ``"mps"`` where present."""
    if not isinstance(value, (str, torch.device)):
        raise InvalidSetting(f"{name} must be a device name such as 'cpu', got {_describe(value)}")
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise InvalidSetting(f"{name} {str(value)!r} is not a torch device; use 'cpu' (or 'cuda' on a machine "
                      f"with an NVIDIA GPU)") from None
    if dev.type == "cpu":
        return str(dev)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidSetting(f"{name} {str(value)!r} is not available: this machine has no CUDA GPU that "
                          f"torch can use (torch.cuda.is_available() is False); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidSetting(f"{name} {str(value)!r} does not exist: this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s); use 'cuda:0' or 'cpu'")
        return str(dev)
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise InvalidSetting(f"{name} 'mps' is not available on this machine; use 'cpu'")
        return str(dev)
    raise InvalidSetting(f"{name} {str(value)!r} is not supported here; use 'cpu' or 'cuda'")


def check_all(owner: str, values: dict, rules: dict, examples: dict | None = None) -> dict:
    """Check each ``values[name]`` with ``rules[name]``; return ``{name: plain value}``.

    ``examples[name]`` (e.g. the default) is quoted in the fix. Every broken rule
    is collected, then one ``ValueError`` lists them all, e.g. ``Invalid DQNConfig:
    batch_size counts something ...; double_dqn must be True or False ...``.
    """
    examples = examples or {}
    checked, problems = {}, []
    for name, value in values.items():
        try:
            checked[name] = rules[name](name, value, examples.get(name))
        except InvalidSetting as problem:
            problems.append(str(problem))
    fail(owner, problems)
    return checked


def fail(owner: str, problems: list[str]) -> None:
    """Raise one ``ValueError`` naming every problem, if there are any."""
    if problems:
        raise InvalidSetting(f"Invalid {owner}: " + "; ".join(problems) + ".")
