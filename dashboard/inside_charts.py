"""The Inside the LSTM page's line charts: accuracy after reading rows 1..t (runs compared, and
per digit) and the gradient per row, before and after training. Built once, drawn with named
tables (the cell view's heatmaps are in inside_cell.py)."""

from __future__ import annotations

import altair as alt

from dashboard import charts
from dashboard.inside_tables import CELL_TRIO
from rnn_core.model import ROWS

CELL_COLOURS = alt.Scale(domain=list(CELL_TRIO), range=["#d9480f", "#7048e8", "#1c7ed6"])
CURVES, PER_DIGIT, GRADIENTS = "curves", "per_digit", "gradients"
ROW_AXIS = alt.Axis(values=charts.ROW_TICKS, labelAngle=0)


@charts.cached_spec
def rows_spec(colour_by_cell: bool = False, read: str = "rows") -> dict:
    colour = (
        alt.Color("run:N", scale=CELL_COLOURS, legend=alt.Legend(orient="bottom", title=None))
        if colour_by_cell
        else alt.Color("run:N", legend=alt.Legend(orient="bottom", title=None, columns=1, labelLimit=300))
    )
    base = alt.Chart(alt.Data(name=CURVES)).encode(
        x=alt.X("rows:Q", scale=alt.Scale(domain=[1, ROWS]), title=f"{read} read (1..t)", axis=ROW_AXIS),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 100]), title="test accuracy (%)"),
        color=colour,
        tooltip=["run:N", "rows:Q", alt.Tooltip("accuracy:Q", format=".1f")],
    )
    half = (
        alt.Chart(alt.Data(values=[{"rows": 14}])).mark_rule(strokeDash=[4, 4], color=charts.OTHER).encode(x="rows:Q")
    )
    return charts.spec(
        (base.mark_line(point=True) + half).properties(height=360 if colour_by_cell else 320),
        f"Accuracy after reading {read} 1..t",
        f"Line chart: the share of the 10,000 test images guessed right after reading only the first t {read}, "
        "one line per run; the last point is the run's test accuracy.",
    )


@charts.cached_spec
def per_digit_spec(name: str, read: str = "rows") -> dict:
    chart = (
        alt.Chart(alt.Data(name=PER_DIGIT))
        .mark_rect()
        .encode(
            x=alt.X("rows:O", title=f"{read} read (1..t)", axis=ROW_AXIS),
            y=alt.Y("digit:O", title="true digit"),
            color=alt.Color("accuracy:Q", scale=alt.Scale(domain=[0, 100], scheme="greens"), legend=None),
            tooltip=["digit:O", "rows:O", alt.Tooltip("accuracy:Q", format=".1f")],
        )
        .properties(height=260)
    )
    return charts.spec(
        chart,
        f"Per digit: {name}",
        f"Heatmap: accuracy per true digit (rows of the chart) after reading the first t {read} (columns).",
    )


@charts.cached_spec
def gradient_spec(title: str, description: str, colour_by_cell: bool, x_title: str = "row of the input") -> dict:
    colour = (
        alt.Color("model:N", scale=CELL_COLOURS, legend=alt.Legend(orient="bottom", title=None))
        if colour_by_cell
        else alt.Color(
            "state:N",
            scale=alt.Scale(domain=["untrained", "trained"], range=[charts.OTHER, charts.ANSWER]),
            legend=alt.Legend(orient="bottom", title=None),
        )
    )
    chart = (
        alt.Chart(alt.Data(name=GRADIENTS))
        .mark_line(strokeWidth=2)  # no points: the legends then show the dashes
        .encode(
            x=alt.X("row:Q", scale=alt.Scale(domain=[1, ROWS]), title=x_title, axis=ROW_AXIS),
            # one notation on the whole axis (Vega's default mixed 1e-7 with 0.00001)
            y=alt.Y(
                "gradient:Q",
                scale=alt.Scale(type="log"),
                title="mean |dLoss / d row| (log)",
                axis=alt.Axis(format=".0e"),
            ),
            color=colour,
            strokeDash=alt.StrokeDash(
                "state:N",
                scale=alt.Scale(domain=["untrained", "trained"], range=[[4, 3], [1, 0]]),
                # its own legend only beside the cells' colours: otherwise the colour says it already
                legend=alt.Legend(orient="top", title=None, symbolStrokeColor=charts.TEXT) if colour_by_cell else None,
            ),
            detail="model:N",
            tooltip=["model:N", "state:N", "row:Q", alt.Tooltip("gradient:Q", format=".3g")],
        )
        .properties(height=360)
    )
    return charts.spec(chart, title, description)
