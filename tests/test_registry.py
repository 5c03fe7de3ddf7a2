"""The server's registry of runs: live jobs by run id, ownership, forks, the unwatched stop."""

import dataclasses
import logging
import math
import shutil
import subprocess
import sys
import threading
import time

import pytest
import torch

from rnn_core import trainer as trainer_module
from rnn_core.admin_gate import AdminGate
from rnn_core.checkpoint import load_checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry, LimitReached, NotAllowed, ShownRun
from rnn_core.runs import RunNotFound, RunStore
from rnn_core.server_settings import Limits
from rnn_core.trainer import Trainer
from tests.conftest import REPO, synthetic_mnist

MODEL = ModelConfig(hidden_size=6)
QUICK = TrainConfig(epochs=2, batch_size=40, device="cpu")
LONG = TrainConfig(epochs=200, batch_size=10, device="cpu")
ALICE, BOB, CAROL = "alice-token", "bob-token", "carol-token"


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def in_new_threads(patch, original):
    """`patch` in the threads started from now on (this test's trainings), `original` in the
    others: a training of a test before may still be ending in its own time on this worker."""
    earlier = set(threading.enumerate())

    def call(*args, **kwargs):
        return (original if threading.current_thread() in earlier else patch)(*args, **kwargs)

    return call


def new_registry(folder, slots=2, data=None, **options) -> JobRegistry:
    data = data or synthetic_mnist(n_train=400)
    return JobRegistry(data, RunStore(folder), LocalExecutor(data, slots=slots), **options)


@pytest.fixture
def registry(tmp_path):
    registry = new_registry(tmp_path, admin_password="sesame")
    yield registry
    registry.close()


def finished(registry, run_id):
    wait_until(lambda: not registry.view(run_id).busy)
    return registry.view(run_id)


def training(registry, run_id):
    wait_until(lambda: registry.view(run_id).live.progress is not None)
    return registry.view(run_id)


def test_a_run_trains_to_the_end_and_any_reader_sees_the_same_run(registry):
    run_id = registry.start(MODEL, QUICK, owner=ALICE, label="notebook")
    view = finished(registry, run_id)
    assert view.status == RunStatus.FINISHED and view.reason == "trained to epoch 2"
    assert [row.epoch for row in view.history] == [0, 1, 2]
    # a second tab, or a reload, asks by run id and reads the same records from the run folder
    again = registry.view(run_id)
    assert again.record.history == view.history and again.record.label == "notebook"
    assert registry.run_to_show(BOB).run_id == run_id


def test_stop_is_seen_at_once_and_the_run_is_saved_with_the_reason(registry):
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    registry.stop(run_id, owner=ALICE)
    live = registry.view(run_id).live
    assert live.stopping and live.busy  # before the partial epoch is scored
    view = finished(registry, run_id)
    assert view.status == RunStatus.STOPPED and view.reason.startswith("stopped by the user during epoch")
    assert view.history[-1].partial and registry.store.read(run_id).status == RunStatus.STOPPED


def test_a_stop_while_the_untrained_model_is_scored_is_felt_at_once_and_leaves_nothing_to_continue(
    registry, monkeypatch
):
    scoring, real_evaluate = threading.Event(), trainer_module.evaluate

    def evaluate_once_stopped(model, images, labels, stop=None):
        scoring.set()
        assert stop is not None and stop.wait(60)  # as a large model's scoring would still run
        return real_evaluate(model, images, labels, stop)

    monkeypatch.setattr(trainer_module, "evaluate", in_new_threads(evaluate_once_stopped, real_evaluate))
    run_id = registry.start(MODEL, LONG, owner=ALICE)
    assert scoring.wait(60)
    registry.stop(run_id, owner=ALICE)
    view = finished(registry, run_id)
    assert view.status == RunStatus.STOPPED
    assert view.reason == "stopped by the user before its untrained model was scored"
    assert view.history == () and not view.has_model
    assert registry.store.read(run_id).status == RunStatus.STOPPED


def test_a_run_continued_in_place_keeps_the_batch_losses_of_its_earlier_training(registry):
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    wait_until(lambda: len(registry.view(run_id).history) >= 2)  # a scored epoch to go on from
    registry.stop(run_id, owner=ALICE)
    before = finished(registry, run_id).live.batch_losses
    assert registry.continue_run(run_id, 1, owner=ALICE) == run_id
    wait_until(lambda: len(registry.view(run_id).live.batch_losses) > len(before))
    after = registry.view(run_id).live.batch_losses
    registry.stop(run_id, owner=ALICE)
    assert after[: len(before)] == before
    assert after[len(before)][0] >= before[-1][0]  # the new points follow on


def test_another_browser_cannot_stop_or_delete_a_run_but_the_admin_can(registry):
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    with pytest.raises(NotAllowed):
        registry.stop(run_id, owner=BOB)
    with pytest.raises(NotAllowed):
        registry.stop(run_id, owner=BOB, password="wrong")
    assert registry.view(run_id).busy
    registry.stop(run_id, owner=BOB, password="sesame")
    finished(registry, run_id)
    with pytest.raises(NotAllowed):
        registry.delete(run_id, owner=BOB)
    assert registry.view(run_id).has_model
    registry.delete(run_id, owner=None, password="sesame")
    with pytest.raises(RunNotFound):
        registry.view(run_id)


def test_a_run_cannot_be_deleted_while_it_trains(registry):
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    with pytest.raises(RuntimeError):
        registry.delete(run_id, owner=ALICE)
    registry.stop(run_id, owner=ALICE)
    finished(registry, run_id)
    registry.delete(run_id, owner=ALICE)
    assert registry.runs()[0] == []


def test_continuing_your_own_stopped_run_goes_on_in_the_same_run(registry):
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    registry.stop(run_id, owner=ALICE)
    stopped_at = finished(registry, run_id).history[-1].epoch
    assert registry.continue_run(run_id, 1, owner=ALICE) == run_id
    view = finished(registry, run_id)
    # the cut epoch is finished first, then one more
    assert view.status == RunStatus.FINISHED and view.history[-1].epoch == math.ceil(stopped_at) + 1
    assert view.record.parent is None


def test_continuing_someone_elses_run_forks_it_and_leaves_theirs_untouched(registry):
    run_id = registry.start(MODEL, QUICK, owner=ALICE)
    original = finished(registry, run_id)
    before = (registry.store.folder(run_id) / "metrics.json").read_bytes()
    fork_id = registry.continue_run(run_id, 1, owner=BOB)
    fork = finished(registry, fork_id)
    assert fork_id != run_id and fork.record.parent == {"run_id": run_id, "epoch": 2}
    assert [row.epoch for row in fork.history] == [0, 1, 2, 3]
    assert fork.history[:3] == original.history and fork.record.owned_by(BOB)
    assert (registry.store.folder(run_id) / "metrics.json").read_bytes() == before
    # a finished run is forked even for its owner: its record stays as it ended
    assert registry.continue_run(run_id, 1, owner=ALICE) != run_id


def test_an_uploaded_model_is_a_run_that_continues_as_a_fork(registry):
    source = registry.start(MODEL, QUICK, owner=ALICE)
    checkpoint = registry.checkpoint(finished(registry, source).run_id)
    uploaded = registry.add_checkpoint(checkpoint, "model.pt", owner=BOB)
    assert registry.view(uploaded).status == RunStatus.UPLOADED
    fork = registry.continue_run(uploaded, 1, owner=BOB)
    assert fork != uploaded and finished(registry, fork).record.parent["run_id"] == uploaded


def test_runs_beyond_the_slots_wait_in_line_and_can_leave_it(tmp_path):
    registry = new_registry(tmp_path, slots=1)
    try:
        first = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
        second = registry.start(MODEL, LONG, owner=BOB)
        third = registry.start(MODEL, LONG, owner=BOB)
        assert registry.view(second).live.queue_position == 1 and registry.view(third).live.queue_position == 2
        assert registry.view(second).status == RunStatus.WAITING and registry.waiting() == 2
        registry.stop(second, owner=BOB)
        view = registry.view(second)  # leaves the line at once, without waiting for a slot
        assert view.status == RunStatus.STOPPED and "while waiting" in view.reason
        assert registry.store.read(second).status == RunStatus.STOPPED
        assert registry.view(third).live.queue_position == 1 and registry.view(first).status == RunStatus.RUNNING
    finally:
        registry.close()


def test_a_run_no_page_watches_is_stopped_with_that_reason(tmp_path):
    registry = new_registry(tmp_path, unwatched_minutes=0.5 / 60)
    try:
        watched = registry.start(MODEL, LONG, owner=ALICE)
        unwatched = registry.start(MODEL, LONG, owner=ALICE)
        deadline = time.monotonic() + 60
        while registry.view(unwatched).busy:
            assert time.monotonic() < deadline
            registry.watch(watched)
            time.sleep(0.05)
        assert "no page watched it for 0.5 seconds" in registry.view(unwatched).reason
        assert registry.store.read(unwatched).status == RunStatus.STOPPED
        assert registry.view(watched).busy
    finally:
        registry.close()


def test_a_disk_failure_reaches_the_page_and_the_run_does_not_stay_running(registry, monkeypatch):
    from rnn_core import runs as runs_module

    run_id = registry.start(MODEL, QUICK, owner=ALICE)

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs_module, "atomic_write_bytes", full)
    view = finished(registry, run_id)
    assert view.status == RunStatus.FAILED and "No space left on device" in view.reason


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_training_that_cannot_start_saves_nothing(registry):
    with pytest.raises(ValueError):
        registry.start(MODEL, TrainConfig(device="cuda"), owner=ALICE)
    assert registry.runs() == ([], [])


@pytest.mark.parametrize("run_id", ["../x", "/tmp", "20990101-000000-abcdef"])
def test_unknown_or_malformed_run_ids_are_refused(registry, run_id):
    with pytest.raises(RunNotFound):
        registry.view(run_id)
    with pytest.raises(RunNotFound):
        registry.continue_run(run_id, 1, owner=ALICE)


def without_times(history):
    return [(row.epoch, row.train_loss, row.test_loss, row.test_accuracy, row.partial) for row in history]


def assert_continued_run_equals_straight_run(data, train, straight_store, continued_store, make_executor):
    """Two epochs straight, against one epoch, a new registry (a server restart), then one more:
    the same losses, accuracies and weights."""
    straight = JobRegistry(data, straight_store, make_executor())
    try:
        run_id = straight.start(MODEL, train, owner=ALICE)
        expected = finished(straight, run_id)
        expected_weights = straight.checkpoint(run_id).state_dict
    finally:
        straight.close()
    before = JobRegistry(data, continued_store, make_executor())
    try:
        first_epoch = finished(before, before.start(MODEL, dataclasses.replace(train, epochs=1), owner=ALICE))
    finally:
        before.close()
    after = JobRegistry(data, continued_store, make_executor())
    try:
        continued = finished(after, after.continue_run(first_epoch.run_id, 1, owner=ALICE))
        weights = after.checkpoint(continued.run_id).state_dict
    finally:
        after.close()
    assert continued.status == RunStatus.FINISHED
    assert without_times(continued.history) == without_times(expected.history)
    for name, value in expected_weights.items():
        assert torch.equal(weights[name], value), name


def test_a_run_continued_after_a_registry_restart_is_the_run_that_never_stopped(tmp_path):
    data = synthetic_mnist(n_train=600)
    train = TrainConfig(epochs=2, batch_size=40, device="cpu", optimizer="Adam", learning_rate=0.01)
    straight, continued = (RunStore(tmp_path / name) for name in ("straight", "continued"))
    assert_continued_run_equals_straight_run(data, train, straight, continued, lambda: LocalExecutor(data, slots=1))


def test_a_run_stopped_mid_epoch_continues_after_a_restart_as_if_never_stopped(tmp_path):
    data = synthetic_mnist(n_train=4000)
    train = TrainConfig(epochs=2, batch_size=10, device="cpu")
    straight = new_registry(tmp_path / "straight", data=data)
    try:
        expected = finished(straight, straight.start(MODEL, train, owner=ALICE))
        expected_weights = straight.checkpoint(expected.run_id).state_dict
    finally:
        straight.close()
    before = new_registry(tmp_path / "stopped", data=data)
    try:
        run_id = before.start(MODEL, train, owner=ALICE)
        wait_until(lambda: (live := before.view(run_id).live).progress is not None and live.progress.epoch > 1.2)
        before.stop(run_id, owner=ALICE)
        stopped = finished(before, run_id)
    finally:
        before.close()
    assert stopped.status == RunStatus.STOPPED and 1 < stopped.history[-1].epoch < 2
    after = new_registry(tmp_path / "stopped", data=data)
    try:
        continued = finished(after, after.continue_run(run_id, 0, owner=ALICE))  # only the cut epoch's rest
        weights = after.checkpoint(run_id).state_dict
    finally:
        after.close()
    assert continued.run_id == run_id and continued.history[-1].epoch == 2
    assert continued.history[-1].test_loss == expected.history[-1].test_loss
    for name, value in expected_weights.items():
        assert torch.equal(weights[name], value), name


def test_the_registry_keeps_no_trainer_of_an_ended_run(registry):
    run_id = finished(registry, registry.start(MODEL, QUICK, owner=ALICE)).run_id
    job = registry._job(run_id)
    assert job is not None and not any(isinstance(value, Trainer) for value in vars(job).values())


def test_close_stops_every_training_and_saves_it_continuable(tmp_path):
    registry = new_registry(tmp_path)
    run_id = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
    registry.close(wait_seconds=30)
    saved = RunStore(tmp_path).read(run_id)
    assert saved.status == RunStatus.STOPPED and "because the server shut down" in saved.reason
    again = new_registry(tmp_path)
    try:
        assert again.continue_run(run_id, 1, owner=ALICE) == run_id
        again.stop(run_id, owner=ALICE)
    finally:
        again.close(wait_seconds=30)


def test_a_browser_may_have_only_so_many_runs_going_and_a_stopped_one_frees_its_place(tmp_path):
    registry = new_registry(tmp_path, slots=1, limits=Limits(runs_per_browser=2))
    try:
        done = finished(registry, registry.start(MODEL, QUICK, owner=ALICE)).run_id  # ended: not going
        first = training(registry, registry.start(MODEL, LONG, owner=ALICE)).run_id
        second = registry.start(MODEL, LONG, owner=ALICE)  # waits in line
        assert registry.runs_going(ALICE) == sorted([first, second], reverse=True)
        with pytest.raises(LimitReached, match="2 runs training or waiting"):
            registry.start(MODEL, LONG, owner=ALICE)
        with pytest.raises(LimitReached):
            registry.continue_run(done, 1, owner=ALICE)  # a continue is a run going too
        registry.start(MODEL, LONG, owner=BOB)  # another browser has its own allowance
        registry.stop(first, owner=ALICE)
        wait_until(lambda: len(registry.runs_going(ALICE)) < 2)
        registry.start(MODEL, LONG, owner=ALICE)
        assert registry.waiting() == 2
    finally:
        registry.close()


def test_a_tab_with_no_run_named_shows_its_own_newest_run_else_the_featured_one_else_a_finished_one_of_no_sweep(
    tmp_path,
):
    from rnn_core.runs import SweepTag

    registry = new_registry(tmp_path, admin_password="sesame")
    try:
        assert registry.run_to_show(ALICE) is None  # an empty server
        plain = finished(registry, registry.start(MODEL, QUICK, owner=BOB)).run_id
        tag = SweepTag("20261205-000000-abcdef", ("hidden_size",))
        sweep_cell = finished(registry, registry.start(MODEL, QUICK, owner=BOB, sweep=tag))
        assert sweep_cell.record.sweep is not None
        assert registry.run_to_show(ALICE).run_id == plain  # the newer sweep cell is passed over
        with pytest.raises(NotAllowed):
            registry.feature(sweep_cell.run_id, password="wrong")
        registry.feature(sweep_cell.run_id, password="sesame")
        assert registry.run_to_show(ALICE) == ShownRun(sweep_cell.run_id, "the run your teacher featured")
        own = finished(registry, registry.start(MODEL, QUICK, owner=ALICE)).run_id
        assert registry.run_to_show(ALICE) == ShownRun(own, "your newest run")
        # a second server on the same runs folder sees the teacher's choice
        other = new_registry(tmp_path)
        try:
            assert other.run_to_show(CAROL) == ShownRun(sweep_cell.run_id, "the run your teacher featured")
        finally:
            other.close()
        registry.feature(None, password="sesame")
        assert registry.featured() is None
        assert registry.run_to_show(CAROL) == ShownRun(own, "the newest finished run on this server")
    finally:
        registry.close()


def test_a_sweep_larger_than_the_limit_or_beside_a_live_one_is_refused(tmp_path):
    from rnn_core import sweep

    registry = new_registry(tmp_path, slots=1, limits=Limits(runs_per_sweep=2))
    cells = [(MODEL, LONG)] * 3
    try:
        with pytest.raises(LimitReached, match="3 runs"):
            sweep.start(registry, cells, ["seed"], owner=ALICE)
        assert registry.runs() == ([], [])
        sweep.start(registry, cells[:2], ["seed"], owner=ALICE)
        with pytest.raises(LimitReached, match="still training"):
            sweep.start(registry, cells[:1], ["seed"], owner=ALICE)
    finally:
        registry.close()


class HeldStep:
    """Patched in for the optimizer's step: each step waits until the test lets it go, as a
    step of a very large model (a minute on a CPU) would keep the training busy."""

    def __init__(self, monkeypatch):
        self.started, self.inside, self.release = threading.Event(), threading.Event(), threading.Event()
        original = torch.optim.SGD.step

        def held(optimizer, *args, **kwargs):
            self.started.set()
            self.inside.set()
            self.release.wait(120)
            self.inside.clear()
            return original(optimizer, *args, **kwargs)

        monkeypatch.setattr(torch.optim.SGD, "step", in_new_threads(held, original))


def test_pages_read_a_run_while_its_batch_is_under_way(registry, monkeypatch):
    step = HeldStep(monkeypatch)
    run_id = registry.start(MODEL, LONG, owner=ALICE)
    assert step.started.wait(60)
    try:
        # every reader answers while the step is held: none waits for the training
        assert registry.view(run_id).status == RunStatus.RUNNING
        assert registry.runs()[0][0].busy and registry.checkpoint(run_id).history[0].epoch == 0
        registry.stop(run_id, owner=ALICE)
        assert registry.view(run_id).live.stopping
        assert step.inside.is_set()  # all of it answered while the batch was still under way
    finally:
        step.release.set()
    assert finished(registry, run_id).status == RunStatus.STOPPED


def test_a_training_still_busy_at_shutdown_is_saved_from_its_last_scored_epoch(tmp_path, monkeypatch):
    registry = new_registry(tmp_path)
    step = HeldStep(monkeypatch)
    run_id = registry.start(MODEL, LONG, owner=ALICE)
    assert step.started.wait(60)
    try:
        registry.close(wait_seconds=0.5)  # the held batch outlasts the wait
        saved = RunStore(tmp_path).read(run_id)
    finally:
        step.release.set()
    assert saved.status == RunStatus.STOPPED and "because the server shut down" in saved.reason
    assert [row.epoch for row in saved.history] == [0] and "goes on from epoch 0" in saved.reason
    assert RunStore(tmp_path).checkpoint(run_id).position["images_trained"] == 0


def test_a_checkpoint_at_the_last_countable_epoch_cannot_continue_and_nothing_vanishes(registry):
    """Issue 25, item 11: epoch 999,999 continued would make a history no page can read."""
    source = registry.start(MODEL, QUICK, owner=ALICE)
    checkpoint = registry.checkpoint(finished(registry, source).run_id)
    last = checkpoint.history[-1]
    checkpoint.history = (*checkpoint.history[:-1], dataclasses.replace(last, epoch=999_999))
    uploaded = registry.add_checkpoint(load_checkpoint(checkpoint.to_bytes()), "old.pt", owner=ALICE)
    before = {view.run_id for view in registry.runs()[0]}
    with pytest.raises(ValueError, match="has trained 999,999 epochs.*it cannot train 1 more"):
        registry.continue_run(uploaded, 1, owner=ALICE)
    views, problems = registry.runs()
    assert {view.run_id for view in views} == before and problems == []


def test_a_run_whose_folder_is_deleted_while_it_trains_fails_saying_so_and_stays_deleted(registry):
    """Issue 25, item 12: the folder is not made again by the next save."""
    run_id = registry.start(MODEL, LONG, owner=ALICE)
    training(registry, run_id)
    folder = registry.store.folder(run_id)
    shutil.rmtree(folder)
    job = registry._job(run_id)
    wait_until(job.done.is_set)
    snapshot = job.snapshot()
    assert snapshot.status == RunStatus.FAILED and "was deleted while it trained" in snapshot.reason
    assert not folder.exists()


def test_wrong_admin_passwords_make_the_next_try_wait_longer_each_time_and_are_logged(registry, caplog):
    """Issue 25, item 5: 30 guesses in a row no longer get 30 comparisons."""
    caplog.set_level(logging.WARNING, logger="rnn_core.admin_gate")
    results = [registry.admin_gate.attempt(f"guess-{n}", who="tab1") for n in range(30)]
    assert [result.accepted for result in results] == [False] * 30
    assert results[0].wait_seconds == pytest.approx(1.0)
    assert registry.admin_gate.attempt("sesame").accepted is False  # right, but too soon
    compared = [record for record in caplog.records if "wrong try" in record.getMessage()]
    assert len(caplog.records) == 31 and len(compared) == 1  # the rest came too soon to be compared
    assert all("guess" not in record.getMessage() and "sesame" not in record.getMessage() for record in caplog.records)


def test_the_admin_wait_doubles_after_each_wrong_try_and_a_right_one_clears_it():
    now = [0.0]
    gate = AdminGate("sesame", clock=lambda: now[0])
    waits = []
    for _ in range(8):
        waits.append(gate.attempt("wrong").wait_seconds)
        now[0] += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert gate.attempt("sesame").accepted
    assert gate.attempt("wrong").wait_seconds == 1


# A server's registry training two runs, one finished and one long, in a process of its own.
KILLED_SERVER = """
import sys, time
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunStore
from tests.conftest import synthetic_mnist

data = synthetic_mnist(n_train=400)
registry = JobRegistry(data, RunStore(sys.argv[1]), LocalExecutor(data, slots=2))
model = ModelConfig(hidden_size=6)
done = registry.start(model, TrainConfig(epochs=1, batch_size=40, device="cpu"), owner="alice-token")
going = registry.start(model, TrainConfig(epochs=200, batch_size=10, device="cpu"), owner="alice-token")
while registry.view(done).busy or registry.store.read(going).epochs < 2:
    time.sleep(0.05)
print("two epochs saved", flush=True)
time.sleep(600)
"""


def test_a_server_killed_mid_run_leaves_its_finished_run_and_the_interrupted_one_whole(tmp_path):
    """SIGKILL, as a crash or a power cut: the job writing its run's folder is cut off anywhere."""
    server = subprocess.Popen(
        [sys.executable, "-c", KILLED_SERVER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout.readline().strip() == "two epochs saved"
    finally:
        server.kill()
        server.wait(30)
    store = RunStore(tmp_path)
    runs, problems = store.scan()
    assert problems == []
    assert sorted(record.status.value for record in runs) == ["finished", "interrupted"]
    for record in runs:
        assert store.checkpoint(record.run_id).history == record.history  # every checkpoint loads whole
