"""Tables for the "Inside the LSTM" page: the cell's gates and states for one image, how many
rows a model needs, how far back its gradient reaches, and the RNN/GRU/LSTM comparison runs.

Pure functions (no Streamlit): a notebook can draw the same tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from dashboard.step_lines import StepLines
from rnn_core.config import PRESETS, ModelConfig, TrainConfig, describe
from rnn_core.inspection import Reading
from rnn_core.model import GRU_GATES, LSTM_GATES, ROWS, RowClassifier
from rnn_core.trainer import initial_model

# What each panel of the cell view shows: its name on the page, and whether it lies in [0, 1]
# (a sigmoid gate) or [-1, 1] (tanh); the cell state c_t is not bounded.
GATE_NAMES = {
    "input": "input gate i",
    "forget": "forget gate f",
    "candidate": "candidate g",
    "output": "output gate o",
    "reset": "reset gate r",
    "update": "update gate z",
}
CELL, HIDDEN = "cell state c", "hidden state h"
SIGMOID, TANH, UNBOUNDED = "0..1", "-1..1", "unbounded"

# The one-click comparison: three runs alike but for the cell, small enough to train in well
# under a minute on two cores (measured; see the README).
CELL_TRIO = ("RNN", "GRU", "LSTM")
TRIO_MODEL = ModelConfig(hidden_size=32)
TRIO_TRAIN = dataclasses.replace(PRESETS["quick"].train, epochs=5)
TRIO_LABEL = "cells: {cell}"


@dataclass(frozen=True)
class Panel:
    quantity: str  # the name shown, and the value of the `quantity` column
    values: torch.Tensor  # [28, H]
    scale: str  # SIGMOID, TANH or UNBOUNDED


def cell_panels(reading: Reading, cell_type: str) -> list[Panel]:
    """The gates in the order of the cell's equations, then c_t (LSTM) and h_t."""
    order = {"LSTM": LSTM_GATES, "GRU": GRU_GATES}.get(cell_type, ())
    panels = [
        Panel(GATE_NAMES[name], reading.gates[name], TANH if name == "candidate" else SIGMOID)
        for name in order
        if name in reading.gates
    ]
    if reading.cell is not None:
        panels.append(Panel(CELL, reading.cell, UNBOUNDED))
    panels.append(Panel(HIDDEN, reading.hidden, TANH))
    return panels


def panel_frame(panel: Panel) -> pd.DataFrame:
    """Long table of one panel: row (1-28, the first row read is 1), unit (0..H-1), value."""
    rows, units = np.indices(panel.values.shape)
    return pd.DataFrame(
        {"row": rows.ravel() + 1, "unit": units.ravel(), "value": panel.values.numpy().ravel().astype(float)}
    )


def colour_domain(panel: Panel) -> list[float]:
    if panel.scale == SIGMOID:
        return [0.0, 1.0]
    if panel.scale == TANH:
        return [-1.0, 1.0]
    reach = max(1.0, float(panel.values.abs().max()))
    return [-reach, reach]


def gate_summary(reading: Reading, row: int) -> dict[str, float]:
    """The mean of each gate over the units at row `row` (1-28)."""
    return {GATE_NAMES[name]: float(values[row - 1].mean()) for name, values in reading.gates.items()}


def rows_curve_frame(curves: dict[str, torch.Tensor]) -> pd.DataFrame:
    """run name -> accuracy after rows 1..28 (percent), as one long table: run, rows, accuracy."""
    frames = [
        pd.DataFrame({"run": name, "rows": np.arange(1, ROWS + 1), "accuracy": curve.double().numpy()})
        for name, curve in curves.items()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run", "rows", "accuracy"])


def per_digit_frame(per_digit: torch.Tensor) -> pd.DataFrame:
    """[10, 28] accuracy per true digit after rows 1..28, as: digit, rows, accuracy."""
    digits, rows = np.indices(per_digit.shape)
    return pd.DataFrame(
        {"digit": digits.ravel(), "rows": rows.ravel() + 1, "accuracy": per_digit.double().numpy().ravel()}
    )


def gradient_frame(curves: dict[tuple[str, str], torch.Tensor]) -> pd.DataFrame:
    """(model, state) -> gradient norm per row, as: model, state, row, gradient."""
    frames = [
        pd.DataFrame(
            {"model": model, "state": state, "row": np.arange(1, ROWS + 1), "gradient": curve.double().numpy()}
        )
        for (model, state), curve in curves.items()
    ]
    return (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "state", "row", "gradient"])
    )


def gradient_ratio(curve: torch.Tensor) -> float:
    """How much row 1 moves the answer compared with row 28: near 0 when the gradient vanishes."""
    return float(curve[0] / curve[-1]) if float(curve[-1]) > 0 else float("nan")


def untrained_model(model_config: ModelConfig, seed: int) -> RowClassifier:
    """The model as its run began, built the way the trainer builds it."""
    return initial_model(model_config, seed).eval()


# ----- the RNN / GRU / LSTM comparison -------------------------------------------------------


class _Record(Protocol):
    label: str
    model_config: ModelConfig
    train_config: TrainConfig


class _View(Protocol):
    run_id: str
    record: _Record


def trio_configs(
    model: ModelConfig = TRIO_MODEL, train: TrainConfig = TRIO_TRAIN
) -> list[tuple[str, ModelConfig, TrainConfig, str]]:
    """(cell, model config, train config, label) for each of the three runs to start."""
    return [
        (cell, dataclasses.replace(model, cell_type=cell), train, TRIO_LABEL.format(cell=cell)) for cell in CELL_TRIO
    ]


def _settings(view: _View) -> str:
    """Everything but the cell, which is what a trio varies."""
    return describe_settings(view.record.model_config, view.record.train_config)


def cell_trios(views: Iterable[_View]) -> list[dict[str, _View]]:
    """Runs started by the comparison button ("cells: LSTM", ...), newest first, grouped in
    trios: one run of each cell, with the same settings, started one after the other. A group
    missing a cell (one was deleted) is left out."""
    trios: list[dict[str, _View]] = []
    group: dict[str, _View] = {}
    for view in views:  # newest first
        cell = view.record.model_config.cell_type
        if view.record.label != TRIO_LABEL.format(cell=cell):
            continue
        if cell in group or (group and _settings(next(iter(group.values()))) != _settings(view)):
            group = {}
        group[cell] = view
        if len(group) == len(CELL_TRIO):
            trios.append({cell: group[cell] for cell in CELL_TRIO})
            group = {}
    return trios


def describe_settings(model: ModelConfig, train: TrainConfig) -> str:
    return describe(model, train, leave_out=("cell_type",))


def shares_settings(views: Sequence[_View]) -> bool:
    return len({_settings(view) for view in views}) <= 1


def curve_name(view) -> str:
    """Short enough for a legend on a phone: the id, and the label or the model."""
    model = view.record.model_config
    return f"{view.run_id} · {view.record.label[:24] or f'{model.cell_type} {model.hidden_size}'}"


def trio_verdict(table: pd.DataFrame, gradients: dict) -> str:
    """What the comparison shows, in words taken from its own numbers."""
    before = max(gradient_ratio(gradients[(cell, "untrained")]) for cell in CELL_TRIO)
    after = ", ".join(f"{cell} {gradient_ratio(gradients[(cell, 'trained')]):.2g}" for cell in CELL_TRIO)
    scores = table.set_index("cell")["test accuracy (%)"]
    best = scores.idxmax()
    text = (
        f"**Before training** every cell's gradient vanishes: row 1 moves the answer at most "
        f"{before:.1g} times as much as row 28. **Training changes that** (row 1 / row 28 after training: {after}): "
        f"the gradient picture alone does not crown a winner, the accuracy does. With the same settings the "
        f"**{best}** reaches **{scores[best]}%**"
    )
    if scores.idxmin() == "RNN":
        text += (
            f", the plain RNN only **{scores['RNN']}%**: the gates let the GRU and the LSTM learn what to keep "
            "from the early rows and what to forget."
        )
    else:
        text += f" (RNN {scores['RNN']}%, GRU {scores['GRU']}%, LSTM {scores['LSTM']}%)."
    return text


# ----- words for a run's reading order ---------------------------------------------------------


def lines_read(lines: StepLines) -> str:
    """What the accuracy charts count as read: rows, or the lines of the run's own order."""
    if lines.is_rows:
        return "rows"
    return f"{lines.noun}s" if lines.one_step_a_line else f"lines of {lines.per_line} steps"


def rows_needed_caption(run_id: str, curve: torch.Tensor, lines: StepLines) -> str:
    """The accuracy after a quarter, half, three quarters and all of the image (`curve` [28])."""
    if lines.is_rows:
        points = [f"{curve[t - 1]:.1f}% right after {t} rows" for t in (7, 14, 21)]
        last = "all 28"
    else:
        points = [f"{curve[t - 1]:.1f}% right after {lines.after_line(t)}" for t in (7, 14, 21)]
        last = f"all {lines.order.steps} steps"
    return f"{run_id}: {', '.join(points)}, {curve[-1]:.1f}% after {last} (its test accuracy)."
