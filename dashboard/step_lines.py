"""The 28 lines a page draws of a model's reading, whatever its reading order.

Every step view of the dashboard (Explore's player, Inside's heatmaps, Test's reading chart) has
28 lines, one per step, as the notebook's 28 rows are. An order of 28 steps (rows, rows upward,
columns) fills them one step a line. An order of 784 steps (one pixel a step) is shown either
whole, 28 steps a line (line t ends at step 28t: what the model holds after it is what line t
shows, and line t's 28 pixels are what it read meanwhile), or as a window of 28 steps, one a
line, for a closer look (`window`). The pages say which.

Line numbers are 1-28 on every page, as rows were; `step_words` names them for people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rnn_core.inspection import Reading
from rnn_core.reading_order import COLUMNS, ROWS, ROWS_UPWARD, SIDE, ReadingOrder

LINES = SIDE


@dataclass(frozen=True)
class StepLines:
    """Line t (1-28) holds the steps first + (t-1) * per_line + 1 .. first + t * per_line
    (steps counted from 1)."""

    order: ReadingOrder
    first: int = 0
    per_line: int = 1

    @classmethod
    def whole(cls, order: ReadingOrder) -> StepLines:
        """The whole reading in 28 lines: one step a line, or 28 for the 784-step orders."""
        return cls(order, 0, order.steps // LINES)

    @classmethod
    def window(cls, order: ReadingOrder, window: int) -> StepLines:
        """Steps 28 * window + 1 .. 28 * (window + 1), one a line (window 0 for a 28-step order)."""
        if not 0 <= window < order.steps // LINES:
            raise ValueError(f"window must be in 0..{order.steps // LINES - 1}, got {window}")
        return cls(order, window * LINES, 1)

    @property
    def is_rows(self) -> bool:
        """The notebook's picture: line t is row t of the image."""
        return self.order.name == ROWS

    @property
    def one_step_a_line(self) -> bool:
        return self.per_line == 1

    def last_step(self, t: int) -> int:
        """The step (from 1) that ends line t: the model's state after it is what line t shows."""
        return self.first + t * self.per_line

    def last_steps(self) -> torch.Tensor:
        """int64 [28]: the 0-based index of each line's last step, to pick from a [steps, ...] tensor."""
        return torch.arange(1, LINES + 1) * self.per_line + self.first - 1

    def sample(self, values: torch.Tensor) -> torch.Tensor:
        """[28, ...] of a tensor [steps, ...]: each line's value after its last step."""
        return values[self.last_steps()]

    def sample_reading(self, reading: Reading) -> Reading:
        """The reading at each line's last step: 28 lines of probabilities, states and gates."""
        return Reading(
            probabilities=self.sample(reading.probabilities),
            hidden=self.sample(reading.hidden),
            cell=None if reading.cell is None else self.sample(reading.cell),
            gates={name: self.sample(values) for name, values in reading.gates.items()},
        )

    def pooled_sizes(self, sizes: torch.Tensor) -> torch.Tensor:
        """[28] of the sizes (vector lengths) of each step's gradient, [steps]: each line's steps
        taken as one vector, so that a line of 28 one-pixel steps weighs as a row of 28 pixels."""
        return sizes.reshape(-1, self.per_line).pow(2).sum(1).sqrt()

    def line_of_step(self, step: int) -> int:
        """The line (1-28) holding `step` (from 1), 0 before the view, 29 after it."""
        return int(np.clip((step - self.first - 1) // self.per_line + 1, 0, LINES + 1))

    def line_of_pixel(self) -> np.ndarray:
        """int [28, 28]: the line at which each pixel is read (0: before the view, 29: after)."""
        steps = self.order.step_of_pixel().numpy() + 1
        return np.clip((steps - self.first - 1) // self.per_line + 1, 0, LINES + 1)

    def pixel_table(self, image: torch.Tensor) -> pd.DataFrame:
        """One line per pixel: row, column (1-28), ink (0-1) and line (when it is read)."""
        rows, columns = np.indices((SIDE, SIDE))
        return pd.DataFrame(
            {
                "row": rows.ravel() + 1,
                "column": columns.ravel() + 1,
                "ink": image.reshape(-1).numpy().astype(float),
                "line": self.line_of_pixel().ravel(),
            }
        )

    def line_inputs(self, image: torch.Tensor) -> pd.DataFrame:
        """The pixels read during each line, in the order read: line, position (1..), ink."""
        sequence = self.order.sequences(image.reshape(1, SIDE, SIDE))[0].reshape(-1)
        start = self.first * self.order.features
        inputs = sequence[start : start + LINES * self.per_line * self.order.features].reshape(LINES, -1)
        lines, positions = np.indices(inputs.shape)
        return pd.DataFrame(
            {"row": lines.ravel() + 1, "position": positions.ravel() + 1, "ink": inputs.numpy().ravel().astype(float)}
        )

    @property
    def noun(self) -> str:
        """What one step is: a row, a column or a pixel."""
        if self.order.name in (ROWS, ROWS_UPWARD):
            return "row"
        return "column" if self.order.name == COLUMNS else "pixel"

    def line_words(self, t: int) -> str:
        """Line t for people: "row 5", "column 5", "step 57" or "steps 29-56"."""
        if self.order.name == ROWS:
            return f"row {t}"
        if self.order.name == ROWS_UPWARD:
            return f"step {t} (row {LINES + 1 - t})"
        if self.order.name == COLUMNS:
            return f"step {t} (column {t})"
        last = self.last_step(t)
        return f"step {last}" if self.one_step_a_line else f"steps {last - self.per_line + 1}-{last}"

    def after_line(self, t: int) -> str:
        """How far the reading is after line t: "5 of 28 rows", "step 56 of 784"."""
        if self.order.steps == LINES:
            return f"{t} of {LINES} {self.noun}s"
        return f"step {self.last_step(t)} of {self.order.steps}"

    def axis_title(self) -> str:
        """The title of an axis of lines."""
        if self.is_rows:
            return "row t"
        if self.one_step_a_line:
            return "step t" if self.first == 0 else f"step (from {self.first + 1})"
        return f"steps read (each line {self.per_line} steps)"
