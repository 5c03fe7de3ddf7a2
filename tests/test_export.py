"""`python -m rnn_core.export`: a run back to the notebook, as weights, a script or a notebook.

One small run is trained with `rnn_core.train` on the real MNIST (3,000 images, one epoch);
the exported programs rebuild it from its settings with torchvision's MNIST, read from the
same files extracted into the test's folder, never downloaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from rnn_core.checkpoint import Checkpoint, load_checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.data import load_mnist
from rnn_core.export import loading_line, program
from rnn_core.export import main as export_main
from rnn_core.model import RowClassifier
from rnn_core.notebook_models import load_model_file, notebook_state_dict
from rnn_core.train import main as train_main
from tests.conftest import REPO
from tests.test_notebook_models import NotebookStyle, accuracy_in_class

SETTINGS = ["--train-limit", "3000", "--epochs", "1", "--hidden-size", "16", "--optimizer", "Adam"]
SETTINGS += ["--learning-rate", "0.01", "--batch-size", "64", "--seed", "2"]
ONE_POINT = 1.0


def python(*args, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, real_mnist_dir) -> tuple[Path, Path, float]:
    """(run folder, torchvision data root, the run's test accuracy after its epoch)."""
    home = tmp_path_factory.mktemp("export")
    data_root = home / "data"  # the CLI extracts MNIST here, in torchvision's MNIST/raw layout
    flags = ["--mnist-dir", str(real_mnist_dir), "--no-download", "--data-dir", str(data_root)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # `python -m rnn_core.train`, in this process
        assert train_main(["--json", *SETTINGS, *flags, "--runs-dir", str(home / "runs")]) == 0
    lines = [json.loads(line) for line in printed.getvalue().splitlines()]
    return Path(lines[-1]["run_dir"]), data_root, lines[-2]["test_accuracy"]


def exported(run_folder: Path, to: str, out: Path) -> Path:
    assert export_main([str(run_folder), "--to", to, "--out", str(out)]) == 0
    return out


def test_the_exported_script_retraces_the_runs_accuracy(trained_run, tmp_path):
    run_folder, data_root, accuracy = trained_run
    script = exported(run_folder, "script", tmp_path / "rebuild.py")
    result = python(str(script), cwd=tmp_path, env={"MNIST_ROOT": str(data_root)})
    assert result.returncode == 0, result.stderr[-3000:]
    scores = [float(value) for value in re.findall(r"test accuracy ([0-9.]+)%", result.stdout)]
    assert len(scores) == 2 and scores[0] < 20  # epoch 0, untrained, then epoch 1
    assert abs(scores[1] - accuracy) <= ONE_POINT, (scores, accuracy)
    kept = load_model_file(tmp_path / "model.pt")  # the script's own save comes back in as an upload
    assert kept.model_config == load_checkpoint(run_folder / "checkpoint.pt").model_config


def test_the_exported_notebook_is_valid_and_runs_top_to_bottom(trained_run, tmp_path, monkeypatch):
    run_folder, data_root, accuracy = trained_run
    notebook = nbformat.read(exported(run_folder, "notebook", tmp_path / "rebuild.ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) >= 5 and any(cell.cell_type == "markdown" for cell in notebook.cells)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_ROOT", str(data_root))
    namespace: dict = {}
    for number, source in enumerate(code):
        exec(compile(source, f"cell {number}", "exec"), namespace)  # in order, sharing one namespace, as Jupyter does
    assert len(namespace["accuracies"]) == 2
    assert abs(namespace["accuracies"][-1] - accuracy) <= ONE_POINT
    assert type(namespace["model"]).__name__ == "LSTMnist"
    weights = exported(run_folder, "state-dict", tmp_path / "weights.pt")
    checkpoint = load_checkpoint(run_folder / "checkpoint.pt")
    exec(loading_line(checkpoint, str(weights)), namespace)  # the line the Test page gives, in the notebook
    assert namespace["test"](namespace["test_loader"], namespace["model"], namespace["loss_function"])[0] == (
        pytest.approx(accuracy, abs=0.01)
    )


def test_the_exported_state_dict_loads_into_the_notebook_class_and_scores_the_same(trained_run, tmp_path):
    run_folder, data_root, accuracy = trained_run
    path = exported(run_folder, "state-dict", tmp_path / "weights.pt")
    notebook_model = NotebookStyle("LSTM", 16).eval()
    notebook_model.load_state_dict(torch.load(path, weights_only=True))
    data = load_mnist(data_root, allow_download=False, allow_sample=False)
    assert accuracy_in_class(notebook_model, data.test_images, data.test_labels) == pytest.approx(accuracy, abs=0.01)


def test_a_run_that_cannot_be_read_is_one_line_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert export_main(["20260101-000000-abcdef", "--to", "script"]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "no such file" in stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("order", ["columns", "permuted"])
def test_the_exported_model_reads_in_the_runs_order_and_answers_as_the_app(order):
    model_config = ModelConfig(hidden_size=5, reading_order=order, order_seed=4)
    torch.manual_seed(0)
    checkpoint = Checkpoint(model_config, TrainConfig(), RowClassifier(model_config).state_dict())
    settings, _, model_step, *_ = program(checkpoint, "r1")
    namespace: dict = {}
    for step in (settings, model_step):  # the settings and the class, without the data
        exec(compile(step.code, "exported", "exec"), namespace)
    exported_model = namespace["model"]
    exported_model.load_state_dict(notebook_state_dict(checkpoint))
    images = torch.rand(3, 1, 28, 28)
    assert torch.allclose(exported_model(images), checkpoint.build_model()(images), atol=1e-6)
    assert loading_line(checkpoint, "w.pt").startswith(f"model = LSTMnist({model_config.order.features}, 5, 10)")


def test_the_exported_program_averages_the_weights_as_the_run_did_and_says_what_it_leaves_out():
    model_config = ModelConfig(hidden_size=5)
    train_config = TrainConfig(epochs=3, average_from=2, augment=0.5)
    checkpoint = Checkpoint(model_config, train_config, RowClassifier(model_config).state_dict())
    settings, _, model_step, loops, run, _ = program(checkpoint, "r1")
    namespace: dict = {}
    for step in (settings, model_step, loops):
        exec(compile(step.code, "exported", "exec"), namespace)
    trained = namespace["model"]
    ends = []  # each epoch's weights at its end; the data and the test left out

    def train_one_epoch(*args):
        with torch.no_grad():
            for weight in trained.parameters():
                weight.add_(1.0)
        ends.append([weight.clone() for weight in trained.parameters()])

    scored = []  # the model each test scores: epoch 0's, then each epoch's

    def test(loader, model, loss_function):
        scored.append(model)
        return 0.0, 0.0

    namespace.update(train_one_epoch=train_one_epoch, test=test, train_loader=None, test_loader=None)
    exec(compile(run.code, "exported", "exec"), namespace)
    for kept, second, third in zip(namespace["model"].parameters(), *ends[1:]):
        assert torch.allclose(kept, (second + third) / 2)  # the mean of epochs 2 and 3, as the app keeps it
    mean = namespace["averaged"].module
    assert scored[:2] == [trained, trained] and scored[2] is scored[3] is mean is namespace["model"]
    assert "trains on MNIST as it is" in settings.code  # the augmentation it does not rebuild
    plain = program(Checkpoint(model_config, TrainConfig(), checkpoint.state_dict), "r2")
    assert "average" not in plain[0].code + plain[4].code and "augment" not in plain[0].code
