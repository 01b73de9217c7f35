"""More wrong answers named by the checks of notebook 03 (replay buffer) and 05 (vectorized env).

Each wrong answer is a correct student answer with one mistake put in, as reviewers found them:
an index range one past the filled rows, transitions in a Python list, float64 observations, the
rows of a batch written into one slot or one index for a whole batch, and final_obs and next_obs
swapped. The check must fail and name the mistake actually made; the correct answers still pass.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)
from student_answers import StudentRing, StudentVecEnv

from dqn_helpers import TransitionBatch
from dqn_helpers.checks import check_replay_buffer, check_vectorized_env
from dqn_helpers.checks.replay_buffer import RING, SHAPES, UNIFORM


def _batch(ring, idx):
    return TransitionBatch(ring.obs[idx], ring.actions[idx], ring.rewards[idx], ring.next_obs[idx],
                           ring.terminated[idx])


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


def test_bool_terminated_flags_fail_with_the_reason():
    report = check_replay_buffer(BoolTerminatedRing)
    assert not report
    assert "floating-point `terminated` flags" in str(report) and "bool tensor" in str(report), str(report)


def test_correct_vectorized_env_passes():
    report = check_vectorized_env(StudentVecEnv)
    assert report, str(report)


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


# --------------------------------------------------------------------------- 5. final_obs and next_obs swapped


class SwappedObsVecEnv(StudentVecEnv):
    """Returns the reset observation as final_obs and the one env.step() returned as next_obs."""

    def step(self, actions):
        out = super().step(actions)
        return SimpleNamespace(next_obs=out.final_obs, final_obs=out.next_obs, rewards=out.rewards,
                               terminated=out.terminated, truncated=out.truncated)


def test_final_obs_and_next_obs_swapped_are_named():
    text = named(check_vectorized_env(SwappedObsVecEnv), "final_obs and next_obs swapped",
                 absent=("deepcopy", "same object used several times", "Pass on each copy's own terminated"))
    assert "other way round" in text
