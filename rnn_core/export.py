"""A run taken back to the teaching notebook: `python -m rnn_core.export <run> --to notebook`.

Three things can be made of any run (or checkpoint file):

- `state-dict`: its weights under the names of the notebook's class (`lstm.*`,
  `hidden2digits.*`), loadable with `LSTMnist(28, 20, 10).load_state_dict(torch.load(path))`;
- `script`: a standalone Python program that rebuilds the run with plain PyTorch and
  torchvision, in the notebook's style: the run's settings, the model class, a training loop
  and a test loop, the test set scored before training and after every epoch;
- `notebook`: the same program as a Jupyter notebook (nbformat 4), one step per cell.

The program draws the run's starting weights and its shuffling from the run's seed as this
app does, so on the same machine it retraces the run's accuracy. A run that reads the digit in
another order than by rows (columns, pixel by pixel, permuted) gets a program that puts the
pixels in that order before the model reads them; one that averaged its weights
(`average_from`) averages them the same way, with torch's `AveragedModel`. The augmentation
(`augment`) is not rebuilt: the program says so, and trains on MNIST as it is. It reads MNIST through
torchvision from `MNIST_ROOT` (default `data`), downloading it only when
`<root>/MNIST/raw` does not hold the four files yet.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .checkpoint import Checkpoint, CheckpointError
from .config import TrainConfig, describe
from .notebook_models import NOTEBOOK_LAYER, NOTEBOOK_OUTPUT, load_model_file, notebook_state_dict
from .reading_order import COLUMNS, PERMUTED, PIXEL_BY_PIXEL, ROWS_UPWARD, ReadingOrder
from .runs import CHECKPOINT_FILE, RUN_ID_PATTERN

FORMATS = {"notebook": ".ipynb", "script": ".py", "state-dict": ".notebook.pt"}
CLASS_NAMES = {"LSTM": "LSTMnist", "GRU": "GRUnist", "RNN": "RNNnist"}


@dataclass(frozen=True)
class Step:
    """One step of the program: a few words (a Markdown cell, or comments in the script) and its code."""

    words: str
    code: str


def loading_line(checkpoint: Checkpoint, path: str) -> str:
    """The code that loads the exported state_dict into the exported (for an LSTM, the
    notebook's) class."""
    model = checkpoint.model_config
    layers = f", num_layers={model.num_layers}" if model.num_layers > 1 else ""
    return (
        f"model = {CLASS_NAMES[model.cell_type]}({model.order.features}, {model.hidden_size}, 10{layers}); "
        f'model.load_state_dict(torch.load("{path}"))'
    )


def state_dict_bytes(checkpoint: Checkpoint) -> bytes:
    """The weights as `torch.save(model.state_dict(), path)` of the exported class writes them."""
    buffer = io.BytesIO()
    torch.save(notebook_state_dict(checkpoint), buffer)
    return buffer.getvalue()


def _settings_step(checkpoint: Checkpoint, run_id: str) -> Step:
    model, train = checkpoint.model_config, checkpoint.train_config
    limit = "None  # None: all 60,000 training images" if train.train_limit is None else f"{train.train_limit:_}"
    averaging = ""
    if train.average_from:
        averaging = (
            f"\naverage_from = {train.average_from}  # from this epoch on, the model is the weights' mean (0: never)"
        )
    varied = (
        f"\n# The run also varied its training images (augment {train.augment:g}, the app's rnn_core/augment.py);"
        "\n# this program trains on MNIST as it is, so its accuracy differs from the run's."
        if train.augment
        else ""
    )
    code = f"""import os

import torch
from torchvision import datasets, transforms

# The settings of run {run_id}: {describe(model, train)}{varied}
hidden_size = {model.hidden_size}
num_layers = {model.num_layers}
optimizer_name = {train.optimizer!r}
learning_rate = {train.learning_rate!r}
batch_size = {train.batch_size}
epochs = {train.epochs}{averaging}
train_limit = {limit}
seed = {train.seed}
{_order_lines(model.order)}
output_size = 10  # the digits 0-9
data_root = os.getenv("MNIST_ROOT", "data")  # MNIST in torchvision's layout: <data_root>/MNIST/raw"""
    return Step(
        f"# Rebuilding run {run_id} with plain PyTorch\n\n"
        "An RNN reads each 28x28 MNIST image one row per time step and names the digit after the last "
        "row. These are the settings the run was trained with; change them and run again to see what "
        "they do.",
        code,
    )


# How the exported program puts the pixels in the run's order: positions 0-783 (row * 28 + column).
ORDER_CODE = {
    ROWS_UPWARD: "positions.flip(0).reshape(-1)  # rows from the bottom up",
    COLUMNS: "positions.T.reshape(-1)  # columns from left to right",
    PIXEL_BY_PIXEL: "positions.reshape(-1)  # pixel by pixel, row after row",
    PERMUTED: "torch.randperm(784, generator=torch.Generator().manual_seed(order_seed))  # fixed random order",
}


def _order_lines(order: ReadingOrder) -> str:
    """The settings lines of the reading order: the notebook's one line for rows, else the order
    of the pixels, drawn as the app draws it."""
    if order.is_identity:
        return "\ninput_size = 28  # one row of 28 pixels per time step"
    what = "one pixel per time step" if order.features == 1 else "28 pixels per time step"
    lines = [f"\n# The run reads the digit {order.describe()}, not row by row."]
    if order.name == PERMUTED:
        lines.append(f"order_seed = {order.seed}")
    lines.append("positions = torch.arange(784).reshape(28, 28)")
    lines.append(f"pixel_order = {ORDER_CODE[order.name]}")
    lines.append(f"input_size = {order.features}  # {what}")
    return "\n".join(lines)


def _reading_lines(order: ReadingOrder) -> str:
    """The forward pass's first lines: the image cut into the steps it is read in."""
    if order.is_identity:
        return "        rows = images.reshape(len(images), 28, 28)  # [batch, 1, 28, 28] -> 28 steps of 28 pixels"
    return (
        "        pixels = images.reshape(len(images), 784)[:, pixel_order]  # the pixels in reading order\n"
        f"        rows = pixels.reshape(len(images), {order.steps}, {order.features})  # {order.steps} steps"
        f" of {order.features} pixel{'s' if order.features > 1 else ''}"
    )


DATA_STEP = Step(
    "## The data\n\n"
    "torchvision's MNIST, as tensors of values from 0 to 1. It is downloaded only when `data_root` does "
    "not hold it yet. One generator, seeded with the run's seed, picks the training images (when "
    "`train_limit` is set) and shuffles them before every epoch, the way the app did for the run.",
    """to_tensor = transforms.ToTensor()
train_data = datasets.MNIST(data_root, train=True, download=True, transform=to_tensor)
test_data = datasets.MNIST(data_root, train=False, download=True, transform=to_tensor)

shuffling = torch.Generator().manual_seed(seed)
if train_limit is not None and train_limit < len(train_data):
    chosen = torch.randperm(len(train_data), generator=shuffling)[:train_limit]
    train_data = torch.utils.data.Subset(train_data, chosen.tolist())

# A sampler with its own generator: a new order every epoch, the same orders on every run.
sampler = torch.utils.data.RandomSampler(train_data, generator=shuffling)
train_loader = torch.utils.data.DataLoader(train_data, batch_size=batch_size, sampler=sampler)
test_loader = torch.utils.data.DataLoader(test_data, batch_size=1000)
print(f"{len(train_data)} training images, {len(test_data)} test images")""",
)


def _model_step(checkpoint: Checkpoint, run_id: str) -> Step:
    cell = checkpoint.model_config.cell_type
    layer, class_name = NOTEBOOK_LAYER[cell], CLASS_NAMES[cell]
    # the app's Continue goes on from the weights it trains, not from their mean
    mean_note = " (their mean: averaging starts again from it)" if checkpoint.averaging else ""
    code = f'''class {class_name}(torch.nn.Module):
    """Reads an image row by row and gives the log-probability of each digit."""

    def __init__(self, input_size, hidden_size, output_size, num_layers=1):
        super().__init__()
        # the recurrent layer: one step per row, its memory `hidden_size` numbers wide
        self.{layer} = torch.nn.{cell}(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        # from the memory after the last row to one score per digit
        self.{NOTEBOOK_OUTPUT} = torch.nn.Linear(hidden_size, output_size)

    def forward(self, images):
{_reading_lines(checkpoint.model_config.order)}
        states, _ = self.{layer}(rows)  # the top layer's hidden state after every row
        scores = self.{NOTEBOOK_OUTPUT}(states[:, -1])  # only the state after the last row answers
        return torch.nn.functional.log_softmax(scores, dim=1)


model = {class_name}(input_size, hidden_size, output_size, num_layers)

# The starting weights, drawn as the app draws them: each one uniform in +-1/sqrt(hidden_size)
# (torch's own default for these layers) from a generator seeded with the run's seed.
starting = torch.Generator().manual_seed(seed)
with torch.no_grad():
    for weights in model.parameters():
        weights.uniform_(-(hidden_size**-0.5), hidden_size**-0.5, generator=starting)

# To go on from the run's weights instead, download them "for the notebook" and load them{mean_note}:
# model.load_state_dict(torch.load("{run_id}.notebook.pt", weights_only=True))
print(model)'''
    return Step(
        "## The model\n\n"
        f"An `nn.{cell}` reads the rows; a linear layer maps its hidden state after the last row to the "
        "10 digits (many-to-one), and log-softmax turns the scores into log-probabilities.",
        code,
    )


LOOPS_STEP = Step(
    "## Training and testing\n\n"
    "One epoch of training: for each batch, the loss (negative log-likelihood of the true digits), "
    "its gradient, and one step of the optimizer. The test loop scores the 10,000 test images.",
    """optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), lr=learning_rate)
loss_function = torch.nn.NLLLoss()


def train_one_epoch(loader, model, loss_function, optimizer):
    model.train()
    for batch, (images, digits) in enumerate(loader):
        loss = loss_function(model(images), digits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if batch % 100 == 0:
            print(f"  batch {batch:>4}/{len(loader)}  loss {loss.item():.4f}")


def test(loader, model, loss_function):
    model.eval()
    right, loss_sum = 0, 0.0
    with torch.no_grad():
        for images, digits in loader:
            log_probs = model(images)
            loss_sum += loss_function(log_probs, digits).item() * len(digits)
            right += (log_probs.argmax(1) == digits).sum().item()
    count = len(loader.dataset)
    return 100 * right / count, loss_sum / count""",
)


def _run_step(train: TrainConfig) -> Step:
    """The epochs; for a run that averaged its weights, with torch's AveragedModel, as the app has it."""
    words = (
        "## Train, epoch by epoch\n\n"
        "Epoch 0 is the untrained model: about one answer in ten is right. The accuracy after every epoch "
        "is kept, as the app's run kept it."
    )
    averaged, averaging, scored, averaged_model = "", "", "model", ""
    if train.average_from:
        words += (
            " From epoch `average_from` on, the model scored is the mean of the weights at the end of each "
            "epoch since, as the run had it; training goes on from its own weights."
        )
        averaged = "averaged = torch.optim.swa_utils.AveragedModel(model)\n"
        averaging = (
            "\n    scored = model\n    if average_from and epoch >= average_from:"
            "\n        averaged.update_parameters(model)\n        scored = averaged.module"
        )
        scored = "scored"
        averaged_model = (
            "\n\nif average_from and epochs >= average_from:\n    model = averaged.module  # the weights' mean"
        )
    code = f"""{averaged}accuracies, losses = [], []
accuracy, loss = test(test_loader, model, loss_function)
accuracies.append(accuracy)
losses.append(loss)
print(f"epoch 0: test accuracy {{accuracy:.2f}}%, test loss {{loss:.4f}}")

for epoch in range(1, epochs + 1):
    train_one_epoch(train_loader, model, loss_function, optimizer){averaging}
    accuracy, loss = test(test_loader, {scored}, loss_function)
    accuracies.append(accuracy)
    losses.append(loss)
    print(f"epoch {{epoch}}: test accuracy {{accuracy:.2f}}%, test loss {{loss:.4f}}"){averaged_model}"""
    return Step(words, code)


SAVE_STEP = Step(
    "## Keep the model\n\n"
    "Its weights, as a state_dict: the app's Test page takes this file as an upload, and "
    "`model.load_state_dict(torch.load(path))` reads it back here.",
    """torch.save(model.state_dict(), "model.pt")
print("saved the weights in model.pt")""",
)


def program(checkpoint: Checkpoint, run_id: str) -> list[Step]:
    """The steps that rebuild the run, the checkpoint's settings written in."""
    return [
        _settings_step(checkpoint, run_id),
        DATA_STEP,
        _model_step(checkpoint, run_id),
        LOOPS_STEP,
        _run_step(checkpoint.train_config),
        SAVE_STEP,
    ]


def _as_comments(words: str) -> str:
    """Markdown words as comment lines of at most 99 characters (headings lose their #)."""
    lines = []
    for paragraph in words.split("\n\n"):
        lines += [*textwrap.wrap(paragraph.lstrip("#").strip(), 97), ""]
    return "\n".join(f"# {line}".rstrip() for line in lines[:-1])


def script_text(checkpoint: Checkpoint, run_id: str) -> str:
    """The program as one Python file, each step's words as comments above its code."""
    steps = program(checkpoint, run_id)
    header = f'"""Rebuilds run {run_id} with plain PyTorch and torchvision (written by rnn_core.export)."""\n\n'
    return header + "\n\n\n".join(f"{_as_comments(step.words)}\n{step.code}" for step in steps) + "\n"


def _lines(text: str) -> list[str]:
    # nbformat keeps a cell's source as its lines, each with its newline but the last
    return text.splitlines(keepends=True)


def notebook_json(checkpoint: Checkpoint, run_id: str) -> str:
    """The program as a Jupyter notebook (nbformat 4.5): a Markdown cell, then a code cell, per step."""
    cells: list[dict[str, Any]] = []
    for number, step in enumerate(program(checkpoint, run_id)):
        cells.append({"cell_type": "markdown", "id": f"words-{number}", "metadata": {}, "source": _lines(step.words)})
        cells.append(
            {
                "cell_type": "code",
                "id": f"code-{number}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": _lines(step.code),
            }
        )
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": cells,
    }
    return json.dumps(notebook, indent=1) + "\n"


def export_bytes(checkpoint: Checkpoint, run_id: str, to: str) -> bytes:
    """The file of one of FORMATS for the run's checkpoint."""
    if to == "state-dict":
        return state_dict_bytes(checkpoint)
    if to == "script":
        return script_text(checkpoint, run_id).encode()
    if to == "notebook":
        return notebook_json(checkpoint, run_id).encode()
    raise ValueError(f"--to must be one of {', '.join(FORMATS)}, got {to!r}")


# ----- the command line ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnn_core.export",
        description=__doc__.splitlines()[0],
        epilog="exit status: 0 written, 1 the run or its checkpoint cannot be read or the file not written, "
        "2 a usage error",
    )
    parser.add_argument("run", help="a run id (in --runs-dir), a run folder, or a checkpoint .pt file")
    parser.add_argument("--to", required=True, choices=list(FORMATS), help="what to write")
    parser.add_argument("--runs-dir", default="runs", help="where runs are saved (default: ./runs)")
    parser.add_argument(
        "--out", default=None, help="the file to write (default: <run id> plus .ipynb, .py or .notebook.pt, here)"
    )
    return parser


def checkpoint_path(run: str, runs_dir: str) -> Path:
    """The checkpoint a run argument names: a run id in the runs folder, a folder, or a file."""
    if RUN_ID_PATTERN.fullmatch(run):
        return Path(runs_dir) / run / CHECKPOINT_FILE
    path = Path(run)
    return path / CHECKPOINT_FILE if path.is_dir() else path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    source = checkpoint_path(args.run, args.runs_dir)
    run_id = source.parent.name if source.name == CHECKPOINT_FILE else source.stem
    try:
        checkpoint = load_model_file(source)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.out or f"{run_id}{FORMATS[args.to]}")
    try:
        out.write_bytes(export_bytes(checkpoint, run_id, args.to))
    except OSError as err:
        print(f"error: cannot write {out}: {err.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
