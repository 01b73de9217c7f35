"""Time and memory limits for the student's code run by a check.

A check must never hang a notebook: an epsilon schedule with ``while True``, or a training
loop whose counter never advances, has to come back as a failed line. :func:`guard` runs a
block under a time limit and a memory limit. A watchdog thread polls the clock and the
process's memory; when a limit is passed it raises :class:`OutOfTime` or
:class:`OutOfMemory` inside the guarded thread (``PyThreadState_SetAsyncExc``), and again at
every poll if the student's code swallows it (a bare ``except:``), until the block ends. This works in any
thread, on Linux, macOS and Windows, in Jupyter and in pytest, and leaves the notebook's
signal handlers alone. The exception arrives between two Python bytecodes, so a single
blocking call (``time.sleep(1e6)``, ``input()``) ends first; the loops students write do not
block that way.

Both exceptions derive from ``BaseException``, so ``except Exception`` in the student's
code (or in a library it calls) cannot swallow them.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from contextlib import contextmanager

TIME_LIMIT_ENV_VAR = "DQN_CHECKS_TIME_LIMIT"  # seconds per tested property (default DEFAULT_SECONDS)
MEMORY_LIMIT_ENV_VAR = "DQN_CHECKS_MEMORY_LIMIT_MB"  # extra memory per tested property (default DEFAULT_MB)
DEFAULT_SECONDS = 10.0
DEFAULT_MB = 1024.0
HANG_HINT = ("Look for a loop that never ends: a `while` whose condition never becomes false, or a counter that "
             "is never advanced.")
MEMORY_HINT = ("Something grows without end: a list appended to in a loop that never stops, or arrays created anew "
               "on every pass instead of reused.")
EXIT_HINT = ("sys.exit(), exit() and quit() stop the whole program (in Jupyter, the cell and the check): return a "
             "value, or raise an error with a message, instead.")
POLL_SECONDS = 0.02  # also how often the exception is raised again while student code swallows it


class LimitExceeded(BaseException):  # noqa: N818  (the names read as what happened)
    """Raised inside student code that ran past a limit."""


class OutOfTime(LimitExceeded):
    """The guarded block ran longer than its time limit."""


class OutOfMemory(LimitExceeded):
    """The process's memory grew by more than the limit during the guarded block."""


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def time_limit(scale: float = 1.0) -> float:
    """Seconds a tested property may take: ``DQN_CHECKS_TIME_LIMIT`` (default 10) times ``scale``."""
    return _env_number(TIME_LIMIT_ENV_VAR, DEFAULT_SECONDS) * scale


def memory_limit() -> float:
    """Bytes of extra memory a tested property may use: ``DQN_CHECKS_MEMORY_LIMIT_MB`` (default 1024) MiB."""
    return _env_number(MEMORY_LIMIT_ENV_VAR, DEFAULT_MB) * 2**20


def _memory_reader():
    """A function returning the process's memory in bytes (resident set; peak where that is all there is)."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as f:
            int(f.read().split()[1])

        def resident() -> int:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        return resident
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import resource

        unit = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kilobytes
        return lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    except ImportError:  # Windows: time limit only
        return None


def _raise_in(thread_id: int, exc: type[BaseException]) -> None:
    """Make ``exc`` pending in the thread ``thread_id``: it is raised there at the next function call or loop jump.

    (Never called with NULL to clear one: on Python 3.11 that leaves the interpreter's eval breaker set, and the
    next profiled function call spins forever.)
    """
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _flush() -> None:
    """Take delivery of an exception injected just before the watchdog stopped (a call is a delivery point)."""
    for _ in range(3):
        _nothing()


def _nothing() -> None:
    pass


class _Watchdog(threading.Thread):
    def __init__(self, seconds: float | None, extra_bytes: float | None):
        super().__init__(daemon=True, name="dqn-checks-watchdog")
        self.target = threading.get_ident()
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.read = _memory_reader() if extra_bytes else None
        self.ceiling = self.read() + extra_bytes if self.read else None
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.stopped = False

    def run(self) -> None:
        while not self.done.wait(POLL_SECONDS):
            over_time = self.deadline is not None and time.monotonic() > self.deadline
            over_memory = self.ceiling is not None and self.read() > self.ceiling
            if over_time or over_memory:
                with self.lock:
                    if self.stopped:
                        return
                    _raise_in(self.target, OutOfMemory if over_memory else OutOfTime)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        self.done.set()


@contextmanager
def guard(seconds: float | None = None, extra_bytes: float | None = None):
    """Run the block under a time limit and a memory limit (``None``: the defaults; 0: none).

    Raises :class:`OutOfTime` or :class:`OutOfMemory` from inside the block when one is passed.
    """
    seconds = time_limit() if seconds is None else seconds
    extra_bytes = memory_limit() if extra_bytes is None else extra_bytes
    watchdog = _Watchdog(seconds or None, extra_bytes or None)
    try:
        watchdog.start()
    except RuntimeError:  # no thread to spare (a process at its limit): run the block without limits
        watchdog = None
    if watchdog is None:
        yield
        return
    try:
        yield
    finally:
        late = None
        while True:  # the watchdog may fire while we stop it: stop it for sure, take delivery, then re-raise
            try:
                watchdog.stop()
                _flush()  # an exception injected but not yet delivered must not leak out of the block
                break
            except LimitExceeded as err:
                late = err
        if late is not None:
            raise late
