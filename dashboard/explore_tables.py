"""What the Explore page shows, as plain tables and pictures.

Gallery picks, class counts and mean images describe the data; the row frames show one image
the way the recurrent network receives it (row t is the input at time step t, t = 1 the first
row read) together with the model's guess after each row. Rows and columns are numbered 1-28,
as on every page. Frames are long tables (one line per pixel or per class) because that is the
shape chart libraries draw heatmaps and bars from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from dashboard import charts
from rnn_core.data import MnistData
from rnn_core.inspection import read_image
from rnn_core.model import NUM_CLASSES, PIXELS_PER_ROW, ROWS

READ, CURRENT, TO_COME = "read", "current", "to come"


def class_counts(data: MnistData) -> pd.DataFrame:
    """Images per digit in each split: columns split, digit, count, share (percent of the split)."""
    frames = []
    for split in ("train", "test"):
        _, labels = data.split(split)
        counts = torch.bincount(labels, minlength=NUM_CLASSES).numpy()
        frames.append(
            pd.DataFrame(
                {
                    "split": split,
                    "digit": np.arange(NUM_CLASSES),
                    "count": counts,
                    "share": 100 * counts / max(len(labels), 1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def mean_images(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The average image of each digit, [10, 28, 28]; all zeros for a digit with no images."""
    sums = torch.zeros(NUM_CLASSES, ROWS, PIXELS_PER_ROW).index_add_(0, labels, images)
    counts = torch.bincount(labels, minlength=NUM_CLASSES).clamp(min=1)
    return sums / counts[:, None, None]


def gallery_indices(labels: torch.Tensor, digit: int | None, count: int, seed: int) -> list[int]:
    """Up to `count` random indices of images with label `digit` (any label when None), sorted.

    The same seed gives the same pick, so the gallery only changes when the user shuffles.
    """
    candidates = np.arange(len(labels)) if digit is None else np.flatnonzero(labels.numpy() == digit)
    picked = np.random.default_rng(seed).choice(candidates, size=min(count, len(candidates)), replace=False)
    return sorted(int(i) for i in picked)


def pixel_frame(image: torch.Tensor) -> pd.DataFrame:
    """One line per pixel: row (1-28), column (1-28), ink (0 = paper, 1 = full ink)."""
    return charts.pixel_table(image)


def mean_image_frame(means: torch.Tensor) -> pd.DataFrame:
    """pixel_frame of each digit's mean image, with a digit column."""
    return pd.concat([pixel_frame(mean).assign(digit=digit) for digit, mean in enumerate(means)], ignore_index=True)


def _check_step(t: int) -> None:
    if not 1 <= t <= ROWS:
        raise ValueError(f"time step t must be in 1..{ROWS}, got {t}")


def _step_states(steps: np.ndarray, t: int) -> np.ndarray:
    return np.where(steps < t, READ, np.where(steps == t, CURRENT, TO_COME))


def row_reveal_frame(image: torch.Tensor, t: int) -> pd.DataFrame:
    """pixel_frame of the image at time step t, with a state per pixel: rows before t have
    been read, row t is being read, the rows after it are still to come."""
    _check_step(t)
    frame = pixel_frame(image)
    frame["state"] = _step_states(frame["row"].to_numpy(), t)
    return frame


def input_vector_frame(image: torch.Tensor, t: int) -> pd.DataFrame:
    """The 28 numbers the network receives at step t: row t of the image (columns 1-28)."""
    _check_step(t)
    return pd.DataFrame({"column": np.arange(1, PIXELS_PER_ROW + 1), "ink": image[t - 1].numpy()})


def running_guess(model: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Class probabilities [28, 10] after each row of one image."""
    return read_image(model, image).probabilities.numpy()


def running_guess_frame(probabilities: np.ndarray, t: int) -> pd.DataFrame:
    """One line per (row, digit): the probability the model gives the digit after reading
    rows 1..row (probabilities[row - 1]), with the row's state at time step t as in
    row_reveal_frame."""
    _check_step(t)
    rows, digits = np.indices(probabilities.shape)
    rows = rows + 1
    return pd.DataFrame(
        {
            "row": rows.ravel(),
            "digit": digits.ravel(),
            "probability": probabilities.ravel(),
            "state": _step_states(rows.ravel(), t),
        }
    )


RIGHT_RGB, WRONG_RGB, UNKNOWN_RGB = charts.rgb(charts.RIGHT), charts.rgb(charts.WRONG), charts.rgb(charts.UNKNOWN)


def fixed_examples(labels: torch.Tensor, per_digit: int) -> list[int]:
    """The first `per_digit` images of each digit, digit by digit: the same ones every epoch."""
    return [int(i) for digit in range(NUM_CLASSES) for i in torch.nonzero(labels == digit).flatten()[:per_digit]]


def framed_strip(images: torch.Tensor, right: list[bool] | None, columns: int, scale: int = 2) -> np.ndarray:
    """The digits in a grid, dark ink on paper, each framed green (read right) or red (wrong);
    grey frames when there is no model to judge them yet. RGB uint8."""
    frames = [
        charts.UNKNOWN if right is None else charts.RIGHT if ok else charts.WRONG
        for ok in (right or [None] * len(images))
    ]
    return charts.digit_grid(images, columns, scale, frames=frames)
