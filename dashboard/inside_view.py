"""Inside the LSTM's cell view: the row player and the heatmaps of one image's reading, in the
run's reading order.

A 28-step order is shown whole, one step a line. A 784-step order is shown 28 steps at a time,
one a line, in a window the student moves: a heatmap of 784 lines would give each step a third
of a pixel, and an average over 28 steps would hide what a gate does from one pixel to the
next. The image beside the panels frames the pixels of step t and fades those read after it.
"""

from __future__ import annotations

import streamlit as st
import torch

from dashboard import charts, inside_cell
from dashboard.inside_tables import Panel, cell_panels, panel_frame
from dashboard.player import row_player
from dashboard.step_lines import LINES, StepLines
from rnn_core.inspection import Reading
from rnn_core.reading_order import ReadingOrder

PLAY_INTERVAL_S = 0.3
PANELS_PER_LINE = 4


def step_lines(order: ReadingOrder, key: str) -> StepLines:
    """The whole reading for a 28-step order; for a 784-step one, the window the student picks."""
    windows = order.steps // LINES
    if windows == 1:
        return StepLines.whole(order)
    starts = [window * LINES + 1 for window in range(windows)]
    first = st.select_slider(
        "Steps shown (28 at a time)",
        starts,
        format_func=lambda start: f"{start}-{start + LINES - 1}",
        key=key,
        help=f"This run reads one pixel a step, {order.steps} steps: the panels show 28 of them, one a line.",
    )
    return StepLines.window(order, (first - 1) // LINES)


def player_label(lines: StepLines) -> str:
    if lines.is_rows:
        return "Row t (1 = the first row read)"
    if lines.order.steps == LINES:
        return f"Step t (1 = the first {lines.noun} read)"
    return f"Line t (1 = step {lines.last_step(1)}, 28 = step {lines.last_step(LINES)})"


def cell_view(image: torch.Tensor, reading: Reading, cell_type: str, lines: StepLines) -> None:
    """The row player and the heatmaps of every line, sent once: Play runs in the browser."""
    shown = lines.sample_reading(reading)
    panels: list[Panel] = cell_panels(shown, cell_type)
    row_player(
        inside_cell.ROW_T,
        player_label(lines),
        inside_cell.row_summaries(shown, lines),
        start=inside_cell.T_LAST,
        interval_s=PLAY_INTERVAL_S,
        unit="row" if lines.is_rows else "step",
    )
    image_spec = inside_cell.image_spec() if lines.is_rows else inside_cell.order_image_spec()
    pixels = {inside_cell.PIXELS: lines.pixel_table(image)}
    cells: list = [(image_spec, pixels)]
    cells += [(inside_cell.panel_chart(panel, lines), {inside_cell.VALUES: panel_frame(panel)}) for panel in panels]
    for start in range(0, len(cells), PANELS_PER_LINE):
        line = cells[start : start + PANELS_PER_LINE]
        for column, (spec, datasets) in zip(st.columns(PANELS_PER_LINE), line):
            charts.show(column, spec, datasets)
    st.caption(inside_cell.colour_key(panels, lines))
