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
from dqn_helpers.checks.replay_buffer import COPIES, FULL_BATCH, OVERSAMPLE, SEEDED, UNIFORM

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
