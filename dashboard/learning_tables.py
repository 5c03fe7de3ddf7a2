"""How a run learned, epoch by epoch: the tables, pictures and sentences of the Test page's
*How it learned* view and of the "after epoch k" picker on the Test and Inside pages.

The teaching notebook's last task: classify a few random test images with the untrained
model, train one epoch, look again... Here the run kept its model after every epoch
(rnn_core.epochs), so the same images can be read by each of them side by side.

Pure functions (no Streamlit): a notebook can draw the same tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageFont

from dashboard import charts
from dashboard.explore_tables import framed_strip
from rnn_core.epochs import EpochWeights, epoch_name
from rnn_core.model import RowClassifier

LATEST = "latest"  # the picker's choice for "the run's latest model", whatever epoch it reaches
MOST_EPOCHS_SHOWN = 11  # more rows than this are thinned, the first and the last always kept
LABEL_PX = 20  # the band under each digit with its guess


@dataclass(frozen=True)
class EpochGuesses:
    """What the model after one epoch says of the images on show."""

    epoch: float
    test_accuracy: float | None  # percent, the whole test set, as the run scored it then
    guesses: list[int]
    confidences: list[float]  # the probability of each guess
    right: list[bool]

    @property
    def label(self) -> str:
        return f"after epoch {epoch_name(self.epoch)}"


def guesses_of(model: RowClassifier, epoch: float, accuracy: float | None, images, labels) -> EpochGuesses:
    with torch.no_grad():
        probabilities = model(images).exp()
    confidences, guesses = probabilities.max(1)
    right = (guesses == labels).tolist()
    return EpochGuesses(epoch, accuracy, guesses.tolist(), confidences.tolist(), right)


def guesses_table(rows: Sequence[EpochGuesses], indices: Sequence[int], labels: Sequence[int]) -> pd.DataFrame:
    """One line per epoch and image: what was guessed, how sure, right or not."""
    return pd.DataFrame(
        [
            {
                "epoch": row.epoch,
                "image": index,
                "true": label,
                "guess": guess,
                "confidence": confidence,
                "right": right,
            }
            for row in rows
            for index, label, guess, confidence, right in zip(indices, labels, row.guesses, row.confidences, row.right)
        ]
    )


def shown_epochs(epochs: Sequence[EpochWeights], most: int = MOST_EPOCHS_SHOWN) -> list[EpochWeights]:
    """At most `most` of the epochs, evenly spread, always with the first and the last."""
    if len(epochs) <= most:
        return list(epochs)
    picks = sorted({round(i * (len(epochs) - 1) / (most - 1)) for i in range(most)})
    return [epochs[i] for i in picks]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # a scalable font where FreeType is there
    except (TypeError, OSError):  # older Pillow, or no FreeType: the small bitmap font
        return ImageFont.load_default()


def guess_strip(images: torch.Tensor, row: EpochGuesses, scale: int = 2) -> np.ndarray:
    """The images in one line, each framed green (right) or red (wrong), its guess and
    confidence under it, with a tick or a cross so the colour is not the only sign. RGB uint8."""
    strip = framed_strip(images, row.right, len(images), scale)
    cell = strip.shape[1] // len(images)
    picture = Image.new("RGB", (strip.shape[1], strip.shape[0] + LABEL_PX), "white")
    picture.paste(Image.fromarray(strip), (0, 0))
    draw, digit_font, small_font = ImageDraw.Draw(picture), _font(16), _font(11)
    top = strip.shape[0] + 2
    for number, (guess, confidence, right) in enumerate(zip(row.guesses, row.confidences, row.right)):
        colour = charts.RIGHT if right else charts.WRONG
        left = number * cell + 4
        draw.text((left, top), str(guess), fill=colour, font=digit_font)  # the guess, large
        draw.text((left + 12, top + 4), f"{confidence:.0%}", fill=colour, font=small_font)
        mark = (left + cell - 18, top + 3)
        if right:  # a tick
            draw.line(
                [(mark[0], mark[1] + 6), (mark[0] + 4, mark[1] + 11), (mark[0] + 11, mark[1])], fill=colour, width=2
            )
        else:  # a cross
            draw.line([mark, (mark[0] + 10, mark[1] + 10)], fill=colour, width=2)
            draw.line([(mark[0], mark[1] + 10), (mark[0] + 10, mark[1])], fill=colour, width=2)
    return np.asarray(picture)


def epoch_sentence(row: EpochGuesses) -> str:
    """The line beside an epoch's strip."""
    score = "" if row.test_accuracy is None else f" · {row.test_accuracy:.1f}% of the test set"
    return f"**{row.label}**{score} · {sum(row.right)} of {len(row.right)} here right"


def guesses_in_words(row: EpochGuesses, labels: Sequence[int]) -> str:
    """The strip in words, for its alt text: each image's guess, how sure, right or wrong."""
    parts = [
        f"a {label} read as {guess} ({confidence:.0%}, {'right' if right else 'wrong'})"
        for label, guess, confidence, right in zip(labels, row.guesses, row.confidences, row.right)
    ]
    return f"The test images {row.label}: " + "; ".join(parts) + "."


def learning_summary(rows: Sequence[EpochGuesses]) -> str:
    """One sentence on the whole view: from how many right to how many."""
    if len(rows) < 2:
        return "Only one epoch so far: the rows fill in as the run trains."
    first, last = rows[0], rows[-1]
    return (
        f"{first.label.capitalize()}: {sum(first.right)} of {len(first.right)} right; {last.label}: "
        f"{sum(last.right)} of {len(last.right)}. Each epoch should get more of them right."
    )


def parse_epoch(text: str | None) -> str | None:
    """An epoch from a link (`?epoch=3`), written as the run writes it; None for none or junk."""
    if text is None or text == LATEST:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return epoch_name(value) if math.isfinite(value) and 0 <= value < 1e6 else None


def epoch_choice_label(choice: str, latest: float | None) -> str:
    if choice == LATEST:
        return "the latest" + ("" if latest is None else f" (epoch {epoch_name(latest)})")
    return f"after epoch {choice}" + (" (untrained)" if choice == "0" else "")
