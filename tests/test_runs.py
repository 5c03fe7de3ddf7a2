import json
import subprocess
import sys

import pandas as pd
import pytest

from rnn_core import data as data_module
from rnn_core import runs as runs_module
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.runs import INTERRUPTED, RunStore
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
    info, history = store.read(run.run_id)
    assert info["status"] == "finished" and info["model_config"]["hidden_size"] == 6
    assert history == trainer.history
    assert store.checkpoint(run.run_id).history == trainer.history


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
    (tmp_path / "zz-broken").mkdir()
    (tmp_path / "zz-broken" / "run.json").write_text("{ not json")
    (tmp_path / "zz-empty").mkdir()
    runs, problems = store.scan()
    assert [info["id"] for info, _ in runs] == [good.run_id]
    assert len(problems) == 2 and any("zz-broken" in p for p in problems)
    assert list(store.list_runs()["run_id"]) == [good.run_id]


def test_a_run_left_running_by_a_dead_process_is_interrupted(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    run, _ = train_recorded(store, tiny_data)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    info = json.loads((run.folder / "run.json").read_text())
    info.update(status="running", pid=int(dead.stdout), process="an-earlier-process")
    (run.folder / "run.json").write_text(json.dumps(info))
    info, history = store.read(run.run_id)
    assert info["status"] == INTERRUPTED and len(history) == 3
    # this process's own running run is not mistaken for an interrupted one
    live = store.create(MODEL, TRAIN)
    assert store.read(live.run_id)[0]["status"] == "running"


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
    with pytest.raises(ValueError):
        store.delete("..")
    store.delete(run.run_id)
    assert store.list_runs().empty
