import numpy as np
import pytest

from dqn_helpers import ReplayBuffer


def fill(buffer: ReplayBuffer, start: int, n: int) -> None:
    """Store n transitions whose every field encodes its index start..start+n-1."""
    ids = np.arange(start, start + n)
    obs = np.repeat(ids[:, None], buffer.obs_shape[0], axis=1).astype(np.float32)
    buffer.remember(obs, ids, ids.astype(np.float32), obs + 0.5, ids % 2)


def test_len_counts_stored_transitions_up_to_capacity():
    buffer = ReplayBuffer(capacity=10, obs_shape=(3,), seed=0)
    assert len(buffer) == 0
    fill(buffer, 0, 4)
    assert len(buffer) == 4
    fill(buffer, 4, 8)
    assert len(buffer) == 10


def test_wraps_around_overwriting_the_oldest_first():
    buffer = ReplayBuffer(capacity=5, obs_shape=(2,), seed=0)
    fill(buffer, 0, 4)
    fill(buffer, 4, 3)  # ids 4, 5, 6: 5 and 6 overwrite ids 0 and 1
    assert sorted(buffer.actions.tolist()) == [2, 3, 4, 5, 6]
    assert buffer.position == 2


def test_sampling_never_returns_unwritten_slots():
    buffer = ReplayBuffer(capacity=1000, obs_shape=(4,), seed=0)
    fill(buffer, 1, 3)  # ids 1, 2, 3; unwritten slots hold zeros
    seen = set()
    for _ in range(200):
        batch = buffer.sample(3)
        seen.update(batch.actions.tolist())
        assert (batch.obs[:, 0] == batch.actions).all()
        np.testing.assert_array_equal(batch.next_obs, batch.obs + 0.5)
    assert seen == {1, 2, 3}


def test_sample_shapes_and_dtypes():
    buffer = ReplayBuffer(capacity=100, obs_shape=(4,), seed=0)
    fill(buffer, 0, 50)
    batch = buffer.sample(32)
    assert len(batch) == 32
    assert batch.obs.shape == batch.next_obs.shape == (32, 4)
    assert batch.obs.dtype == np.float32 and batch.next_obs.dtype == np.float32
    assert batch.actions.dtype == np.int64
    assert batch.rewards.dtype == np.float32 and batch.terminated.dtype == np.float32
    assert set(np.unique(batch.terminated)) <= {0.0, 1.0}


def test_memory_is_fixed_by_capacity():
    buffer = ReplayBuffer(capacity=64, obs_shape=(4,), seed=0)
    arrays = (buffer.obs, buffer.next_obs, buffer.actions, buffer.rewards, buffer.terminated)
    before = sum(a.nbytes for a in arrays)
    for start in range(0, 1000, 8):
        fill(buffer, start, 8)
    after = sum(a.nbytes for a in (buffer.obs, buffer.next_obs, buffer.actions, buffer.rewards, buffer.terminated))
    assert before == after == 64 * (4 * 4 * 2 + 8 + 4 + 4)


def test_own_seeded_rng_makes_sampling_reproducible_and_independent_of_numpy():
    a, b = ReplayBuffer(100, (2,), seed=7), ReplayBuffer(100, (2,), seed=7)
    fill(a, 0, 100)
    fill(b, 0, 100)
    np.random.seed(0)
    first = a.sample(16).actions
    np.random.seed(123)
    np.testing.assert_array_equal(first, b.sample(16).actions)
    assert not np.array_equal(a.sample(16).actions, first)  # the stream moves on


def test_sampling_more_than_stored_explains_the_fix():
    buffer = ReplayBuffer(capacity=100, obs_shape=(4,), seed=0)
    fill(buffer, 0, 10)
    with pytest.raises(ValueError, match="holds only 10.*learning_starts"):
        buffer.sample(64)


@pytest.mark.parametrize("capacity", [0, -5])
def test_non_positive_capacity_is_rejected(capacity):
    with pytest.raises(ValueError, match="capacity must be a positive"):
        ReplayBuffer(capacity=capacity, obs_shape=(4,))


def test_non_positive_batch_size_is_rejected():
    buffer = ReplayBuffer(capacity=10, obs_shape=(4,))
    fill(buffer, 0, 10)
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        buffer.sample(0)


@pytest.mark.parametrize(
    "obs, actions, next_obs",
    [
        (np.zeros((3, 5)), np.zeros(3), np.zeros((3, 4))),  # obs of the wrong width
        (np.zeros((3, 4)), np.zeros(2), np.zeros((3, 4))),  # one action missing
        (np.zeros((3, 4)), np.zeros(3), np.zeros((2, 4))),  # next_obs of another batch
        (np.full((3, 4), "x"), np.zeros(3), np.zeros((3, 4))),  # not numbers
    ],
)
def test_remember_names_the_expected_shapes_and_changes_nothing(obs, actions, next_obs):
    buffer = ReplayBuffer(capacity=10, obs_shape=(4,), seed=0)
    with pytest.raises(ValueError, match=r"obs and next_obs of shape \(n, 4\).*Got obs"):
        buffer.remember(obs, actions, np.zeros(3), next_obs, np.zeros(3, bool))
    assert len(buffer) == 0 and buffer.position == 0 and not buffer.obs.any()
