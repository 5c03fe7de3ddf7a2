"""Jobs and the local executor: live snapshots, speed, bounded loss points, parallel runs."""

import time

import pytest
import torch

from rnn_core import jobs as jobs_module
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.jobs import JobSpec, LocalExecutor
from rnn_core.runs import RunStore
from rnn_core.trainer import Trainer
from tests.conftest import synthetic_mnist

MODEL = ModelConfig(hidden_size=6)
QUICK = TrainConfig(epochs=2, batch_size=40, device="cpu")


def submit(executor, store, data, model=MODEL, train=QUICK):
    run = store.create(model, train)
    return executor.submit(JobSpec(run, Trainer(data, model, train), train.epochs))


def done(job, timeout=60.0):
    assert job.done.wait(timeout), "the job did not end"
    return job.snapshot()


@pytest.fixture
def executor():
    executor = LocalExecutor(slots=2)
    yield executor
    executor.shutdown()


def test_a_snapshot_is_a_frozen_copy_the_training_cannot_change(executor, tmp_path):
    job = submit(executor, RunStore(tmp_path), synthetic_mnist())
    first = done(job)
    assert first.status == RunStatus.FINISHED and isinstance(first.history, tuple)
    with pytest.raises(AttributeError):
        first.status = RunStatus.FAILED
    assert job.snapshot() == first


def test_speed_and_time_left_are_reported_while_training(executor, tmp_path):
    job = submit(
        executor, RunStore(tmp_path), synthetic_mnist(n_train=2000), train=TrainConfig(epochs=200, device="cpu")
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


def test_the_batch_losses_cover_the_whole_training_in_bounded_points(executor, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs_module, "MAX_BATCH_POINTS", 20)
    job = submit(
        executor, RunStore(tmp_path), synthetic_mnist(), train=TrainConfig(epochs=60, batch_size=10, device="cpu")
    )
    points = done(job).batch_losses
    epochs = [epoch for epoch, _ in points]
    assert 10 <= len(points) <= 20
    assert epochs == sorted(epochs) and epochs[0] < 6 and epochs[-1] > 54


def test_two_jobs_train_at_once_and_each_ends_as_it_would_alone(executor, tmp_path):
    data, store = synthetic_mnist(n_train=1000), RunStore(tmp_path)
    small, large = ModelConfig(hidden_size=4), ModelConfig(hidden_size=12)
    together = [submit(executor, store, data, model) for model in (small, large)]
    for job, model in zip(together, (small, large)):
        assert done(job).status == RunStatus.FINISHED
        alone = submit(executor, store, data, model)
        done(alone)
        for name, value in alone.checkpoint().state_dict.items():
            assert torch.allclose(job.checkpoint().state_dict[name], value, atol=1e-5), name


def test_each_worker_sizes_its_own_torch_threads_and_the_process_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs_module.os, "cpu_count", lambda: 4)
    threads_in_training = []

    class ThreadCountingTrainer(Trainer):
        def run(self, *args, **kwargs):
            threads_in_training.append(torch.get_num_threads())
            return super().run(*args, **kwargs)

    before = torch.get_num_threads()
    executor = LocalExecutor(slots=4)
    try:
        run = RunStore(tmp_path).create(MODEL, QUICK)
        done(executor.submit(JobSpec(run, ThreadCountingTrainer(synthetic_mnist(), MODEL, QUICK), QUICK.epochs)))
    finally:
        executor.shutdown()
    assert threads_in_training == [1]  # 4 cores shared by 4 slots
    assert torch.get_num_threads() == before
