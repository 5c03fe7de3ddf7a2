"""Sweeps: the grid, the sweep tag in run.json, stopping a whole sweep, and the CLI on both executors."""

import json
import os
import subprocess
import sys
import time

import pytest

from rnn_core import sweep
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunNotFound, RunStore
from tests.conftest import REPO, synthetic_mnist

GRID = [
    "--hidden-size",
    "4,8",
    "--learning-rate",
    "0.01,0.05",
    "--optimizer",
    "Adam",
    "--epochs",
    "1",
    "--train-limit",
    "2000",
    "--batch-size",
    "50",
    "--no-download",
    "--json",
    "--workers",
    "2",
]


def test_the_grid_takes_every_combination_with_the_first_axis_slowest():
    cells = sweep.grid({"epochs": 1, "hidden_size": 20}, {"hidden_size": [8, 16], "learning_rate": [0.01, 0.1, 1.0]})
    assert [(cell["hidden_size"], cell["learning_rate"]) for cell in cells] == [
        (8, 0.01),
        (8, 0.1),
        (8, 1.0),
        (16, 0.01),
        (16, 0.1),
        (16, 1.0),
    ]
    assert all(cell["epochs"] == 1 for cell in cells)


def test_every_train_flag_takes_a_list_and_the_grid_names_what_varies():
    args = sweep.build_sweep_parser().parse_args(
        ["--preset", "notebook,strong", "--seed", "1,2", "--optimizer", "Adam"]
    )
    cells = sweep.cells_from_args(args)
    assert len(cells) == 4 and {train.optimizer for _, train in cells} == {"Adam"}
    assert [(model.hidden_size, train.seed) for model, train in cells] == [(20, 1), (20, 2), (128, 1), (128, 2)]
    assert sweep.varying(cells) == ("hidden_size", "num_layers", "learning_rate", "batch_size", "seed")


@pytest.mark.parametrize("flag", [["--hidden-size", "8,x"], ["--optimizer", "SGD,Adagrad"], ["--executor", "dask"]])
def test_a_bad_value_in_a_list_is_a_usage_error(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(flag)
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


def test_a_grid_larger_than_the_limit_is_refused_unless_asked_for(tmp_path, capsys):
    seeds = ",".join(map(str, range(30)))
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(["--seed", seeds, "--runs-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "--max-runs 30" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing was queued


@pytest.fixture
def registry(tmp_path):
    data = synthetic_mnist(n_train=400)
    registry = JobRegistry(data, RunStore(tmp_path), LocalExecutor(data, slots=1))
    yield registry
    registry.close()


def test_a_sweep_is_its_tagged_runs_each_an_ordinary_run(registry):
    cells = [(ModelConfig(hidden_size=size), TrainConfig(epochs=1, batch_size=40, device="cpu")) for size in (4, 6)]
    sweep_id = sweep.start(registry, cells, ["hidden_size"], owner="alice")
    while (found := sweep.find(registry, sweep_id)).busy:
        time.sleep(0.02)
    assert [view.record.label for view in found.runs] == [f"sweep {sweep_id}: hidden 4", f"sweep {sweep_id}: hidden 6"]
    table = found.table()
    assert list(table.hidden_size) == [4, 6] and list(table.status) == ["finished", "finished"]
    assert table.test_accuracy.notna().all() and (table.seconds > 0).all()
    saved = registry.store.read(found.runs[0].run_id)
    assert saved.sweep.sweep_id == sweep_id and saved.sweep.axes == ("hidden_size",)
    assert sweep.sweeps(registry) == [sweep_id]
    with pytest.raises(RunNotFound):
        sweep.find(registry, "20200101-000000-abcdef")
    with pytest.raises(RunNotFound):
        sweep.find(registry, "../escape")


def test_stop_stops_the_runs_that_train_and_those_still_in_line(registry):
    cells = [
        (ModelConfig(hidden_size=size), TrainConfig(epochs=200, batch_size=10, device="cpu")) for size in (4, 6, 8)
    ]
    sweep_id = sweep.start(registry, cells, ["hidden_size"], owner="alice")
    while not any(view.live and view.live.progress for view in sweep.find(registry, sweep_id).runs):
        time.sleep(0.02)
    sweep.stop(registry, sweep_id, owner="alice")
    while (found := sweep.find(registry, sweep_id)).busy:
        time.sleep(0.02)
    assert [view.status for view in found.runs] == [RunStatus.STOPPED] * 3
    assert found.runs[0].history[-1].epoch < 200 and found.runs[2].reason.endswith("while waiting for a training slot")


def runs_and_sweep(output: str) -> tuple[list[dict], dict]:
    """The sweep CLI's JSON lines: one per run, then the sweep's own."""
    *runs, swept = [json.loads(line) for line in output.splitlines()]
    return runs, swept


def run_cli(argv, capsys):
    assert sweep.main(argv) == 0
    return runs_and_sweep(capsys.readouterr().out)


def test_the_cli_gives_the_same_accuracies_on_both_executors(real_mnist_dir, tmp_path, capsys):
    pytest.importorskip("ray")
    common = [*GRID, "--mnist-dir", str(real_mnist_dir), "--data-dir", str(tmp_path / "data")]
    local_runs, local_sweep = run_cli([*common, "--runs-dir", str(tmp_path / "local")], capsys)
    # on Ray in a process of its own, with its own local cluster: a Ray driver in the test's own
    # process ended it at times under make test's workers (Ray ends a process that frees a
    # handle after its shutdown), and a worker's environment may name a cluster gone since
    env = {name: value for name, value in os.environ.items() if name != "RAY_ADDRESS"}
    command = [
        sys.executable,
        "-m",
        "rnn_core.sweep",
        *common,
        "--runs-dir",
        str(tmp_path / "ray"),
        "--executor",
        "ray",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ray_runs, ray_sweep = runs_and_sweep(done.stdout)
    assert len(local_runs) == len(ray_runs) == 4
    for row in local_runs:
        assert {
            "hidden_size",
            "learning_rate",
            "batch_size",
            "optimizer",
            "test_accuracy",
            "test_loss",
            "seconds",
            "run_id",
        } <= set(row)
        assert row["status"] == "finished" and row["seconds"] > 0 and row["epochs"] == row["epochs_trained"] == 1
    assert max(row["test_accuracy"] for row in local_runs) > 30  # a grid that learns, not four coin tosses

    def scores(rows):
        return sorted(
            (row["hidden_size"], row["learning_rate"], row["test_accuracy"], row["test_loss"]) for row in rows
        )

    assert scores(ray_runs) == scores(local_runs)
    assert local_sweep["runs"] == ray_sweep["runs"] == 4 and local_sweep["axes"] == ["hidden_size", "learning_rate"]
    assert RunStore(local_sweep["runs_dir"]).read(local_runs[0]["run_id"]).sweep.sweep_id == local_sweep["sweep_id"]


def test_a_planted_sweep_tag_is_refused_with_its_folder(registry):
    run = registry.store.create(ModelConfig(), TrainConfig())
    info = json.loads((run.folder / "run.json").read_text())
    (run.folder / "run.json").write_text(json.dumps({**info, "sweep": {"id": "../../etc", "axes": ["hidden_size"]}}))
    records, problems = registry.store.scan()
    assert records == [] and "malformed sweep" in problems[0]


def test_the_reading_order_is_an_axis_of_the_grid():
    args = sweep.build_sweep_parser().parse_args(["--reading-order", "rows,columns,pixels", "--hidden-size", "8"])
    cells = sweep.cells_from_args(args)
    assert [model.reading_order for model, _ in cells] == ["rows", "columns", "pixels"]
    assert [model.order.features for model, _ in cells] == [28, 28, 1]
    assert sweep.varying(cells) == ("reading_order",)
    assert sweep.cell_label("s1", cells[2], ("reading_order",)) == "sweep s1: pixels order"
