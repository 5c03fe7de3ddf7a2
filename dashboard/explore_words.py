"""The Explore page's words for a reading order: what its player, its charts and its notes say.

The rows order keeps the notebook's words (row t, 28 numbers); the other orders say steps, and
what a step holds: a row from the bottom, a column, or one pixel (784 steps, shown 28 a line).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.step_lines import LINES, StepLines
from rnn_core.reading_order import COLUMNS, ORDER_WORDS, PERMUTED, ROWS_UPWARD


@dataclass(frozen=True)
class Words:
    lines: StepLines

    @property
    def order(self) -> str:
        return ORDER_WORDS[self.lines.order.name]

    @property
    def line(self) -> str:
        """What one line of the charts is called: row, step or pixel steps."""
        return "row" if self.lines.is_rows else "step" if self.lines.one_step_a_line else f"{LINES} steps"

    @property
    def unit(self) -> str:
        """What the player's pace is counted in."""
        return "row" if self.lines.is_rows else "step" if self.lines.one_step_a_line else "frame"

    @property
    def player_label(self) -> str:
        if self.lines.is_rows:
            return "Time step t (the row being read; 1 = the first)"
        if self.lines.one_step_a_line:
            return f"Time step t (the {self.lines.noun} being read; 1 = the first)"
        return f"Frame t: {self.lines.per_line} pixels a frame, steps 28(t-1)+1 to 28t"

    @property
    def input_chart(self) -> tuple[str, str, str]:
        """x title, title and description of the input chart."""
        name = self.lines.order.name
        if self.lines.is_rows or name == ROWS_UPWARD:
            row = "row t" if self.lines.is_rows else "row 29-t"
            return (
                "pixel column",
                f"Input at step t: {row}, 28 numbers",
                f"Bar chart of the 28 numbers the network receives at step t: the ink of each pixel of {row}, "
                "from 0 to 1.",
            )
        if name == COLUMNS:
            return (
                "pixel row",
                "Input at step t: column t, 28 numbers",
                "Bar chart of the 28 numbers the network receives at step t: the ink of each pixel of column t, "
                "from 0 to 1, top to bottom.",
            )
        return (
            "pixel read (in order)",
            f"Inputs of frame t: {self.lines.per_line} steps of one pixel",
            f"Bar chart of the {self.lines.per_line} numbers the network receives one at a time during frame t, "
            "in the order read: the ink of each pixel, from 0 to 1.",
        )

    @property
    def no_guess(self) -> str:
        what = "row" if self.lines.is_rows else "step"
        return f"Train a model on the **Train** page to see its guess after each {what} here."


def order_note(lines: StepLines) -> str:
    """A sentence on the order shown, unless it is the notebook's rows."""
    order = lines.order
    if lines.is_rows:
        return ""
    if order.steps == LINES:
        return (
            f"**Reading order: {ORDER_WORDS[order.name]}.** Still 28 steps of 28 pixels; the orange frame "
            "shows what the network receives at step t."
        )
    scattered = " The permutation scatters each frame's pixels over the picture." if order.name == PERMUTED else ""
    return (
        f"**Reading order: {order.describe()}.** The network receives one pixel a step, {order.steps} steps "
        f"before its answer. The player shows {LINES} frames of {lines.per_line} pixels (steps); the guesses "
        f"are those after each frame's last pixel.{scattered}"
    )
