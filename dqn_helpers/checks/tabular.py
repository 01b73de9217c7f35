"""Checks for notebook 01: binning a continuous observation, and the tabular Q-learning update.

Built step by step in ``notebooks/01_continuous_states.ipynb`` (exercises 4 and 5).
"""

from __future__ import annotations

import numpy as np

from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, describe, fmt, not_callable_report, run_tests

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
    bound included) land in the edge bins; a dimension with one bin is ignored.
    """
    name = "check_discretise"
    signature = "fn(obs (obs_dim,), low (obs_dim,), high (obs_dim,), n_bins (obs_dim,)) -> int"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(obs, low, high, n_bins)")

    def cell(obs, n_bins) -> int:
        out = fn(np.asarray(obs, dtype=np.float64), _LOW.copy(), _HIGH.copy(), tuple(n_bins))
        if isinstance(out, np.ndarray) and out.size == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, int | np.integer):
            raise Fail("an int (the cell index)", describe(out), "Return one integer, e.g. `return int(index)`.")
        out, n_cells = int(out), int(np.prod(n_bins))
        if not 0 <= out < n_cells:
            got = f"{out} for obs {fmt(np.asarray(obs))}"
            raise Fail(f"an index in [0, {n_cells}) for n_bins={tuple(n_bins)}", got,
                       "Combine the bin numbers like digits: index = index * n_bins[d] + bin_d, with each bin_d "
                       "in [0, n_bins[d] - 1].")
        return out

    def in_range():
        cell((_LOW + _HIGH) / 2, (3, 2, 4))

    def distinct():
        for n_bins in ((3, 2, 4), (2, 5, 1)):
            indices = [cell(c, n_bins) for c in _centres(n_bins)]
            if len(set(indices)) != len(indices):
                raise Fail(f"{len(indices)} different indices for the {len(indices)} cells of n_bins={n_bins}",
                           f"{len(set(indices))} different indices",
                           "Use each dimension's own bin count (n_bins[d]) when combining the bin numbers.")

    def same_bin():
        n_bins = (3, 2, 4)
        width = (_HIGH - _LOW) / np.array(n_bins)
        for c in _centres(n_bins)[::5]:
            if cell(c - 0.4 * width, n_bins) != cell(c + 0.4 * width, n_bins):
                raise Fail("the same index for two points inside one cell", f"different indices around {fmt(c)}",
                           "bin_d = int((x - low) / (high - low) * n_bins[d]), after clipping x into [low, high].")

    def clipping():
        n_bins = (3, 2, 4)
        corners = {"below every lower bound": (_LOW - 10, _LOW + 1e-6), "at the upper bounds": (_HIGH, _HIGH - 1e-6),
                   "above every upper bound": (_HIGH + 10, _HIGH - 1e-6)}
        for what, (obs, inside) in corners.items():
            got, want = cell(obs, n_bins), cell(inside, n_bins)
            if got != want:
                raise Fail(f"the edge cell ({want}) for an observation {what}", str(got),
                           "Clip x into [low, high] first, and keep the bin of x == high inside: "
                           "min(int(fraction * n), n - 1).")

    def one_bin_ignored():
        n_bins = (1, 2, 1)
        a, b = cell([-1.9, 0.5, 0.1], n_bins), cell([1.9, 0.5, 3.9], n_bins)
        if a != b:
            raise Fail("the same index when only dimensions with one bin change", f"{a} and {b}")

    def upper_bound_overflows() -> bool:
        try:
            cell(_HIGH, (3, 2, 4))
        except Fail:
            return True
        return False

    tests = [
        Test("returns an int in [0, prod(n_bins))", in_range, required=True),
        Test("every cell has its own index (one bin count per dimension)", distinct),
        Test("points in the same bin share the index", same_bin),
        Test("values outside [low, high], and high itself, go to the edge bins", clipping),
        Test("a dimension with one bin does not matter", one_bin_ignored),
    ]
    mistakes = [
        Mistake("an observation at the upper bound gets bin number n_bins[d], one past the last bin.",
                upper_bound_overflows,
                "int(fraction * n) is n when fraction == 1: use min(int(fraction * n), n - 1).",
                explains=["values outside [low, high], and high itself, go to the edge bins"]),
    ]
    return run_tests(name, tests, signature, mistakes)


def check_q_learning_update(fn) -> CheckReport:
    """Check ``fn(q_table, state, action, reward, next_state, terminated, alpha, gamma)`` (notebook 01).

    The tabular Q-learning update, in place: ``Q[s, a] += alpha * (y - Q[s, a])`` with
    ``y = r + gamma * max_a' Q[s', a']``, or ``y = r`` when ``terminated``. Returning the
    table is accepted too. Tests: the step towards the target; only ``Q[s, a]`` changes;
    terminal states do not bootstrap; the max over next actions; alpha and gamma.
    """
    name = "check_q_learning_update"
    signature = "fn(q_table (n_states, n_actions), state, action, reward, next_state, terminated, alpha, gamma)"
    if not callable(fn):
        return not_callable_report(name, fn, "a function fn(q_table, state, action, reward, next_state, ...)")
    base = np.array([[0.5, 1.0, -1.0], [2.0, 0.0, 4.0], [1.0, 3.0, 2.0], [0.0, 0.0, 0.0]])

    def updated(state=0, action=1, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.9) -> np.ndarray:
        table = base.copy()
        out = fn(table, state, action, reward, next_state, terminated, alpha, gamma)
        return np.asarray(out, dtype=np.float64) if isinstance(out, np.ndarray) else table

    def expected(state=0, action=1, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.9) -> np.ndarray:
        table = base.copy()
        target = reward + (0.0 if terminated else gamma * table[next_state].max())
        table[state, action] += alpha * (target - table[state, action])
        return table

    def compare(what, hint, **kwargs):
        got, want = updated(**kwargs), expected(**kwargs)
        if got.shape != want.shape or not np.allclose(got, want):
            s, a = kwargs.get("state", 0), kwargs.get("action", 1)
            raise Fail(f"Q[{s}, {a}] = {want[s, a]:.4g} ({what})", f"Q[{s}, {a}] = {got[s, a]:.4g}"
                       if got.shape == want.shape else describe(got), hint)

    def step():
        compare("Q[0, 1] + alpha * (r + gamma * max Q[1] - Q[0, 1]) with alpha 0.5, gamma 0.9",
                "Move Q[s, a] a fraction alpha of the way to the target: Q[s, a] += alpha * (target - Q[s, a]).")

    def only_entry():
        got = updated()
        changed = np.argwhere(~np.isclose(got, base)).tolist() if got.shape == base.shape else "a new shape"
        if changed not in ([[0, 1]], []):
            raise Fail("only Q[0, 1] changed by the update of (s=0, a=1)", f"changed entries {changed}",
                       "Update the one entry q_table[state, action].")

    def terminal():
        compare("terminated: the target is the reward alone", "Where terminated, target = reward (no future).",
                terminated=True)

    def max_next():
        compare("target uses max over the next state's actions (4.0 in state 1)",
                "Bootstrap from the best next action: q_table[next_state].max().", next_state=1, action=1)

    def alpha_gamma():
        for alpha, gamma in ((1.0, 0.5), (0.1, 0.0)):
            compare(f"alpha {alpha}, gamma {gamma}", "Use the alpha and gamma arguments.", alpha=alpha, gamma=gamma)

    def uses_taken_action() -> bool:
        table = base.copy()
        target = 1.0 + 0.9 * base[1, 1]
        table[0, 1] += 0.5 * (target - table[0, 1])
        return np.allclose(updated(), table)

    tests = [
        Test("moves Q[s, a] a step alpha towards r + gamma * max Q[s']", step),
        Test("changes only Q[s, a]", only_entry),
        Test("no bootstrap from a terminated state", terminal),
        Test("bootstraps from the best next action (max)", max_next),
        Test("uses alpha and gamma", alpha_gamma),
    ]
    mistakes = [
        Mistake("you bootstrapped from the same action in the next state, Q[s', a], not the best one.",
                uses_taken_action,
                "Q-learning's target takes the max over next actions: q_table[next_state].max().",
                explains=["moves Q[s, a] a step alpha towards r + gamma * max Q[s']",
                          "bootstraps from the best next action (max)", "uses alpha and gamma"]),
    ]
    return run_tests(name, tests, signature, mistakes)
