"""The run index: records in memory, folders read again only when they changed on disk."""

import json
import shutil

import pytest

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.run_index import RunIndex
from rnn_core.runs import RunNotFound, RunStore
from tests.test_runs import train_recorded

MODEL = ModelConfig(hidden_size=6)


@pytest.fixture
def store(tmp_path, tiny_data):
    store = RunStore(tmp_path)
    for rate in (0.1, 0.2, 0.3):
        train_recorded(store, tiny_data, learning_rate=rate)
    return store


def every_look(store):
    """An index that looks at the disk on every question, to count what each look reads."""
    return RunIndex(store, recheck_seconds=0)


def test_an_unchanged_runs_folder_is_read_once_however_often_it_is_asked(store):
    index = every_look(store)
    records, problems = index.records()
    assert len(records) == 3 and problems == [] and store.folder_reads == 3
    for _ in range(5):
        index.records()
        index.get(records[0].run_id)
    assert store.folder_reads == 3


def test_a_run_written_by_another_process_is_noticed_and_only_it_is_read(store, tiny_data):
    index = every_look(store)
    index.records()
    another = RunStore(store.root)  # a command-line training, say, writing the same folder
    run, _ = train_recorded(another, tiny_data, learning_rate=0.4)
    reads = store.folder_reads
    assert index.get(run.run_id).train_config.learning_rate == 0.4
    assert store.folder_reads == reads + 1


def test_a_folder_changed_in_place_or_deleted_by_hand_is_seen(store):
    index = every_look(store)
    first = index.records()[0][0]
    info = json.loads((store.folder(first.run_id) / "run.json").read_text())
    (store.folder(first.run_id) / "run.json").write_text(json.dumps({**info, "label": "renamed by hand"}))
    assert index.get(first.run_id).label == "renamed by hand"
    shutil.rmtree(store.folder(first.run_id))
    with pytest.raises(RunNotFound):
        index.get(first.run_id)
    assert len(index.records()[0]) == 2


def test_a_damaged_folder_stays_skipped_with_its_note_until_it_changes(store):
    index = every_look(store)
    broken = store.root / "29990101-000000-00000b"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    records, problems = index.records()
    assert len(records) == 3 and len(problems) == 1 and broken.name in problems[0]
    reads = store.folder_reads
    index.records()
    assert store.folder_reads == reads
    with pytest.raises(ValueError, match="cannot be read"):
        index.get(broken.name)


def test_a_record_put_by_its_writer_is_not_read_back(store):
    index = every_look(store)
    index.records()
    run = store.create(MODEL, TrainConfig(device="cpu"))
    index.put(run.mark(RunStatus.RUNNING))
    reads = store.folder_reads
    assert index.get(run.run_id).status == RunStatus.RUNNING
    assert store.folder_reads == reads


def test_the_disk_is_looked_at_no_more_than_once_per_recheck_interval(store, tiny_data):
    index = RunIndex(store, recheck_seconds=3600)
    index.records()
    train_recorded(RunStore(store.root), tiny_data, learning_rate=0.4)
    assert len(index.records()[0]) == 3  # not looked at again yet
    index.refresh(force=True)
    assert len(index.records()[0]) == 4
