"""The Explore page's charts: one digit read row by row (the image, the guess after every row,
row t's 28 inputs and the guess after it), all carrying the row player's row t, and the share
of each digit in the two splits. Built once, drawn with named tables."""

from __future__ import annotations

import altair as alt

from dashboard import charts
from dashboard.player import only_row, row_layers, row_param
from rnn_core.model import ROWS

PIXEL_PX = 10  # side of one pixel in the row-by-row picture: 280 px, narrower than a phone
GUESS_PX = 14  # width of one digit's column in the guess map

# The row view's charts are drawn once per image, with every row's data: the player moves row t
# in the browser (see dashboard/player.py), so Play sends nothing and reruns nothing.
PIXELS, GUESSES, COUNTS = "pixels", "guesses", "counts"
ROW_T = "explore_t"
T_FIRST = 1  # the first row read
ROW = row_param(ROW_T, T_FIRST)


@charts.cached_spec
def reveal_spec() -> dict:
    """The image with the rows read so far, the row being read framed in orange, the rest dimmed."""
    picture = charts.digit_heatmap(PIXELS, PIXEL_PX, row_title="row = time step t")
    return charts.spec(
        # grey behind the digit: dimmed rows to come fade into it, read rows stand out as paper
        row_layers(picture, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        "The image, row by row",
        "Heatmap of the chosen digit, 28 rows of 28 pixels, dark ink on white; the rows read so "
        "far are clear, the row being read at step t is framed in orange, the rows to come are faded.",
    )


@charts.cached_spec
def guess_map_spec() -> dict:
    """The guess after every row, each row level with the image row just read; rows to come dimmed."""
    chart = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_rect()
        .encode(
            x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
            y=charts.row_axis(None, labels=False),
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            tooltip=[
                alt.Tooltip("row:O", title="after row"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(width=10 * GUESS_PX, height=ROWS * PIXEL_PX)
    )
    return charts.spec(
        row_layers(chart, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        "Guess per row",
        "Heatmap of the model's probability for each digit (columns) after each row read (rows, "
        "level with the image's rows): darker blue is more probable; rows to come are faded.",
    )


@charts.cached_spec
def input_vector_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name=PIXELS))
        .mark_bar(color=charts.HIGHLIGHT)
        .encode(
            x=alt.X("column:O", title="pixel column", axis=alt.Axis(values=charts.ROW_TICKS, labelAngle=0)),
            y=alt.Y("ink:Q", scale=alt.Scale(domain=[0, 1]), title="value"),
            tooltip=[alt.Tooltip("column:O"), alt.Tooltip("ink:Q", format=".2f", title="value")],
        )
        .properties(height=230)
    )
    return charts.spec(
        only_row(chart, ROW).add_params(ROW),
        "Input at step t: row t, 28 numbers",
        "Bar chart of the 28 numbers the network receives at step t: the ink of each pixel of row t, from 0 to 1.",
    )


@charts.cached_spec
def guess_bars_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("role:N", scale=charts.ROLE_SCALE, legend=None),
            tooltip=[alt.Tooltip("digit:O"), alt.Tooltip("probability:Q", format=".1%"), alt.Tooltip("role:N")],
        )
        .properties(height=250)
    )
    return charts.spec(
        only_row(chart, ROW).add_params(ROW),
        "Guess after row t",
        "Bar chart of the model's probability for each digit after reading rows 1 to t: blue is "
        "its answer, green the true label when the answer is another digit.",
    )


@charts.cached_spec
def class_counts_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name=COUNTS))
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("split:N", sort=["train", "test"]),
            y=alt.Y("share:Q", title="share of the split (%)"),
            color=alt.Color(
                "split:N", scale=alt.Scale(domain=["train", "test"]), legend=alt.Legend(orient="top", title=None)
            ),
            tooltip=[
                alt.Tooltip("split:N"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("count:Q", format=","),
                alt.Tooltip("share:Q", format=".1f", title="share (%)"),
            ],
        )
        .properties(height=360)
    )
    return charts.spec(
        chart,
        "Images per digit: about 10% each in both splits",
        "Bar chart: the share of each digit, 0 to 9, in the training and the test split, side by side.",
    )
