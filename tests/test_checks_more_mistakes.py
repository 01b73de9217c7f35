"""More wrong answers that reviewers tried on the replay buffer (notebook 03) and the binning (notebook 01).

Each once got a misleading or generic hint: a buffer that moves its write position on before writing was told
that two fields were swapped (its samples are empty slots, and zeros match zeros), a sample() range shifted by
one was told to store each row in its own slot, and three binnings got only the generic hints of the tests.
Their reports must now lead with the mistake each makes.
"""

from __future__ import annotations

import numpy as np
import pytest
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)

import dqn_helpers
from dqn_helpers.checks import check_discretise, check_replay_buffer
from dqn_helpers.checks.replay_buffer import BATCH_ROWS, TOGETHER, WRITTEN_ONLY

# ------------------------------------------------------------------------------- the reference answers


class Ring:
    """Notebook 03's reference ring buffer."""

    def __init__(self, capacity, obs_shape, seed=None):
        self.capacity, self.position, self.size = int(capacity), 0, 0
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    def _write(self, rows, obs, actions, rewards, next_obs, terminated):
        self.obs[rows], self.next_obs[rows] = obs, next_obs
        self.actions[rows], self.rewards[rows], self.terminated[rows] = actions, rewards, terminated

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        rows = (self.position + np.arange(n)) % self.capacity
        self._write(rows, obs, actions, rewards, next_obs, terminated)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def _batch(self, rows):
        return dqn_helpers.TransitionBatch(self.obs[rows], self.actions[rows], self.rewards[rows],
                                           self.next_obs[rows], self.terminated[rows])

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"cannot sample {batch_size} transitions, the buffer holds only {self.size}")
        return self._batch(self.rng.integers(0, self.size, size=batch_size))

    def __len__(self):
        return self.size


def discretise(obs, low, high, n_bins):
    """Notebook 01's reference binning."""
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins, strict=True):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + min(int(fraction * n), n - 1)
    return int(index)


def test_the_reference_answers_pass():
    assert check_replay_buffer(Ring)
    assert check_discretise(discretise)


# ------------------------------------------------------------------------------- the replay buffer


class AdvanceFirst(Ring):
    """The position moves on by n before the write: a call's rows go to position + n, ..."""

    def remember(self, obs, actions, rewards, next_obs, terminated):
        n = len(actions)
        self.position = (self.position + n) % self.capacity
        rows = (self.position + np.arange(n)) % self.capacity
        self._write(rows, obs, actions, rewards, next_obs, terminated)
        self.size = min(self.size + n, self.capacity)


class ShiftByOne(Ring):
    """integers(1, size + 1): never row 0, now and then the empty row `size`."""

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too many")
        return self._batch(self.rng.integers(1, self.size + 1, size=batch_size) % self.capacity)


class ShiftByOneNoModulo(Ring):
    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("too many")
        return self._batch(self.rng.integers(1, self.size + 1, size=batch_size))


class ActionsTerminatedSwapped(Ring):
    """A real swap of two fields: still named as one (the non-zero values show it)."""

    def sample(self, batch_size):
        b = super().sample(batch_size)
        return dqn_helpers.TransitionBatch(b.obs, b.terminated.astype(np.int64), b.rewards, b.next_obs,
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


# ------------------------------------------------------------------------------- the binning


def shifted_base(obs, low, high, n_bins):
    """Each digit combined with the previous dimension's count instead of its own."""
    bins = [min(max(int((x - lo) / (hi - lo) * n), 0), n - 1) for x, lo, hi, n in zip(obs, low, high, n_bins)]
    index = bins[0]
    for d in range(1, len(bins)):
        index = index * n_bins[d - 1] + bins[d]
    return index


def sum_of_bins(obs, low, high, n_bins):
    return sum(min(max(int((x - lo) / (hi - lo) * n), 0), n - 1) for x, lo, hi, n in zip(obs, low, high, n_bins))


def sum_not_positional(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins):
        f = (min(max(x, lo), hi) - lo) / (hi - lo)
        index += min(int(f * n), n - 1) * n
    return int(index)


def np_clip_high_edge(obs, low, high, n_bins):
    """Clipped into [low, high], but x == high gives bin n, which mode="wrap" takes back to 0."""
    obs, low, high, n = map(np.asarray, (obs, low, high, n_bins))
    b = np.floor((np.clip(obs, low, high) - low) / (high - low) * n).astype(int)
    mode = "raise" if (b < n).all() else "wrap"
    return int(np.ravel_multi_index(tuple(b), tuple(n), mode=mode))


def modulo_high_edge(obs, low, high, n_bins):
    index = 0
    for x, lo, hi, n in zip(obs, low, high, n_bins):
        fraction = (min(max(x, lo), hi) - lo) / (hi - lo)
        index = index * n + int(fraction * n) % n
    return index


GENERIC = ("Each dimension's bin number needs its own range of digits", "Combine the bin numbers like the digits")


def test_digits_combined_in_the_previous_dimensions_base_are_named():
    report = check_discretise(shifted_base)
    text = named(report, "previous dimension's bin count", absent=GENERIC)
    assert "(0, 0, 2) and (0, 1, 0) both get 2" in text


@pytest.mark.parametrize("answer, scaled", [(sum_of_bins, False), (sum_not_positional, True)])
def test_bin_numbers_added_up_are_named(answer, scaled):
    report = check_discretise(answer)
    text = named(report, "added the bin numbers up", absent=GENERIC)
    assert ("multiplying each by its own dimension's count" in text) is scaled


@pytest.mark.parametrize("answer", [np_clip_high_edge, modulo_high_edge])
def test_the_high_edge_wrapped_back_to_bin_0_is_named(answer):
    report = check_discretise(answer)
    named(report, "wraps around to bin 0", absent=("Clip x into [low, high] first",))
    assert failed(report) == ["values outside [low, high], and high itself, go to the edge bins"]
