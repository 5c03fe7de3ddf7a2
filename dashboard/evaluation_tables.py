"""The Test page's tables and sentences: a digit's probabilities, one reading row by row, the
confusion matrix with its chosen cell, and how the model made up its mind, in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dashboard import charts
from dashboard.evaluation_charts import GUESSES, HIDDEN, PIXELS, SURE_ROW
from rnn_core.guess import UNSURE_BELOW, Guess
from rnn_core.inspection import SURE_PROBABILITY, Reading


def probability_table(probabilities: torch.Tensor, true_digit: int | None) -> pd.DataFrame:
    roles = charts.digit_roles(probabilities.numpy(), true_digit)
    return pd.DataFrame({"digit": range(10), "probability": probabilities.numpy(), "role": roles})


def reading_tables(image: torch.Tensor, reading: Reading, sure_row: int | None) -> dict[str, pd.DataFrame]:
    steps, digits = np.indices(reading.probabilities.shape)
    hidden_steps, units = np.indices(reading.hidden.shape)
    return {
        PIXELS: charts.pixel_table(image),
        GUESSES: pd.DataFrame(
            {
                "row": steps.ravel() + 1,
                "digit": digits.ravel(),
                "probability": reading.probabilities.numpy().ravel(),
                "answer": digits.ravel() == reading.prediction,
            }
        ),
        SURE_ROW: pd.DataFrame({"row": [] if sure_row is None else [sure_row]}, dtype=int),
        HIDDEN: pd.DataFrame(
            {"row": hidden_steps.ravel() + 1, "unit": units.ravel(), "value": reading.hidden.numpy().ravel()}
        ),
    }


def explain_reading(reading: Reading, sure_row: int | None) -> str:
    answer, confidence = reading.prediction, reading.final[reading.prediction].item()
    if sure_row is None:
        verdict = f"It never gets {SURE_PROBABILITY:.0%} sure: its final answer is **{answer}** with {confidence:.0%}."
    elif sure_row == 1:
        verdict = f"It says **{answer}** from the first row on, above {SURE_PROBABILITY:.0%}."
    else:
        verdict = (
            f"It becomes sure after **row {sure_row}** of 28: from there on it answers **{answer}** "
            f"with more than {SURE_PROBABILITY:.0%} (framed in orange)."
        )
    changes = reading.mind_changes()
    if changes:
        listed = ", ".join(f"row {row}: {before}→{after}" for row, before, after in changes[-6:])
        more = f" (the last 6 of {len(changes)})" if len(changes) > 6 else ""
        verdict += f" Its leading guess changed {len(changes)} time(s){more}: {listed}."
    return verdict


def confusion_table(confusion: np.ndarray, chosen: tuple[int, int]) -> pd.DataFrame:
    true, predicted = np.indices(confusion.shape)
    frame = pd.DataFrame({"true": true.ravel(), "predicted": predicted.ravel(), "count": confusion.ravel()})
    frame["share"] = frame["count"] / frame.groupby("true")["count"].transform("sum").clip(lower=1)
    # White counts on the darker cells; the colour scale is logarithmic, so is the threshold.
    frame["dark"] = frame["count"] > float(np.expm1(0.6 * np.log1p(frame["count"].max())))
    frame["chosen"] = (frame["true"] == chosen[0]) & (frame["predicted"] == chosen[1])
    return frame


NOTEBOOK_FILES = {
    "state-dict": ("Weights for the notebook", "Its weights under the notebook's names: `lstm.*`, `hidden2digits.*`"),
    "script": ("Python script", "A program that rebuilds this run with plain PyTorch and torchvision"),
    "notebook": ("Jupyter notebook", "The same program as a notebook, one step per cell"),
}


def prediction_words(guess: Guess) -> str:
    if not guess.unsure:
        return f"### Prediction: {guess.digit} ({guess.probability:.1%})"
    return (
        f"### Prediction: {guess.digit}, unsure ({guess.probability:.1%})\n\n"
        f"Second guess: **{guess.second}** ({guess.second_probability:.1%}). Measured on drawn digits, "
        f"answers given with under {UNSURE_BELOW:.0%} were right only about half the time."
    )
