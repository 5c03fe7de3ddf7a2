"""Jobs and the local executor: live snapshots, speed, bounded loss points, parallel runs."""

import threading
import time

import pytest
import torch

from rnn_core import jobs as jobs_module
from rnn_core import local_executor
from rnn_core.checkpoint import load_checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.jobs import job_spec
from rnn_core.local_executor import LocalExecutor
from rnn_core.runs import CHECKPOINT_FILE, RunStore
from rnn_core.trainer import Trainer
from tests.conftest import synthetic_mnist

MODEL = ModelConfig(hidden_size=6)
QUICK = TrainConfig(epochs=2, batch_size=40, device="cpu")


def submit(executor, store, model=MODEL, train=QUICK):
    return executor.submit(job_spec(store.create(model, train), executor.data, model, train))


def done(job, timeout=60.0):
    assert job.done.wait(timeout), "the job did not end"
    return job.snapshot()


@pytest.fixture
def executor_on():
    """An executor of two slots on the data given."""
    made = []

    def make(data):
        made.append(LocalExecutor(data, slots=2))
        return made[-1]

    yield make
    for executor in made:
        executor.shutdown()


def test_a_waiting_job_holds_no_trainer_and_so_no_copy_of_the_training_images(tmp_path, monkeypatch):
    built = []

    class CountedTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "Trainer", CountedTrainer)
    executor = LocalExecutor(synthetic_mnist(), slots=1)
    store, endless = RunStore(tmp_path), TrainConfig(epochs=200, batch_size=10, device="cpu")
    try:
        training = submit(executor, store, train=endless)
        waiting = [submit(executor, store, train=endless) for _ in range(3)]
        while training.snapshot().status != RunStatus.RUNNING or not built:  # its trainer is built once it runs
            training.done.wait(0.01)
        assert [job.snapshot().queue_position for job in waiting] == [1, 2, 3]
        assert len(built) == 1  # only the training job has built its trainer
        for job in [*waiting, training]:
            job.stop()
        assert all(done(job).status == RunStatus.STOPPED for job in waiting)
    finally:
        executor.shutdown()
    assert len(built) == 1


def test_a_snapshot_is_a_frozen_copy_the_training_cannot_change(executor_on, tmp_path):
    job = submit(executor_on(synthetic_mnist()), RunStore(tmp_path))
    first = done(job)
    assert first.status == RunStatus.FINISHED and isinstance(first.history, tuple)
    with pytest.raises(AttributeError):
        first.status = RunStatus.FAILED
    assert job.snapshot() == first


def test_speed_and_time_left_are_reported_while_training(executor_on, tmp_path):
    job = submit(
        executor_on(synthetic_mnist(n_train=2000)), RunStore(tmp_path), train=TrainConfig(epochs=200, device="cpu")
    )
    deadline = time.monotonic() + 60
    while job.snapshot().seconds_left is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    snapshot = job.snapshot()
    assert snapshot.status == RunStatus.RUNNING and snapshot.images_per_second > 0
    images_left = (200 - snapshot.progress.epoch) * 2000
    assert snapshot.seconds_left == pytest.approx(images_left / snapshot.images_per_second, rel=0.05)
    job.stop()
    assert done(job).seconds_left is None


def test_the_batch_losses_cover_the_whole_training_in_bounded_points(executor_on, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs_module, "MAX_BATCH_POINTS", 20)
    executor = executor_on(synthetic_mnist())
    job = submit(executor, RunStore(tmp_path), train=TrainConfig(epochs=60, batch_size=10, device="cpu"))
    points = done(job).batch_losses
    epochs = [epoch for epoch, _ in points]
    assert 10 <= len(points) <= 20
    assert epochs == sorted(epochs) and epochs[0] < 6 and epochs[-1] > 54


def test_two_jobs_train_at_once_and_each_ends_as_it_would_alone(executor_on, tmp_path):
    executor, store = executor_on(synthetic_mnist(n_train=1000)), RunStore(tmp_path)
    small, large = ModelConfig(hidden_size=4), ModelConfig(hidden_size=12)
    together = [submit(executor, store, model) for model in (small, large)]
    for job, model in zip(together, (small, large)):
        assert done(job).status == RunStatus.FINISHED
        alone = submit(executor, store, model)
        done(alone)
        for name, value in alone.checkpoint().state_dict.items():
            assert torch.allclose(job.checkpoint().state_dict[name], value, atol=1e-5), name


@pytest.mark.parametrize(("own_threads", "expected"), [(8, 4), (2, 2), (1, 1)])
def test_a_slot_has_no_more_threads_than_its_creator(monkeypatch, own_threads, expected):
    monkeypatch.setattr(local_executor.os, "cpu_count", lambda: 8)
    before = torch.get_num_threads()
    torch.set_num_threads(own_threads)
    try:
        assert local_executor.threads_per_slot(2) == expected
    finally:
        torch.set_num_threads(before)


def test_each_worker_sizes_its_own_torch_threads_and_the_process_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(local_executor.os, "cpu_count", lambda: 4)
    threads_in_training = []

    class ThreadCountingTrainer(Trainer):
        def run(self, *args, **kwargs):
            threads_in_training.append(torch.get_num_threads())
            return super().run(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "Trainer", ThreadCountingTrainer)
    before = torch.get_num_threads()
    executor = LocalExecutor(synthetic_mnist(), slots=4)
    try:
        done(submit(executor, RunStore(tmp_path)))
    finally:
        executor.shutdown()
    assert threads_in_training == [1]  # 4 cores shared by 4 slots
    assert torch.get_num_threads() == before


def test_a_run_let_go_during_an_epoch_save_is_saved_at_the_epoch_its_files_hold(tmp_path):
    data, store, endless = synthetic_mnist(n_train=200), RunStore(tmp_path), TrainConfig(epochs=200, device="cpu")
    job = jobs_module.Job(job_spec(store.create(MODEL, endless), data, MODEL, endless))
    save_epoch, let_go = job.run.save_epoch, threading.Event()  # set once the run is let go

    def let_go_while_saving(history, checkpoint):
        if history[-1].epoch == 1:
            letting_go = threading.Thread(
                target=lambda: (job.let_go("stopped because the server shut down"), let_go.set())
            )
            letting_go.start()
            letting_go.join(1.0)  # room for the let-go to end first, as it did before the fix
        save_epoch(history, checkpoint)

    job.run.save_epoch = let_go_while_saving
    # the training goes on after the let-go (the process would end there) until told to stop
    job.work(lambda spec, report, stop: jobs_module.train_here(data, spec, report, let_go))
    saved = store.read(job.run_id)
    on_disk = load_checkpoint(store.folder(job.run_id) / CHECKPOINT_FILE)
    assert saved.status == RunStatus.STOPPED
    assert [row.epoch for row in saved.history] == [row.epoch for row in on_disk.history]
    # the epoch saved is the one the let-go names (1, or a later one the training saved first)
    assert saved.history[-1].epoch >= 1 and saved.reason.endswith(f"it goes on from epoch {saved.history[-1].epoch:g}")
