"""The Test page's tables and sentences: a digit's probabilities, one reading row by row, the
confusion matrix with its chosen cell, and how the model made up its mind, in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dashboard import charts
from dashboard.evaluation_charts import GUESSES, HIDDEN, PIXELS, SURE_ROW
from dashboard.step_lines import StepLines
from rnn_core.guess import UNSURE_BELOW, Guess
from rnn_core.inspection import SURE_PROBABILITY, Reading

# What the Test page says and titles, shared with the tests that look for it.
READING_TITLE = "How the RNN makes up its mind"
DRAW_PROMPT = "Draw a digit (0-9) in the black square: the prediction follows your strokes."


def probability_table(probabilities: torch.Tensor, true_digit: int | None) -> pd.DataFrame:
    roles = charts.digit_roles(probabilities.numpy(), true_digit)
    return pd.DataFrame({"digit": range(10), "probability": probabilities.numpy(), "role": roles})


def reading_tables(image: torch.Tensor, reading: Reading, lines: StepLines) -> dict[str, pd.DataFrame]:
    """The reading chart's tables, one line per row (or per 28 steps of a 784-step order)."""
    sure_step = reading.sure_row()
    sure_row = None if sure_step is None else lines.line_of_step(sure_step)
    prediction, reading = reading.prediction, lines.sample_reading(reading)
    steps, digits = np.indices(reading.probabilities.shape)
    hidden_steps, units = np.indices(reading.hidden.shape)
    return {
        PIXELS: lines.pixel_table(image),
        GUESSES: pd.DataFrame(
            {
                "row": steps.ravel() + 1,
                "digit": digits.ravel(),
                "probability": reading.probabilities.numpy().ravel(),
                "answer": digits.ravel() == prediction,
            }
        ),
        SURE_ROW: pd.DataFrame({"row": [] if sure_row is None else [sure_row]}, dtype=int),
        HIDDEN: pd.DataFrame(
            {"row": hidden_steps.ravel() + 1, "unit": units.ravel(), "value": reading.hidden.numpy().ravel()}
        ),
    }


def slider_words(lines: StepLines) -> tuple[str, str, str]:
    """The reading chart's words: its slider's name, the expression of the guess's title (from
    the slider's value, rows_read) and what one line of its heatmaps is."""
    if lines.is_rows:
        return "rows read", "'guess after row ' + rows_read", "row"
    if lines.one_step_a_line:
        return "steps read", "'guess after step ' + rows_read", "step"
    return f"steps read (x {lines.per_line})", f"'guess after step ' + rows_read * {lines.per_line}", "28 steps"


def reading_caption(lines: StepLines) -> str:
    if lines.is_rows:
        return (
            "Move the *rows read* slider under the chart to hide the rows the network has not read yet. "
            "Each row of the heatmap beside the digit is the output layer applied to the hidden state "
            "after that row; only the last one is the network's answer. Below: the guess after the rows "
            "read, and the hidden state, one line per unit."
        )
    every = "" if lines.one_step_a_line else f", shown every {lines.per_line} steps"
    return (
        f"This run reads {lines.order.describe()}{every}. Move the *steps read* slider under the chart to hide "
        "the pixels the network has not read yet. Each line of the heatmap beside the digit is the output layer "
        "applied to the hidden state after that step; only the last one is the network's answer."
    )


def explain_reading(reading: Reading, lines: StepLines) -> str:
    answer, confidence = reading.prediction, reading.final[reading.prediction].item()
    sure, steps, noun = reading.sure_row(), lines.order.steps, "row" if lines.is_rows else "step"
    if sure is None:
        verdict = f"It never gets {SURE_PROBABILITY:.0%} sure: its final answer is **{answer}** with {confidence:.0%}."
    elif sure == 1:
        verdict = f"It says **{answer}** from the first {noun} on, above {SURE_PROBABILITY:.0%}."
    else:
        verdict = (
            f"It becomes sure after **{noun} {sure}** of {steps}: from there on it answers **{answer}** "
            f"with more than {SURE_PROBABILITY:.0%} (framed in orange)."
        )
    changes = reading.mind_changes()
    if changes:
        listed = ", ".join(f"{noun} {row}: {before}→{after}" for row, before, after in changes[-6:])
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
        return f"## Prediction: {guess.digit} ({guess.probability:.1%})"
    return (
        f"## Prediction: {guess.digit}, unsure ({guess.probability:.1%})\n\n"
        f"Second guess: **{guess.second}** ({guess.second_probability:.1%}). Measured on drawn digits, "
        f"answers given with under {UNSURE_BELOW:.0%} were right only about half the time."
    )
