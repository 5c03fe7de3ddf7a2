"""The headless CLI, `python -m rnn_core.train`."""

import errno
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rnn_core.reading_order import ORDERS
from rnn_core.train import build_parser, configs_from_args, main
from tests.conftest import REPO

EXPECTED_KEYS = {"epoch", "test_accuracy", "test_loss", "train_loss", "train_seconds", "images_per_second"}


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """`python -m rnn_core.train ARGS` from the folder `cwd`, with no setting from the
    environment, run in the test's process: a process of its own cost 2 CPU-seconds more, for
    torch's import (that the module runs as a command: test_readme.py)."""

    def run(*args: str, cwd: Path) -> Finished:
        monkeypatch.chdir(cwd)
        for name in [name for name in os.environ if name.startswith("RNN_") or name in ("MNIST_DIR", "RAY_ADDRESS")]:
            monkeypatch.delenv(name)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's usage errors
            code = exit.code if isinstance(exit.code, int) else 1
        out, err = capsys.readouterr()
        return Finished(code, out, err)

    return run


def local_flags(tmp_path, mnist_dir) -> list[str]:
    """The flags of a run on the shared MNIST, with its data and runs in the test's own folder."""
    return [
        "--mnist-dir",
        str(mnist_dir),
        "--no-download",
        "--data-dir",
        str(tmp_path / "data"),
        "--runs-dir",
        str(tmp_path / "runs"),
    ]


def test_json_mode_prints_one_object_per_epoch_then_the_run_folder(tmp_path, real_mnist_dir, run_cli):
    result = run_cli(
        "--json",
        "--epochs",
        "2",
        "--train-limit",
        "2000",
        "--hidden-size",
        "16",
        *local_flags(tmp_path, real_mnist_dir),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    epochs, last = lines[:-1], lines[-1]
    assert [row["epoch"] for row in epochs] == [0, 1, 2]
    assert all(row.keys() >= EXPECTED_KEYS for row in epochs)
    assert epochs[0]["train_loss"] is None and epochs[2]["train_loss"] > 0
    assert epochs[2]["test_accuracy"] > epochs[0]["test_accuracy"]
    assert last["status"] == "finished"
    assert Path(last["run_dir"]).resolve().parent == (tmp_path / "runs").resolve()
    assert "local folder" in result.stderr


def test_readable_mode_prints_a_table(tmp_path, real_mnist_dir, run_cli):
    result = run_cli(
        "--epochs",
        "1",
        "--train-limit",
        "500",
        *local_flags(tmp_path, real_mnist_dir),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "train loss" in result.stdout and "finished" in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.strip().startswith(("0 ", "1 "))]) == 2


def test_an_out_of_range_flag_is_a_usage_error_naming_the_field(tmp_path, run_cli):
    result = run_cli("--learning-rate", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "--learning-rate" in result.stderr and "from 1e-06 to 100" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_killed_training_process_leaves_an_interrupted_run_that_still_loads(tmp_path, real_mnist_dir):
    import signal
    import time

    from rnn_core.runs import RunStore

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_core.train",
            "--json",
            "--epochs",
            "50",
            "--train-limit",
            "3000",
            *local_flags(tmp_path, real_mnist_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    lines = [process.stdout.readline() for _ in range(3)]  # epochs 0, 1 and 2 are saved
    time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]
    store = RunStore(tmp_path / "runs")
    table = store.list_runs()
    assert list(table["status"]) == ["interrupted"]
    assert table["epochs"].iloc[0] >= 2
    checkpoint = store.checkpoint(table["run_id"].iloc[0])
    assert checkpoint.history[-1].epoch >= 2
    assert store.scan()[1] == []  # no damaged files, whatever the kill interrupted


def test_a_runs_folder_that_cannot_be_made_is_one_line_on_stderr_not_a_traceback(tmp_path, run_cli):
    from tests.test_data import write_fake_mnist

    write_fake_mnist(tmp_path / "idx")
    (tmp_path / "occupied").write_text("a file where the runs folder should go")
    result = run_cli(
        "--epochs",
        "1",
        "--mnist-dir",
        str(tmp_path / "idx"),
        "--no-download",
        "--data-dir",
        str(tmp_path / "data"),
        "--runs-dir",
        str(tmp_path / "occupied" / "runs"),
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("error: ") and error.endswith(
        f"{tmp_path / 'occupied' / 'runs'}: {os.strerror(errno.ENOTDIR)}"
    )


def test_the_reading_order_is_a_flag_and_a_wrong_one_is_a_usage_error_naming_the_orders(tmp_path, run_cli):
    model, _ = configs_from_args(build_parser().parse_args(["--reading-order", "permuted", "--order-seed", "3"]))
    assert (model.reading_order, model.order_seed, model.order.features) == ("permuted", 3, 1)
    result = run_cli("--reading-order", "diagonal", cwd=tmp_path)
    assert result.returncode == 2
    assert "--reading-order" in result.stderr and ", ".join(ORDERS) in result.stderr  # every order, by its name
