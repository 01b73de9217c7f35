"""The replay-buffer check of notebook 03 catches what students really write (third review, D1-D5).

Each wrong answer is a correct student ring with one mistake put in. The check must fail and
name the mistake actually made; correct answers written differently from the reference must
pass; and no report on these wrong answers pastes a line of a notebook's reference solution.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
from check_reports import failed, lenient, named, pasted, reference_lines  # noqa: F401 (lenient: an autouse fixture)
from student_answers import StudentRing

import dqn_helpers
from dqn_helpers import TransitionBatch
from dqn_helpers.checks import check_replay_buffer
from dqn_helpers.checks.replay_buffer import (
    BATCH_ROWS,
    COPIES,
    FULL_BATCH,
    OVERSAMPLE,
    RING,
    SEEDED,
    SHAPES,
    TOGETHER,
    UNIFORM,
    WRAP_BATCH,
    WRITTEN_ONLY,
)

# --------------------------------------------------------------------------- correct answers, written differently


class SlicedRing:
    """Correct: Python's random module, the batch split in two slices at the end of the arrays, a namespace back."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.ptr, self.full = capacity, 0, False
        self.random = random.Random(seed)
        self.data = {"obs": np.empty((capacity, *obs_shape), np.float32),
                     "next_obs": np.empty((capacity, *obs_shape), np.float32),
                     "actions": np.empty(capacity, np.int64), "rewards": np.empty(capacity, np.float32),
                     "terminated": np.empty(capacity, np.float32)}

    def remember(self, obs, actions, rewards, next_obs, terminated):
        fields = dict(obs=obs, actions=actions, rewards=rewards, next_obs=next_obs, terminated=terminated)
        n = len(actions)
        first = min(n, self.capacity - self.ptr)
        for key, values in fields.items():
            self.data[key][self.ptr:self.ptr + first] = values[:first]
            self.data[key][:n - first] = values[first:]
        self.full = self.full or self.ptr + n >= self.capacity
        self.ptr = (self.ptr + n) % self.capacity

    def __len__(self):
        return self.capacity if self.full else self.ptr

    def sample(self, batch_size):
        if batch_size > len(self):
            raise ValueError(f"only {len(self)} transitions stored, {batch_size} asked for")
        idx = np.array([self.random.randrange(len(self)) for _ in range(batch_size)])
        return SimpleNamespace(**{key: values[idx] for key, values in self.data.items()})


class NoReplacementRing(StudentRing):
    """Correct: a batch without repeats (rng.choice with replace=False) is uniform too."""

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"{batch_size} > {self.size} stored")
        idx = self.rng.choice(self.size, size=batch_size, replace=False)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])


@pytest.mark.parametrize("answer", [StudentRing, SlicedRing, NoReplacementRing], ids=lambda c: c.__name__)
def test_correct_answers_written_differently_pass(answer):
    report = check_replay_buffer(answer)
    assert report, str(report)


def test_the_test_answers_are_not_the_package():
    for cls in (SlicedRing, NoReplacementRing):
        assert not issubclass(cls, dqn_helpers.ReplayBuffer)


# --------------------------------------------------------------------------- wrong answers, as students write them


def _batch(ring, idx):
    return TransitionBatch(ring.obs[idx], ring.actions[idx], ring.rewards[idx], ring.next_obs[idx],
                           ring.terminated[idx])


class NewestRows(StudentRing):  # D1: "the latest transitions", deterministic
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, (self.position - 1 - np.arange(batch_size)) % self.capacity)


class SeedIgnored(StudentRing):  # D2
    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.rng = np.random.default_rng()


class FixedSeed(StudentRing):  # D2: a seed written into the class
    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.rng = np.random.default_rng(42)


class TupleViews:  # D3: a preallocated list of tuples holding views of the caller's arrays
    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.position, self.size = capacity, 0, 0
        self.memory = [None] * capacity
        self.rng = np.random.default_rng(seed)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        for i in range(len(actions)):
            self.memory[self.position] = (obs[i], actions[i], rewards[i], next_obs[i], terminated[i])
            self.position = (self.position + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        picked = [self.memory[i] for i in self.rng.integers(0, self.size, size=batch_size)]
        obs, actions, rewards, next_obs, terminated = (np.array(x) for x in zip(*picked, strict=True))
        return TransitionBatch(obs.astype(np.float32), actions.astype(np.int64), rewards, next_obs.astype(np.float32),
                               terminated)

    def __len__(self):
        return self.size


class OneShort(StudentRing):  # D4: integers(0, size - 1)
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, self.rng.integers(0, self.size - 1, size=batch_size))


class FromPosition(StudentRing):  # D4: range(position)
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, self.rng.integers(0, max(self.position, 1), size=batch_size))


class NextObsIsObs(StudentRing):  # D4: next_obs stored as obs
    def remember(self, obs, actions, rewards, next_obs, terminated):
        super().remember(obs, actions, rewards, obs, terminated)


class RewardsTerminatedSwapped(StudentRing):  # D4
    def remember(self, obs, actions, rewards, next_obs, terminated):
        super().remember(obs, actions, terminated, next_obs, rewards)


class ColumnRewards(StudentRing):  # D4: (B, 1) columns
    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.rewards = np.zeros((self.capacity, 1), dtype=np.float32)
        self.actions = np.zeros((self.capacity, 1), dtype=np.int64)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        super().remember(obs, np.asarray(actions)[:, None], np.asarray(rewards)[:, None], next_obs, terminated)


class RefusesFullBatch(StudentRing):  # D5: b >= size
    def sample(self, batch_size):
        if batch_size >= self.size:
            raise ValueError(f"cannot sample {batch_size} from {self.size}")
        return super().sample(batch_size)


class AssertsInstead(StudentRing):  # D5: an assert where a ValueError is specified
    def sample(self, batch_size):
        assert batch_size <= self.size, f"only {self.size} stored"
        idx = self.rng.integers(0, self.size, size=batch_size)
        return _batch(self, idx)


def test_newest_rows_instead_of_random_is_named():
    report = check_replay_buffer(NewestRows)
    assert UNIFORM in failed(report)
    named(report, "returns the newest rows", absent=("Write at position % capacity",))


@pytest.mark.parametrize("answer", [SeedIgnored, FixedSeed], ids=lambda c: c.__name__)
def test_a_seed_that_is_not_used_fails(answer):
    report = check_replay_buffer(answer)
    assert failed(report) == [SEEDED], str(report)
    assert "seed" in str(report)


def test_views_of_the_callers_arrays_fail_the_copy_test():
    report = check_replay_buffer(TupleViews)
    assert COPIES in failed(report), str(report)
    assert "kept references to (views of) the caller's arrays" in str(report)


def test_an_index_range_one_short_is_named():
    text = named(check_replay_buffer(OneShort), "stops one short",
                 absent=("Write at position % capacity",
                         "overwrites the oldest transitions first (wrap-around)\n    hint"))
    assert "included or excluded" in text


def test_sampling_from_the_write_position_is_named():
    named(check_replay_buffer(FromPosition), "range(position)", absent=("Write at position % capacity",))


@pytest.mark.parametrize(("answer", "got", "other"), [(NextObsIsObs, "next_obs", "obs"),
                                                       (RewardsTerminatedSwapped, "rewards", "terminated")],
                         ids=["next_obs-as-obs", "rewards-terminated-swapped"])
def test_a_field_in_another_fields_place_is_named(answer, got, other):
    text = named(check_replay_buffer(answer), "holds another field's values",
                 absent=("Use the same indices for every field",))
    assert f"`{got}` holds the `{other}`" in text


def test_column_shapes_are_named():
    text = named(check_replay_buffer(ColumnRewards), "(B, 1) columns", absent=("Use the same indices",))
    assert "(B, B) table" in text


def test_refusing_a_full_batch_is_named():
    report = check_replay_buffer(RefusesFullBatch)
    assert FULL_BATCH in failed(report)
    named(report, "sample(len(buffer)) must be allowed")


def test_an_assert_is_not_the_value_error_asked_for():
    report = check_replay_buffer(AssertsInstead)
    assert failed(report) == [OVERSAMPLE], str(report)
    assert "AssertionError" in str(report) and "ValueError" in str(report)


WRONG = [NewestRows, SeedIgnored, FixedSeed, TupleViews, OneShort, FromPosition, NextObsIsObs,
         RewardsTerminatedSwapped, ColumnRewards, RefusesFullBatch, AssertsInstead]


def test_no_report_on_these_wrong_answers_pastes_a_reference_line():
    lines = reference_lines()
    found = {}
    for answer in WRONG:
        report = check_replay_buffer(answer)
        assert not report, answer.__name__
        hints = [report.mistake_hint or ""] + [r.hint or "" for r in report.results]
        found.update({(answer.__name__, h[:60]): pasted(h, lines) for h in hints if pasted(h, lines)})
    assert not found, found


# --------------------------------------------------------------------------- fourth review: four more kinds


class IntegerRewardRing(StudentRing):
    """Rewards in an int64 array: CartPole's 1s survive, a reward of 0.5 is rounded to 0."""

    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.rewards = np.zeros(self.capacity, dtype=np.int64)


class OneRowPerCallRing(StudentRing):
    """Written for one transition per call: the position and the count move by 1, whatever n is."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        slot = self.position
        self.obs[slot], self.next_obs[slot] = obs[0], next_obs[0]
        self.actions[slot], self.rewards[slot], self.terminated[slot] = actions[0], rewards[0], terminated[0]
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)


class WritesAfterMovingRing(StudentRing):
    """Moves the position first, then writes: every row lands one slot too far."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        slots = np.arange(self.position + 1, self.position + 1 + n) % self.capacity
        self.obs[slots], self.next_obs[slots] = obs, next_obs
        self.actions[slots], self.rewards[slots], self.terminated[slots] = actions, rewards, terminated
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)


def test_integer_rewards_fail_the_dtype_test():
    report = check_replay_buffer(IntegerRewardRing)
    assert failed(report) == [
        "sample shapes (batch, obs_dim) and dtypes (float32 obs, integer actions, float rewards and flags)"]
    assert "0.5 becomes 0" in str(report)


def test_one_row_per_call_is_named():
    named(check_replay_buffer(OneRowPerCallRing), "counts calls, not rows")


def test_writing_one_slot_too_far_is_named():
    named(check_replay_buffer(WritesAfterMovingRing), "one slot past the write position",
          absent=("range(capacity)",))


class _ResetAtTheEnd(StudentRing):
    """Moves the position on by n and back to 0 once it reaches the capacity, instead of taking it modulo."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        position = self.position
        super().remember(obs, actions, rewards, next_obs, terminated)
        self.position = 0 if position + len(actions) >= self.capacity else position + len(actions)


class _GlobalGenerator(StudentRing):
    """Seeds NumPy's global generator in __init__ and samples from it."""

    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        np.random.seed(seed)

    def sample(self, batch_size):
        idx = np.random.randint(0, self.size, size=batch_size)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])


def test_replay_buffer_position_reset_to_zero_after_a_wrapping_batch_fails():
    report = check_replay_buffer(_ResetAtTheEnd)
    assert "a batch that crosses the end of the ring wraps around within the batch" in failed(report), str(report)
    assert "not 0" in str(report)


def test_replay_buffer_sampling_from_the_global_generator_fails_the_seed_test():
    report = check_replay_buffer(_GlobalGenerator)
    assert any("seeded by `seed`" in name for name in failed(report)), str(report)
    assert check_replay_buffer(StudentRing)


# --------------------------------------------------------------------------- wrong answers named after expert review
#
# Each wrong answer is a correct student answer with one mistake put in, as reviewers found them; each once
# got a misleading or generic hint: an index range one past the filled rows, transitions in a Python list,
# float64 observations or bool terminated flags, the rows of a batch written into one slot or one index for a
# whole batch; a buffer that moves its write position on before writing (it was told that two fields were
# swapped: its samples are empty slots, and zeros match zeros), a sample() range shifted by one (it was told
# to store each row in its own slot). The check must fail and name the mistake actually made.

# --------------------------------------------------------------------------- correct answers still pass


class BoolTerminatedRing(StudentRing):
    """The terminated flags stored as bool: the TD target's 1 - terminated fails on a bool tensor."""

    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.terminated = np.zeros(self.capacity, dtype=bool)


def test_correct_replay_buffer_passes():
    report = check_replay_buffer(StudentRing)
    assert report, str(report)
    assert report.mistake is None


def test_the_reference_answers_pass():
    assert check_replay_buffer(StudentRing)  # (the reference binning: tests/test_checks_nb01.py)


def test_bool_terminated_flags_fail_with_the_reason():
    report = check_replay_buffer(BoolTerminatedRing)
    assert not report
    assert "floating-point `terminated` flags" in str(report) and "bool tensor" in str(report), str(report)


# --------------------------------------------------------------------------- 1. one past the filled rows


class OnePastRing(StudentRing):
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, self.rng.integers(0, self.size + 1, size=batch_size))


class EndpointRing(StudentRing):
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, self.rng.integers(0, self.size, size=batch_size, endpoint=True))


@pytest.mark.parametrize("answer", [OnePastRing, EndpointRing], ids=lambda c: c.__name__)
def test_an_index_range_one_past_the_filled_rows_is_named(answer):
    text = named(check_replay_buffer(answer), "one index past the last filled row",
                 absent=("not range(capacity)", "The write position ran past the last slot"))
    assert "includes its upper end" in text


# --------------------------------------------------------------------------- 2. a list of tuples


class ListOfTuples:
    """Transitions as tuples (copies) in a list that grows to the capacity, then is overwritten in place."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.position, self.memory = capacity, 0, []
        self.rng = np.random.default_rng(seed)

    def remember(self, obs, actions, rewards, next_obs, terminated):
        for transition in zip(obs, actions, rewards, next_obs, terminated, strict=True):
            transition = tuple(np.array(x) for x in transition)
            if len(self.memory) < self.capacity:
                self.memory.append(transition)
            else:
                self.memory[self.position] = transition
            self.position = (self.position + 1) % self.capacity

    def sample(self, batch_size):
        if batch_size > len(self.memory):
            raise ValueError("too few stored")
        picked = [self.memory[i] for i in self.rng.integers(0, len(self.memory), size=batch_size)]
        obs, actions, rewards, next_obs, terminated = (np.array(x) for x in zip(*picked, strict=True))
        return TransitionBatch(obs.astype(np.float32), actions, rewards.astype(np.float32),
                               next_obs.astype(np.float32), terminated)

    def __len__(self):
        return len(self.memory)


class PreallocatedListOfTuples(ListOfTuples):
    """The same, with the list allocated at full length in __init__: still one Python object per transition."""

    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.memory, self.size = [None] * capacity, 0

    def remember(self, obs, actions, rewards, next_obs, terminated):
        for transition in zip(obs, actions, rewards, next_obs, terminated, strict=True):
            self.memory[self.position] = tuple(np.array(x) for x in transition)
            self.position = (self.position + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        self.memory, full = self.memory[:self.size], self.memory
        try:
            return super().sample(batch_size)
        finally:
            self.memory = full

    def __len__(self):
        return self.size


@pytest.mark.parametrize("answer", [ListOfTuples, PreallocatedListOfTuples], ids=lambda c: c.__name__)
def test_a_list_of_tuples_is_named(answer):
    report = check_replay_buffer(answer)
    assert failed(report) == [RING], str(report)
    text = named(report, "Python objects in a list", absent=("is a queue",))
    assert "in the list `memory`" in text and "one NumPy array per field" in text


# --------------------------------------------------------------------------- 3. dtypes


class Float64ObsRing(StudentRing):
    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.obs = np.zeros((self.capacity, *obs_shape))
        self.next_obs = np.zeros((self.capacity, *obs_shape))


def test_float64_observations_are_named():
    report = check_replay_buffer(Float64ObsRing)
    assert failed(report) == [SHAPES], str(report)
    text = named(report, "observations stored as float64")
    assert "`obs` and `next_obs` come back as float64" in text and "float32" in text


# --------------------------------------------------------------------------- 4. one slot, one index


class OneSlotRing(StudentRing):
    """Writes every row of a call into the same slot (the last one stays), yet counts n rows."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        for i in range(n):
            slot = self.position
            self.obs[slot], self.next_obs[slot] = obs[i], next_obs[i]
            self.actions[slot], self.rewards[slot], self.terminated[slot] = actions[i], rewards[i], terminated[i]
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)


class WholeBatchInOneSlot(StudentRing):
    """Assigns the whole batch to the slot at the write position: NumPy cannot fit n rows in one."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        self.obs[self.position], self.next_obs[self.position] = obs, next_obs
        self.actions[self.position], self.rewards[self.position] = actions, rewards
        self.terminated[self.position] = terminated
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)


@pytest.mark.parametrize("answer", [OneSlotRing, WholeBatchInOneSlot], ids=lambda c: c.__name__)
def test_the_rows_of_a_call_written_into_one_slot_are_named(answer):
    text = named(check_replay_buffer(answer), "into one slot",
                 absent=("not range(capacity)", "Use the same indices for every field",
                         "print the shapes and indices"))
    assert "its own slot" in text


class OneIndexRing(StudentRing):
    """Draws one index and repeats it for the whole batch."""

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too few stored")
        return _batch(self, np.full(batch_size, self.rng.integers(0, self.size)))


def test_one_index_for_the_whole_batch_is_named():
    report = check_replay_buffer(OneIndexRing)
    assert failed(report) == [UNIFORM], str(report)
    text = named(report, "one index for the whole batch")
    assert "all 4 rows the same transition" in text


# --------------------------------------------------------------------------- 5. moved on first, shifted by one


class AdvanceFirst(StudentRing):
    """The position moves on by n before the write: a call's rows go to position + n, ..."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        self.position = (self.position + n) % self.capacity
        rows = (self.position + np.arange(n)) % self.capacity
        self.obs[rows], self.next_obs[rows] = obs, next_obs
        self.actions[rows], self.rewards[rows], self.terminated[rows] = actions, rewards, terminated
        self.size = min(self.size + n, self.capacity)


class ShiftByOne(StudentRing):
    """integers(1, size + 1): never row 0, now and then the empty row `size`."""

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too many")
        return _batch(self, self.rng.integers(1, self.size + 1, size=batch_size) % self.capacity)


class ShiftByOneNoModulo(StudentRing):
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too many")
        return _batch(self, self.rng.integers(1, self.size + 1, size=batch_size))


class ActionsTerminatedSwapped(StudentRing):
    """A real swap of two fields: still named as one (the non-zero values show it)."""

    def sample(self, batch_size):
        b = super().sample(batch_size)
        return TransitionBatch(b.obs, b.terminated.astype(np.int64), b.rewards, b.next_obs,
                               b.actions.astype(np.float32))


def test_a_position_moved_on_before_the_write_is_named_not_a_field_swap():
    report = check_replay_buffer(AdvanceFirst)
    text = named(report, "moves the write position on by n before writing",
                 absent=("holds another field's values", "holds the `terminated`", "not range(capacity)"))
    assert {BATCH_ROWS, WRITTEN_ONLY, TOGETHER} <= set(failed(report))
    assert all(r.consequence for r in report.failures), text
    assert "move it on only afterwards" in report.mistake_hint


@pytest.mark.parametrize("answer", [ShiftByOne, ShiftByOneNoModulo])
def test_a_sample_range_shifted_by_one_is_named(answer):
    report = check_replay_buffer(answer)
    text = named(report, "range shifted up by one",
                 absent=("store each row in its own slot", "not range(capacity)"))
    assert "never row 0" in report.mistake_hint, text
    assert all(r.consequence for r in report.failures), text


def test_a_real_field_swap_is_still_named():
    report = check_replay_buffer(ActionsTerminatedSwapped)
    named(report, "a field of the batch holds another field's values")


# --------------------------------------------------------------------------- 6. a generator per call, len stuck


class GeneratorPerCall(StudentRing):
    """np.random.default_rng(self.seed) inside sample(): every batch of a size is the same."""

    def __init__(self, capacity, obs_shape, seed=None):
        super().__init__(capacity, obs_shape, seed)
        self.seed = seed

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too many")
        rng = np.random.default_rng(self.seed)
        return _batch(self, rng.integers(0, self.size, size=batch_size))


class LenFromPosition(StudentRing):
    """self.size = max(self.size, self.position): after the wrap len stays stuck below the capacity."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        size_before = self.size
        super().remember(obs, actions, rewards, next_obs, terminated)
        self.size = max(size_before, self.position)


def test_a_generator_created_in_every_sample_is_named():
    report = check_replay_buffer(GeneratorPerCall)
    text = named(report, "creates a new generator at every call",
                 absent=("store each row in its own slot", "Write at position % capacity"))
    assert "Every batch is the same" in report.mistake_hint, text
    assert "Create it once, in __init__, from seed" in report.mistake_hint, text
    assert all(r.consequence for r in report.failures), text


def test_len_stuck_behind_the_stored_rows_after_a_wrap_is_named():
    report = check_replay_buffer(LenFromPosition)
    text = named(report, "len() falls behind the stored transitions",
                 absent=("Read the error message",))
    assert ("len is 4 after storing 7 transitions into a buffer of capacity 5: it should be 5"
            in report.mistake_hint), text
    assert "independently of where the write position is" in report.mistake_hint, text
    assert all(r.consequence for r in report.failures), text


def test_the_reference_ring_still_passes():
    report = check_replay_buffer(StudentRing)
    assert report and report.mistake is None, str(report)


# ------------------------------------------------------------------ sample() alone wrong; a write that jumps to 0


class NewestHalfRing(StudentRing):
    """Draws only from the newest half of the stored rows: remember() is right."""

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"asked for {batch_size} transitions, only {self.size} stored")
        idx = self.rng.integers(self.size // 2, self.size, size=batch_size)
        return TransitionBatch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                               self.terminated[idx])


class JumpToZeroRing(StudentRing):
    """One slice per call; a call that does not fit before the end is written from slot 0 instead."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        if self.position + n > self.capacity:
            self.position = 0
        rows = slice(self.position, self.position + n)
        self.obs[rows], self.next_obs[rows] = obs, next_obs
        self.actions[rows], self.rewards[rows], self.terminated[rows] = actions, rewards, terminated
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)


def test_a_sampler_that_sees_part_of_the_rows_is_blamed_not_remember():
    report = check_replay_buffer(NewestHalfRing)
    text = named(report, "sample() draws from only part of the stored rows",
                 absent=("store each row in its own slot", "Write at position % capacity"))
    assert "held only transitions 10 to 19" in text, text
    assert all(r.consequence for r in report.failures), text


def test_a_call_written_from_slot_0_is_told_which_slots_were_written_and_which_stayed_empty():
    report = check_replay_buffer(JumpToZeroRing)
    assert failed(report) == [WRAP_BATCH], str(report)
    hint = report.failures[0].hint
    assert "holds, slot by slot, [3, 4, 5, 6, empty]" in hint and "slot 4 stayed empty" in hint, hint
    assert "modulo" not in hint and "batch" not in hint, hint
