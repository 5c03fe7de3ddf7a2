"""The CLI's failures: one line on stderr, a non-zero exit, and no run left "running"."""

import errno
import os
import subprocess
import sys
import tempfile

import pytest

from rnn_core import sweep as sweep_cli
from rnn_core import train as cli
from rnn_core.history import RunStatus
from rnn_core.runs import RunStore
from rnn_core.trainer import Trainer
from tests.conftest import REPO, synthetic_mnist
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
    run = only_run(tmp_path)
    assert run.status == RunStatus.DIVERGED
    assert f"diverged: {run.reason}" in capsys.readouterr().out  # the status and the reason it was saved with


def test_a_runs_folder_it_may_not_write_is_a_message_not_a_traceback(tmp_path, synthetic, monkeypatch, capsys):
    real_mkdir = os.mkdir

    def denied(path, *args, **kwargs):
        if str(tmp_path / "runs") in str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", denied)
    assert run_main(tmp_path) == cli.EXIT_ERROR
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("error: ") and error.endswith(f"{tmp_path / 'runs'}: {os.strerror(errno.EACCES)}")
    assert not (tmp_path / "runs").exists()


def test_a_full_disk_during_training_fails_the_run_with_a_message(tmp_path, synthetic, monkeypatch, capsys):
    real_mkstemp = tempfile.mkstemp

    def no_room_for_metrics(*args, prefix="", **kwargs):
        if prefix.startswith(".metrics.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), prefix)
        return real_mkstemp(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_room_for_metrics)
    assert run_main(tmp_path) == cli.EXIT_ERROR
    last_line = capsys.readouterr().err.splitlines()[-1]
    full = os.strerror(errno.ENOSPC)
    assert last_line.startswith("error: ") and ".metrics.json" in last_line and full in last_line
    assert last_line.endswith("is marked failed")
    run = only_run(tmp_path)
    assert run.status == RunStatus.FAILED and full in run.reason


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
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("error: ") and "t10k-images-idx3-ubyte" in error and "holds labels" in error
    assert not (tmp_path / "runs").exists()


# ----- issue 25, item 14: one line and an exit status, never a traceback --------------------


@pytest.mark.parametrize("flags", [["--workers", "-1"], ["--cpus-per-job", "0"], ["--workers", "two"]])
def test_sweep_counts_below_one_are_usage_errors(flags, capsys):
    with pytest.raises(SystemExit) as stopped:
        sweep_cli.main([*flags, "--epochs", "1"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("usage:") or "error:" in error and ("1 or more" in error or "whole number" in error)


@pytest.mark.parametrize("main", [cli.main, sweep_cli.main], ids=["train", "sweep"])
def test_a_runs_folder_that_is_a_link_loop_is_one_line(tmp_path, main, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SystemExit) as stopped:
        main([*TINY, "--runs-dir", str(loop)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"{loop}: {cli.LINK_LOOP}")


@pytest.mark.parametrize("main", [cli.main, sweep_cli.main], ids=["train", "sweep"])
def test_a_data_dir_that_is_a_file_is_refused_not_replaced_by_the_sample(tmp_path, main, capsys):
    afile = tmp_path / "mnist.txt"
    afile.write_text("not a folder")
    with pytest.raises(SystemExit) as stopped:
        main([*TINY, "--data-dir", str(afile), "--runs-dir", str(tmp_path / "runs")])
    assert stopped.value.code == 2 and "a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("main, module", [(cli.main, cli), (sweep_cli.main, sweep_cli)], ids=["train", "sweep"])
def test_ctrl_c_during_start_up_is_one_line_and_130(tmp_path, main, module, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "load_data", interrupted)
    try:
        status = main([*TINY, "--runs-dir", str(tmp_path / "runs")])
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped: a traceback")
    assert status == cli.EXIT_INTERRUPTED
    assert (
        capsys.readouterr().err.strip()
        == "interrupted before " + ("training" if module is cli else "the sweep") + " started"
    )


def test_a_closed_stdout_does_not_fail_the_run(tmp_path):
    """`... | head -0`: the reader is gone before the first line; the run still finishes."""
    command = [sys.executable, "-m", "rnn_core.train", *TINY, "--train-limit", "200", "--data-dir", str(tmp_path / "d")]
    command += ["--runs-dir", str(tmp_path / "runs")]
    bundled_sample = {name: value for name, value in os.environ.items() if name != "MNIST_DIR"}
    read, write = os.pipe()
    os.close(read)  # nobody will read what it prints
    done = subprocess.run(
        command, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300, cwd=REPO, env=bundled_sample
    )
    os.close(write)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "stdout was closed" in done.stderr
    assert only_run(tmp_path).status == RunStatus.FINISHED
