"""How many rows each model needs, and how far back its gradient reaches: the figures the
README quotes for an RNN, a GRU and an LSTM trained with the same settings.

    python scripts/measure_memory.py runs/<id> runs/<id> model.pt [--mnist-dir DIR] [--json]

Each argument is a run folder (its checkpoint.pt is read) or a .pt checkpoint. On the real
test set (10,000 images) it prints, per model, the accuracy after rows 7, 14, 21 and 28, the
accuracy per digit after row 14, and the mean gradient norm of the loss with respect to row 1
and to row 28, with their ratio (a small ratio: the first rows hardly move the answer any
more, the vanishing gradient). `--json` prints the full 28-row curves, one object per model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnn_core.checkpoint import Checkpoint, load_checkpoint  # noqa: E402
from rnn_core.config import describe  # noqa: E402
from rnn_core.data import MnistData, load_mnist  # noqa: E402
from rnn_core.inspection import accuracy_by_rows_per_digit, correct_by_rows, gradient_by_row  # noqa: E402
from rnn_core.runs import CHECKPOINT_FILE  # noqa: E402

ROWS_SHOWN = (7, 14, 21, 28)
DIGIT_ROW = 14


@dataclass(frozen=True)
class Measurement:
    name: str
    accuracy: torch.Tensor  # [28] percent right after rows 1..t
    per_digit: torch.Tensor  # [10, 28]
    gradient: torch.Tensor  # [28] mean |dNLL / d row t|
    seconds: float  # time taken by both measures

    @property
    def gradient_ratio(self) -> float:
        return float(self.gradient[0] / self.gradient[-1])


def checkpoint_path(argument: str) -> Path:
    path = Path(argument)
    return path / CHECKPOINT_FILE if path.is_dir() else path


def describe_run(checkpoint: Checkpoint) -> str:
    epochs = checkpoint.history[-1].epoch if checkpoint.history else 0
    return f"{describe(checkpoint.model_config, checkpoint.train_config)}, {epochs:g} epochs trained"


def measure(checkpoint: Checkpoint, data: MnistData) -> Measurement:
    model = checkpoint.build_model()
    images, labels = data.test_images, data.test_labels
    started = time.perf_counter()
    correct = correct_by_rows(model, images, labels)
    gradient = gradient_by_row(model, images, labels)
    return Measurement(
        name=describe_run(checkpoint),
        accuracy=correct.double().mean(0) * 100,
        per_digit=accuracy_by_rows_per_digit(correct, labels),
        gradient=gradient,
        seconds=time.perf_counter() - started,
    )


def print_tables(measurements: list[Measurement]) -> None:
    width = max(len(m.name) for m in measurements)
    rows = "".join(f"{f'row {row}':>8}" for row in ROWS_SHOWN)
    print(
        f"{'accuracy after reading rows 1..t (%)':<{width}}{rows}{'grad row 1':>12}{'grad row 28':>12}"
        f"{'row 1/row 28':>14}{'seconds':>9}"
    )
    for m in measurements:
        accuracies = "".join(f"{m.accuracy[row - 1].item():>8.1f}" for row in ROWS_SHOWN)
        print(
            f"{m.name:<{width}}{accuracies}{m.gradient[0].item():>12.3g}{m.gradient[-1].item():>12.3g}"
            f"{m.gradient_ratio:>14.3g}{m.seconds:>9.1f}"
        )
    print()
    digits = "".join(f"{digit:>6}" for digit in range(10))
    print(f"{f'accuracy per digit after row {DIGIT_ROW} (%)':<{width}}{digits}")
    for m in measurements:
        print(f"{m.name:<{width}}" + "".join(f"{value:>6.1f}" for value in m.per_digit[:, DIGIT_ROW - 1].tolist()))


def as_json(m: Measurement) -> str:
    return json.dumps(
        {
            "model": m.name,
            "accuracy_by_rows": m.accuracy.tolist(),
            "accuracy_by_rows_per_digit": m.per_digit.tolist(),
            "gradient_by_row": m.gradient.tolist(),
            "gradient_ratio_row1_row28": m.gradient_ratio,
            "seconds": m.seconds,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="run folders or .pt checkpoints")
    parser.add_argument("--data-dir", default="data", help="data root, torchvision layout (default: ./data)")
    parser.add_argument("--mnist-dir", default=None, help="folder with the four IDX files (default: $MNIST_DIR)")
    parser.add_argument("--json", action="store_true", help="the full curves, one JSON object per model")
    args = parser.parse_args(argv)
    # The real test set only: the figures are quoted in the README, never from the sample.
    data = load_mnist(args.data_dir, args.mnist_dir, allow_download=False, allow_sample=False)
    measurements = [measure(load_checkpoint(checkpoint_path(model)), data) for model in args.models]
    if args.json:
        for m in measurements:
            print(as_json(m))
    else:
        print_tables(measurements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
