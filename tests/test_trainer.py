import threading

import pytest
import torch

from rnn_core.config import PRESETS, ModelConfig, TrainConfig
from rnn_core.history import EpochRecord, RunStatus
from rnn_core.trainer import BatchEvent, EndEvent, Trainer

FINISHED, STOPPED, DIVERGED = RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED

SMALL = ModelConfig(hidden_size=8)
FAST = TrainConfig(epochs=2, batch_size=20, learning_rate=0.5, optimizer="SGD", device="cpu")


def collect(trainer, **kwargs):
    events = []
    end = trainer.run(on_event=events.append, **kwargs)
    return end, events


def test_history_holds_epoch_0_untrained_then_every_epoch(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST)
    end, events = collect(trainer)
    assert end.status == FINISHED
    assert [row.epoch for row in trainer.history] == [0, 1, 2]
    assert trainer.history[0].train_loss is None
    assert all(row.train_loss > 0 and row.train_seconds > 0 for row in trainer.history[1:])
    epoch_events = [e for e in events if isinstance(e, EpochRecord)]
    assert epoch_events == trainer.history
    assert isinstance(events[-1], EndEvent)


def test_batch_events_report_progress_at_a_bounded_rate(tiny_data):
    every_batch = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    _, events = collect(every_batch)
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert len(batches) == 2 * 6  # 120 images / batch 20, two epochs
    assert batches[-1].epoch == pytest.approx(2.0) and batches[2].images_seen == 60
    throttled = Trainer(tiny_data, SMALL, FAST, batch_event_interval=3600.0)
    _, events = collect(throttled)
    # only the first batch (nothing emitted yet) and the last batch of each epoch
    assert len([e for e in events if isinstance(e, BatchEvent)]) == 4


def test_training_prints_nothing(tiny_data, capsys):
    Trainer(tiny_data, SMALL, FAST).run()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_same_seed_and_config_give_the_same_loss_curve(tiny_data):
    curves = []
    for _ in range(2):
        trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
        _, events = collect(trainer)
        curves.append([e.loss for e in events if isinstance(e, BatchEvent)])
    assert curves[0] == curves[1]
    other = Trainer(tiny_data, SMALL, TrainConfig(**{**FAST.__dict__, "seed": 1}), batch_event_interval=0.0)
    _, events = collect(other)
    assert [e.loss for e in events if isinstance(e, BatchEvent)] != curves[0]


def test_train_limit_caps_the_training_images(tiny_data):
    trainer = Trainer(tiny_data, SMALL, TrainConfig(**{**FAST.__dict__, "train_limit": 40}))
    assert trainer.train_size == 40


def test_stop_between_batches_records_where_it_stopped_then_continue(tiny_data):
    stop = threading.Event()
    trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)

    def stop_after_two_batches_of_epoch_2(event):
        if isinstance(event, BatchEvent) and event.epoch_index == 2 and event.batch == 2:
            stop.set()

    end = trainer.run(on_event=stop_after_two_batches_of_epoch_2, stop=stop)
    assert end.status == STOPPED
    assert [row.epoch for row in trainer.history] == [0, 1, pytest.approx(1.333, abs=1e-3)]
    assert trainer.history[-1].partial is True
    # the model is consistent: it scores and continues from where it stopped
    stop.clear()
    end = trainer.run(epochs=1, stop=stop)
    assert end.status == FINISHED
    assert trainer.history[-1].epoch == pytest.approx(2.333, abs=1e-3)


def test_continue_keeps_the_optimizer_state(tiny_data):
    adam = TrainConfig(epochs=1, batch_size=20, learning_rate=0.01, optimizer="Adam", device="cpu")
    trainer = Trainer(tiny_data, SMALL, adam)
    trainer.run()
    steps = next(iter(trainer.optimizer.state.values()))["step"].item()
    trainer.run(epochs=1)
    assert next(iter(trainer.optimizer.state.values()))["step"].item() == 2 * steps
    assert [row.epoch for row in trainer.history] == [0, 1, 2]


def test_stopped_and_continued_training_equals_uninterrupted_training(tiny_data):
    straight = Trainer(tiny_data, SMALL, FAST)
    straight.run(epochs=2)
    stepwise = Trainer(tiny_data, SMALL, FAST)
    stepwise.run(epochs=1)
    stepwise.run(epochs=1)
    for a, b in zip(straight.model.parameters(), stepwise.model.parameters()):
        assert torch.equal(a, b)


def test_a_nan_loss_ends_training_as_diverged_and_keeps_the_last_good_weights(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST)
    trainer.run(epochs=1)
    good = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_images[5, 3, 3] = float("nan")  # poisons every epoch from now on
    end = trainer.run(epochs=1)
    assert end.status == DIVERGED
    assert "lower it" in end.reason and "epoch 1" in end.reason
    assert [row.epoch for row in trainer.history] == [0, 1]
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, good[name])


def test_a_huge_learning_rate_diverges_with_a_clear_reason(tiny_data):
    wild = TrainConfig(epochs=3, batch_size=20, learning_rate=100.0, optimizer="SGD", device="cpu")
    trainer = Trainer(tiny_data, SMALL, wild)
    end = trainer.run()
    assert end.status == DIVERGED
    assert "learning rate 100 is too high" in end.reason
    assert [row.epoch for row in trainer.history] == [0]


def test_notebook_preset_learns_real_mnist(real_mnist):
    preset = PRESETS["notebook"]
    trainer = Trainer(real_mnist, preset.model, TrainConfig(**{**preset.train.__dict__, "device": "cpu"}))
    trainer.run(epochs=3)
    accuracies = [row.test_accuracy for row in trainer.history]
    assert 5 < accuracies[0] < 20  # untrained: about chance
    assert accuracies[-1] >= 75


def test_strong_preset_reaches_98_5_percent_on_real_mnist(real_mnist):
    preset = PRESETS["strong"]
    trainer = Trainer(real_mnist, preset.model, TrainConfig(**{**preset.train.__dict__, "device": "cpu"}))
    assert trainer.run().status == FINISHED
    assert trainer.history[-1].test_accuracy >= 98.5
