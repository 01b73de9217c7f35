"""Whatever save_agent accepts, load_agent loads; what is not a saved agent is named as such."""

import os
import pickle

import numpy as np
import pytest
import torch

from dqn_helpers import DeepQLearner, DQNConfig, persistence
from dqn_helpers.persistence import load_agent, save_agent


def test_numpy_typed_hyperparameters_and_metadata_save_and_load(tmp_path):
    learning_rates = np.logspace(-4, -2, 3)  # a sweep hands out np.float64
    agent = DeepQLearner(np.int64(4), np.int64(2), hidden_sizes=np.array([8, 8]), learning_rate=learning_rates[1],
                         gamma=np.float32(0.5), double_dqn=np.bool_(True), seed=np.int64(0))
    metadata = dict(sweep=learning_rates, best=np.float64(0.5), steps=np.int64(10), note=np.str_("x"),
                    nested={"seeds": (np.int64(1), np.int64(2))}, config=DQNConfig(seed=np.int64(3)).to_dict(),
                    folder=tmp_path)
    loaded = load_agent(save_agent(agent, tmp_path / "agent.pt", **metadata))
    assert loaded.settings == agent.settings and loaded.double_dqn is True
    assert loaded.metadata["sweep"] == pytest.approx(list(learning_rates))
    assert loaded.metadata["nested"] == {"seeds": (1, 2)} and loaded.metadata["best"] == 0.5
    assert loaded.metadata["config"]["seed"] == 3 and loaded.metadata["folder"] == str(tmp_path)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(obs), agent.q_values(obs))


def test_metadata_that_cannot_load_safely_is_refused_when_saving(tmp_path):
    import pandas as pd

    with pytest.raises(TypeError, match=r"Cannot save metadata\['table'\] of type DataFrame"):
        save_agent(DeepQLearner(4, 2), tmp_path / "a.pt", table=pd.DataFrame({"a": [1]}))
    assert not list(tmp_path.iterdir())  # nothing written


def test_metadata_may_use_any_key_even_path(tmp_path):
    loaded = load_agent(save_agent(DeepQLearner(4, 2), tmp_path / "a.pt", path="somewhere", agent="me"))
    assert loaded.metadata == {"path": "somewhere", "agent": "me"}


def test_saving_onto_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; save the agent to a file inside it"):
        save_agent(DeepQLearner(4, 2), tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder, not a saved agent"):
        load_agent(tmp_path)


def test_an_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = save_agent(DeepQLearner(4, 2, seed=0), tmp_path / "agent.pt", version=1)
    before = path.read_bytes()

    def half_written(obj, file):
        file.write(b"PK\x03\x04 half of a checkpoint")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    monkeypatch.setattr(persistence.torch, "save", half_written)
    with pytest.raises(KeyboardInterrupt):
        save_agent(DeepQLearner(4, 2, seed=1), path, version=2)
    assert path.read_bytes() == before and load_agent(path).metadata == {"version": 1}
    assert os.listdir(tmp_path) == ["agent.pt"]  # no temporary file left behind


def test_saved_file_gets_the_usual_permissions(tmp_path):
    path = save_agent(DeepQLearner(4, 2), tmp_path / "agent.pt")
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def write_text(path):
    path.write_text("hello, I am a note\n")


def write_empty(path):
    path.write_bytes(b"")


def write_state_dict(path):
    torch.save(DeepQLearner(4, 2).q_network.state_dict(), path)


def write_agent_state_dict(path):
    torch.save(DeepQLearner(4, 2).state_dict(), path)


def write_other_dict(path):
    torch.save({"epoch": 3, "loss": 0.1}, path)


def write_tensor(path):
    torch.save(torch.zeros(3), path)


def write_list(path):
    torch.save([1, 2, 3], path)


def write_pickle(path):
    path.write_bytes(pickle.dumps({"settings": object()}))


def write_truncated(path):
    full = path.with_suffix(".full")
    save_agent(DeepQLearner(4, 2), full)
    path.write_bytes(full.read_bytes()[:300])


def write_binary(path):
    path.write_bytes(bytes(range(200, 256)))


def write_bad_settings(path):
    torch.save({"settings": {"obs_dim": 4}, "weights": {}}, path)


def write_mismatched_weights(path):
    torch.save({"settings": DeepQLearner(4, 2).settings, "weights": DeepQLearner(5, 2).state_dict()}, path)


@pytest.mark.parametrize(
    "write, words",
    [
        (write_text, "is a text file beginning 'hello, I am a note"),
        (write_empty, "is empty (0 bytes)"),
        (write_state_dict, "holds a dict with keys ['0.bias', '0.weight'"),
        (write_state_dict, "looks like a bare state_dict"),
        (write_agent_state_dict, "holds a dict with keys ['q_network', 'target_network']"),
        (write_other_dict, "holds a dict with keys ['epoch', 'loss']"),
        (write_tensor, "holds a Tensor"),
        (write_list, "holds a list"),
        (write_pickle, "could not read it safely"),
        (write_truncated, "is not a saved agent, or is damaged"),
        (write_binary, "a file beginning with the bytes"),
        (write_bad_settings, "the saved settings do not describe a DeepQLearner"),
        (write_mismatched_weights, "the saved weights do not fit the saved settings"),
    ],
)
def test_load_agent_says_what_it_got_and_what_it_expected(tmp_path, write, words):
    path = tmp_path / "thing.pt"
    write(path)
    with pytest.raises(ValueError) as err:
        load_agent(path)
    message = str(err.value)
    assert words in message, message
    assert "save_agent" in message or "Save the agent again" in message
    assert len(message.splitlines()) == 1


def test_saving_something_else_than_an_agent_says_what_to_pass(tmp_path):
    with pytest.raises(TypeError, match="save_agent saves a DeepQLearner, got dict"):
        save_agent({"weights": 1}, tmp_path / "a.pt")


def test_tilde_means_the_home_folder(tmp_path, monkeypatch):
    """Issue 21: "~/agents/a.pt" used to create a folder named "~" in the current folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    written = save_agent(DeepQLearner(4, 2, seed=0), "~/agents/a.pt")
    assert written == tmp_path / "home" / "agents" / "a.pt" and written.exists()
    assert not (tmp_path / "~").exists()
    assert load_agent("~/agents/a.pt").obs_dim == 4
