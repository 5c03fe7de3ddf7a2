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

from dashboard import charts
from dashboard.step_lines import StepLines
from rnn_core.data import MnistData
from rnn_core.inspection import read_image
from rnn_core.model import NUM_CLASSES, PIXELS_PER_ROW, ROWS, RowClassifier


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


def running_guess(model: RowClassifier, image: torch.Tensor, lines: StepLines) -> np.ndarray:
    """Class probabilities [28, 10] after each line of one image, read in the model's order."""
    return lines.sample(read_image(model, image).probabilities).numpy()


def guess_frame(probabilities: np.ndarray, label: int) -> pd.DataFrame:
    """One line per (row, digit): the probability the model gives the digit after reading rows
    1..row (probabilities[row - 1]), and the digit's role after that row (see charts.digit_roles)."""
    rows, digits = np.indices(probabilities.shape)
    roles = [role for after_row in probabilities for role in charts.digit_roles(after_row, label)]
    return pd.DataFrame(
        {"row": rows.ravel() + 1, "digit": digits.ravel(), "probability": probabilities.ravel(), "role": roles}
    )


def reading_now(t: int, lines: StepLines) -> str:
    """Where the reading is at line t, in words (rows, in the notebook's words)."""
    if not lines.is_rows:
        before = "" if t == 1 else f", after {lines.after_line(t - 1)}"
        return f"**t = {t}**: the input now is {lines.line_words(t)}{before}."
    # said as the step reads row t, so that it agrees with the guess "after row t" beside it
    before = "the first row" if t == 1 else ("after row 1" if t == 2 else f"after rows 1-{t - 1}")
    to_come = "none to come" if t == ROWS else f"rows {t + 1}-{ROWS} to come"
    return f"**t = {t}**: row {t} is read now ({before}), {to_come}."


def step_sentences(probabilities: np.ndarray | None, label: int, lines: StepLines) -> list[str]:
    """For each line t = 1..28: where the reading is and, with a model, its guess so far
    (`probabilities` [28, 10], after each line)."""
    sentences = []
    for t in range(1, ROWS + 1):
        sentence = reading_now(t, lines)
        if probabilities is not None:
            guess = int(probabilities[t - 1].argmax())
            verdict = "the prediction" if t == ROWS else "its guess so far"
            sentence += (
                f" After {lines.after_line(t)}, {verdict}: **{guess}** ({probabilities[t - 1, guess]:.0%}). "
                f"True label: **{label}**."
            )
        sentences.append(sentence)
    return sentences


RIGHT_RGB, WRONG_RGB, UNKNOWN_RGB = charts.rgb(charts.RIGHT), charts.rgb(charts.WRONG), charts.rgb(charts.UNKNOWN)


def fixed_examples(labels: torch.Tensor, per_digit: int) -> list[int]:
    """The first `per_digit` images of each digit, digit by digit: the same ones every epoch."""
    return [int(i) for digit in range(NUM_CLASSES) for i in torch.nonzero(labels == digit).flatten()[:per_digit]]


def framed_strip(images: torch.Tensor, right: list[bool] | None, columns: int, scale: int = 2) -> np.ndarray:
    """The digits in a grid, dark ink on paper, each framed green (read right) or red (wrong);
    grey frames when there is no model to judge them yet. RGB uint8."""
    frames = [charts.UNKNOWN] * len(images) if right is None else [charts.RIGHT if ok else charts.WRONG for ok in right]
    return charts.digit_grid(images, columns, scale, frames=frames)
