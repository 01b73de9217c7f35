"""Checks for notebook 01: binning a continuous observation, and the tabular Q-learning update.

Built step by step in ``notebooks/01_continuous_states.ipynb`` (exercise 1: the tabular update;
exercise 2: the binning).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dqn_helpers.checks.formatting import describe, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

_LOW = np.array([-2.0, -1.0, 0.0])
_HIGH = np.array([2.0, 1.0, 4.0])


def _centres(n_bins) -> list[np.ndarray]:
    """The centre of every cell of a grid with ``n_bins[d]`` bins in dimension d."""
    axes = [_LOW[d] + (np.arange(n) + 0.5) * (_HIGH[d] - _LOW[d]) / n for d, n in enumerate(n_bins)]
    return [np.array(p) for p in np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(n_bins))]


def check_discretise(fn) -> CheckReport:
    """Check ``fn(obs, low, high, n_bins) -> int``: the cell of a continuous observation (notebook 01).

    ``n_bins`` gives one bin count per dimension; the cells are numbered 0 to
    ``prod(n_bins) - 1`` (any numbering is accepted as long as each cell has its own).
    Tests: an int in range; each cell its own index, with a different bin count per
    dimension; points in the same bin share it; values outside [low, high] (the upper
    bound included) land in the edge bins; a dimension with one bin is ignored. Recognises
    n_bins[0] used for every dimension, the first dimension's range (low[0] to high[0]) used for
    every dimension, bin numbers rounded (fraction * n_bins[d], or
    fraction * (n_bins[d] - 1)) instead of rounded down, the bin numbers combined in base
    max(n_bins), in base n_bins[0] or in the previous dimension's base, the bin numbers added
    up (as they are or each times its own count) instead of used as digits, one bin too few
    per dimension, no clipping at either end (np.digitize on the edges, minus 1), no clipping
    below low, x == high wrapped back to bin 0 (a modulo, or ``mode="wrap"``), and x == high
    one past the last bin (an index out of range, or an error from ``np.ravel_multi_index``).
    """
    name = "check_discretise"
    signature = "fn(obs (obs_dim,), low (obs_dim,), high (obs_dim,), n_bins (obs_dim,)) -> int"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(obs, low, high, n_bins)")
    seen = {}  # what a detector saw, for its hint

    def raw(obs, n_bins) -> int:
        out = fn(np.asarray(obs, dtype=np.float64), _LOW.copy(), _HIGH.copy(), tuple(n_bins))
        if isinstance(out, np.ndarray) and out.size == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, int | np.integer):
            raise Fail("an int (the cell index)", describe(out), "Return one integer (a Python int).")
        return int(out)

    def cell(obs, n_bins) -> int:
        out, n_cells = raw(obs, n_bins), int(np.prod(n_bins))
        if not 0 <= out < n_cells:
            obs = np.asarray(obs, dtype=np.float64)
            got = f"{out} for obs {fmt(obs)}"
            if (obs < _LOW).any():
                hint = ("This observation lies below low in some dimension, and its bin number there came out "
                        "negative: clip x into [low, high] at both ends before computing its bin.")
            elif (obs >= _HIGH).any():
                hint = ("This observation lies at or above high in some dimension, and its bin number there came out "
                        "as n_bins[d] or more: clip x into [low, high], and keep x == high in the last bin, "
                        "n_bins[d] - 1.")
            else:
                hint = ("Combine the bin numbers like the digits of a number whose d-th digit counts in base "
                        "n_bins[d], each bin number between 0 and n_bins[d] - 1.")
            raise Fail(f"an index in [0, {n_cells}) for n_bins={tuple(n_bins)}", got, hint)
        return out

    def in_range():
        cell((_LOW + _HIGH) / 2, (3, 2, 4))

    def distinct():
        for n_bins in ((3, 2, 4), (2, 5, 1)):
            bins = list(np.ndindex(*n_bins))  # the same order as _centres
            indices = [cell(c, n_bins) for c in _centres(n_bins)]
            if len(set(indices)) != len(indices):
                first = {}
                a, b = next((first[i], k) for k, i in enumerate(indices) if first.setdefault(i, k) != k)
                raise Fail(f"{len(indices)} different indices for the {len(indices)} cells of n_bins={n_bins}",
                           f"{len(set(indices))} different indices; e.g. the cells with bins {bins[a]} and {bins[b]} "
                           f"both get index {indices[a]}",
                           "Each dimension's bin number needs its own range of digits: use that dimension's own "
                           "bin count, n_bins[d], both for its bin and when combining.")

    def same_bin():
        n_bins = (3, 2, 4)
        width = (_HIGH - _LOW) / np.array(n_bins)
        for c in _centres(n_bins)[::5]:
            if cell(c - 0.4 * width, n_bins) != cell(c + 0.4 * width, n_bins):
                raise Fail("the same index for two points inside one cell", f"different indices around {fmt(c)}",
                           "A point's bin in dimension d depends only on where x falls between low[d] and high[d], "
                           "cut into n_bins[d] equal parts.")

    def clipping():
        n_bins = (3, 2, 4)
        corners = {"below every lower bound": (_LOW - 10, _LOW + 1e-6), "at the upper bounds": (_HIGH, _HIGH - 1e-6),
                   "above every upper bound": (_HIGH + 10, _HIGH - 1e-6)}
        for what, (obs, inside) in corners.items():
            got, want = cell(obs, n_bins), cell(inside, n_bins)
            if got != want:
                raise Fail(f"the edge cell ({want}) for an observation {what}", str(got),
                           "Clip x into [low, high] first; x == high belongs to the last bin, n_bins[d] - 1.")

    def one_bin_ignored():
        n_bins = (1, 2, 1)
        a, b = cell([-1.9, 0.5, 0.1], n_bins), cell([1.9, 0.5, 3.9], n_bins)
        if a != b:
            raise Fail("the same index when only dimensions with one bin change", f"{a} and {b}")

    def variant(obs, n_bins, first_count: bool, clamp: bool) -> int:
        """The index a known wrong answer gives: n_bins[0] for every dimension, or no clamp at x == high."""
        index = 0
        for x, lo, hi, n in zip(obs, _LOW, _HIGH, n_bins, strict=True):
            n = n_bins[0] if first_count else n
            b = int((min(max(x, lo), hi) - lo) / (hi - lo) * n)
            index = index * n + (min(b, n - 1) if clamp else b)
        return index

    def other_rule(obs, n_bins, rule: str) -> int:
        """The index of more wrong answers: ``"round"`` rounds each bin number to the nearest integer
        instead of rounding down; ``"round n - 1"`` rounds fraction * (n - 1) to the nearest integer;
        ``"wrap high"`` takes fraction * n modulo n (x == high wraps back to bin 0); ``"max base"``,
        ``"first base"`` and ``"previous base"`` combine the (right) bin numbers in base max(n_bins),
        n_bins[0] or the previous dimension's count; ``"sum"`` and ``"sum times count"`` add them up
        (each times its own dimension's count in the second); ``"first range"`` bins every dimension
        between low[0] and high[0]."""
        index = 0
        for d, (x, lo, hi, n) in enumerate(zip(obs, _LOW, _HIGH, n_bins, strict=True)):
            lo, hi = (_LOW[0], _HIGH[0]) if rule == "first range" else (lo, hi)
            fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
            b = {"round": min(int(round(fraction * n)), n - 1), "round n - 1": int(round(fraction * (n - 1))),
                 "wrap high": int(fraction * n) % n}.get(rule, min(int(fraction * n), n - 1))
            if rule in ("sum", "sum times count"):
                index += b * (n if rule == "sum times count" else 1)
                continue
            base = {"max base": max(n_bins), "first base": n_bins[0], "previous base": n_bins[d - 1]}.get(rule, n)
            index = index * base + b
        return index

    def follows(rule: str) -> Callable[[], bool]:
        def detect() -> bool:
            n_bins = (3, 2, 4)
            width = (_HIGH - _LOW) / np.array(n_bins)
            points = _centres(n_bins) + [c + 0.3 * width for c in _centres(n_bins)] + [_HIGH, _LOW - 1]
            try:
                return all(raw(p, n_bins) == other_rule(p, n_bins, rule) for p in points)
            except Fail:
                return False
        return detect

    def shared_cells(rule: str) -> bool:
        """The answer follows ``rule``; ``seen["shared"]`` keeps two cells that it gives one index."""
        if not follows(rule)():
            return False
        n_bins, first = (3, 2, 4), {}
        for bins, c in zip(np.ndindex(*n_bins), _centres(n_bins), strict=True):
            other = first.setdefault(raw(c, n_bins), bins)
            if other != bins:
                seen["shared"] = (other, bins, raw(c, n_bins))
                return True
        return False

    def added_up() -> bool:
        """The bin numbers summed, as they are or each times its own count (``seen["scaled"]`` says which)."""
        for scaled, rule in ((False, "sum"), (True, "sum times count")):
            seen["scaled"] = scaled
            if shared_cells(rule):
                return True
        return False

    def high_wraps_to_zero() -> bool:
        """Right inside [low, high), but x == high wraps back to bin 0 (``int(fraction * n) % n``, mode="wrap")."""
        n_bins = (3, 2, 4)
        inside = _centres(n_bins)
        if any(raw(c, n_bins) != other_rule(c, n_bins, "right") for c in inside):
            return False  # another mistake
        last_high = inside[5].copy()  # bins (0, 1, 1): only the last dimension moves to its upper bound
        last_high[2] = _HIGH[2]
        return all(raw(p, n_bins) == other_rule(p, n_bins, "wrap high") != other_rule(p, n_bins, "right")
                   for p in (_HIGH, last_high))

    def upper_bound_raises() -> bool:
        """Right inside [low, high), but x == high raises (bin n_bins[d] handed to np.ravel_multi_index)."""
        n_bins = (3, 2, 4)
        below_and_inside = _centres(n_bins) + [_HIGH - 1e-6, _LOW - 10]
        if any(raw(p, n_bins) != other_rule(p, n_bins, "right") for p in below_and_inside):
            return False  # another mistake (one raising below low too: not clipped at either end)
        last_high = _centres(n_bins)[5].copy()  # only the last dimension at its upper bound
        last_high[2] = _HIGH[2]
        for p in (_HIGH, _HIGH + 10, last_high):
            try:
                raw(p, n_bins)
            except (ValueError, IndexError) as err:
                seen["error"] = f"{type(err).__name__}: {err}"
            else:
                return False
        return True

    def upper_bound_overflows() -> bool:
        n_bins = (3, 2, 4)
        inside = [cell(c, n_bins) for c in _centres(n_bins)]  # a Fail here: another mistake
        return len(set(inside)) == len(inside) and raw(_HIGH, n_bins) >= int(np.prod(n_bins))

    def first_count_everywhere() -> bool:
        n_bins = (3, 2, 4)
        points = _centres(n_bins) + [_HIGH, _LOW - 1]
        return any(all(raw(p, n_bins) == variant(p, n_bins, True, clamp) for p in points) for clamp in (True, False))

    def values_per_dim(n_bins) -> list[int]:
        """How many different indices each dimension's sweep over [low, high) gives, the others at their centres."""
        centre = (_LOW + _HIGH) / 2
        counts = []
        for d in range(len(n_bins)):
            indices = set()
            for x in np.linspace(_LOW[d], _HIGH[d], 241)[:-1]:
                point = centre.copy()
                point[d] = x
                indices.add(raw(point, n_bins))
            counts.append(len(indices))
        return counts

    def one_bin_short() -> bool:
        n_bins = (3, 2, 4)
        return values_per_dim(n_bins) == [n - 1 for n in n_bins]

    def clipped_at_neither_end() -> bool:
        """Below low the bin number comes out below 0 and at high it comes out as n_bins[d] (np.digitize minus 1)."""
        n_bins = (3, 2, 4)
        inside = [raw(c, n_bins) for c in _centres(n_bins)]
        if len(set(inside)) != len(inside) or not 0 <= min(inside) <= max(inside) < int(np.prod(n_bins)):
            return False  # another mistake
        return raw(_LOW - 10, n_bins) < 0 and raw(_HIGH, n_bins) >= int(np.prod(n_bins))

    def no_lower_clip() -> bool:
        n_bins = (3, 2, 4)
        inside = [raw(c, n_bins) for c in _centres(n_bins)]
        if len(set(inside)) != len(inside) or raw(_HIGH + 10, n_bins) != raw(_HIGH - 1e-6, n_bins):
            return False  # another mistake, or the upper end is not clipped either
        try:
            below = raw(_LOW - 10, n_bins)
        except Fail:
            return False
        return below != raw(_LOW + 1e-6, n_bins)

    tests = [
        Test("returns an int in [0, prod(n_bins))", in_range, required=True),
        Test("every cell has its own index (one bin count per dimension)", distinct),
        Test("points in the same bin share the index", same_bin),
        Test("values outside [low, high], and high itself, go to the edge bins", clipping),
        Test("a dimension with one bin does not matter", one_bin_ignored),
    ]
    mistakes = [
        Mistake("you used the first dimension's bin count, n_bins[0], for every dimension.",
                first_count_everywhere,
                "With n_bins = (3, 2, 4) your indices are those of a 3 x 3 x 3 grid: cells of the 4-bin dimension "
                "share indices and the 2-bin dimension reaches past its range. Each dimension has its own count.",
                explains=None),
        Mistake("you used the first dimension's range, low[0] to high[0], for every dimension.",
                follows("first range"),
                "Your bins cut every dimension as if it ran from low[0] to high[0]. With low = (-2, -1, 0) and "
                "high = (2, 1, 4), the third dimension's values, from 0 to 4, are cut as if they ran from -2 to 2: "
                "they all land in its upper two bins (a point just above low[2] gets bin 2, not 0), so cells share "
                "indices. Each dimension has its own range: bin x[d] between low[d] and high[d].",
                explains=None),
        Mistake("your bin numbers are rounded to the nearest integer, not rounded down: the upper half of each "
                "bin lands in the next bin.", follows("round"),
                "A bin number counts how many whole bin widths x lies above low[d]: a point 0.8 of the way through "
                "bin 0 is still in bin 0. Rounding to the nearest integer moves it to bin 1.", explains=None),
        Mistake("your bin numbers round fraction * (n_bins[d] - 1) to the nearest integer: the first and last bins "
                "are half as wide as the others.", follows("round n - 1"),
                "The n_bins[d] bins have equal widths, (high[d] - low[d]) / n_bins[d] each, and a bin number counts "
                "how many whole widths x lies above low[d], rounded down. Rounding fraction * (n_bins[d] - 1) gives "
                "n_bins[d] numbers too, but bin 0 ends after half a step and the middle bins are shifted.",
                explains=None),
        Mistake("you combined the bin numbers in base max(n_bins) for every dimension, not in base n_bins[d].",
                follows("max base"),
                "Your bin numbers are right, but the index they make runs past prod(n_bins) - 1: a dimension with "
                "fewer bins than the largest leaves gaps in the numbering. Let each digit count in its own "
                "dimension's base, as the digits of a number with a different base per position.", explains=None),
        Mistake("you combined the bin numbers in base n_bins[0] for every dimension, not in base n_bins[d].",
                follows("first base"),
                "Your bin numbers are right, but with n_bins = (3, 2, 4) your index weights each digit as if every "
                "dimension had 3 bins: the last dimension's 4 bins do not fit into base 3, so cells share indices "
                "and the last ones run past prod(n_bins) - 1. Each digit counts in its own dimension's base, "
                "n_bins[d].", explains=None),
        Mistake("you combined each bin number with the previous dimension's bin count, not with its own "
                "dimension's n_bins[d].", lambda: shared_cells("previous base"),
                lambda: "Your bin numbers are right, but with n_bins = (3, 2, 4) your index multiplies by 3 before "
                "adding the 2-bin digit and by 2 before adding the 4-bin digit: the 4 values of the last digit get "
                f"room for 2, so cells share indices (bins {seen['shared'][0]} and {seen['shared'][1]} both get "
                f"{seen['shared'][2]}). The room a digit needs is its own dimension's count: each digit counts in "
                "base n_bins[d] of the dimension it belongs to.", explains=None),
        Mistake("you added the bin numbers up instead of using them as the digits of one number.",
                added_up,
                lambda: "Your bin numbers are right, but "
                + ("multiplying each by its own dimension's count still only adds them up, and "
                   if seen["scaled"] else "")
                + "a sum forgets which dimension each one came from: with n_bins = (3, 2, 4) the cells with bins "
                f"{seen['shared'][0]} and {seen['shared'][1]} both get index {seen['shared'][2]}. Use them as the "
                "digits of one number instead, each in its own place (in decimal, the digits 3 and 4 make 34, not "
                "7), where the d-th digit counts in base n_bins[d].", explains=None),
        Mistake("an observation at the upper bound wraps around to bin 0 instead of staying in the last bin.",
                high_wraps_to_zero,
                "Inside [low, high) your bins are right, but at x == high the fraction is exactly 1, fraction * "
                "n_bins[d] is n_bins[d], and your code wraps that back to 0 (a modulo, or np.ravel_multi_index with "
                "mode='wrap'): the highest observations land in the same cell as the lowest ones. x == high belongs "
                "to the last bin, n_bins[d] - 1: cap the bin number there instead of wrapping it.",
                explains=["values outside [low, high], and high itself, go to the edge bins"]),
        Mistake("your grid has n_bins[d] - 1 bins in each dimension, one too few.", one_bin_short,
                "Sweeping one dimension from low to high, your index takes n_bins[d] - 1 different values. "
                "n_bins[d] equal bins need n_bins[d] + 1 edges; np.linspace(low, high, n) returns n edges, which "
                "cut the range into n - 1 bins. Counting how many bin widths x lies above low avoids edges "
                "altogether.", explains=None),
        Mistake("values outside [low, high] are not clipped at either end: below low[d] the bin number comes out "
                "as -1 or less, and at or above high[d] as n_bins[d], one past the last bin.", clipped_at_neither_end,
                "Inside [low, high) your bins are right; only the two ends are wrong. An observation below low[d] "
                "belongs to the first bin, 0, and one at or above high[d] to the last, n_bins[d] - 1: clip x into "
                "[low, high] first, and keep x == high in the last bin. (np.digitize on the n_bins[d] + 1 edges, "
                "minus 1, gives -1 below the first edge and n_bins[d] at the last one.)",
                explains=["values outside [low, high], and high itself, go to the edge bins"]),
        Mistake("values below low[d] are not clipped: their bin number comes out negative.", no_lower_clip,
                "Clip x into [low, high] at the lower end too: an observation below low[d] belongs to the first bin, "
                "number 0.", explains=["values outside [low, high], and high itself, go to the edge bins"]),
        Mistake("an observation at the upper bound gets bin number n_bins[d], one past the last bin.",
                upper_bound_overflows,
                "At x == high the fraction is exactly 1, and rounding down fraction * n_bins[d] gives n_bins[d], one "
                "past the last bin (n_bins[d] - 1): keep that point in the last bin.",
                explains=["values outside [low, high], and high itself, go to the edge bins"]),
        Mistake("an observation at the upper bound gets bin number n_bins[d], one past the last bin, and "
                "combining the bin numbers then raises an error.", upper_bound_raises,
                lambda: "Inside [low, high) your bins are right, but at x == high the fraction is exactly 1, and "
                "rounding down fraction * n_bins[d] gives n_bins[d], one past the last bin (n_bins[d] - 1). Your "
                f"code then raised {seen['error']}"
                + (" (np.ravel_multi_index accepts bin numbers from 0 to n_bins[d] - 1 only)"
                   if "invalid entry" in seen["error"] else "")
                + ". Clipping x into [low, high] keeps x == high itself: clamp that point's bin number into the "
                "last bin before combining.",
                explains=["values outside [low, high], and high itself, go to the edge bins"]),
    ]
    return run_tests(name, tests, signature, mistakes)


def check_q_learning_update(fn) -> CheckReport:
    """Check ``fn(q_table, state, action, reward, next_state, terminated, alpha, gamma)`` (notebook 01).

    The tabular Q-learning update, in place: ``Q[s, a] += alpha * (y - Q[s, a])`` with
    ``y = r + gamma * max_a' Q[s', a']``, or ``y = r`` when ``terminated``. Tests: the step
    towards the target; the caller's table changes (in place; returning it as well is fine);
    only ``Q[s, a]`` changes; the update of an action that is not the state's best (Q[s, a]
    below max Q[s]); terminal states do not bootstrap; the max over next actions; alpha and
    gamma. The test table is built so that wrong answers cannot agree by chance: Q[s, a] differs
    from the reward, the next state's best value differs from the table's, and swapping alpha
    and gamma changes the result. Recognises a table that never changes, an
    inverted terminal mask, no terminal mask at all, a skipped or full terminal update, a
    whole-row update, an update written into the next state's row, a bootstrap from the whole
    table's max, from Q[s', a], from the current state's row or from the argmax's index, alpha
    and gamma swapped, alpha ignored, a step that is not a gap, a gap taken from the next
    state's value instead of Q[s, a], the mixture form added with ``+=``, the update applied
    twice, the gap's parentheses missing (``alpha * target - Q[s, a]``), the notebook's
    constants ALPHA = 0.1 and GAMMA = 0.99 used instead of the alpha and gamma arguments, the
    update written into the state's best action's entry ``Q[s, argmax Q[s]]`` instead of
    ``Q[s, a]``, and a gap taken from the state's value ``max Q[s]`` instead of ``Q[s, a]``.
    """
    name = "check_q_learning_update"
    signature = "fn(q_table (n_states, n_actions), state, action, reward, next_state, terminated, alpha, gamma)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(q_table, state, action, reward, next_state, ...)")
    seen = {}  # what a detector saw, for its hint
    # Q[0, 1] = 2 differs from the reward 1; row 1's best (4) is not the table's best (6, in row 2)
    base = np.array([[0.5, 2.0, -1.0], [2.0, 0.0, 4.0], [1.0, 3.0, 6.0], [0.0, -0.5, 0.0]])

    def call(state=0, action=1, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.9):
        """(the table passed in after the call, what the function returned)."""
        table = base.copy()
        out = fn(table, state, action, reward, next_state, terminated, alpha, gamma)
        return table, out

    def updated(**kwargs) -> np.ndarray:
        table, out = call(**kwargs)
        return np.asarray(out, dtype=np.float64) if isinstance(out, np.ndarray) else table

    def expected(state=0, action=1, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.9) -> np.ndarray:
        table = base.copy()
        target = reward + (0.0 if terminated else gamma * table[next_state].max())
        table[state, action] += alpha * (target - table[state, action])
        return table

    def changed_entries(table: np.ndarray) -> list:
        return np.argwhere(~np.isclose(table, base)).tolist()

    def compare(what, hint, **kwargs):
        got, want = updated(**kwargs), expected(**kwargs)
        if got.shape == want.shape and np.allclose(got, want):
            return
        s, a = kwargs.get("state", 0), kwargs.get("action", 1)
        if got.shape != want.shape:
            raise Fail(f"Q[{s}, {a}] = {want[s, a]:.4g} ({what})", describe(got), hint)
        others = [e for e in changed_entries(got) if e != [s, a]]
        also = f"; it also changed the entries {others}, which should keep their values" if others else ""
        if np.isclose(got[s, a], want[s, a]):
            raise Fail(f"only Q[{s}, {a}] changed, to {want[s, a]:.4g} ({what})",
                       f"Q[{s}, {a}] = {got[s, a]:.4g}, right{also}", "Update the one entry of the state and action.")
        raise Fail(f"Q[{s}, {a}] = {want[s, a]:.4g} ({what})",
                   f"Q[{s}, {a}] = {got[s, a]:.4g}" + (" (unchanged)" if np.isclose(got[s, a], base[s, a]) else "")
                   + also, hint)

    def step():
        compare("Q[0, 1] + alpha * (r + gamma * max Q[1] - Q[0, 1]) with alpha 0.5, gamma 0.9",
                "Move Q[s, a] a fraction alpha of the way from its old value towards the target.")

    def in_place():
        table, out = call()
        if np.allclose(table, base):
            copied = isinstance(out, np.ndarray) and out.shape == base.shape and not np.allclose(out, base)
            raise Fail("the q_table passed in updated (the caller keeps using its own table)",
                       "q_table unchanged" + ("; your function returned an updated copy" if copied else ""),
                       "The training loop calls your function and carries on with the table it passed in, ignoring "
                       "what you return: change the entry of that table, not of a copy.")

    def only_entry():
        got = updated()
        changed = changed_entries(got) if got.shape == base.shape else "a new shape"
        if changed not in ([[0, 1]], []):
            raise Fail("only Q[0, 1] changed by the update of (s=0, a=1)", f"changed entries {changed}",
                       "Update the one entry q_table[state, action].")

    def other_action():
        hint = "Move Q[s, a] a fraction alpha of the way from its old value towards the target."
        if matches({}, {}):  # right for the state's best action, wrong for another: the greedy action crept in
            hint = ("Update the entry of the action that was taken, q_table[state, action], moving it from its own "
                    "old value towards the target: the state's best action plays no part in the update.")
        compare("action 2 taken, not the state's best action 1: Q[0, 2] moves a step alpha from its own value -1 "
                "towards r + gamma * max Q[1]", hint, action=2)

    def terminal():
        compare("terminated: the target is the reward alone, and Q[s, a] still moves a step alpha towards it",
                "Where terminated, the target is the reward alone; the step towards it is the same as on any other "
                "step.", terminated=True)

    def max_next():
        compare("target uses max over the next state's actions (4.0 in state 1)",
                "Bootstrap from the best value among the next state's actions.", next_state=1, action=1)

    def alpha_gamma():
        for alpha, gamma in ((1.0, 0.5), (0.1, 0.0)):
            compare(f"alpha {alpha}, gamma {gamma}", "With other alpha and gamma the result must change as the "
                    "update says: alpha as the size of the step, gamma on the next state's value only (numbers "
                    "written into the function instead of the arguments would also fail here).",
                    alpha=alpha, gamma=gamma)

    def matches(got_kwargs: dict, want_kwargs: dict) -> bool:
        got, want = updated(**got_kwargs), expected(**want_kwargs)
        return got.shape == want.shape and bool(np.allclose(got, want))

    def bootstraps_from(next_value, row: str = "next") -> Callable[[], bool]:
        """A detector: the update matches one whose bootstrap is ``next_value(row of Q, action)``.

        ``row`` says which row: the next state's (``"next"``) or the current state's (``"same"``).
        """

        def detect() -> bool:
            # the third case tells Q[s', a] (3), min (1), mean (3.33) and max (6) of row 2 apart
            for s, a, ns, alpha, gamma in ((0, 1, 1, 0.5, 0.9), (3, 0, 2, 1.0, 0.5), (1, 1, 2, 0.5, 0.9)):
                table = base.copy()
                table[s, a] += alpha * (1.0 + gamma * next_value(base[ns if row == "next" else s], a) - table[s, a])
                if not np.allclose(updated(state=s, action=a, next_state=ns, alpha=alpha, gamma=gamma), table):
                    return False
            return True

        return detect

    def never_changes() -> bool:
        """The table passed in stays as it was, and nothing usable comes back."""
        for kwargs in ({}, {"terminated": True}, {"state": 3, "action": 0, "next_state": 2}):
            table, out = call(**kwargs)
            returned = isinstance(out, np.ndarray) and out.shape == base.shape and not np.allclose(out, base)
            if returned or not np.allclose(table, base):
                return False
        return True

    def inverted_mask() -> bool:
        return matches({"terminated": False}, {"terminated": True}) and matches({"terminated": True}, {})

    def skips_terminal() -> bool:
        return matches({}, {}) and np.allclose(updated(terminated=True), base)

    def terminal_set_to_reward() -> bool:
        got = updated(terminated=True, reward=3.0)  # not 1.0: a step alpha towards 0 from Q[0, 1] = 2 also gives 1
        return matches({}, {}) and np.isclose(got[0, 1], 3.0) and changed_entries(got) == [[0, 1]]

    def masked_reward() -> bool:
        """The whole target is multiplied by the mask: a terminated step moves Q[s, a] towards 0, not the reward."""
        got = updated(terminated=True, reward=3.0, alpha=0.5)
        return matches({}, {}) and np.isclose(got[0, 1], 0.5 * base[0, 1]) and changed_entries(got) == [[0, 1]]

    def climbs() -> bool:
        """The step has the wrong sign: Q[s, a] moves away from the target by alpha times the gap."""
        return all(matches({"alpha": alpha, "gamma": gamma, "terminated": t}, {"alpha": -alpha, "gamma": gamma,
                                                                               "terminated": t})
                   for alpha, gamma, t in ((0.5, 0.9, False), (1.0, 0.5, False), (0.5, 0.9, True)))

    def wrote_next_entry() -> bool:
        """The update lands in the next state's row, and Q[state, action] keeps its value."""
        for s, a, ns in ((0, 1, 1), (3, 0, 2)):
            got = updated(state=s, action=a, next_state=ns)
            changed = changed_entries(got) if got.shape == base.shape else []
            if not changed or any(row != ns for row, _ in changed) or not np.isclose(got[s, a], base[s, a]):
                return False
        return True

    def whole_row() -> bool:
        got, want = updated(), expected()
        rows = {e[0] for e in changed_entries(got)}
        return got.shape == base.shape and rows == {0} and len(changed_entries(got)) > 1 and bool(
            np.isclose(got[0, 1], want[0, 1]))

    def mixture_swapped() -> bool:
        """Q <- alpha * Q + (1 - alpha) * target: the step has size 1 - alpha (invisible at alpha 0.5)."""
        return all(matches({"alpha": alpha, "gamma": gamma}, {"alpha": 1 - alpha, "gamma": gamma})
                   for alpha, gamma in ((1.0, 0.5), (0.1, 0.0)))

    def swapped() -> bool:
        return all(matches({"alpha": alpha, "gamma": gamma}, {"alpha": gamma, "gamma": alpha})
                   for alpha, gamma in ((0.5, 0.9), (1.0, 0.5)))

    def target_rule(rule) -> Callable[[], bool]:
        """A detector: the update moves Q[s, a] a step alpha towards ``rule(reward, best next value, gamma)``
        on non-terminated steps, and towards the reward on terminated ones (so the mask is not the mistake)."""
        def detect() -> bool:
            for s, a, ns, alpha, gamma, reward in ((0, 1, 1, 0.5, 0.9, 1.0), (3, 0, 2, 1.0, 0.5, 2.0)):
                table = base.copy()
                table[s, a] += alpha * (rule(reward, base[ns].max(), gamma) - table[s, a])
                got = updated(state=s, action=a, next_state=ns, alpha=alpha, gamma=gamma, reward=reward)
                if got.shape != base.shape or not np.allclose(got, table):
                    return False
            return True
        return detect

    def ignores_terminated() -> bool:
        """No mask at all: a terminated step bootstraps like any other."""
        return matches({}, {}) and all(matches({"terminated": True, "reward": r, "alpha": alpha}, {"reward": r,
                                                                                                 "alpha": alpha})
                                       for r, alpha in ((1.0, 0.5), (3.0, 0.1)))

    def new_value(rule) -> Callable[[], bool]:
        """A detector: Q[s, a] becomes ``rule(old Q[s, a], target, alpha, gamma, row of Q[s'], a)`` (the target
        the right one, terminated steps included) and no other entry changes."""
        def detect() -> bool:
            # Q[s, a], the next state's best value and the target all differ, and alpha is neither 0.5 nor 1
            for s, a, ns, alpha, gamma, reward, done in ((0, 1, 1, 0.3, 0.9, 1.0, False),
                                                         (2, 1, 0, 0.1, 0.5, 0.5, False),
                                                         (0, 1, 1, 0.3, 0.9, 3.0, True)):
                table = base.copy()
                target = reward + (0.0 if done else gamma * base[ns].max())
                table[s, a] = rule(base[s, a], target, alpha, gamma, base[ns], a)
                got = updated(state=s, action=a, next_state=ns, alpha=alpha, gamma=gamma, reward=reward,
                              terminated=done)
                if got.shape != base.shape or not np.allclose(got, table):
                    return False
            return True
        return detect

    def gap_from_next_state() -> bool:
        """The step is alpha * (target - v) with v the next state's max Q[s'], gamma * max Q[s'] or Q[s', a]."""
        values = (lambda row, a, gamma: row.max(), lambda row, a, gamma: gamma * row.max(),
                  lambda row, a, gamma: row[a])
        rules = [lambda old, target, alpha, gamma, row, a, v=v: old + alpha * (target - v(row, a, gamma))
                 for v in values]
        return any(new_value(rule)() for rule in rules)

    def notebook_constants() -> bool:
        """The update of the notebook's ALPHA = 0.1 and/or GAMMA = 0.99, whatever alpha and gamma are passed
        (``seen["fixed"]`` names the constants used)."""
        cases = ((0.5, 0.9, False), (1.0, 0.5, False), (0.3, 0.0, False), (0.5, 0.5, True))
        for fixed_alpha, fixed_gamma in ((0.1, 0.99), (0.1, None), (None, 0.99)):
            if all(matches({"alpha": alpha, "gamma": gamma, "terminated": t},
                           {"alpha": fixed_alpha or alpha, "gamma": fixed_gamma or gamma, "terminated": t})
                   for alpha, gamma, t in cases):
                seen["fixed"] = [c for c, v in (("ALPHA = 0.1", fixed_alpha), ("GAMMA = 0.99", fixed_gamma)) if v]
                return True
        return False

    def greedy_entry() -> bool:
        """The update lands in the entry of the state's best action, argmax Q[s], not in Q[s, a]."""
        for s, a, ns in ((0, 2, 1), (0, 0, 2), (2, 1, 0), (1, 1, 2), (0, 1, 1)):
            if not matches({"state": s, "action": a, "next_state": ns},
                           {"state": s, "action": int(base[s].argmax()), "next_state": ns}):
                return False
        return True

    def gap_from_state_value() -> bool:
        """The step is alpha * (target - max Q[s]): the gap measured from the state's value, not from Q[s, a]."""
        for s, a, ns, alpha, gamma, reward, done in ((0, 2, 1, 0.5, 0.9, 1.0, False), (2, 0, 1, 0.3, 0.5, 0.5, False),
                                                     (1, 1, 2, 0.5, 0.9, 3.0, True), (0, 1, 1, 0.5, 0.9, 1.0, False)):
            table = base.copy()
            target = reward + (0.0 if done else gamma * base[ns].max())
            table[s, a] += alpha * (target - base[s].max())
            got = updated(state=s, action=a, next_state=ns, alpha=alpha, gamma=gamma, reward=reward, terminated=done)
            if got.shape != base.shape or not np.allclose(got, table):
                return False
        return True

    def applied_twice() -> bool:
        """Two steps: the second from where the first ended (1 - (1 - alpha)^2 of the gap), or the same one again."""
        rules = [lambda old, target, alpha, gamma, row, a, f=f: old + f(alpha) * (target - old)
                 for f in (lambda alpha: 1 - (1 - alpha) ** 2, lambda alpha: 2 * alpha)]
        return any(new_value(rule)() for rule in rules)

    tests = [
        Test("moves Q[s, a] a step alpha towards r + gamma * max Q[s']", step),
        Test("updates the table passed in (in place)", in_place),
        Test("changes only Q[s, a]", only_entry),
        Test("updates the action taken, also when it is not the state's best action", other_action),
        Test("no bootstrap from a terminated state", terminal),
        Test("bootstraps from the best next action (max)", max_next),
        Test("uses alpha and gamma", alpha_gamma),
    ]
    other_action_test = "updates the action taken, also when it is not the state's best action"
    value_tests = ["moves Q[s, a] a step alpha towards r + gamma * max Q[s']", other_action_test,
                   "bootstraps from the best next action (max)", "uses alpha and gamma"]
    terminal_test = ["no bootstrap from a terminated state"]
    mistakes = [
        Mistake("the table passed in never changes, and nothing updated comes back.", never_changes,
                "Your update lands in something other than the caller's array: a copy of the table, or a number read "
                "out of it (a Q-value read into a variable is a plain number, and changing that variable leaves the "
                "table as it was). Write the new value into the entry of the table passed in.", explains=None),
        Mistake("your terminal mask is inverted: you bootstrap on terminated steps and not on the others.",
                inverted_mask,
                "The bootstrap term belongs to steps after which the episode goes on; a terminated step has no next "
                "state worth anything, so its target is the reward alone.", explains=None),
        Mistake("on a terminated step your function does not update Q[s, a] at all.", skips_terminal,
                "A terminated step still has a target, the reward alone, and Q[s, a] moves a step alpha towards it. "
                "On FrozenLake the only reward comes on a terminated step: skip those and the table never learns.",
                explains=terminal_test),
        Mistake("on a terminated step you set Q[s, a] to the reward, a full step instead of a step alpha.",
                terminal_set_to_reward,
                "Only the target changes on a terminated step (no bootstrap term); the update is the same step of "
                "size alpha from the old value towards it.", explains=terminal_test),
        Mistake("the mask multiplies the reward too: on a terminated step the target is 0, not the reward.",
                masked_reward,
                "The reward of the last step is earned even when the episode ends there (on FrozenLake it is the "
                "only reward there is); only the bootstrapped future vanishes at a terminal state, so the mask "
                "belongs to that term alone.", explains=terminal_test),
        Mistake("you bootstrap on terminated steps too: your update ignores the terminated argument.",
                ignores_terminated,
                "After a terminated step the episode is over and there is no next state to earn anything from, so "
                "its target is the reward alone. Use terminated to drop the gamma * max Q[s'] term on those steps "
                "(only that term: the reward and the step of size alpha stay).", explains=terminal_test),
        Mistake("gamma multiplies the reward too: your target is gamma * (r + max Q[s']).",
                target_rule(lambda r, best, g: g * (r + best)),
                "The reward of this step is received now, so it is not discounted; only the value of what comes "
                "after, the best next value, is.", value_tests),
        Mistake("the next state's value is discounted twice: your target is r + gamma**2 * max Q[s'].",
                target_rule(lambda r, best, g: r + g * g * best),
                "One step lies between s and s', so its value is discounted once: gamma times the best next value. "
                "Discounting again (a gamma already inside a helper, or applied to the target as well) makes "
                "every value look one step further away than it is.", value_tests),
        Mistake("the reward is missing from the target of non-terminated steps: your target is gamma * max Q[s'].",
                target_rule(lambda r, best, g: g * best),
                "Every step's target starts with the reward that step earned; the discounted best next value comes "
                "on top of it. (FrozenLake pays only at the goal, a terminated step, so there this mistake hides.)",
                value_tests),
        Mistake("your step moves Q[s, a] away from the target: its sign is flipped.", climbs,
                "The gap target - Q[s, a] says which way to move: a Q-value below its target must go up. Yours "
                "moved by the same amount in the other direction.", explains=None),
        Mistake("you bootstrapped from the smallest value of the next state's row (min), not the largest.",
                bootstraps_from(lambda row, a: row.min()),
                "Q-learning assumes the agent goes on with its best action, so the target uses the largest value "
                "among the next state's actions.", explains=value_tests),
        Mistake("you bootstrapped from the mean of the next state's row, not its largest value.",
                bootstraps_from(lambda row, a: row.mean()),
                "An average over the next actions is the value of acting at random from there (Expected SARSA's "
                "target under a uniform policy); Q-learning's target uses the best next action.",
                explains=value_tests),
        Mistake("you wrote the update into the next state's row, Q[next_state], and left Q[state, action] as it was.",
                wrote_next_entry,
                "The step (s, a, r, s') is new evidence about the action taken in the state the agent left: the "
                "entry q_table[state, action] moves towards the target. next_state only supplies the bootstrap, the "
                "best value of its row, and is read, not written.", explains=None),
        Mistake("you changed the whole row Q[state], not only the entry of the action taken.", whole_row,
                "Only the action that was taken has a new sample of its value; the other actions of the state keep "
                "theirs.", explains=None),
        Mistake("you updated the entry of the state's best action, Q[s, argmax Q[s]], not the one of the action "
                "taken, Q[s, a].", greedy_entry,
                "The step (s, a, r, s') is evidence about the action the agent took, whichever action it was: "
                "exploration takes actions that are not the best, and their values must be learnt too. Write into "
                "q_table[state, action]; the argmax has no place in the update of the current state (the max "
                "belongs to the next state's row, inside the target).", explains=[other_action_test]),
        Mistake("your step measures the gap from the state's value, max Q[s], not from Q[s, a]: it is alpha * "
                "(target - max Q[state]).", gap_from_state_value,
                "The gap that drives the update is how far the target lies from the entry being updated, Q[s, a] "
                "itself. When the action taken is the state's best, the two agree (so the first test passed); for "
                "any other action, Q[s, a] must move from its own old value.", explains=[other_action_test]),
        Mistake("you bootstrapped from the largest value in the whole table, not in the next state's row.",
                bootstraps_from(lambda row, a: base.max()),
                "The max runs over the actions of next_state only: the row of the next state, not every entry.",
                explains=value_tests),
        Mistake("your step has size 1 - alpha: the weights of the old value and of the target are swapped.",
                mixture_swapped,
                "Written as a mixture, the new value is (1 - alpha) times the old value plus alpha times the target: "
                "alpha is the share of the target, so a small alpha changes Q[s, a] little. (At alpha = 0.5 the two "
                "forms agree, which is why the first test passed.)", value_tests),
        Mistake("alpha and gamma are swapped: your step size is gamma and your discount is alpha.", swapped,
                "alpha scales the step from the old value towards the target; gamma discounts the next state's value "
                "inside the target.", explains=None),
        Mistake("you bootstrapped from the same action in the next state, Q[s', a], not the best one.",
                bootstraps_from(lambda row, a: row[a]),
                "Q-learning's target uses the best value among the next state's actions, whatever action comes "
                "next.", explains=value_tests),
        Mistake("you bootstrapped from the current state's row, Q[state], not from the next state's, "
                "Q[next_state].", bootstraps_from(lambda row, a: row.max(), row="same"),
                "The target looks one step ahead: the reward plus gamma times the best value in the row of "
                "next_state. Yours reads the row of state, the one being updated.", explains=value_tests),
        Mistake("your step measures the gap from the next state's value, not from Q[s, a]: it is alpha * (target "
                "- a value of Q[next_state]).", gap_from_next_state,
                "The gap that drives the update is how far the target lies from the value being updated, Q[s, a] "
                "itself: Q[s, a] moves a fraction alpha of the way from its own old value towards the target. The "
                "next state's value belongs only inside the target.", explains=None),
        Mistake("you added the new value to the old one: with `+=`, the mixture (1 - alpha) * Q[s, a] + alpha * "
                "target counts the old Q[s, a] twice.",
                new_value(lambda old, target, alpha, gamma, row, a: old + (1 - alpha) * old + alpha * target),
                "The mixture of old value and target is already the whole new value of Q[s, a]: store it with `=`. "
                "`+=` adds to the old value, so what follows it must be only the change, a step alpha along the gap "
                "between the target and the old value.", explains=None),
        Mistake("you applied the update twice: Q[s, a] moved two steps towards the target instead of one.",
                applied_twice,
                "One transition gives one update: Q[s, a] moves once, a fraction alpha of the way from its old value "
                "towards the target. Look for a second line that changes the same entry, or a loop around the "
                "update.", explains=None),
        Mistake("your new Q[s, a] is alpha * target: the old value is gone (are the parentheses around the gap "
                "missing?).",
                new_value(lambda old, target, alpha, gamma, row, a: alpha * target),
                "Multiplication binds before subtraction: in `+= alpha * target - Q[s, a]` alpha scales the target "
                "alone and the whole old value is subtracted, so it cancels out and Q[s, a] forgets everything it "
                "had learnt. The step is alpha times the whole gap between the target and Q[s, a]: group the gap "
                "so that alpha multiplies all of it.", explains=None),
        Mistake("your update uses the notebook's constants ALPHA and/or GAMMA, not the alpha and gamma arguments.",
                notebook_constants,
                lambda: "Whatever alpha and gamma are passed in, your update behaves as with "
                + " and ".join(seen["fixed"]) + ": the notebook's global constants, read inside your function "
                "instead of its parameters. The caller chooses the step size and the discount (this check tries "
                "several, and an agent tuned with other values passes those): use the parameters alpha and gamma "
                "that your function receives.", explains=None),
        Mistake("you replaced Q[s, a] by the target, as if alpha were 1.",
                lambda: np.allclose(updated(alpha=0.1), expected(alpha=1.0)),
                "alpha is the size of the step: Q[s, a] moves only a fraction alpha of the way from its old value "
                "to the target.", explains=value_tests),
        Mistake("your step is alpha * target, not alpha * (target - Q[s, a]).",
                lambda: np.allclose(updated()[0, 1], base[0, 1] + 0.5 * (1.0 + 0.9 * base[1].max())),
                "The step moves Q[s, a] towards the target: its size is alpha times the gap between the target and "
                "the current value.", explains=value_tests),
        Mistake("you bootstrapped from the *index* of the best next action (argmax), not from its value (max).",
                bootstraps_from(lambda row, a: float(row.argmax())),
                "argmax says which action is best (0, 1, 2, ...); the target needs how much that action is worth.",
                explains=value_tests),
    ]
    return run_tests(name, tests, signature, mistakes)
