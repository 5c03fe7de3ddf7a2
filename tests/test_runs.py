import json
import os
import shutil
import subprocess
import sys
import threading

import pandas as pd
import pytest

from rnn_core import data as data_module
from rnn_core import runs as runs_module
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.runs import RunNotFound, RunStore
from rnn_core.trainer import Trainer

MODEL = ModelConfig(hidden_size=6)
TRAIN = TrainConfig(epochs=2, batch_size=40, device="cpu")


def train_recorded(store, data, **train_changes):
    train = TrainConfig(**{**TRAIN.__dict__, **train_changes})
    run = store.create(MODEL, train, label="test")
    trainer = Trainer(data, MODEL, train)
    trainer.run(on_event=run.record(trainer))
    return run, trainer


def test_a_recorded_run_saves_config_metrics_checkpoint_and_status(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, trainer = train_recorded(store, tiny_data)
    record = store.read(run.run_id)
    assert record.status == RunStatus.FINISHED and record.model_config.hidden_size == 6
    assert list(record.history) == trainer.history
    assert list(store.checkpoint(run.run_id).history) == trainer.history


def test_list_runs_is_a_dataframe_with_settings_and_results(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    train_recorded(store, tiny_data, learning_rate=0.1)
    train_recorded(store, tiny_data, learning_rate=0.5)
    table = store.list_runs()
    assert isinstance(table, pd.DataFrame) and len(table) == 2
    assert set(table["learning_rate"]) == {0.1, 0.5}
    assert (table["epochs"] == 2).all() and (table["status"] == "finished").all()
    assert (table["best_accuracy"] >= table["final_accuracy"]).all()
    assert table["seconds_per_epoch"].gt(0).all()


def test_a_damaged_run_folder_is_reported_and_skipped(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    good, _ = train_recorded(store, tiny_data)
    broken, empty = tmp_path / "29990101-000000-00000b", tmp_path / "29990101-000000-00000e"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    empty.mkdir()
    runs, problems = store.scan()
    assert [record.run_id for record in runs] == [good.run_id]
    assert len(problems) == 2 and any(broken.name in p for p in problems)
    assert list(store.list_runs()["run_id"]) == [good.run_id]


def test_a_run_left_running_by_a_dead_process_is_interrupted(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    info = json.loads((run.folder / "run.json").read_text())
    info.update(status="running", pid=int(dead.stdout), process="an-earlier-process")
    (run.folder / "run.json").write_text(json.dumps(info))
    record = store.read(run.run_id)
    assert record.status == RunStatus.INTERRUPTED and len(record.history) == 3
    # this process's own running run is not mistaken for an interrupted one
    live = store.create(MODEL, TRAIN, status=RunStatus.RUNNING)
    assert store.read(live.run_id).status == RunStatus.RUNNING


def test_a_crash_while_writing_keeps_the_previous_file_whole(tmp_path, tiny_data, monkeypatch):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    before = (run.folder / "metrics.json").read_text()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(data_module.os, "replace", crash)
    with pytest.raises(OSError):
        runs_module._write_json(run.folder / "metrics.json", [{"epoch": 99}])
    monkeypatch.undo()
    assert (run.folder / "metrics.json").read_text() == before
    assert not list(run.folder.glob(".*.tmp"))


def test_delete_removes_only_run_folders(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    with pytest.raises(RunNotFound):
        store.delete("..")
    store.delete(run.run_id)
    assert store.list_runs().empty


def test_a_pid_reused_by_another_process_does_not_keep_a_run_running(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    info = json.loads((run.folder / "run.json").read_text())
    # pid 1 exists, but it did not start when the run was written
    info.update(status="running", pid=1, process="an-earlier-process", process_started="12345")
    (run.folder / "run.json").write_text(json.dumps(info))
    assert store.read(run.run_id).status == RunStatus.INTERRUPTED


def test_a_writer_cut_off_between_its_metrics_and_checkpoint_leaves_the_checkpoints_history(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, trainer = train_recorded(store, tiny_data)  # epochs 0-2, both files whole
    metrics = json.loads((run.folder / "metrics.json").read_text())
    # epoch 3's metrics were written, its checkpoint never was
    (run.folder / "metrics.json").write_text(json.dumps([*metrics, {**metrics[-1], "epoch": 3}]))
    info = json.loads((run.folder / "run.json").read_text())
    info.update(status="running", pid=1, process="an-earlier-process", process_started="12345")
    (run.folder / "run.json").write_text(json.dumps(info))
    record = store.read(run.run_id)
    assert record.status == RunStatus.INTERRUPTED
    assert record.history == store.checkpoint(run.run_id).history == tuple(trainer.history)


@pytest.mark.parametrize("run_id", ["../victim", "/etc", "..", "", "20260101-000000-abcdeg", "a/b", 7])
def test_no_run_id_can_name_a_path_outside_the_runs_folder(tmp_path, run_id):
    store = RunStore(tmp_path / "runs")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "run.json").write_text("{}")
    for call in (store.read, store.open, store.checkpoint, store.delete, store.folder):
        with pytest.raises(RunNotFound):
            call(run_id)
    assert (victim / "run.json").exists()


def test_a_planted_run_json_id_is_ignored_for_the_folder_name(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    info = json.loads((run.folder / "run.json").read_text())
    info["id"] = "../victim"
    (run.folder / "run.json").write_text(json.dumps(info))
    assert store.read(run.run_id).run_id == run.run_id
    assert store.open(run.run_id).folder == run.folder


def test_a_copied_run_folder_is_skipped_with_a_note_and_the_table_still_builds(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    shutil.copytree(run.folder, tmp_path / f"{run.run_id} copy")
    runs, problems = store.scan()
    assert [record.run_id for record in runs] == [run.run_id]
    assert len(problems) == 1 and "not a run id" in problems[0]
    assert list(store.list_runs()["run_id"]) == [run.run_id]


@pytest.mark.parametrize(
    "metrics",
    [
        '[{"epoch": 0}]',
        '"abc"',
        '{"epoch": 1}',
        '[["x"]]',
        '[{"epoch": 0, "train_loss": null, '
        '"test_loss": 2.3, "test_accuracy": 500, "train_seconds": 0, "images_per_second": null}]',
    ],
)
def test_a_damaged_metrics_file_skips_the_run_with_a_note(tmp_path, tiny_data, metrics):
    store = RunStore(tmp_path)
    good, _ = train_recorded(store, tiny_data)
    bad, _ = train_recorded(store, tiny_data)
    (bad.folder / "metrics.json").write_text(metrics)
    runs, problems = store.scan()
    assert [record.run_id for record in runs] == [good.run_id]
    assert len(problems) == 1 and bad.run_id in problems[0]
    assert len(store.list_runs()) == 1


def test_runs_created_in_the_same_second_are_listed_newest_first(tmp_path, monkeypatch):
    # a folder's name is the second plus a random suffix: here the newer run's sorts first
    suffixes = iter(["ffffff", "000000"])
    monkeypatch.setattr(runs_module.secrets, "token_hex", lambda _: next(suffixes))
    monkeypatch.setattr(runs_module.time, "strftime", lambda _: "20261205-100000")
    store = RunStore(tmp_path)
    older, newer = store.create(MODEL, TRAIN).run_id, store.create(MODEL, TRAIN).run_id
    assert older > newer
    assert [record.run_id for record in store.scan()[0]] == [newer, older]


def test_a_disk_full_at_creation_leaves_no_run_folder(tmp_path, monkeypatch):
    store = RunStore(tmp_path)

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs_module, "atomic_write_bytes", full)
    with pytest.raises(OSError):
        store.create(MODEL, TRAIN)
    assert list(tmp_path.iterdir()) == []


def test_an_uploaded_checkpoint_becomes_a_run_of_its_own(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, trainer = train_recorded(store, tiny_data)
    record = store.add_checkpoint(trainer.checkpoint(), label="uploaded model.pt", owner="token")
    assert record.status == RunStatus.UPLOADED and record.run_id != run.run_id
    assert record.owned_by("token") and not record.owned_by("other") and not record.owned_by(None)
    assert list(record.history) == trainer.history
    assert store.checkpoint(record.run_id).state_dict.keys() == trainer.model.state_dict().keys()


# ----- issue 25: planted files and values in run folders -------------------------------------


def planted_run(store, data, change_info=None):
    run, _ = train_recorded(store, data, epochs=1)
    info = json.loads((run.folder / "run.json").read_text())
    if change_info:
        change_info(info)
    (run.folder / "run.json").write_text(json.dumps(info))
    return run


def scan_within(store, seconds=10.0):
    """scan() in a thread, so a read that hangs fails the test instead of stopping it."""
    result = []
    worker = threading.Thread(target=lambda: result.append(store.scan()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"scan() did not return within {seconds} s"
    return result[0]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda info: info.update(created=1e20), "malformed creation time"),
        (lambda info: info.update(created=float("inf")), "malformed creation time"),
        (lambda info: info.update(parent={"run_id": "20261128-093000-a1b2c3", "epoch": "3"}), "malformed parent"),
        (lambda info: info.update(parent={"run_id": "20261128-093000-a1b2c3"}), "malformed parent"),
        (
            lambda info: info.update(parent={"run_id": "x` ![i](http://evil.example/i.png)", "epoch": 1}),
            "malformed parent",
        ),
    ],
    ids=["created-1e20", "created-infinity", "parent-epoch-text", "parent-epoch-missing", "parent-id-backtick"],
)
def test_impossible_times_and_parents_skip_the_run_with_a_note(tmp_path, tiny_data, change, message):
    store = RunStore(tmp_path)
    run = planted_run(store, tiny_data, change)
    records, problems = store.scan()
    assert records == [] and len(problems) == 1 and run.run_id in problems[0] and message in problems[0]
    assert store.list_runs().empty  # the table still builds


def test_a_fifo_as_metrics_file_is_skipped_without_waiting(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run = planted_run(store, tiny_data)
    (run.folder / "metrics.json").unlink()
    os.mkfifo(run.folder / "metrics.json")
    records, problems = scan_within(store)
    assert records == [] and "metrics.json is not a plain file" in problems[0]


def test_a_link_to_dev_zero_is_not_read(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run = planted_run(store, tiny_data)
    (run.folder / "metrics.json").unlink()
    (run.folder / "metrics.json").symlink_to("/dev/zero")
    records, problems = scan_within(store)
    assert records == [] and "metrics.json is a link" in problems[0]


def test_a_run_folder_linked_from_outside_the_runs_folder_is_not_read(tmp_path, tiny_data):
    elsewhere = RunStore(tmp_path / "elsewhere")
    outside = planted_run(elsewhere, tiny_data)
    store = RunStore(tmp_path / "runs")
    store.root.mkdir()
    (store.root / outside.run_id).symlink_to(outside.folder)
    records, problems = store.scan()
    assert records == [] and "a link to a folder outside the runs folder" in problems[0]
    with pytest.raises(ValueError, match="only folders inside the runs folder are read"):
        store.read(outside.run_id)
    with pytest.raises(ValueError, match="only folders inside the runs folder are read"):
        store.checkpoint(outside.run_id)


def test_a_record_file_is_bounded_by_the_bytes_read_not_the_size_it_reports(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(runs_module, "MAX_RECORD_BYTES", 100)
    store = RunStore(tmp_path)
    planted_run(store, tiny_data)
    records, problems = store.scan()
    assert records == [] and "run.json is larger than" in problems[0]


def test_a_run_whose_folder_was_deleted_is_not_made_again(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(MODEL, TRAIN)
    shutil.rmtree(run.folder)
    with pytest.raises(FileNotFoundError, match="was deleted while it trained"):
        run.finish(RunStatus.FINISHED, "done")
    assert not run.folder.exists()
