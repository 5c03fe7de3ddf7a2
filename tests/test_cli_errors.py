"""The CLI's failures: one line on stderr, a non-zero exit, and no run left "running"."""

import errno
import os
import tempfile

import pytest

from rnn_core import train as cli
from rnn_core.history import RunStatus
from rnn_core.runs import RunStore
from rnn_core.trainer import Trainer
from tests.conftest import synthetic_mnist
from tests.test_data import write_fake_mnist

TINY = ["--epochs", "1", "--hidden-size", "8", "--batch-size", "30", "--device", "cpu", "--no-download"]


@pytest.fixture
def synthetic(monkeypatch):
    """The CLI trains on tiny synthetic data instead of loading MNIST."""
    monkeypatch.setattr(cli, "load_mnist", lambda *args, **kwargs: synthetic_mnist())


def run_main(tmp_path, *args):
    return cli.main([*TINY, "--data-dir", str(tmp_path / "data"), "--runs-dir", str(tmp_path / "runs"), *args])


def only_run(tmp_path):
    records, problems = RunStore(tmp_path / "runs").scan()
    assert problems == [] and len(records) == 1
    return records[0]


def test_a_finished_run_exits_zero(tmp_path, synthetic):
    assert run_main(tmp_path) == 0
    assert only_run(tmp_path).status == RunStatus.FINISHED


def test_a_diverged_run_exits_non_zero(tmp_path, synthetic, capsys):
    assert run_main(tmp_path, "--epochs", "3", "--learning-rate", "100") == cli.EXIT_DIVERGED
    assert "diverged: the loss blew up" in capsys.readouterr().out
    assert only_run(tmp_path).status == RunStatus.DIVERGED


def test_a_runs_folder_it_may_not_write_is_a_message_not_a_traceback(tmp_path, synthetic, monkeypatch, capsys):
    real_mkdir = os.mkdir

    def denied(path, *args, **kwargs):
        if str(tmp_path / "runs") in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", denied)
    assert run_main(tmp_path) == cli.EXIT_ERROR
    assert capsys.readouterr().err.splitlines()[-1] == f"error: cannot use {tmp_path / 'runs'}: Permission denied"
    assert not (tmp_path / "runs").exists()


def test_a_full_disk_during_training_fails_the_run_with_a_message(tmp_path, synthetic, monkeypatch, capsys):
    real_mkstemp = tempfile.mkstemp

    def no_room_for_metrics(*args, prefix="", **kwargs):
        if prefix.startswith(".metrics.json"):
            raise OSError(errno.ENOSPC, "No space left on device", prefix)
        return real_mkstemp(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_room_for_metrics)
    assert run_main(tmp_path) == cli.EXIT_ERROR
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith("error: cannot use .metrics.json") and "No space left on device" in last_line
    assert last_line.endswith("is marked failed")
    run = only_run(tmp_path)
    assert run.status == RunStatus.FAILED and "No space left on device" in run.reason


def test_an_unexpected_error_after_the_run_was_made_marks_it_failed(tmp_path, synthetic, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Trainer, "run", broken)
    with pytest.raises(RuntimeError, match="boom"):  # a bug keeps its traceback
        run_main(tmp_path)
    run = only_run(tmp_path)
    assert run.status == RunStatus.FAILED and run.reason == "RuntimeError: boom"


def test_swapped_data_files_fail_before_any_run_folder_is_made(tmp_path, capsys):
    folder = tmp_path / "idx"
    write_fake_mnist(folder)
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    images_bytes = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(images_bytes)
    assert run_main(tmp_path, "--mnist-dir", str(folder)) == cli.EXIT_ERROR
    assert "holds labels where images belong" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
