"""Inside the cell, on the Inside the LSTM page: the charts and the words of the cell view.

One image's gates and states are drawn as heatmaps, one line per row read, beside the image;
all 28 rows are sent once and the row player (dashboard/player.py) moves row t in the browser:
the rows after t fade, row t is framed in orange, and a sentence per row tells the guess and
the gates' means.
"""

from __future__ import annotations

from typing import Literal

import altair as alt

from dashboard import charts
from dashboard.inside_tables import CELL, HIDDEN, SIGMOID, Panel, colour_domain, gate_summary
from dashboard.order_charts import order_layers
from dashboard.player import row_layers, row_param
from dashboard.step_lines import StepLines
from rnn_core.inspection import Reading
from rnn_core.model import ROWS

ROW_T = "inside_row"
T_LAST = ROWS  # the page opens on the whole image read
ROW = row_param(ROW_T, T_LAST)
ROW_PX = 9
PIXELS, VALUES = "pixels", "values"


@charts.cached_spec
def image_spec() -> dict:
    # an x title like the heatmaps' keeps the image's rows level with theirs; as wide as its
    # column, like the panels beside it
    pixels = charts.digit_heatmap(PIXELS, None)
    return charts.spec(
        row_layers(pixels, ROW).properties(height=ROWS * ROW_PX),
        "The image",
        "The digit read, 28 rows of 28 pixels, dark ink on white; row t is framed in orange, the rows after it "
        "are faded.",
    )


@charts.cached_spec
def order_image_spec() -> dict:
    """image_spec for any order but rows: the pixels read at line t framed, those after faded."""
    pixels = charts.digit_heatmap(PIXELS, None, row_title=None)
    return charts.spec(
        order_layers(pixels, PIXELS, ROW, charts.PAPER).properties(height=ROWS * ROW_PX),
        "The image",
        "The digit read, 28 by 28 pixels, dark ink on white; the pixels read at line t are framed in orange, "
        "those read after it are faded.",
    )


Scheme = Literal["blues", "redblue"]  # a gate's 0 to 1; a state's signed values


@charts.cached_spec
def panel_spec(quantity: str, domain: tuple[float, float], scheme: Scheme, units: int, lines: str = "rows") -> dict:
    what = {
        CELL: "the cell state c_t, the LSTM's long-term memory",
        HIDDEN: "the hidden state h_t, what the output layer reads",
    }.get(quantity, f"the {quantity}")
    heat = (
        alt.Chart(alt.Data(name=VALUES))
        .mark_rect()
        .encode(
            x=alt.X("unit:O", title=f"unit (0-{units - 1})", axis=alt.Axis(labels=False, ticks=False)),
            y=charts.row_axis(None),
            # no legend: a legend squeezes a fitted chart's rows; the caption below tells the colours
            color=alt.Color(
                "value:Q", scale=alt.Scale(domain=list(domain), scheme=scheme, reverse=scheme == "redblue"), legend=None
            ),
            tooltip=[alt.Tooltip("row:O"), alt.Tooltip("unit:O"), alt.Tooltip("value:Q", format=".3f")],
        )
    )
    return charts.spec(
        row_layers(heat, ROW).properties(height=ROWS * ROW_PX),
        quantity,
        f"Heatmap of {what} over the 28 {lines} (top to bottom) and the {units} units; line t is framed in orange.",
    )


def panel_chart(panel: Panel, lines: StepLines) -> dict:
    """The spec of one panel, its colours set by what the quantity can hold."""
    scheme: Scheme = "blues" if panel.scale == SIGMOID else "redblue"
    what = "rows" if lines.is_rows else "steps" if lines.one_step_a_line else "lines of 28 steps"
    return panel_spec(panel.quantity, tuple(colour_domain(panel)), scheme, panel.values.shape[1], what)


def explanation(cell_type: str) -> str:
    """What the cell's gates do, in words."""
    if cell_type == "LSTM":
        return (
            "Each gate is a number between 0 and 1 for every unit, computed afresh at every row from "
            "the row and the previous hidden state. The **forget gate f** multiplies the memory: "
            "**near 1 the cell keeps** what it held (it remembers across rows), **near 0 it erases** "
            "it. The **input gate i** decides how much of the **candidate g** (new content, -1 to 1) "
            "is written in: c_t = f·c_(t-1) + i·g. The **output gate o** decides how much of the "
            "memory shows: h_t = o·tanh(c_t), the only thing the output layer reads."
        )
    if cell_type == "GRU":
        return (
            "A GRU has no separate cell state: its memory is h_t. The **update gate z** near 1 "
            "**keeps** the old h, near 0 **replaces** it with the **candidate n**: "
            "h_t = (1-z)·n + z·h_(t-1). The **reset gate r** decides how much of the old h goes into "
            "the candidate."
        )
    return (
        "A plain RNN has **no gates and no cell state**: h_t = tanh(W·x_t + U·h_(t-1) + b) "
        "rewrites its whole memory at every row. Only h_t is shown. Train an LSTM or a GRU "
        "to see gates."
    )


def row_summary(reading: Reading, t: int, lines: StepLines) -> str:
    """Line t in words: the guess after it, the gates' means, whether the cell keeps its memory
    (`reading` has 28 lines, StepLines.sample_reading)."""
    guess = int(reading.probabilities[t - 1].argmax())
    where = f"Row {t} of {ROWS}" if lines.is_rows else lines.line_words(t).capitalize() + f" of {lines.order.steps}"
    after = "after it" if lines.one_step_a_line else f"after step {lines.last_step(t)}"
    parts = [f"**{where}**. Guess {after}: **{guess}** ({reading.probabilities[t - 1, guess]:.0%})."]
    means = gate_summary(reading, t)
    if means:
        parts.append(
            "Mean over the units: " + ", ".join(f"{name} **{value:.2f}**" for name, value in means.items()) + "."
        )
    forget = means.get("forget gate f", means.get("update gate z"))
    if forget is not None:
        parts.append(
            "Mostly keeping its memory."
            if forget > 0.6
            else "Mostly overwriting its memory."
            if forget < 0.4
            else "Keeping some, overwriting some."
        )
    return " ".join(parts)


def row_summaries(reading: Reading, lines: StepLines) -> list[str]:
    return [row_summary(reading, t, lines) for t in range(1, ROWS + 1)]


def colour_key(panels: list[Panel], lines: StepLines) -> str:
    """The heatmaps' colours in words (they have no legends)."""
    parts = [
        "Each panel: one line per row read (row 1 at the top, level with the image's rows), one column per "
        "unit; rows not read yet are faded."
        if lines.is_rows
        else "Each panel: one line per step, the first shown at the top, one column per unit; steps not read "
        "yet are faded."
    ]
    if any(panel.scale == SIGMOID for panel in panels):
        parts.append("Gates: white = 0 (closed), dark blue = 1 (open).")
    bounded = [panel for panel in panels if panel.scale != SIGMOID]
    parts.append(
        "; ".join(
            f"{panel.quantity}: blue = {colour_domain(panel)[0]:.2g}, white = 0, red = {colour_domain(panel)[1]:.2g}"
            for panel in bounded
        )
        + "."
    )
    return " ".join(parts)
