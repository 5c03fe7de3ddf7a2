"""Comparing saved runs: labels naming what differs, and the overlay table."""

import pytest

from dashboard.compare_tables import differing_settings, overlay_history, run_labels
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.runs import RunRecord, RunStore
from rnn_core.trainer import Trainer


def info(hidden=20, lr=0.1, batch=100, created=0.0, run_id="20260101-000000-000000"):
    return RunRecord(
        run_id=run_id,
        status=RunStatus.FINISHED,
        reason="",
        label="",
        created=created,
        model_config=ModelConfig(hidden_size=hidden),
        train_config=TrainConfig(learning_rate=lr, batch_size=batch),
        history=(),
        owner=None,
        parent=None,
    )


def test_only_the_settings_that_differ_name_the_runs():
    runs = [info(hidden=20, lr=0.1), info(hidden=128, lr=0.1), info(hidden=20, lr=1.0)]
    assert differing_settings(runs) == ["hidden_size", "learning_rate"]
    assert run_labels(runs) == ["hidden 20 · lr 0.1", "hidden 128 · lr 0.1", "hidden 20 · lr 1"]


def test_a_run_on_its_own_is_named_by_the_exercise_settings():
    assert run_labels([info(hidden=64, batch=32, lr=0.003)]) == ["hidden 64 · lr 0.003 · batch 32"]


def test_runs_with_the_same_settings_are_told_apart_by_their_start():
    labels = run_labels([info(created=0), info(created=100), info(hidden=8)])
    assert labels[2] == "hidden 8"
    assert labels[0] != labels[1] and all(
        label.startswith("started ") and label.endswith(" · hidden 20") for label in labels[:2]
    )
    same_second = run_labels([info(), info(), info()])
    assert len(set(same_second)) == 3


def test_the_overlay_has_every_scored_epoch_with_the_training_time_so_far(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    model = ModelConfig(hidden_size=6)
    for lr in (0.1, 0.5):
        train = TrainConfig(epochs=2, batch_size=40, learning_rate=lr, device="cpu")
        run = store.create(model, train)
        trainer = Trainer(tiny_data, model, train)
        trainer.run(on_event=run.record(trainer))
    runs, _ = store.scan()
    history = overlay_history(runs)
    assert len(history) == 6 and set(history["run"]) == {"lr 0.1", "lr 0.5"}
    for record, (_, frame) in zip(runs, history.groupby("run_id", sort=False)):
        rows = record.history
        assert list(frame["epoch"]) == [0, 1, 2]
        assert list(frame["test_accuracy"]) == [row.test_accuracy for row in rows]
        seconds = [sum(row.train_seconds for row in rows[: i + 1]) for i in range(3)]
        assert list(frame["seconds"]) == pytest.approx(seconds)
        assert frame["seconds"].iloc[0] == 0


def test_no_runs_give_an_empty_overlay():
    assert overlay_history([]).empty
