"""Is it the student's own code? Catch an answer that calls the package's reference solution.

A function that calls ``dqn_helpers.td_target`` (or ``learner.update(batch)``, or a class
that inherits ``dqn_helpers.ReplayBuffer``) passes every property of its check while the
student has written nothing. :func:`own_code_test` runs the answer once under
``sys.setprofile`` and records calls of the package's references made *from the student's
code* (the check's own calls, and the package's calls to itself, do not count).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

from dqn_helpers.checks.formatting import Fail, is_student_file

OWN_CODE = "is your own code (it does not call the package's solution)"


def called_references(run: Callable[[], object], references: dict[str, Callable]) -> list[str]:
    """Labels of the ``references`` that the student's code called while ``run()`` ran.

    Exceptions of the student's code are ignored here (other tests report them); a stub's
    ``NotImplementedError``, a time limit or ``sys.exit()`` are not.
    """
    codes = {}
    for label, ref in references.items():
        code = getattr(inspect.unwrap(ref), "__code__", None)
        if code is not None:
            codes[code] = label
    found: list[str] = []
    previous = sys.getprofile()

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            caller = frame.f_back
            if caller is not None and is_student_file(caller.f_code.co_filename) and codes[frame.f_code] not in found:
                found.append(codes[frame.f_code])

    if previous is None:  # another profiler (cProfile, a debugger) has the hook: leave it alone
        sys.setprofile(profiler)
    try:
        run()
    except NotImplementedError:  # a stub: the report says "not implemented yet"
        raise
    except Exception:
        pass
    finally:
        if previous is None:
            sys.setprofile(None)
    return found


def inherited(cls, base: type, methods: tuple[str, ...]) -> list[str]:
    """The ``methods`` that ``cls`` takes unchanged from the package's class ``base``."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return []
    return [f"{base.__name__}.{m}" for m in methods if getattr(cls, m, None) is getattr(base, m, None)]


def is_reference(answer, references: dict[str, Callable]) -> list[str]:
    """The label of the reference that ``answer`` is (``my_td_target = dqn_helpers.td_target``), if any."""
    code = getattr(inspect.unwrap(answer), "__code__", None) if callable(answer) else None
    return [label for label, ref in references.items()
            if answer is ref or (code is not None and code is getattr(inspect.unwrap(ref), "__code__", None))]


def own_code_test(run: Callable[[], object], references: dict[str, Callable], what: str = "your function",
                  inherits: Callable[[], list[str]] = list, answer=None) -> Callable[[], None]:
    """A test that fails when the answer is, calls or inherits one of the package's ``references``."""

    def test():
        itself = is_reference(answer, references)
        found = itself or inherits() or called_references(run, references)
        if found:
            verb = "is" if itself else "inherits" if inherits() else "calls"
            raise Fail(
                "your own code for the exercise",
                f"{what} {verb} the package's {', '.join(found)}",
                f"The exercise asks you to write this part yourself. {found[0]} is the package's answer, the one "
                "the check compares with, so using it passes every test and teaches nothing; keep it for "
                "comparing with your version afterwards.",
            )

    return test
