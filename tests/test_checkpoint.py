import io
import os
import pickle

import pytest
import torch

from rnn_core import checkpoint as checkpoint_module
from rnn_core.checkpoint import CheckpointError, load_checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.trainer import Trainer


@pytest.fixture
def trained(tiny_data):
    trainer = Trainer(tiny_data, ModelConfig(hidden_size=6, cell_type="GRU"), TrainConfig(epochs=1, batch_size=30, device="cpu"))
    trainer.run()
    return trainer


def test_round_trip_rebuilds_the_same_model_with_its_configs_and_history(trained, tmp_path, tiny_data):
    path = tmp_path / "model.pt"
    trained.checkpoint().save(path)
    loaded = load_checkpoint(path)
    assert loaded.model_config == trained.model_config and loaded.train_config == trained.config
    assert loaded.history == trained.history
    model = loaded.build_model()
    assert torch.equal(model(tiny_data.test_images), trained.model(tiny_data.test_images))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_checkpoint_resumes_training_where_it_left_off(trained, tiny_data):
    resumed = Trainer(tiny_data, trained.model_config, trained.config, checkpoint=load_checkpoint(trained.checkpoint().to_bytes()))
    resumed.run(epochs=1)
    assert [row.epoch for row in resumed.history] == [0, 1, 2]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def test_a_crafted_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    torch.save({"format": checkpoint_module.FORMAT, "payload": RunsCode()}, buffer)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(buffer.getvalue())
    raw_pickle = pickle.dumps(RunsCode())
    with pytest.raises(CheckpointError):
        load_checkpoint(raw_pickle)
    assert not (tmp_path / "pwned-by-checkpoint").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello, I am a text file named model.pt\n", "not a PyTorch checkpoint"),
        (b"", "not a PyTorch checkpoint"),
    ],
)
def test_files_that_are_not_torch_files_are_refused(content, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(content)


def test_a_torch_file_that_is_not_ours_is_refused():
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buffer)
    with pytest.raises(CheckpointError, match="not a checkpoint saved by this app"):
        load_checkpoint(buffer.getvalue())


def test_weights_that_do_not_fit_the_config_are_refused(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["classifier.weight"] = torch.zeros(10, 99)
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        load_checkpoint(checkpoint.to_bytes())


def test_an_invalid_config_inside_is_refused(trained):
    checkpoint = trained.checkpoint()
    raw = checkpoint.to_bytes()
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    payload["model_config"]["hidden_size"] = -4
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with pytest.raises(CheckpointError, match="hidden_size"):
        load_checkpoint(buffer.getvalue())


def test_an_oversized_file_is_refused_before_it_is_read(trained, tmp_path, monkeypatch):
    path = tmp_path / "big.pt"
    trained.checkpoint().save(path)
    monkeypatch.setattr(checkpoint_module, "MAX_CHECKPOINT_BYTES", 100)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(io.BytesIO(path.read_bytes()))
