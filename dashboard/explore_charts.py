"""The Explore page's charts: one digit read row by row (the image, the guess after every row,
row t's 28 inputs and the guess after it), all carrying the row player's row t, and the share
of each digit in the two splits. Built once, drawn with named tables."""

from __future__ import annotations

import altair as alt

from dashboard import charts
from dashboard.order_charts import order_layers, read_map
from dashboard.player import only_row, row_layers, row_param
from rnn_core.model import ROWS

PIXEL_PX = 10  # side of one pixel in the row-by-row picture: 280 px, narrower than a phone
GUESS_PX = 14  # width of one digit's column in the guess map

# The row view's charts are drawn once per image, with every row's data: the player moves row t
# in the browser (see dashboard/player.py), so Play sends nothing and reruns nothing.
PIXELS, INPUTS, GUESSES, COUNTS = "pixels", "inputs", "guesses", "counts"
MAP_PX = 6  # the mini-map of what has been read: 168 px
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
def order_reveal_spec(order_words: str) -> dict:
    """reveal_spec for any order but rows: the pixels read so far clear, line t's framed."""
    picture = charts.digit_heatmap(PIXELS, PIXEL_PX, row_title=None)
    return charts.spec(
        order_layers(picture, PIXELS, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        "The image, in the run's order",
        f"Heatmap of the chosen digit, read {order_words}; the pixels read so far are clear, those read "
        "at step t are framed in orange, those to come are faded.",
    )


@charts.cached_spec
def read_map_spec() -> dict:
    return charts.spec(
        read_map(PIXELS, ROW, MAP_PX),
        "What has been read",
        "Mini-map of the 28 by 28 pixels: dark blue the pixels read before step t, orange those read at "
        "step t, grey those to come, ink or no ink.",
    )


@charts.cached_spec
def guess_map_spec(line_title: str = "row") -> dict:
    """The guess after every line, each line level with the image row just read (rows order);
    lines to come dimmed."""
    chart = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_rect()
        .encode(
            x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
            y=charts.row_axis(None, labels=False),
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            tooltip=[
                alt.Tooltip("row:O", title=f"after {line_title}"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(width=10 * GUESS_PX, height=ROWS * PIXEL_PX)
    )
    return charts.spec(
        row_layers(chart, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        f"Guess per {line_title}",
        f"Heatmap of the model's probability for each digit (columns) after each {line_title} read (one "
        "line each, top to bottom): darker blue is more probable; those to come are faded.",
    )


@charts.cached_spec
def input_spec(x_title: str, title: str, description: str) -> dict:
    """The numbers the network receives at line t (a table from StepLines.line_inputs)."""
    chart = (
        alt.Chart(alt.Data(name=INPUTS))
        .mark_bar(color=charts.HIGHLIGHT)
        .encode(
            x=alt.X("position:O", title=x_title, axis=alt.Axis(values=charts.ROW_TICKS, labelAngle=0)),
            y=alt.Y("ink:Q", scale=alt.Scale(domain=[0, 1]), title="value"),
            tooltip=[alt.Tooltip("position:O", title=x_title), alt.Tooltip("ink:Q", format=".2f", title="value")],
        )
        .properties(height=230)
    )
    return charts.spec(only_row(chart, ROW).add_params(ROW), title, description)


@charts.cached_spec
def guess_bars_spec(line_title: str = "row") -> dict:
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
        f"Guess after {line_title} t",
        f"Bar chart of the model's probability for each digit after reading {line_title}s 1 to t: blue is "
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
