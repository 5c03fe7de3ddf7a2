"""Play and Pause over the 28 rows of a digit, done in the browser from data sent once.

Explore and Inside the LSTM both walk through a digit row by row. Their charts are drawn once
with every row's data and a Vega-Lite parameter, row t, that decides what is read, what is
framed and what is faded (`row_param`, `fog_after_row`, `row_frame`, `only_row`). The player
(`row_player`, a small component, `row_player.js`) holds Play, Pause, the row slider, the pace
and a sentence per row, and sets that parameter in every chart of the page.

Why in the browser: a timer that reran a fragment on the server for every row sent every chart
again at every step. On a busy server those reruns queued up, the pace followed the server's
load instead of the clock, and Streamlit's message cache (large messages are sent once and then
referred to by hash, and the browser forgets them after two script runs) was asked for messages
the browser had already dropped: "Cached ForwardMsg MISS", and a dead page. Now Play runs no
script at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import altair as alt
import streamlit as st

from dashboard import charts
from rnn_core.model import ROWS

SPEEDS_S = (0.6, 0.3, 0.15, 0.05)  # seconds a row the pace menu offers
CSS = """
.rp-controls { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: end; }
.rp-button { min-width: 6.5rem; padding: 0.35rem 0.9rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid rgba(49, 51, 63, 0.3); background: #ffffff; color: #31333f; font: inherit; }
.rp-button:hover { border-color: #c2410c; color: #c2410c; }
.rp-label { flex: 1 1 14rem; display: flex; flex-direction: column; font-size: 0.875rem; color: #31333f; }
.rp-line { display: flex; align-items: center; gap: 0.5rem; }
.rp-slider { flex: 1; accent-color: #c2410c; }
.rp-value { min-width: 1.5rem; font-weight: 600; }
.rp-speed { padding: 0.3rem; border-radius: 0.5rem; font: inherit; color: #31333f; }
.rp-text { margin: 0.6rem 0 0.2rem; color: #31333f; }
"""
_COMPONENT = st.components.v2.component(
    "rnn_row_player", css=CSS, js=(Path(__file__).parent / "row_player.js").read_text(), isolate_styles=False
)


def row_param(name: str, start: int) -> alt.Parameter:
    """Row t of a chart, 1-28, set by the player of the page (its hidden input is named `name`)."""
    return alt.param(name=name, value=start, bind=alt.binding_range(min=1, max=ROWS, step=1, name=name))


def fog_after_row(param: alt.Parameter, background: str = charts.PAPER) -> alt.Chart:
    """A veil over the rows after row t, in the chart's background colour: they show at
    charts.DIMMED of their strength. Layered over a heatmap, it is all a step redraws (fading
    each cell by an opacity that depends on row t re-encodes every cell at every step)."""
    rows = alt.Chart(alt.sequence(1, ROWS + 1, as_="row"))
    # hidden from screen readers, like the frame: the chart's description says what they show,
    # and a veil over no rows (at row 28) would be an unnamed, empty graphic
    veil = rows.mark_rect(color=background, opacity=1 - charts.DIMMED, aria=False).encode(y=charts.row_axis(None))
    return veil.transform_filter(alt.datum.row > param)


def only_row(chart: alt.Chart, param: alt.Parameter) -> alt.Chart:
    """The chart's lines of row t alone (a table with every row's lines)."""
    return chart.transform_filter(alt.datum.row == param)


def row_frame(param: alt.Parameter, colour: str = charts.HIGHLIGHT) -> alt.Chart:
    """An orange frame around row t across a heatmap."""
    rows = alt.Chart(alt.sequence(1, ROWS + 1, as_="row"))
    frame = rows.mark_rect(fillOpacity=0, stroke=colour, strokeWidth=2, aria=False)
    return only_row(frame.encode(y=charts.row_axis(None)), param)


def row_layers(chart: alt.Chart, param: alt.Parameter, background: str = charts.PAPER) -> alt.LayerChart:
    """A heatmap of the 28 rows with the rows after row t veiled and row t framed."""
    layers = alt.layer(chart, fog_after_row(param, background), row_frame(param))
    return layers.add_params(param)  # type: ignore[return-value]  # a layer's add_params keeps it a layer


def bold_html(text: str) -> str:
    """A sentence with **bold** parts (Markdown's way) as safe HTML for the player."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def row_player(param: str, label: str, texts: Sequence[str], start: int, interval_s: float, unit: str = "row") -> None:
    """Play, Pause, the row slider and the pace, for the charts carrying `row_param(param, start)`;
    `texts[t - 1]` (Markdown's **bold** allowed) is shown under them at row t; the pace is in
    seconds a `unit` (a row, a step, a frame)."""
    if len(texts) != ROWS:
        raise ValueError(f"the player needs one sentence per row, {ROWS}, got {len(texts)}")
    data = {
        "param": param,
        "label": label,
        "texts": [bold_html(text) for text in texts],
        "start": start,
        "interval": interval_s,
        "unit": unit,
        "speeds": sorted({*SPEEDS_S, interval_s}, reverse=True),
    }
    _COMPONENT(key=f"{param}_player", data=data)
