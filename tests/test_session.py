"""TrainingSession: the per-tab worker the Train page drives and polls."""

import time

import pytest
import torch

from rnn_core import session as session_module
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.runs import RunStore
from rnn_core.session import IDLE, RUNNING, WAITING, TrainingSession, TrainingSlots
from rnn_core.trainer import BatchEvent, FINISHED, STOPPED
from tests.conftest import synthetic_mnist

MODEL = ModelConfig(hidden_size=6)
QUICK = TrainConfig(epochs=2, batch_size=20, device="cpu")
# Enough batches that a training is still going when the test looks at it.
LONG = TrainConfig(epochs=200, batch_size=10, device="cpu")


@pytest.fixture
def slots():
    threads = torch.get_num_threads()
    yield TrainingSlots(2)
    torch.set_num_threads(threads)  # the slots size torch's process-wide thread count


@pytest.fixture
def make_session(tmp_path, slots):
    sessions = []

    def make(data=None, slots_=None):
        session = TrainingSession(data or synthetic_mnist(n_train=400), RunStore(tmp_path / "runs"), slots_ or slots)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def wait_done(session, timeout=60.0):
    wait_until(lambda: not session.snapshot().busy, timeout)
    return session.snapshot()


def test_start_trains_in_the_background_and_saves_the_run(make_session):
    session = make_session()
    session.start(MODEL, QUICK, label="notebook")
    snapshot = wait_done(session)
    assert snapshot.status == FINISHED and snapshot.reason == "trained to epoch 2"
    assert [row["epoch"] for row in snapshot.history] == [0, 1, 2]
    assert snapshot.model_config == MODEL and snapshot.train_config == QUICK
    assert snapshot.batch_losses and snapshot.batch_losses[-1][0] == pytest.approx(2.0)
    info, history = session.store.read(snapshot.run_id)
    assert info["status"] == FINISHED and info["label"] == "notebook"
    assert history == snapshot.history


def test_stop_takes_effect_before_the_next_batch(make_session):
    session = make_session()
    forward = session._on_event

    def stop_at_the_first_batch(event):
        forward(event)
        if isinstance(event, BatchEvent):
            session.stop()

    session._on_event = stop_at_the_first_batch
    session.start(MODEL, LONG)
    snapshot = wait_done(session)
    assert snapshot.status == STOPPED and "during epoch 1" in snapshot.reason
    # exactly one batch of 10 out of 400 images was trained
    assert [row["epoch"] for row in snapshot.history] == [0, 0.025]
    assert snapshot.history[-1]["partial"] is True
    assert session.store.read(snapshot.run_id)[0]["status"] == STOPPED


def test_continue_trains_more_epochs_in_the_same_run(make_session):
    session = make_session()
    session.start(MODEL, QUICK)
    first = wait_done(session)
    session.continue_training(1)
    snapshot = session.snapshot()
    assert (snapshot.epochs_start, snapshot.epochs_target) == (2, 3)
    snapshot = wait_done(session)
    assert [row["epoch"] for row in snapshot.history] == [0, 1, 2, 3]
    assert snapshot.run_id == first.run_id
    assert len(session.store.read(first.run_id)[1]) == 4


def test_a_second_command_while_training_is_refused(make_session):
    session = make_session()
    session.start(MODEL, LONG)
    with pytest.raises(RuntimeError, match="already running"):
        session.start(MODEL, QUICK)
    with pytest.raises(RuntimeError, match="already running"):
        session.continue_training(1)


def test_speed_and_time_left_are_reported_while_training(make_session):
    session = make_session(synthetic_mnist(n_train=2000))
    session.start(MODEL, LONG)
    wait_until(lambda: session.snapshot().seconds_left is not None)
    snapshot = session.snapshot()
    assert snapshot.status == RUNNING and snapshot.images_per_second > 0
    images_left = (200 - snapshot.progress.epoch) * 2000
    assert snapshot.seconds_left == pytest.approx(images_left / snapshot.images_per_second, rel=0.05)
    session.stop()
    assert wait_done(session).seconds_left is None


def test_the_batch_losses_cover_the_whole_training_in_bounded_points(make_session, monkeypatch):
    monkeypatch.setattr(session_module, "MAX_BATCH_POINTS", 20)
    session = make_session()
    session.start(MODEL, TrainConfig(epochs=60, batch_size=10, device="cpu"))
    points = wait_done(session).batch_losses
    epochs = [epoch for epoch, _ in points]
    assert 10 <= len(points) <= 20
    assert epochs == sorted(epochs) and epochs[0] < 6 and epochs[-1] > 54


def test_reset_forgets_the_model_and_keeps_its_run(make_session):
    session = make_session()
    session.start(MODEL, QUICK)
    run_id = wait_done(session).run_id
    session.reset()
    snapshot = session.snapshot()
    assert snapshot.status == IDLE and not snapshot.has_model and snapshot.history == []
    assert session.store.read(run_id)[0]["status"] == FINISHED
    with pytest.raises(RuntimeError, match="no model"):
        session.continue_training(1)


def test_an_adopted_run_becomes_the_current_model_and_can_be_continued(make_session):
    trained = make_session()
    trained.start(MODEL, QUICK)
    run_id = wait_done(trained).run_id
    session = make_session()
    session.adopt(session.store.checkpoint(run_id), run_id)
    snapshot = session.snapshot()
    assert snapshot.has_model and snapshot.run_id == run_id and snapshot.status == IDLE
    assert [row["epoch"] for row in snapshot.history] == [0, 1, 2]
    session.continue_training(1)
    snapshot = wait_done(session)
    assert snapshot.status == FINISHED
    assert [row["epoch"] for row in session.store.read(run_id)[1]] == [0, 1, 2, 3]


def second_in_line(make_session):
    """Two sessions sharing one training slot: the first trains, the second has asked to."""
    one_slot = TrainingSlots(1)
    first, second = make_session(slots_=one_slot), make_session(slots_=one_slot)
    first.start(MODEL, LONG)
    wait_until(lambda: first.snapshot().status == RUNNING)
    second.start(MODEL, QUICK)
    return first, second


def test_a_session_waits_visibly_while_every_slot_is_taken(make_session):
    first, second = second_in_line(make_session)
    time.sleep(0.3)
    waiting = second.snapshot()
    assert waiting.status == WAITING and waiting.busy and "slot" in waiting.reason
    assert waiting.history == []
    first.stop()
    assert wait_done(second).status == FINISHED


def test_stop_while_waiting_ends_without_training(make_session):
    first, second = second_in_line(make_session)
    second.stop()
    snapshot = wait_done(second)
    assert snapshot.status == STOPPED and "waiting" in snapshot.reason
    assert second.store.read(snapshot.run_id)[0]["status"] == STOPPED
    assert first.snapshot().status == RUNNING


def test_close_stops_the_worker_and_saves_the_run_as_stopped(make_session):
    session = make_session()
    session.start(MODEL, LONG)
    wait_until(lambda: session.snapshot().progress is not None)
    session.close()
    snapshot = session.snapshot()
    assert snapshot.status == STOPPED and not snapshot.busy
    info, history = session.store.read(snapshot.run_id)
    assert info["status"] == STOPPED and history[-1]["partial"] is True


def test_two_sessions_train_at_once_without_touching_each_other(make_session):
    data = synthetic_mnist(n_train=1000)
    small, large = ModelConfig(hidden_size=4), ModelConfig(hidden_size=12)
    first, second = make_session(data), make_session(data)
    first.start(small, QUICK)
    second.start(large, QUICK)
    one, two = wait_done(first), wait_done(second)
    assert one.run_id != two.run_id
    assert one.status == two.status == FINISHED
    assert first.checkpoint().model_config == small and second.checkpoint().model_config == large
    # each model ends as it would have trained alone
    for session, config in ((first, small), (second, large)):
        alone = make_session(data)
        alone.start(config, QUICK)
        wait_done(alone)
        for name, value in alone.checkpoint().state_dict.items():
            assert torch.allclose(session.checkpoint().state_dict[name], value, atol=1e-5), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bad_settings_are_refused_before_a_run_is_saved(make_session):
    session = make_session()
    with pytest.raises(ValueError, match="no CUDA GPU"):
        session.start(MODEL, TrainConfig(device="cuda"))
    assert session.store.scan() == ([], [])
    assert not session.snapshot().has_model
