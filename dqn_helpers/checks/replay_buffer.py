"""Check of a replay buffer: batch remember, uniform sample of written slots, wrap-around.

Built step by step in ``notebooks/03_replay_buffers.ipynb``.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from dqn_helpers.checks.delegation import OWN_CODE, inherited, own_code_test
from dqn_helpers.checks.formatting import array, attr, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.replay_buffer import ReplayBuffer


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


WRITTEN_ONLY = ("samples only written slots, each about equally often, from a generator seeded by `seed` "
                "(same seed, same batches)")
LEN = "len counts the stored transitions"
RING = "a ring: memory allocated once, not grown as the buffer fills"
WRAP = "when full, overwrites the oldest transitions first (wrap-around)"
WRAP_BATCH = "a batch that crosses the end of the ring wraps around within the batch"
UNIFORM = WRITTEN_ONLY
SEEDED = UNIFORM
BATCH_ROWS = "stores a batch of n rows in one remember() call, as copies of the caller's arrays"
COPIES = BATCH_ROWS
OVERSAMPLE = "sample(len(buffer)) works; asking for more than is stored raises a ValueError"
FULL_BATCH = OVERSAMPLE
TOGETHER = "the fields of a sampled transition belong together"
SHAPES = "sample shapes (batch, obs_dim) and dtypes (float32 obs, integer actions, float rewards and flags)"
_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")


def _sizes(buf) -> dict[str, tuple[str, int]]:
    """What each attribute of the buffer holds: arrays by their bytes, Python containers by their length."""
    sizes = {}
    for key, value in vars(buf).items():
        if isinstance(value, np.ndarray):
            sizes[key] = ("an array", value.nbytes)
        elif isinstance(value, torch.Tensor):
            sizes[key] = ("a tensor", value.element_size() * value.nelement())
        elif isinstance(value, list | deque | dict):
            sizes[key] = (f"a {type(value).__name__}", len(value))
    return sizes


def _slots(buf, capacity: int) -> list[int | None] | None:
    """Which transition each slot of the buffer's observation array holds (``None``: empty), if it has one."""
    for value in vars(buf).values():
        obs = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        if not isinstance(obs, np.ndarray) or obs.shape != (capacity, 4):
            continue
        ids = np.rint(obs[:, 0] - 1000.0).astype(np.int64)
        rows = [_rows(int(k), 1)["obs"][0] if k >= 0 else None for k in ids]
        if all((not row.any()) if want is None else np.allclose(row, want) for row, want in zip(obs, rows,
                                                                                               strict=True)):
            return [None if want is None else int(k) for k, want in zip(ids, rows, strict=True)]
    return None


def _slot_list(slots: list[int | None]) -> str:
    return "[" + ", ".join("empty" if k is None else str(k) for k in slots) + "]"


FILL_IN_ORDER = ("The rows of one remember() call fill the ring in order from the write position: those that do "
                 "not fit before the end of the arrays continue at its start, no slot skipped and none written "
                 "twice, and the write position ends just after the last row written.")


def _past_the_end(err: BaseException) -> str | None:
    if isinstance(err, IndexError) and "out of bounds" in str(err):
        return ("The write position ran past the last slot: when it reaches capacity it starts again at 0, which is "
                "what makes the buffer a ring.")
    return None


def _shifting(buf, remember_one) -> str | None:
    """The name of a full list or deque whose items all move one place when one more row is stored (a queue)."""
    before = {k: list(v) for k, v in vars(buf).items() if isinstance(v, list | deque) and len(v) > 2}
    remember_one()
    for key, items in before.items():
        after = list(getattr(buf, key, []))
        if len(after) == len(items) and all(a is b for a, b in zip(after[:-1], items[1:], strict=True)):
            return key
    return None


def _python_storage(buf, capacity: int) -> str | None:
    """The name of a list or deque that holds one Python object per stored transition (``capacity`` of them)."""
    for key, value in vars(buf).items():
        if isinstance(value, list | deque) and len(value) == capacity:
            return key
    return None


def check_replay_buffer(cls) -> CheckReport:
    """Check a replay buffer class ``cls(capacity, obs_shape, seed=None)`` (notebook 03_replay_buffers).

    Expected interface: ``.remember(obs, actions, rewards, next_obs, terminated)``
    stores ``n`` rows at once, ``.sample(batch_size)`` returns an object with
    ``.obs .actions .rewards .next_obs .terminated``, ``len()`` counts what is stored.
    Tests: interface; the class's own code (not :class:`dqn_helpers.ReplayBuffer`'s);
    ``len`` after remember; a batch of ``n`` rows in one call; sampling only written
    slots; fields of a transition stay together; shapes and dtypes; wrap-around
    overwrites the oldest first; a ring (storage allocated once, one array per field: a list
    trimmed with ``pop(0)`` or a deque is named as a queue, a list of transitions, preallocated
    or not, fails too); sampling more than stored raises an error. Recognises: ``remember()``
    counting calls, not rows; all the rows of a call written into one slot; rows written one slot
    past the position, or ``n`` slots past it (the position moved on before the write); refusing
    ``sample(len(buffer))``; sampling the newest rows; one index repeated for the whole batch; an
    index range that stops one short, that reaches one past the last filled row (``size + 1``,
    ``endpoint=True``), or that is shifted by one (``integers(1, size + 1)``: never row 0);
    sampling from ``range(position)``; fields in each other's places (seen in non-zero values,
    not in empty slots); ``(B, 1)`` columns; float64 observations; sampling from all
    ``capacity`` slots; transitions kept as Python objects in a list; ``len()`` growing past the
    capacity, ``len()`` returning the write position or falling behind the stored rows after a wrap
    (``max(size, position)``); a generator created anew in every ``sample()`` (every batch the same).
    """
    name = "check_replay_buffer"
    signature = (
        "cls(capacity, obs_shape, seed=None) with .remember(obs, actions, rewards, next_obs, terminated), "
        ".sample(batch_size) and len()"
    )
    if not callable(cls):
        return not_callable_report(name, cls, "a class cls(capacity, obs_shape, seed=None)")
    methods = ("__init__", "remember", "sample", "__len__")
    references = {f"ReplayBuffer.{m}": getattr(ReplayBuffer, m) for m in methods} | {
        "dqn_helpers.ReplayBuffer": ReplayBuffer}

    def make(capacity: int, seed: int = 0):
        return cls(capacity, (4,), seed=seed)

    seen = {}  # what a detector saw, for its hint

    def remember(buf, start: int, n: int) -> None:
        r = _rows(start, n)
        buf.remember(r["obs"], r["actions"], r["rewards"], r["next_obs"], r["terminated"])

    def length(buf) -> int:
        return int(len(buf))

    def sample_ids(buf, batch_size: int, repeats: int) -> np.ndarray:
        ids = []
        for _ in range(repeats):
            batch = buf.sample(batch_size)
            obs = array(attr(batch, "obs", "the sampled batch"), "obs").reshape(-1, 4)
            ids.append(np.rint(obs[:, 0] - 1000.0).astype(np.int64))
        return np.concatenate(ids)

    def interface():
        missing = [m for m in ("remember", "sample", "__len__") if not callable(getattr(cls, m, None))]
        if missing:
            raise Fail(
                "a class with the methods remember, sample and __len__",
                f"missing {missing}",
                f"Define every method of the interface: {signature}.",
            )
        buf = make(100)
        if length(buf) != 0:
            raise Fail("len 0 for a new buffer", f"len {length(buf)}", "Count stored transitions, not capacity.")

    def fill_and_sample():
        buf = make(10)
        remember(buf, 0, 4)
        try:
            buf.sample(2)
        except NotImplementedError:  # sample still a stub: the other tests say so
            pass

    def len_after_remember():
        buf = make(100)
        remember(buf, 0, 3)
        first = length(buf)
        remember(buf, 3, 5)
        second = length(buf)
        if (first, second) != (3, 8):
            raise Fail(
                "len 3 after storing 3 rows, then 8 after 5 more",
                f"len {first}, then {second}",
                "len() should return how many transitions are stored (at most the capacity).",
            )

    def batch_of_rows():
        buf = make(100)
        remember(buf, 0, 4)
        seen = set(sample_ids(buf, 4, 50).tolist())
        if seen != {0, 1, 2, 3}:
            raise Fail(
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
            raise Fail(
                "only the 3 stored transitions (obs[:, 0] in {1000, 1001, 1002}) in samples from a buffer of "
                "capacity 100",
                f"also obs[:, 0] = {sorted({float(b) + 1000 for b in bad})[:5]} (never stored)",
                "Draw indices from range(len(self)), not range(capacity): the other slots are still empty.",
            )

    def together():
        buf = make(100)
        remember(buf, 0, 10)
        batch = buf.sample(10)
        ids = np.rint(array(attr(batch, "obs", "the batch"), "obs").reshape(-1, 4)[:, 0] - 1000).astype(int)
        expected = _rows(0, 10)
        for field_name in ("actions", "rewards", "next_obs", "terminated"):
            got = array(attr(batch, field_name, "the batch"), field_name)
            want = expected[field_name][np.clip(ids, 0, 9)]
            if got.shape != want.shape or not np.allclose(got.astype(np.float64), want):
                raise Fail(
                    f"`{field_name}` of the same transitions as `obs` ({fmt(want)})",
                    fmt(got),
                    "Use the same indices for every field when sampling.",
                )

    def shapes_dtypes():
        buf = make(100)
        remember(buf, 0, 12)
        batch = buf.sample(8)
        wanted = dict(obs=(8, 4), next_obs=(8, 4), actions=(8,), rewards=(8,), terminated=(8,))
        for field_name, shape in wanted.items():
            got = array(attr(batch, field_name, "the batch"), field_name)
            if got.shape != shape:
                hint = ("A (B, 1) column where a (B,) vector is expected broadcasts against the other (B,) tensors "
                        "of the TD target into a (B, B) table. Store one number per row for this field (an array "
                        "of shape (capacity,)) and return it as it is stored." if got.shape == (8, 1) else
                        "Return one row per sampled transition: the first dimension is the batch size.")
                raise Fail(f"`{field_name}` of shape {shape} for sample(8)", f"shape {got.shape}", hint)
        for field_name in ("obs", "next_obs"):
            got = array(attr(batch, field_name, "the batch"), field_name)
            if got.dtype != np.float32:
                raise Fail(
                    f"`{field_name}` as float32 (what the network expects)",
                    f"dtype {got.dtype}",
                    "Allocate the arrays with dtype=np.float32.",
                )
        actions = array(attr(batch, "actions", "the batch"), "actions")
        if not np.issubdtype(actions.dtype, np.integer):
            raise Fail("integer `actions` (they index the Q-values)", f"dtype {actions.dtype}", "Use dtype=np.int64.")
        rewards = array(attr(batch, "rewards", "the batch"), "rewards")
        if not np.issubdtype(rewards.dtype, np.floating):
            raise Fail("floating-point `rewards` (a reward of 0.5 must come back as 0.5)", f"dtype {rewards.dtype}",
                       "An integer array rounds every reward stored in it (0.5 becomes 0, -0.1 becomes 0), without an "
                       "error: CartPole's rewards of 1 hide it, most other environments' do not. Store rewards in a "
                       "float32 array.")
        terminated = array(attr(batch, "terminated", "the batch"), "terminated")
        if not np.issubdtype(terminated.dtype, np.floating):
            raise Fail("floating-point `terminated` flags (0.0 or 1.0)", f"dtype {terminated.dtype}",
                       "The TD target multiplies by (1 - terminated), and PyTorch refuses to subtract a bool tensor "
                       "from 1 ('Subtraction, the `-` operator, with a bool tensor is not supported'). Store the flags "
                       "in a float32 array: True and False become 1.0 and 0.0.")

    def wrap_one_at_a_time():
        buf = make(5)
        for k in range(7):
            remember(buf, k, 1)
        seen = set(sample_ids(buf, 5, 60).tolist())
        if length(buf) != 5 or seen != {2, 3, 4, 5, 6}:
            raise Fail(
                "after storing transitions 0..6 one at a time in a buffer of capacity 5: len 5 and samples from "
                "{2, 3, 4, 5, 6} (the oldest, 0 and 1, overwritten)",
                f"len {length(buf)}, sampled ids {sorted(seen)}",
                "Write at position % capacity and advance the position by one per stored transition.",
            )

    def wrap_within_batch():
        buf = make(5)
        remember(buf, 0, 3)
        try:
            remember(buf, 3, 4)  # slots 3, 4, then 0, 1: this batch crosses the end of the ring
        except Fail:
            raise
        except Exception as err:
            raise Fail(
                "remember() of 4 rows at position 3 of a buffer of capacity 5 to fill slots 3, 4, 0, 1",
                f"{type(err).__name__}: {err}",
                "The rows of this remember() call run past the end of the arrays: there `arr[pos:pos + n]` has "
                "fewer than n rows. " + FILL_IN_ORDER,
            ) from err
        seen = set(sample_ids(buf, 5, 60).tolist())
        if length(buf) != 5 or seen != {2, 3, 4, 5, 6}:
            raise Fail(
                "after storing transitions 0..6 as 3 then 4 rows in a buffer of capacity 5: len 5 and samples "
                "from {2, 3, 4, 5, 6} (the oldest, 0 and 1, overwritten)",
                f"len {length(buf)}, sampled ids {sorted(seen)}",
                wrap_batch_hint(_slots(buf, 5)),
            )
        remember(buf, 7, 1)  # after the wrap the next row goes to slot 2, over transition 2, the oldest left
        seen = set(sample_ids(buf, 5, 60).tolist())
        if seen != {3, 4, 5, 6, 7}:
            raise Fail(
                "then one more transition (7): samples from {3, 4, 5, 6, 7} (it overwrites 2, the oldest)",
                f"sampled ids {sorted(seen)}",
                "After a batch that crossed the end, the position is (old position + n) modulo capacity, not 0: "
                "the next transition must overwrite the oldest one still stored.",
            )

    def wrap_batch_hint(slots: list[int | None] | None) -> str:
        right = [5, 6, 2, 3, 4]
        if slots == right:
            return (f"Your arrays hold the right transitions in the right slots ({_slot_list(right)}, slot by slot): "
                    "remember() is right, and sample() does not draw from all the stored rows.")
        if slots is None:
            return FILL_IN_ORDER
        empty = [i for i, k in enumerate(slots) if k is None]
        written = [i for i, k in enumerate(slots) if k is not None and k >= 3]
        return (f"After 3 rows, then one remember() call of 4 rows (transitions 3 to 6) at write position 3, your "
                f"observation array holds, slot by slot, {_slot_list(slots)}; the ring should hold "
                f"{_slot_list(right)}. The rows of that call went to slots {', '.join(map(str, written))}"
                + (f", and slot{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty))} stayed empty"
                   if empty else "")
                + ". " + FILL_IN_ORDER)

    def samples_empty_slots() -> bool:
        """The range(capacity) mistake: most samples from a nearly empty buffer are never-written slots."""
        buf = make(100)
        remember(buf, 0, 3)
        ids = sample_ids(buf, 3, 100)
        return length(buf) == 3 and np.mean(~np.isin(ids, [0, 1, 2])) > 0.8

    def fixed_memory():
        buf = make(10)
        remember(buf, 0, 1)
        first = _sizes(buf)
        remember(buf, 1, 4)
        for start in range(5, 40, 5):  # batches that never cross the end of the ring (another test's business)
            remember(buf, start, 5)
        grown = {k: (kind, first.get(k, (kind, 0))[1], n) for k, (kind, n) in _sizes(buf).items()
                 if n > first.get(k, (kind, 0))[1]}
        if not grown:
            key = _python_storage(buf, 10)
            if key:
                raise Fail("one preallocated array per field, with `capacity` rows (capacity 10)",
                           f"`{key}` ({type(getattr(buf, key)).__name__}) holds the 10 stored transitions as 10 "
                           "separate Python objects",
                           "A ring of this exercise keeps one NumPy array per field, allocated once in __init__, "
                           "and copies the rows of each call into it: no Python object per transition.")
            return
        key, (kind, before, after) = next(iter(grown.items()))
        unit = "bytes" if kind in ("an array", "a tensor") else "items"
        got = f"`{key}` ({kind}) grew from {before} to {after} {unit} between the 1st and the 40th transition"
        queue = _shifting(buf, lambda: remember(buf, 100, 1))
        if queue:
            raise Fail("storage of a fixed size from the first transition on (capacity 10)",
                       got + f"; when full, every item of `{queue}` moves one place per new transition",
                       "Your buffer is a queue (a list trimmed with pop(0), or a deque), not a ring. It drops the "
                       "oldest transition by shifting all the others, which costs a pass over the whole buffer at "
                       "every step, and it stores each transition as separate Python objects. A ring allocates one "
                       "array per field, with `capacity` rows, in __init__, and overwrites the oldest row in place.")
        hint = ("Nothing is dropped when the buffer is full: it grows without end. " if after > 10 * max(before, 1)
                else "")
        raise Fail("storage of a fixed size from the first transition on (capacity 10)", got,
                   hint + "Allocate the storage once, in __init__, with `capacity` rows per field (arrays, not "
                   "growing lists or np.append), then overwrite the oldest rows.")

    def len_past_capacity() -> bool:
        """Overwrites the oldest rows, yet len() goes past the capacity (a buffer that keeps them all is not this)."""
        buf = make(5)
        for k in range(7):
            remember(buf, k, 1)
        seen["len"] = length(buf)
        if seen["len"] <= 5:
            return False
        try:
            ids = sample_ids(buf, 5, 20)
        except Exception:  # it drew rows past the end of its arrays: only len() says there are more
            return True
        return set(ids.tolist()) <= {2, 3, 4, 5, 6}

    def len_is_position() -> bool:
        buf = make(5)
        for k in range(7):
            remember(buf, k, 1)
        return length(buf) == 2

    def len_behind_stored() -> bool:
        """len() smaller than min(stored, capacity) once the ring wraps (e.g. ``max(size, position)``)."""
        buf = make(5)
        remember(buf, 0, 3)
        if length(buf) != 3:  # right before the wrap: the count only goes wrong when the position falls back
            return False
        buf = make(5)
        for k in range(7):
            remember(buf, k, 1)
        seen["len_behind"] = length(buf)
        return 0 <= seen["len_behind"] < 5

    def same_batch_every_call() -> bool:
        """A generator created anew (from ``seed``) in every sample(): every batch of a size is the same."""
        buf = make(100)
        remember(buf, 0, 20)
        if length(buf) != 20:
            return False
        rows = sample_ids(buf, 4, 10).reshape(10, 4)
        if not (rows == rows[0]).all() or len(set(rows[0].tolist())) < 2:  # one index per batch: its own mistake
            return False
        stored = set()  # the stored rows are right: buffers with other seeds draw all 20 of them
        for seed in range(1, 40):
            other = make(100, seed=seed)
            remember(other, 0, 20)
            stored |= set(sample_ids(other, 4, 1).tolist())
        seen["same_batch"] = rows[0].tolist()
        return stored == set(range(20))

    def oversample():
        buf = make(100)
        remember(buf, 0, 3)
        try:
            batch = buf.sample(10)
        except Exception as err:
            if not isinstance(err, ValueError):
                raise Fail(
                    "a ValueError (the exercise asks for one: the argument has a bad value)",
                    f"{type(err).__name__}: {err}",
                    "Check the request yourself and raise a ValueError that says how many transitions are "
                    "stored. An assert is not that: it raises AssertionError, and Python skips it under -O.",
                ) from err
            if not str(err).strip():
                raise Fail(
                    "an error with a message", f"{type(err).__name__} without a message", "Say what went wrong."
                ) from err
            return
        obs = attr(batch, "obs", "the batch")
        raise Fail(
            "an error when asking for 10 transitions from a buffer holding 3",
            f"a batch with obs of shape {tuple(array(obs, 'obs').shape)}",
            "Raise a ValueError that says how many transitions are stored, e.g. `raise ValueError(f'...')`.",
        )

    def full_batch():
        buf = make(100)
        remember(buf, 0, 3)
        try:
            ids = sample_ids(buf, 3, 20)
        except Fail:
            raise
        except Exception as err:
            raise Fail("a batch of 3 from a buffer holding 3", f"{type(err).__name__}: {err}",
                       "Raise only when more transitions are asked for than are stored: asking for exactly as "
                       "many as are stored is allowed.") from err
        if not set(ids.tolist()) <= {0, 1, 2}:
            raise Fail("only the 3 stored transitions", f"sampled ids {sorted(set(ids.tolist()))[:10]}")

    def uniform():
        buf = make(100)
        remember(buf, 0, 20)
        ids = sample_ids(buf, 4, 500)  # 2,000 draws: about 100 of each of the 20 stored transitions
        rows = ids.reshape(500, -1) if ids.size % 500 == 0 else ids[:, None]  # a wrong batch size: shapes' test
        alike = int((rows == rows[:, :1]).all(axis=1).sum())  # independent rows: 1 batch in 8,000 is 4 alike
        if rows.shape[1] > 1 and alike > 250:
            raise Fail(
                "the 4 rows of a batch drawn each on its own from 20 stored transitions (all 4 the same about once "
                "in 8,000 batches)",
                f"all 4 rows the same transition in {alike} of 500 batches",
                "Draw one random index per row of the batch, not one index for the whole batch.",
            )
        counts = np.bincount(np.clip(ids, 0, 20), minlength=21)[:20]
        seen["counts"] = counts
        if counts.min() < 40 or counts.max() > 180:
            raise Fail(
                "each of 20 stored transitions drawn about 100 times in 500 batches of 4 (uniform sampling)",
                f"counts from {counts.min()} to {counts.max()} (per transition: {counts.tolist()})",
                "Draw each batch's indices at random, each of the stored rows equally likely, anew at every "
                "call: not the newest rows, and not the same rows each time.",
            )

    def seeded():
        def draws(seed, other_code_draws: bool = False):
            buf = make(100, seed=seed)
            remember(buf, 0, 50)
            if other_code_draws:  # other code uses NumPy's global generator between two samples of the buffer
                np.random.random(17)
            return sample_ids(buf, 8, 5)

        first, again, other = draws(7), draws(7, other_code_draws=True), draws(8)
        if not np.array_equal(first, again):
            raise Fail("the same 5 batches from two buffers built with seed=7, whatever other code draws from "
                       "NumPy's global generator meanwhile", f"{first[:8]} then {again[:8]}",
                       "Seed your own random generator with the `seed` argument in __init__ and draw every "
                       "batch from it; an unseeded generator (or the global one) gives different batches "
                       "at every run.")
        if np.array_equal(first, other):
            raise Fail("different batches for seed=7 and seed=8", f"the same ids {first[:8]} for both",
                       "Pass `seed` to your generator: a fixed seed written into the class ignores the argument.")

    def copies():
        buf = make(100)
        r = _rows(0, 10)
        buf.remember(r["obs"], r["actions"], r["rewards"], r["next_obs"], r["terminated"])
        for value in r.values():
            value[...] = 0  # the caller reuses its arrays (a vector env returns new ones, a loop may not)
        batch = buf.sample(10)
        obs = array(attr(batch, "obs", "the batch"), "obs").reshape(-1, 4)
        growing = any(isinstance(v, list | deque) and len(v) < 100 for v in vars(buf).values())
        if (obs[:, 0] == 0).any() and not growing:  # a growing list or deque: the ring test names that first
            raise Fail(
                "the stored values unchanged after the caller overwrote its own arrays",
                f"sampled obs[:, 0] = {fmt(obs[:5, 0])}: the buffer saw the caller's change",
                "remember() kept references to (views of) the caller's arrays instead of copying their values. "
                "Copy each field into your own preallocated array, one array per field.",
            )

    def part_of_the_rows() -> bool:
        """remember() stored every row in its slot and len() is right, but sample() draws from part of them."""
        buf = make(100)
        remember(buf, 0, 20)
        slots = _slots(buf, 100)
        if slots is None or slots[:20] != list(range(20)) or length(buf) != 20:
            return False
        drawn = set(sample_ids(buf, 4, 100).tolist())
        seen["part"] = sorted(drawn)
        return drawn < set(range(20)) and len(drawn) > 1

    def part_hint() -> str:
        drawn = seen["part"]
        span = (f"transitions {drawn[0]} to {drawn[-1]}" if drawn == list(range(drawn[0], drawn[-1] + 1))
                else f"transitions {drawn}")
        return ("After 20 rows in a buffer of capacity 100, your buffer's arrays hold all 20 transitions, each in "
                f"its own slot, and len() is 20: remember() is right. But 100 batches of sample(4) held only {span}: "
                "the indices sample() draws cover only part of the filled rows. Every stored transition must be "
                "possible in every batch, each about equally likely.")

    def newest_only() -> bool:
        buf = make(100)
        remember(buf, 0, 20)
        return set(sample_ids(buf, 4, 50).tolist()) == {16, 17, 18, 19}

    def one_short() -> bool:
        """A range that stops one short: integers(0, size - 1), or randint's inclusive end used the other way."""
        buf = make(100)
        remember(buf, 0, 3)
        ids = set(sample_ids(buf, 2, 300).tolist())
        return length(buf) == 3 and ids == {0, 1}

    def from_position() -> bool:
        buf = make(5)
        for k in range(7):
            remember(buf, k, 1)  # position 2, 5 rows held: slots 0 and 1 hold 5 and 6
        return length(buf) == 5 and set(sample_ids(buf, 2, 200).tolist()) == {5, 6}

    def refuses_full_batch() -> bool:
        buf = make(100)
        remember(buf, 0, 3)
        buf.sample(2)
        try:
            buf.sample(3)
        except Exception:
            return True
        return False

    def misplaced_field() -> bool:
        buf = make(100)
        remember(buf, 0, 10)
        batch = buf.sample(10)
        ids = np.clip(np.rint(array(attr(batch, "obs", "the batch"), "obs").reshape(-1, 4)[:, 0] - 1000), 0, 9)
        expected = _rows(0, 10)
        for got_name in _FIELDS:
            got = array(attr(batch, got_name, "the batch"), got_name).astype(np.float64)
            for other in _FIELDS:
                want = expected[other][ids.astype(int)].astype(np.float64)
                if not want.any():  # zeros match zeros: empty slots (or all-zero values) are no evidence of a swap
                    continue
                if other != got_name and got.size == want.size and np.allclose(got.reshape(want.shape), want):
                    seen["misplaced"] = (got_name, other)
                    return True
        return False

    def column_shapes() -> bool:
        buf = make(100)
        remember(buf, 0, 12)
        batch = buf.sample(8)
        columns = [f for f in ("actions", "rewards", "terminated")
                   if array(attr(batch, f, "the batch"), f).shape == (8, 1)]
        seen["columns"] = columns
        return bool(columns)

    def one_slot_per_call() -> bool:
        """remember() of n rows advances the count (and the position) by 1, as if every call held one row."""
        buf = make(100)
        remember(buf, 0, 3)
        first = length(buf)
        remember(buf, 3, 5)
        return (first, length(buf)) == (1, 2)

    def rows_in_one_slot() -> bool:
        """All the rows of a call go to one slot (each overwriting the last), though the count moves on by n."""
        buf = make(100)
        try:
            remember(buf, 0, 3)
        except ValueError as err:  # arr[position] = obs: the (3, 4) rows do not fit in one (4,) slot
            seen["one_slot"] = str(err)
            return "broadcast" in str(err) and "(3,4)" in str(err).replace(" ", "")
        kept = set(sample_ids(buf, 3, 60).tolist()) - {-1000}
        seen["one_slot"] = kept
        return length(buf) == 3 and len(kept) == 1

    def one_index() -> bool:
        """sample() draws one index and repeats it: every row of a batch is the same transition."""
        buf = make(100)
        remember(buf, 0, 20)
        rows = sample_ids(buf, 4, 50).reshape(50, 4)
        return bool((rows == rows[:, :1]).all()) and len(set(rows[:, 0].tolist())) > 1

    def one_past() -> bool:
        """integers(0, size + 1) or endpoint=True: now and then the empty slot just after the filled rows."""
        buf = make(100)
        remember(buf, 0, 3)
        ids = sample_ids(buf, 3, 200)
        empty = np.mean(ids == -1000)  # an empty slot reads obs[:, 0] = 0, id -1000
        return length(buf) == 3 and set(ids.tolist()) == {-1000, 0, 1, 2} and 0.1 < empty < 0.5

    def float64_obs() -> bool:
        buf = make(100)
        remember(buf, 0, 12)
        batch = buf.sample(8)
        seen["float64"] = [f for f in ("obs", "next_obs") if array(attr(batch, f, "the batch"), f).dtype == np.float64]
        return bool(seen["float64"])

    def python_list() -> bool:
        """A list of transitions (tuples) instead of one array per field; a queue has its own hint."""
        buf = make(10)
        for start in range(0, 40, 4):
            remember(buf, start, 4)
        key = _python_storage(buf, 10)
        if key is None or not isinstance(getattr(buf, key), list):
            return False
        seen["list"] = key
        return _shifting(buf, lambda: remember(buf, 100, 1)) is None

    def written_n_past() -> bool:
        """The position moved on by n before the write: a call's rows went to position + n ... (empty slots sampled)."""
        buf = make(100)
        remember(buf, 0, 3)  # rows 0..2 in slots 3..5, while sampling draws from slots 0..2
        if length(buf) != 3 or set(sample_ids(buf, 3, 60).tolist()) != {-1000}:
            return False
        remember(buf, 3, 3)  # rows 3..5 in slots 9..11; slots 0..5 hold nothing, then rows 0..2
        return length(buf) == 6 and set(sample_ids(buf, 6, 60).tolist()) == {-1000, 0, 1, 2}

    def shifted_range() -> bool:
        """integers(1, size + 1): indices 1 .. size, never row 0 and now and then the empty row just past the last."""
        buf = make(100)
        remember(buf, 0, 3)
        ids = sample_ids(buf, 3, 200)
        empty = np.mean(ids == -1000)
        return length(buf) == 3 and set(ids.tolist()) == {-1000, 1, 2} and 0.15 < empty < 0.5

    def written_one_past() -> bool:
        """The rows went to position + 1 ...: slot 0 is empty and the newest row lies beyond range(len)."""
        buf = make(100)
        remember(buf, 0, 3)
        return length(buf) == 3 and set(sample_ids(buf, 3, 60).tolist()) == {-1000, 0, 1}

    tests = [
        Test("has remember, sample and len; a new buffer is empty", interface, required=True),
        Test(OWN_CODE, own_code_test(fill_and_sample, references,
                                     "your class", lambda: inherited(cls, ReplayBuffer, methods), cls), required=True),
        Test(LEN, len_after_remember),
        Test(BATCH_ROWS, lambda: (batch_of_rows(), copies())),
        Test(WRITTEN_ONLY, lambda: (only_written(), uniform(), seeded())),
        Test(TOGETHER, together),
        Test(SHAPES, shapes_dtypes),
        Test(WRAP, wrap_one_at_a_time, on_error=_past_the_end),
        Test(WRAP_BATCH, wrap_within_batch, on_error=_past_the_end),
        Test(RING, fixed_memory),
        Test(OVERSAMPLE, lambda: (full_batch(), oversample())),
    ]
    mistakes = [
        Mistake(
            "remember() counts calls, not rows: a call with n rows moved the count (and the position) by 1.",
            one_slot_per_call,
            "After remembering 3 rows, then 5, your len() is 1, then 2. remember() receives one row per env at "
            "once: it must store all n rows of the call, and the write position and the count move on by n.",
        ),
        Mistake(
            "remember() writes all the rows of a call into one slot, instead of one slot per row.",
            rows_in_one_slot,
            lambda: ("Storing 3 rows in a fresh buffer failed: the 3 rows do not fit in one slot "
                     f"({seen['one_slot']}). " if isinstance(seen["one_slot"], str) else
                     "After 3 rows in a fresh buffer, samples hold only one of them and empty slots: the rows of "
                     "the call overwrote each other in one slot. ")
            + "remember() receives n rows (one per env); row i of the call goes to its own slot, i places after "
            "the write position (wrapping around at the capacity).",
            explains=[LEN, BATCH_ROWS, WRITTEN_ONLY, TOGETHER, SHAPES, WRAP, WRAP_BATCH, RING, OVERSAMPLE],
        ),
        Mistake(
            "remember() writes one slot past the write position: slot 0 stays empty and the newest row lies "
            "beyond the rows that sample() draws from.",
            written_one_past,
            "After 3 rows in a fresh buffer, samples hold an empty slot (obs all 0) and rows 0 and 1, never row "
            "2. The first row of a fresh buffer goes to slot 0: write at the current position, then move it on.",
            explains=[WRITTEN_ONLY, BATCH_ROWS, TOGETHER, OVERSAMPLE],
        ),
        Mistake(
            "remember() moves the write position on by n before writing: the rows of a call go n slots past "
            "the position, and the slots that sample() draws from stay empty.",
            written_n_past,
            "After 3 rows in a fresh buffer, your samples hold only empty slots (obs all 0); after 3 more, only "
            "the first 3 rows and empty slots, never the newest. Your remember() advances the position by n "
            "first and then writes there, so each call's rows land past the filled part that sample() draws "
            "from. A fresh buffer's first row belongs in slot 0: write the rows at the current position, and "
            "move it on only afterwards.",
            explains=[BATCH_ROWS, WRITTEN_ONLY, TOGETHER, WRAP, WRAP_BATCH, OVERSAMPLE],
        ),
        Mistake(
            "sample() refuses a batch as large as the buffer: sample(len(buffer)) must be allowed.",
            refuses_full_batch,
            "Your sample() raises when batch_size equals the number of stored transitions. Only a request for "
            "more than are stored is an error: compare with > rather than >=.",
        ),
        Mistake(
            "sample() returns the newest rows, always the same ones, instead of drawing at random.",
            newest_only,
            "A replay buffer's point is to mix old and new transitions: draw each index at random from all the "
            "filled rows, with a seeded generator, at every call.",
            explains=[UNIFORM, BATCH_ROWS, WRAP, WRAP_BATCH],
        ),
        Mistake(
            "sample() draws one index for the whole batch: every row of a batch is the same transition.",
            one_index,
            "In each of your batches all rows are one transition, repeated. A batch of B copies teaches what one "
            "transition teaches, and the mix of many transitions that replay is for is lost. Draw batch_size "
            "indices, one per row, each at random.",
            explains=[UNIFORM],
        ),
        Mistake(
            "sample() never draws the last filled row: the range of its indices stops one short.",
            one_short,
            "With 3 transitions stored, rows 0, 1 and 2 must all be possible. Check whether the upper end of "
            "the function you draw with is included or excluded (NumPy's integers excludes it, random.randint "
            "includes it).",
            explains=[BATCH_ROWS, UNIFORM, WRAP, WRAP_BATCH],
        ),
        Mistake(
            "sample() draws one index past the last filled row: its range includes the number of stored rows.",
            one_past,
            "With 3 transitions stored (rows 0, 1 and 2), your samples now and then hold row 3, an empty slot "
            "(obs all 0); in a full buffer that index lies past the end of the arrays (IndexError). The valid "
            "indices stop one before the number of stored rows: check whether the function you draw with "
            "includes its upper end (NumPy's integers excludes it, unless endpoint=True; random.randint "
            "includes it).",
            explains=[BATCH_ROWS, WRITTEN_ONLY, TOGETHER, WRAP, WRAP_BATCH, OVERSAMPLE],
        ),
        Mistake(
            "sample() draws its indices from a range shifted up by one (1 to len(buffer)): it never draws row 0 "
            "and draws the empty row just past the filled ones.",
            shifted_range,
            "With 3 transitions stored (rows 0, 1 and 2), your samples hold rows 1 and 2 and now and then row 3, "
            "an empty slot (obs all 0), but never row 0: both ends of your range are one too high. Rows are "
            "numbered from 0, so the first filled row is row 0 and the last is one before the number of stored "
            "rows; in a full buffer the shifted range reaches past the end of the arrays (an IndexError, or, "
            "taken modulo the capacity, back to row 0). Shift neither end of the range.",
            explains=[BATCH_ROWS, WRITTEN_ONLY, TOGETHER, WRAP, WRAP_BATCH, OVERSAMPLE],
        ),
        Mistake(
            "sample() draws from range(position), the write position, not from all the filled rows: once the "
            "ring wraps around it only sees the newest rows.",
            from_position,
            "Before the first wrap the write position equals the number of filled rows; after it, the position "
            "falls back towards 0 while every row stays filled. Draw from the number of filled rows.",
            explains=[WRAP, WRAP_BATCH, UNIFORM],
        ),
        Mistake(
            "a field of the batch holds another field's values (stored or returned in the wrong place).",
            misplaced_field,
            lambda: f"Your batch's `{seen['misplaced'][0]}` holds the `{seen['misplaced'][1]}` of the sampled "
            "transitions. Check the order of the arguments where you store the fields and where you return them.",
            explains=[TOGETHER],
        ),
        Mistake(
            "some fields come back as (B, 1) columns instead of (B,) vectors.",
            column_shapes,
            lambda: f"Your {', '.join(f'`{c}`' for c in seen['columns'])} come back with shape (8, 1) for "
            "sample(8). In the TD target a (B, 1) tensor broadcasts against the (B,) ones into a (B, B) table, "
            "without an error. Keep one number per row for these fields (arrays of shape (capacity,)).",
            explains=[SHAPES, TOGETHER],
        ),
        Mistake(
            "observations stored as float64: the network expects float32.",
            float64_obs,
            lambda: f"Your {' and '.join(f'`{f}`' for f in seen['float64'])} come back as float64 (np.zeros "
            "allocates float64 unless told otherwise). The network's weights are float32, and PyTorch refuses "
            "to multiply a float64 batch by them: the update stops with 'mat1 and mat2 must have the same "
            "dtype'. Allocate the observation arrays as float32.",
            explains=[SHAPES],
        ),
        Mistake(
            "sample() draws from all `capacity` slots, most of which were never written.",
            samples_empty_slots,
            "Draw indices from the filled part of the buffer (range(len(self))), not from all `capacity` slots.",
            explains=[WRITTEN_ONLY, BATCH_ROWS,
                      "the fields of a sampled transition belong together"],
        ),
        Mistake(
            "transitions kept as Python objects in a list, not in one preallocated array per field.",
            python_list,
            lambda: f"Your buffer keeps each transition as its own Python object in the list `{seen['list']}`. "
            "Every sample() must then fetch them one by one and stack them into arrays: the cost the ring of "
            "this section avoids. Keep one NumPy array per field (obs, actions, rewards, next_obs, terminated), "
            "each with `capacity` rows, allocated once in __init__, and write the rows of each call into them.",
            explains=[RING],
        ),
        Mistake(
            "len() keeps growing past the capacity: it counts every transition ever stored, not those still held.",
            len_past_capacity,
            lambda: f"After 7 transitions in a buffer of capacity 5 your len() is {seen['len']}: the 2 oldest "
            "were overwritten, so 5 are held. The count of stored rows grows with each transition and stops at "
            "`capacity`; sampling draws from that many rows.",
            explains=[WRAP, WRAP_BATCH],
        ),
        Mistake(
            "len() returns the write position, which falls back towards 0 when the ring wraps around, not the "
            "number of stored transitions.",
            len_is_position,
            "Keep two numbers: where the next row goes (it wraps around) and how many rows are filled (it stops at "
            "`capacity`). len() returns the second, and sampling draws from that many rows.",
            explains=[WRAP, WRAP_BATCH, RING],
        ),
        Mistake(
            "len() falls behind the stored transitions once the ring wraps around: it follows the write position "
            "instead of counting the rows stored.",
            len_behind_stored,
            lambda: f"Your len is {seen['len_behind']} after storing 7 transitions into a buffer of capacity 5: "
            "it should be 5. The count of stored rows must grow with the rows stored, up to the capacity, "
            "independently of where the write position is: the position wraps back towards 0 when the ring is "
            "full, the count stays at the capacity. sample() then refuses batches your buffer could give.",
            explains=[WRAP, WRAP_BATCH],
        ),
        Mistake(
            "sample() creates a new generator at every call: every batch of the same size is the same.",
            same_batch_every_call,
            lambda: f"Every batch is the same: 10 calls of sample(4) on a buffer of 20 transitions all returned "
            f"rows {seen['same_batch']}, though len() and the stored rows are right. Is your generator created "
            "inside sample()? Made anew from `seed` at every call, it starts over and draws the same indices each "
            "time. Create it once, in __init__, from seed, and draw every batch from it.",
            explains=[UNIFORM, BATCH_ROWS, WRAP, WRAP_BATCH],
        ),
        Mistake(
            "sample() draws from only part of the stored rows: remember() stored them all, in the right slots.",
            part_of_the_rows, part_hint,
            explains=[UNIFORM, BATCH_ROWS, WRAP, WRAP_BATCH, TOGETHER, OVERSAMPLE],
        ),
    ]
    return run_tests(name, tests, signature, mistakes)

