"""What a finished run is stored under: keys that change whenever the run's result could.

Used by :func:`dqn_helpers.run_experiments` (``dqn_helpers/experiments.py``).

A cached result may be reused only if everything that produced it is the same. Three
descriptions go into a key:

* :func:`source_version`: every source file of ``dqn_helpers``, so any edit of the package
  starts afresh;
* :func:`describe_env`: what an env id *resolves to* in gymnasium's registry (entry point,
  keyword arguments, time limit), so re-registering an id with other settings is noticed;
* :func:`describe_function`: for a run written as a plain function of the seed (a notebook's
  tabular learner, a student's DQN loop), its source, the sources of the notebook functions
  and classes it calls, and the values of the constants it reads (``EVAL_EVERY = 10_000``).
  Editing any of them, in the notebook or elsewhere, changes the key.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import types
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


@functools.lru_cache(maxsize=1)
def source_version() -> str:
    """SHA-256 of every source file of the package."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("DQN_CACHE_DIR") or Path.home() / ".cache" / "dqn_helpers")


def digest(described: dict) -> str:
    """A short key for a JSON-able description."""
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def describe_env(env_spec) -> dict:
    """What an env id resolves to: its registration, with a notebook-defined class by its source."""
    entry = env_spec.entry_point
    return {"id": env_spec.id, "entry_point": entry if isinstance(entry, str) else _source_of(entry),
            "kwargs": env_spec.kwargs, "max_episode_steps": env_spec.max_episode_steps,
            "reward_threshold": env_spec.reward_threshold}


def describe_function(fn) -> dict:
    """The source of ``fn`` and of what it reaches in its own module, and the values it reads there."""
    if isinstance(fn, functools.partial):
        return {"partial": describe_function(fn.func), "args": _value(fn.args), "keywords": _value(fn.keywords)}
    seen: dict[str, object] = {}
    _walk(fn, seen)
    return {"name": getattr(fn, "__qualname__", repr(fn)), "reaches": seen}


def _walk(obj, seen: dict) -> None:
    """Record ``obj`` (a function or class) and, recursively, the same-module globals it uses."""
    name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    if name in seen:
        return
    seen[name] = _source_of(obj)
    if isinstance(obj, type):
        members = [m for m in vars(obj).values() if isinstance(m, types.FunctionType)]
    else:
        members = [obj]
    for member in members:
        if member is not obj:
            seen[f"{name}.{member.__name__}"] = None  # its source is part of the class's
        if member.__defaults__:
            seen[f"{name}.{member.__name__} defaults"] = _value(member.__defaults__)
        if member.__kwdefaults__:
            seen[f"{name}.{member.__name__} keyword defaults"] = _value(member.__kwdefaults__)
        for global_name in sorted(_global_names(member.__code__)):
            if global_name not in member.__globals__:
                continue
            value = member.__globals__[global_name]
            if isinstance(value, (types.FunctionType, type)) and value.__module__ == obj.__module__:
                _walk(value, seen)  # a helper defined beside it (in the notebook): follow it
            elif _is_data(value) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
                seen[f"{obj.__module__}.{global_name}"] = _value(value)  # a constant or a config it reads
            # modules, package and library functions: covered by source_version / library versions


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions, comprehensions
            names |= _global_names(const)
    return names


def _source_of(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # defined where no source is kept: fall back to its bytecode
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


def _is_data(value) -> bool:
    if isinstance(value, _PLAIN + (np.ndarray, np.generic)):
        return True
    if isinstance(value, (tuple, list, frozenset, set)):
        return all(_is_data(v) for v in value)
    if isinstance(value, dict):
        return all(_is_data(k) and _is_data(v) for k, v in value.items())
    return False


def _value(value):
    """A JSON-able rendering of plain data (arrays as lists); other objects by their repr."""
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(repr(v) for v in value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (types.FunctionType, type, functools.partial)):
        return describe_function(value)
    return repr(value)
