"""Reading and showing what the student's code returned: numbers, arrays, tensors, errors.

Used by every check through :mod:`dqn_helpers.checks.framework`, which re-exports these names.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback

import numpy as np
import torch

from dqn_helpers.checks.limits import OutOfMemory, OutOfTime


class Fail(Exception):
    """Raised by a test when a property does not hold."""

    def __init__(self, expected: str, got: str, hint: str = ""):
        super().__init__(f"expected {expected}, got {got}")
        self.expected, self.got, self.hint = expected, got, hint

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # dqn_helpers/
_PATHS = [sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
_LIBRARY_DIRS = tuple(d + os.sep for d in {_PACKAGE_DIR} | {os.path.abspath(p) for p in _PATHS if p})


def is_student_file(filename: str) -> bool:
    """True for code that is neither this package nor an installed library (a notebook cell, a test file)."""
    if filename.startswith("<"):  # <ipython-input-…>, <string>; not <frozen …>
        return not filename.startswith("<frozen")
    return not os.path.abspath(filename).startswith(_LIBRARY_DIRS)


def where(err: BaseException) -> str:
    """File and line of the innermost frame of the student's code (else the innermost frame)."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    mine = [f for f in frames if is_student_file(f.filename)]
    frame = (mine or frames)[-1]
    in_notebook = frame.filename.startswith("<") or "ipykernel" in frame.filename
    place = "your notebook cell" if in_notebook else os.path.basename(frame.filename)
    code = f": {frame.line.strip()}" if frame.line else ""
    verb = "stopped" if isinstance(err, OutOfTime | OutOfMemory) else "raised"
    return f" ({verb} at line {frame.lineno} of {place}{code})"


def hint_for(err: BaseException, signature: str) -> str:
    """A generic hint for an exception raised by the student's code."""
    text = str(err)
    if isinstance(err, ValueError) and "values to unpack (expected 4" in text:
        return ("gymnasium's env.step returns five values, (obs, reward, terminated, truncated, info); the old gym "
                "API returned four, with one `done`.")
    if isinstance(err, ValueError) and "values to unpack (expected 2" in text and "got 4" not in text:
        return "gymnasium's env.reset returns two values, (obs, info): unpack both, or take [0]."
    if isinstance(err, AssertionError) and "invalid" in text and ("ndarray" in text or "array(" in text):
        return ("A plain env's step takes one action, a Python int; you passed an array. A policy returns a batch "
                "of actions (shape (1,) for one observation): take its only element with [0] and int().")
    if isinstance(err, RuntimeError) and "does not require grad" in text:
        return ("backward() found no gradient to follow: the loss was computed only from tensors without gradients, "
                "for example a prediction made under torch.no_grad() or detached. Only the target belongs under "
                "no_grad; the prediction Q(s, a) must keep its graph.")
    if isinstance(err, RuntimeError) and "Index tensor must have the same number of dimensions" in text:
        return ("gather needs an index with as many dimensions as the tensor it reads: one action per row as a "
                "column, shape (B, 1), for a (B, n_actions) tensor.")
    if isinstance(err, TypeError) and ("only integer tensors of a single element" in text or "return_types" in text):
        return ("A tensor met the result of max(dim=...), which is not a tensor: it is a pair (values, indices). "
                "The target needs the best next values: take that field of the pair by name.")
    if isinstance(err, AttributeError):
        return f"Something is missing or misspelled: {text}. Expected interface: {signature}."
    if isinstance(err, TypeError):
        return f"Check the arguments and the types your code works with. Expected interface: {signature}."
    if isinstance(err, RuntimeError) and "leaf Variable" in text:
        return ("PyTorch refuses to change a parameter in place while it tracks gradients: copy the numbers with "
                "gradient tracking switched off (under torch.no_grad()).")
    if isinstance(err, RuntimeError) and "dtype" in text:
        return ("A dtype does not fit: print the .dtype of the tensors on the line that failed (indices must be "
                "int64, values float32).")
    layers = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", text)
    if isinstance(err, RuntimeError) and layers:
        given, expected = int(layers[2]), int(layers[3])
        if expected == given + 1:
            return (f"A layer expects {expected} inputs and got {given}, one more than the observation has: a DQN "
                    "Q-network reads the state alone and returns one value per action, not Q(s, a) from the state "
                    "and the action together.")
        return (f"A layer expects {expected} inputs and got {given}: the first layer's input size must be the "
                "length of one observation, and each layer's input size the previous layer's output size.")
    sizes = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", text)
    if isinstance(err, RuntimeError) and sizes:
        return (f"Tensors of {sizes[1]} and {sizes[2]} values met on the line that failed: print their shapes. If one "
                "of the two is the number of actions, a max or argmax was taken over dimension 0 (the batch: one "
                "value per action) where one value per transition, over the action dimension, was needed.")
    if isinstance(err, RuntimeError) and ("shape" in text or "size" in text):
        return "A shape does not fit: print the shapes of the tensors on the line that failed."
    if isinstance(err, IndexError | ValueError) and ("index" in text or "shape" in text or "broadcast" in text):
        return "An index or shape does not fit: print the shapes and indices on the line that failed."
    if isinstance(err, ZeroDivisionError):
        return "Your code divided by zero: which argument can be 0 in this test, and what should the answer be then?"
    return "Read the error message and the line it points to."



def fmt(x) -> str:
    """A short, readable rendering of a number, array or tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        text = np.array2string(x, precision=4, suppress_small=True, separator=", ", threshold=12)
        return re.sub(r"\n\s*", " ", text)  # one line, whatever the dimensions
    if isinstance(x, float):
        return f"{x:.6g}"
    return f"{x!r:.200}"


def describe(x) -> str:
    """Type, shape, dtype and value of ``x``."""
    if isinstance(x, torch.Tensor | np.ndarray):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}: {fmt(x)}"
    return f"{type(x).__name__}: {fmt(x)}"


def as_number(out, hint: str) -> float:
    """``out`` (a number, or a one-element tensor or array) as a float, else a :class:`Fail` with ``hint``."""
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.detach().item()
    elif isinstance(out, np.ndarray) and out.size == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, int | float | np.number):
        raise Fail("a number", describe(out), hint)
    return float(out)


def close(a, b, atol: float = 1e-5) -> bool:
    """Same shape and values (tensors or arrays)."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=1e-5))


def attr(obj, name: str, what: str):
    """``obj.name`` (or ``obj[name]`` for a dict), failing with a readable message if missing."""
    if isinstance(obj, dict) and name in obj:
        return obj[name]
    if not hasattr(obj, name):
        fields = [a for a in dir(obj) if not a.startswith("_")] if obj is not None else []
        raise Fail(
            f"{what} with an attribute `{name}`",
            f"{type(obj).__name__} with attributes {fields[:10]}",
            f"Return an object (e.g. a dataclass or namedtuple) with the fields {what} needs.",
        )
    return getattr(obj, name)


def array(x, name: str) -> np.ndarray:
    """``x`` as a NumPy array, failing with a readable message if it cannot be one."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as err:
        raise Fail(f"`{name}` as an array", f"{type(x).__name__} ({err})") from err
