import dataclasses
import threading

import pytest
import torch

from rnn_core.config import PRESETS, ModelConfig, TrainConfig
from rnn_core.evaluate import evaluate
from rnn_core.history import EpochRecord, RunStatus
from rnn_core.trainer import BatchEvent, EndEvent, Trainer, initial_model, warm_up

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


def weights(model) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def stop_at(epoch: int, batch: int):
    """A stop event, and an event callback that sets it after that batch of that epoch."""
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, BatchEvent) and event.epoch_index == epoch and event.batch == batch:
            stop.set()

    return stop, on_event


def test_stop_between_batches_records_where_it_stopped_then_continue_finishes_that_epoch_first(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=2, batch=2)
    end = trainer.run(on_event=on_event, stop=stop)
    assert end.status == STOPPED and "during epoch 2" in end.reason
    assert [row.epoch for row in trainer.history] == [0, 1, pytest.approx(1.333, abs=1e-3)]
    assert trainer.history[-1].partial is True
    assert trainer.target_epoch(1) == 3  # epoch 2 finished, then one more
    events = []
    end = trainer.run(epochs=1, on_event=events.append)
    assert end.status == FINISHED and end.reason == "trained to epoch 3"
    assert [row.epoch for row in trainer.history] == [0, 1, pytest.approx(1.333, abs=1e-3), 2, 3]
    # the rest of epoch 2 is not a whole epoch's time; epoch 3 is
    assert trainer.history[3].seconds_per_epoch is None and trainer.history[4].seconds_per_epoch > 0
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert [e.epoch_index for e in batches] == [2] * 4 + [3] * 6  # batches 3-6 of epoch 2, then epoch 3
    assert batches[0].batch == 3 and batches[3].images_seen == 120


def test_a_stop_while_the_untrained_model_is_scored_ends_the_run_with_no_epoch(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST)
    stop, events = threading.Event(), []
    stop.set()
    end = trainer.run(on_event=events.append, stop=stop)
    assert end.status == STOPPED and end.reason == "before its untrained model was scored"
    assert trainer.history == [] and events == [end]
    assert trainer.run().status == FINISHED  # the same trainer still trains from the start
    assert [row.epoch for row in trainer.history] == [0, 1, 2]


def test_a_stopped_and_continued_epoch_trains_exactly_as_an_unbroken_one(tiny_data):
    straight = Trainer(tiny_data, SMALL, FAST)
    straight.run(epochs=3)
    stepwise = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=2, batch=4)
    assert stepwise.run(on_event=on_event, stop=stop).status == STOPPED
    stepwise.run(epochs=1)
    for a, b in zip(straight.model.parameters(), stepwise.model.parameters()):
        assert torch.equal(a, b)


def test_a_run_rebuilt_from_a_checkpoint_after_a_stop_also_finishes_the_cut_epoch(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=1, batch=2)
    trainer.run(on_event=on_event, stop=stop)
    rebuilt = Trainer(tiny_data, SMALL, FAST, trainer.state_dict())
    assert rebuilt.target_epoch(2) == 3
    assert rebuilt.run(epochs=2).status == FINISHED
    assert [row.epoch for row in rebuilt.history] == [0, pytest.approx(0.333, abs=1e-3), 1, 2, 3]


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
    good = weights(trainer.model)
    trainer.train_images[5, 3, 3] = float("nan")  # poisons every epoch from now on
    end = trainer.run(epochs=1)
    assert end.status == DIVERGED
    assert "lower it" in end.reason and "epoch 1" in end.reason
    assert [row.epoch for row in trainer.history] == [0, 1]
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, good[name])


def test_a_huge_learning_rate_diverges_with_a_clear_reason_after_showing_the_blow_up(tiny_data):
    wild = TrainConfig(epochs=3, batch_size=20, learning_rate=100.0, optimizer="SGD", device="cpu")
    trainer = Trainer(tiny_data, SMALL, wild, batch_event_interval=0.0)
    end, events = collect(trainer)
    assert end.status == DIVERGED
    assert "learning rate 100 is too high" in end.reason
    assert [row.epoch for row in trainer.history] == [0]
    # the batch that blew up is reported before the end, so a chart can show it
    blow_up, last = events[-2:]
    assert isinstance(blow_up, BatchEvent) and last is end
    assert not blow_up.loss < 10 * trainer.history[0].test_loss  # above the limit, or NaN
    assert f"at batch {blow_up.batch} of epoch 1" in end.reason


def test_a_stop_then_a_divergence_keeps_the_weights_scored_at_the_stop(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=2, batch=2)
    trainer.run(on_event=on_event, stop=stop)
    at_stop = weights(trainer.model)
    trainer.train_images[:] = float("nan")
    end = trainer.run(epochs=1)
    assert end.status == DIVERGED and "weights from epoch 1.333" in end.reason
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, at_stop[name])


def preset_epoch(real_mnist, name: str, images: int) -> Trainer:
    """One epoch of a preset on `images` training images, scored on 1,000 test images. The
    presets' own accuracy claims (10 epochs of `strong`: 98.5%) are `make bench`'s."""
    scored = dataclasses.replace(
        real_mnist, test_images=real_mnist.test_images[:1000], test_labels=real_mnist.test_labels[:1000]
    )
    preset = PRESETS[name]
    trainer = Trainer(
        scored, preset.model, dataclasses.replace(preset.train, device="cpu", epochs=1, train_limit=images)
    )
    assert trainer.run().status == FINISHED
    assert 5 < trainer.history[0].test_accuracy < 20  # untrained: about chance
    return trainer


@pytest.mark.parametrize("name, images", [("notebook", 5000), ("strong", 640)])
def test_a_preset_learns_real_mnist_in_a_short_epoch(real_mnist, name, images):
    trainer = preset_epoch(real_mnist, name, images)
    # a few dozen steps barely leave chance (the notebook's SGD: 33% after a whole epoch)
    assert trainer.history[1].test_loss < trainer.history[0].test_loss


def test_the_quick_preset_reads_real_mnist_well_above_chance_after_one_short_epoch(real_mnist):
    assert preset_epoch(real_mnist, "quick", 3000).history[1].test_accuracy >= 40  # 62% when measured


def test_the_initial_model_comes_from_its_seed_alone_and_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    first, again = initial_model(SMALL, seed=5), initial_model(SMALL, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
        bound = SMALL.hidden_size**-0.5  # torch's default for these layers
        assert a.abs().max() <= bound and a.std() > bound / 3, name
    other = initial_model(SMALL, seed=6)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)


def test_the_warm_up_trains_one_step_and_touches_no_global_state(tiny_data):
    state = torch.random.get_rng_state()
    warm_up(tiny_data)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_a_trainer_built_from_another_trainers_saved_state_after_a_stop_goes_on_exactly(tiny_data):
    from rnn_core.checkpoint import load_checkpoint

    straight = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    straight.run(epochs=2)
    stopped = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=2, batch=3)
    stopped.run(on_event=on_event, stop=stop)
    # through the bytes of a checkpoint file, as after a server restart
    saved = load_checkpoint(stopped.checkpoint().to_bytes())
    rebuilt = Trainer.from_checkpoint(tiny_data, saved)
    rebuilt.run(epochs=0)
    assert rebuilt.history[-1].epoch == 2 and rebuilt.history[-1].test_loss == straight.history[-1].test_loss
    for a, b in zip(straight.model.parameters(), rebuilt.model.parameters()):
        assert torch.equal(a, b)


AVERAGING = dataclasses.replace(FAST, epochs=4, average_from=2)


def test_averaging_scores_the_mean_of_each_epochs_end_weights_while_training_goes_on_from_its_own(tiny_data):
    trainer = Trainer(tiny_data, SMALL, AVERAGING)
    at_end = {}

    def keep_weights(event):
        if isinstance(event, EpochRecord):
            at_end[event.epoch] = weights(trainer.model)

    trainer.run(on_event=keep_weights)
    mean = {name: sum(at_end[epoch][name] for epoch in (2, 3, 4)) / 3 for name in at_end[4]}
    for name, value in trainer.scored_model.state_dict().items():
        assert torch.allclose(value, mean[name], atol=1e-6)
        assert torch.equal(trainer.model.state_dict()[name], at_end[4][name])
    images, labels = tiny_data.test_images, tiny_data.test_labels
    scored, trained = (evaluate(model, images, labels) for model in (trainer.scored_model, trainer.model))
    assert trainer.history[-1].test_loss == scored.loss != trained.loss
    # before epoch 2 the weights as trained are the model
    plain = Trainer(tiny_data, SMALL, FAST)
    plain.run(epochs=1)
    assert trainer.history[1].test_loss == plain.history[1].test_loss


def test_an_averaging_training_stopped_and_rebuilt_from_its_file_goes_on_exactly(tiny_data):
    from rnn_core.checkpoint import load_checkpoint

    straight = Trainer(tiny_data, SMALL, AVERAGING)
    straight.run()
    stopped = Trainer(tiny_data, SMALL, AVERAGING, batch_event_interval=0.0)
    stop, on_event = stop_at(epoch=4, batch=2)
    stopped.run(on_event=on_event, stop=stop)
    # the stop scores the mean of epochs 2 and 3, not the weights half-way through epoch 4
    assert stopped.history[-1].test_loss == stopped.history[-2].test_loss
    rebuilt = Trainer.from_checkpoint(tiny_data, load_checkpoint(stopped.checkpoint().to_bytes()))
    rebuilt.run(epochs=0)
    whole_epochs = [row.test_loss for row in rebuilt.history if float(row.epoch).is_integer()]
    assert whole_epochs == [row.test_loss for row in straight.history]
    for mine, theirs in ((rebuilt.model, straight.model), (rebuilt.scored_model, straight.scored_model)):
        for a, b in zip(mine.parameters(), theirs.parameters()):
            assert torch.equal(a, b)


@pytest.mark.parametrize("poisoned", ["train_images", "test_images"])  # a blown-up batch, a test loss of NaN
def test_a_divergence_while_averaging_puts_back_the_last_good_mean_and_weights(tiny_data, poisoned):
    trainer = Trainer(tiny_data, SMALL, dataclasses.replace(AVERAGING, average_from=1))
    trainer.run(epochs=2)
    good_mean, good_weights = weights(trainer.scored_model), weights(trainer.model)
    setattr(trainer, poisoned, torch.full_like(getattr(trainer, poisoned), float("nan")))
    assert trainer.run(epochs=1).status == DIVERGED
    assert trainer.averaged.n_averaged.item() == 2
    for name, value in trainer.scored_model.state_dict().items():
        assert torch.equal(value, good_mean[name]) and torch.equal(trainer.model.state_dict()[name], good_weights[name])


def test_a_state_that_averages_is_refused_by_a_training_that_does_not(tiny_data):
    averaging = Trainer(tiny_data, SMALL, dataclasses.replace(AVERAGING, epochs=2, average_from=1))
    averaging.run()
    with pytest.raises(ValueError, match="averages weights, but its settings do not"):
        Trainer(tiny_data, SMALL, FAST, averaging.state_dict())


def test_a_state_without_the_generator_goes_on_from_its_last_whole_epoch(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST)
    trainer.run(epochs=1)
    older = {key: trainer.state_dict()[key] for key in ("model", "optimizer", "history")}  # a version 1 file
    rebuilt = Trainer(tiny_data, SMALL, FAST, older)
    assert rebuilt.images_trained == trainer.train_size and rebuilt.target_epoch(1) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"images_trained": 7},  # does not match the history's epoch
        {"cut_order": torch.arange(500)},  # longer than the training set
        {"cut_order": torch.arange(120), "cut_batch": 99},  # past the pass's last batch
    ],
)
def test_a_training_state_that_does_not_fit_the_training_set_is_refused(tiny_data, change):
    trainer = Trainer(tiny_data, SMALL, FAST)
    trainer.run(epochs=1)
    with pytest.raises(ValueError, match="training state"):
        Trainer(tiny_data, SMALL, FAST, {**trainer.state_dict(), **change})


def test_a_stop_between_two_epochs_says_before_which_epoch(tiny_data):
    trainer = Trainer(tiny_data, SMALL, FAST, batch_event_interval=0.0)
    stop = threading.Event()

    def stop_after_epoch_1(event):
        if isinstance(event, EpochRecord) and event.epoch == 1:
            stop.set()

    end = trainer.run(on_event=stop_after_epoch_1, stop=stop)
    assert end.status == STOPPED and end.reason == "before epoch 2"
    assert [row.epoch for row in trainer.history] == [0, 1]


def test_the_rows_order_trains_exactly_as_before_reading_orders_existed(tiny_data):
    # measured with the same settings on main at e08b38e, before the reading order was a setting
    trainer = Trainer(tiny_data, SMALL, FAST)
    trainer.run()
    assert [float.hex(row.test_loss) for row in trainer.history] == [
        "0x1.28254a0000000p+1",
        "0x1.276b4e0000000p+1",
        "0x1.271b740000000p+1",
    ]
    assert [float.hex(row.train_loss) for row in trainer.history[1:]] == [
        "0x1.2891c00000000p+1",
        "0x1.2872055555555p+1",
    ]


def test_a_784_step_model_trains_a_tiny_batch(tiny_data):
    pixels = ModelConfig(hidden_size=8, reading_order="pixels")
    trainer = Trainer(
        tiny_data, pixels, TrainConfig(epochs=1, batch_size=20, train_limit=40, optimizer="Adam", learning_rate=0.05)
    )
    before = {name: value.clone() for name, value in trainer.model.state_dict().items()}
    end = trainer.run()
    assert end.status == FINISHED and [row.epoch for row in trainer.history] == [0, 1]
    assert all(torch.isfinite(torch.tensor(row.test_loss)) for row in trainer.history)
    assert not torch.equal(before["recurrent.weight_ih_l0"], trainer.model.recurrent.weight_ih_l0.detach())
    assert trainer.model.recurrent.weight_ih_l0.shape == (32, 1)
