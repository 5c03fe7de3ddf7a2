"""A run keeps its model after every scored epoch, and reads it back with every check."""

from __future__ import annotations

import shutil
import threading

import pytest
import torch

from rnn_core.checkpoint import CheckpointError
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.epochs import EPOCHS_FOLDER, epoch_name, load_epoch_weights, saved_epochs
from rnn_core.history import EpochRecord
from rnn_core.runs import RunStore
from rnn_core.trainer import BatchEvent, Trainer, initial_model

MODEL = ModelConfig(hidden_size=6)
TRAIN = TrainConfig(epochs=2, batch_size=30, device="cpu")


def train_run(data, store: RunStore, model=MODEL, train=TRAIN, stop_at: float | None = None):
    """A run trained through its folder's recorder, as every executor trains one; stopped at
    the first batch past `stop_at` epochs when given. Returns (folder, weights after each epoch)."""
    trainer = Trainer(data, model, train, batch_event_interval=0)
    run = store.create(model, train)
    stop, weights = threading.Event(), {}
    record = run.record(trainer)

    def on_event(event):
        if isinstance(event, BatchEvent) and stop_at is not None and event.epoch > stop_at:
            stop.set()
        record(event)
        if isinstance(event, EpochRecord):
            weights[event.epoch] = {k: v.clone() for k, v in trainer.scored_model.state_dict().items()}

    trainer.run(on_event=on_event, stop=stop)
    return run.folder, weights


def test_the_model_after_every_epoch_is_kept_from_the_untrained_one_on(tiny_data, tmp_path):
    folder, weights = train_run(tiny_data, RunStore(tmp_path / "runs"))
    kept = saved_epochs(folder)
    assert [epoch.epoch for epoch in kept] == [0, 1, 2]
    untrained = initial_model(MODEL, TRAIN.seed).state_dict()
    for epoch in kept:
        checkpoint = load_epoch_weights(epoch, MODEL)
        assert checkpoint.optimizer_state is None
        assert checkpoint.history[-1].epoch == epoch.epoch
        for name, value in weights[epoch.epoch].items():
            assert torch.equal(checkpoint.state_dict[name], value)
    first = load_epoch_weights(kept[0], MODEL).state_dict
    assert all(torch.equal(first[name], value) for name, value in untrained.items())
    assert not any(torch.equal(first[name], weights[2][name]) for name in first)


def test_a_run_that_averages_keeps_after_each_epoch_the_mean_it_scored_and_not_the_weights_it_trains(
    tiny_data, tmp_path
):
    averaging = TrainConfig(epochs=3, batch_size=30, device="cpu", average_from=2)
    folder, scored = train_run(tiny_data, RunStore(tmp_path / "runs"), train=averaging)
    last = load_epoch_weights(saved_epochs(folder)[-1], MODEL)
    assert last.averaging is None and last.history[-1].epoch == 3
    for name, value in scored[3].items():
        assert torch.equal(last.state_dict[name], value)
    trained = RunStore(tmp_path / "runs").checkpoint(folder.name).averaging["training_weights"]
    assert not any(torch.equal(last.state_dict[name], value) for name, value in trained.items())


def test_an_epoch_a_stop_cut_short_is_kept_under_its_fraction(tiny_data, tmp_path):
    folder, _ = train_run(tiny_data, RunStore(tmp_path / "runs"), stop_at=1.4)
    names = [epoch.name for epoch in saved_epochs(folder)]
    assert names[:2] == ["0", "1"] and len(names) == 3
    assert 1 < float(names[2]) < 2 and names[2] == "1.5"


def test_a_run_from_before_keeps_no_epochs_and_stray_files_are_ignored(tmp_path):
    assert saved_epochs(tmp_path) == []
    (tmp_path / EPOCHS_FOLDER).mkdir()
    for name in ("notes.txt", "01.pt", "-1.pt", "1.pt.tmp", ".1.pt", "1e3.pt", "2.5000.pt"):
        (tmp_path / EPOCHS_FOLDER / name).write_bytes(b"x")
    (tmp_path / EPOCHS_FOLDER / "3.pt").mkdir()
    assert saved_epochs(tmp_path) == []


def test_weights_of_another_model_or_epoch_are_refused(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs")
    folder, _ = train_run(tiny_data, store)
    other, _ = train_run(tiny_data, store, model=ModelConfig(hidden_size=7), train=TrainConfig(epochs=1))
    shutil.copy(other / EPOCHS_FOLDER / "1.pt", folder / EPOCHS_FOLDER / "1.pt")
    with pytest.raises(CheckpointError, match="another model"):
        load_epoch_weights(saved_epochs(folder)[1], MODEL)
    shutil.copy(folder / EPOCHS_FOLDER / "2.pt", folder / EPOCHS_FOLDER / "0.pt")
    with pytest.raises(CheckpointError, match="another epoch"):
        load_epoch_weights(saved_epochs(folder)[0], MODEL)
    (folder / EPOCHS_FOLDER / "2.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="after epoch 2: not a PyTorch"):
        load_epoch_weights(saved_epochs(folder)[2], MODEL)


@pytest.mark.parametrize("epoch, name", [(0, "0"), (3, "3"), (3.0, "3"), (2.5, "2.5"), (0.333, "0.333"), (12, "12")])
def test_an_epoch_is_named_as_the_history_writes_it(epoch, name):
    assert epoch_name(epoch) == name
