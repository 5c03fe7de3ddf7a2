"""Two app servers on one runs folder (shared storage), as two registries here: a run started
on one is listed, shown and linkable on the other, which sees each scored epoch as it comes;
only the server that trains a run writes its folder, and the other refuses to stop or delete
it in words."""

import math
import threading
import time

import pytest

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry
from rnn_core.runs import Run, RunStore
from tests.conftest import synthetic_mnist

ALICE = "alice-token"
MODEL = ModelConfig(hidden_size=6)
TRAIN = TrainConfig(epochs=3, batch_size=10, device="cpu")


def server(folder, data) -> JobRegistry:
    return JobRegistry(data, RunStore(folder), LocalExecutor(data, slots=1), unwatched_minutes=math.inf)


def test_a_run_trained_on_one_server_is_followed_on_the_other_and_written_by_its_own_only(tmp_path, monkeypatch):
    data = synthetic_mnist(n_train=2000)
    trains, follows = server(tmp_path, data), server(tmp_path, data)
    # every question looks at the disk again, instead of once a second: the test's epochs are
    # a fraction of a second, a real one takes seconds
    follows.index.recheck_seconds = 0.0
    epochs_seen, listed, refusals = set(), False, []
    # the trainer goes on from a saved epoch once the other server has seen it (or 30 s have
    # passed, for the assertions to say what was missed): however loaded the machine, no
    # epoch goes by between two looks
    seen = threading.Condition()
    save_epoch = Run.save_epoch

    def save_and_wait_to_be_seen(run, history, checkpoint):
        save_epoch(run, history, checkpoint)
        with seen:
            seen.wait_for(lambda: history[-1].epoch in epochs_seen, timeout=30)

    monkeypatch.setattr(Run, "save_epoch", save_and_wait_to_be_seen)
    try:
        run_id = trains.start(MODEL, TRAIN, owner=ALICE)
        while (view := follows.view(run_id)).busy or not view.history:
            assert view.live is None  # followed from its folder: no job of this server
            listed = listed or run_id in [seen.run_id for seen in follows.runs()[0]]
            with seen:
                epochs_seen.update(row.epoch for row in view.history)
                seen.notify_all()
            if view.busy and view.history and not refusals:
                refusals = refused_commands(follows, run_id)
            time.sleep(0.01)
        while (trained := trains.view(run_id)).busy:  # its job's own view follows its saved record
            time.sleep(0.01)
        shown = follows.view(run_id)
        model = follows.checkpoint(run_id)  # what a page linked to `?run=<id>` loads
    finally:
        trains.close(), follows.close()
    assert listed and trained.status == shown.status == RunStatus.FINISHED
    assert epochs_seen == {0, 1, 2, 3}  # every scored epoch, while it trained
    assert shown.history == trained.history and model.history == trained.history
    # the refused stop and delete left the run to its own server, which trained it to the end
    assert len(refusals) == 2 and all("trains in another process on this runs folder" in words for words in refusals)
    assert trained.reason == "trained to epoch 3" and (tmp_path / run_id / "checkpoint.pt").is_file()


def refused_commands(other: JobRegistry, run_id: str) -> list[str]:
    """Stop, delete and continue from the server that does not train the run: each refused."""
    refusals = []
    for command in (other.stop, other.delete):
        with pytest.raises(RuntimeError) as refused:
            command(run_id, ALICE)
        refusals.append(str(refused.value))
    with pytest.raises(RuntimeError, match="training already"):
        other.continue_run(run_id, 1, ALICE)
    return refusals
