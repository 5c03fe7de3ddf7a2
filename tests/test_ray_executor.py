"""The Ray executor: the same runs as the local one, live snapshots, Stop within one batch."""

import gc
import os
import threading
import time

import pytest
import torch

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.executors import make_executor
from rnn_core.history import RunStatus
from rnn_core.jobs import job_spec
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunStore
from rnn_core.trainer import BatchEvent, Trainer
from tests.conftest import synthetic_mnist
from tests.test_registry import assert_continued_run_equals_straight_run

ray = pytest.importorskip("ray")
from rnn_core.ray_executor import RayExecutor  # noqa: E402  (needs ray)

MODEL = ModelConfig(hidden_size=6)
QUICK = TrainConfig(epochs=2, batch_size=40, device="cpu", train_limit=300)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    # Ray ends the whole process when a handle (an executor's data or mailbox) is freed after
    # its shutdown, and the executors of these tests may wait in reference cycles: free them now.
    gc.collect()
    ray.shutdown()


def submit(executor, store, data, model=MODEL, train=QUICK, batch_event_interval=0.1):
    run = store.create(model, train)
    return executor.submit(job_spec(run, data, model, train, batch_event_interval=batch_event_interval))


def done(job, timeout=120.0):
    assert job.done.wait(timeout), "the job did not end"
    return job.snapshot()


def without_times(history):
    return [(row.epoch, row.train_loss, row.test_loss, row.test_accuracy, row.partial) for row in history]


def test_same_seed_and_config_give_the_same_history_on_either_executor(local_ray, tmp_path):
    data = synthetic_mnist(n_train=600)
    # one torch thread per job on both sides: the same arithmetic, to the last bit
    local, remote = LocalExecutor(data, slots=os.cpu_count()), RayExecutor(data, cpus_per_job=1, slots=2)
    try:
        here = done(submit(local, RunStore(tmp_path / "local"), data))
        store = RunStore(tmp_path / "ray")
        job = submit(remote, store, data)
        there = done(job)
    finally:
        local.shutdown(), remote.shutdown()
    assert there.status == RunStatus.FINISHED and there.reason == "trained to epoch 2"
    assert without_times(there.history) == without_times(here.history)
    # the driver wrote the run folder from the streamed events, weights included
    saved = store.read(job.run_id)
    assert saved.status == RunStatus.FINISHED and saved.history == there.history
    trained = store.checkpoint(job.run_id).state_dict
    for name, value in job.checkpoint().state_dict.items():
        assert torch.equal(trained[name], value), name


def test_stop_arrives_within_one_batch_and_the_partial_epoch_is_saved(local_ray, tmp_path):
    data = synthetic_mnist(n_train=20_000)
    executor = RayExecutor(data, slots=1)
    batch = 500
    long = TrainConfig(epochs=50, batch_size=batch, device="cpu")
    try:
        # an event after every batch, so the driver knows where the worker is
        job = submit(executor, RunStore(tmp_path), data, ModelConfig(hidden_size=64), long, batch_event_interval=0)
        while (seen := job.snapshot().progress) is None or seen.batch < 3:
            assert not job.done.wait(0.005), "the job ended before it was stopped"
        job.stop()
        end = done(job)
    finally:
        executor.shutdown()
    assert end.status == RunStatus.STOPPED and end.reason.startswith("stopped by the user during epoch 1")
    partial = end.history[-1]
    assert partial.partial
    trained = round(partial.epoch * 20_000)
    # the batch under way when the stop arrived finishes; one more in flight at most is the
    # event that was on its way to the driver when it asked
    assert trained <= seen.images_seen + 2 * batch, (trained, seen.images_seen)


def stopped_at_batch(data, batch: int) -> Trainer:
    """A trainer stopped part-way through its second epoch, at the same batch every time."""
    trainer, stop = Trainer(data, MODEL, QUICK, batch_event_interval=0), threading.Event()

    def on_event(event):
        if isinstance(event, BatchEvent) and event.epoch_index == 2 and event.batch == batch:
            stop.set()

    assert trainer.run(5, on_event=on_event, stop=stop).status == RunStatus.STOPPED
    return trainer


def test_a_stopped_training_continues_on_ray_exactly_as_it_would_here(local_ray, tmp_path):
    data, store = synthetic_mnist(n_train=600), RunStore(tmp_path)
    local, remote = LocalExecutor(data, slots=os.cpu_count()), RayExecutor(data, slots=1)
    try:
        state = stopped_at_batch(data, 3).state_dict()
        here = local.submit(job_spec(store.create(MODEL, QUICK), data, MODEL, QUICK, state, epochs=1))
        there = remote.submit(job_spec(store.create(MODEL, QUICK), data, MODEL, QUICK, state, epochs=1))
        here, there = done(here), done(there)
    finally:
        local.shutdown(), remote.shutdown()
    assert there.status == RunStatus.FINISHED and there.history[-1].epoch > 2
    assert without_times(there.history) == without_times(here.history)


def test_the_registry_runs_on_ray_and_stops_a_run_that_is_saved_as_stopped(local_ray, tmp_path):
    data = synthetic_mnist(n_train=400)
    registry = JobRegistry(data, RunStore(tmp_path), make_executor("ray", data))
    try:
        assert isinstance(registry.executor, RayExecutor)
        run_id = registry.start(MODEL, TrainConfig(epochs=200, batch_size=10, device="cpu"), owner="alice")
        while not registry.view(run_id).history or registry.view(run_id).history[-1].epoch < 1:
            assert registry.view(run_id).busy
            time.sleep(0.01)
        registry.stop(run_id, owner="alice")
        while registry.view(run_id).busy:
            time.sleep(0.01)
        view, saved = registry.view(run_id), registry.store.read(run_id)
    finally:
        registry.close()
    # stopped early, wherever the stop found it (an epoch is 40 batches of ten images, a blink)
    assert view.status == RunStatus.STOPPED and 1 <= view.history[-1].epoch < 200
    assert saved.status == RunStatus.STOPPED and saved.history == view.history


def test_an_unknown_executor_name_is_refused():
    with pytest.raises(ValueError, match="local, ray"):
        make_executor("dask", synthetic_mnist())


def test_a_run_continued_on_ray_after_a_registry_restart_is_the_run_that_never_stopped(local_ray, tmp_path):
    data = synthetic_mnist(n_train=600)
    train = TrainConfig(epochs=2, batch_size=40, device="cpu", optimizer="Adam", learning_rate=0.01)
    straight, continued = (RunStore(tmp_path / name) for name in ("straight", "continued"))
    assert_continued_run_equals_straight_run(
        data, train, straight, continued, lambda: make_executor("ray", data, slots=1)
    )
