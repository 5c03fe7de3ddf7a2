"""A digit read in any order, pixel by pixel, for the step views of Explore and Inside.

In the rows order line t is a row of the picture, and the row player's veil and frame are row
stripes (dashboard/player.py). In any other order the pixels of line t lie elsewhere: a column,
a row counted from the bottom, or pixels scattered by a permutation. So the veil and the frame
here are drawn pixel by pixel, from the pixel table of `StepLines.pixel_table` and its `line`
column (the line at which each pixel is read), and the mini-map shows at a glance which pixels
have been read, which are being read and which are to come, ink or no ink.
"""

from __future__ import annotations

import altair as alt

from dashboard import charts

READ, BEING_READ, TO_COME = "read", "being read", "to come"
LEGEND_PX = 110
MAP_SCALE = alt.Scale(domain=[READ, BEING_READ, TO_COME], range=[charts.ANSWER, charts.HIGHLIGHT, charts.FOG])


def _pixels(data_name: str) -> alt.Chart:
    return alt.Chart(alt.Data(name=data_name)).encode(
        x=alt.X("column:O", scale=alt.Scale(domain=list(range(1, 29))), axis=None),
        y=alt.Y("row:O", scale=alt.Scale(domain=list(range(1, 29))), axis=None),
    )


def order_layers(picture: alt.Chart, data_name: str, param: alt.Parameter, background: str) -> alt.LayerChart:
    """The picture with the pixels read after line t veiled and line t's pixels framed in orange."""
    veil = (
        _pixels(data_name)
        .mark_rect(color=background, opacity=1 - charts.DIMMED, aria=False)  # decoration: the description tells
        .transform_filter(alt.datum.line > param)
    )
    frame = (
        _pixels(data_name)
        .mark_rect(fillOpacity=0, stroke=charts.HIGHLIGHT, strokeWidth=1.5, aria=False)
        .transform_filter(alt.datum.line == param)
    )
    return alt.layer(picture, veil, frame).add_params(param)  # type: ignore[return-value]  # still a layer


def read_map(data_name: str, param: alt.Parameter, pixel_px: int) -> alt.Chart:
    """The mini-map: every pixel coloured by whether it has been read at line t."""
    state = f"datum.line < {param.name} ? '{READ}' : datum.line == {param.name} ? '{BEING_READ}' : '{TO_COME}'"
    return (
        _pixels(data_name)
        .transform_calculate(state=state)
        .mark_rect()
        .encode(
            color=alt.Color("state:N", scale=MAP_SCALE, legend=alt.Legend(orient="bottom", title=None, columns=2)),
            tooltip=[alt.Tooltip("row:O"), alt.Tooltip("column:O"), alt.Tooltip("state:N")],
        )
        # the title and the legend take their room out of the chart's height as Streamlit fits it
        .properties(width=28 * pixel_px, height=28 * pixel_px + LEGEND_PX)
        .add_params(param)
    )
