"""The Test page's charts: a digit's probabilities, how the RNN reads one digit (with a slider
for the rows read, all in the browser), the confusion matrix and the accuracy per digit. Built
once, drawn with named tables (evaluation_tables.py makes them)."""

from __future__ import annotations

import altair as alt
import numpy as np

from dashboard import charts
from rnn_core.model import ROWS

READING_PX = 5  # one pixel of the digit in the reading chart: 140 px, so that the chart fits a phone

# The probability and reading charts are redrawn after every stroke on the canvas: their specs
# are built (and validated by Altair, which is slow) once, and only their tables change.
PROBABILITIES, PIXELS, GUESSES, SURE_ROW, HIDDEN = "probabilities", "pixels", "guesses", "sure_row", "hidden"
CONFUSION, PER_DIGIT = "confusion", "per_digit"


@charts.cached_spec
def probability_bars_spec() -> dict:
    base = alt.Chart(alt.Data(name=PROBABILITIES)).encode(
        x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
        tooltip=["digit:O", alt.Tooltip("probability:Q", format=".2%"), "role:N"],
    )
    bars = base.mark_bar().encode(color=alt.Color("role:N", scale=charts.ROLE_SCALE, legend=None))
    labels = base.mark_text(dy=-6, fontSize=11, color=charts.TEXT).encode(text=alt.Text("probability:Q", format=".0%"))
    return charts.spec(
        (bars + labels).properties(height=220),
        "Probability of each digit",
        "Bar chart of the model's probability for each digit, 0 to 9, after the last row: blue is "
        "its answer, green the true digit when the answer is another one.",
    )


@charts.cached_spec
def reading_spec(
    units: int, slider: str = "rows read", title: str = "'guess after row ' + rows_read", line: str = "row"
) -> dict:
    """The image and the guesses after each row beside it, the guess after the rows read, and
    the hidden state, one under the other (narrow enough for a phone), with a slider that
    reveals the rows one by one (all in the browser, no rerun). In another reading order the
    slider counts steps (StepLines.whole) and reveals each pixel at the step it is read."""
    rows_read = alt.param(
        name="rows_read", value=ROWS, bind=alt.binding_range(min=1, max=ROWS, step=1, name=f"{slider} ")
    )
    revealed = alt.condition("datum.row <= rows_read", alt.value(1.0), alt.value(charts.DIMMED))
    read = alt.condition("datum.line <= rows_read", alt.value(1.0), alt.value(charts.DIMMED))  # a pixel's line
    image_view = charts.digit_heatmap(PIXELS, READING_PX, opacity=read, row_title="row").properties(title="image")
    heatmap = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_rect()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=charts.row_axis(None, labels=False),
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            opacity=revealed,
            tooltip=["row:O", "digit:O", alt.Tooltip("probability:Q", format=".1%")],
        )
    )
    guesses = (heatmap + charts.row_frame(SURE_ROW)).properties(
        width=100, height=ROWS * READING_PX, title=f"guess per {line}"
    )
    after_rows = (
        alt.Chart(alt.Data(name=GUESSES), title=alt.Title(alt.expr(title)))
        .transform_filter("datum.row == rows_read")
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.condition("datum.answer", alt.value(charts.ANSWER), alt.value(charts.OTHER)),
            tooltip=["digit:O", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(width=260, height=120)
    )
    hidden_view = (
        alt.Chart(alt.Data(name=HIDDEN), title=f"hidden state h after each {line} (one line per unit)")
        .mark_rect()
        .encode(
            x=alt.X(
                "row:O",
                scale=alt.Scale(domain=list(range(1, ROWS + 1))),
                title=line,
                axis=alt.Axis(values=charts.ROW_TICKS, labelAngle=0),
            ),
            y=alt.Y("unit:O", axis=alt.Axis(values=list(range(0, units, max(1, units // 10))))),
            color=alt.Color(
                "value:Q",
                scale=alt.Scale(domain=[-1, 1], scheme="redblue", reverse=True),
                title="h",
                legend=alt.Legend(orient="bottom", gradientLength=120),
            ),
            opacity=revealed,
            tooltip=["row:O", "unit:O", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(width=260, height=int(np.clip(units * 4, 100, 240)))
    )
    # Each view has its own colour scale: a concatenation would otherwise merge them into one.
    top = alt.hconcat(image_view, guesses, spacing=8).resolve_scale(color="independent")
    chart = alt.vconcat(top, after_rows, hidden_view).resolve_scale(color="independent").add_params(rows_read)
    return charts.spec(
        chart,
        "How the RNN reads the digit",
        f"Four views of one reading, with a slider for the {slider}: the digit, 28 rows of 28 pixels; "
        f"beside it a heatmap of the probability of each digit after each {line} (the {line} from which the "
        f"model is sure is framed in orange); the probabilities after the {slider}; and a heatmap of "
        f"the hidden state's units after each {line}.",
    )


@charts.cached_spec
def confusion_spec() -> dict:
    cell = alt.selection_point(name="cell", fields=["true", "predicted"], empty=False)
    base = alt.Chart(alt.Data(name=CONFUSION)).encode(
        x=alt.X("predicted:O", axis=alt.Axis(labelAngle=0, orient="top"), title="predicted"),
        y=alt.Y("true:O", title="true digit"),
    )
    colours = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None)
    )
    counts = base.mark_text(fontSize=11).encode(
        text="count:Q", color=alt.condition("datum.dark", alt.value("white"), alt.value("black"))
    )
    # A see-through layer on top takes the clicks and tooltips (the numbers would catch them
    # otherwise) and outlines the chosen cell.
    clickable = (
        base.mark_rect(fill="white", fillOpacity=0.001, stroke=charts.HIGHLIGHT)
        .encode(
            strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(0)),
            tooltip=[
                alt.Tooltip("true:O", title="true digit"),
                "predicted:O",
                "count:Q",
                alt.Tooltip("share:Q", format=".1%", title="share of this digit"),
            ],
        )
        .add_params(cell)
    )
    return charts.spec(
        (colours + counts + clickable).properties(height=400),
        "Test images per true digit and answer",
        "Heatmap of 10 by 10 cells: the count of test images of each true digit (rows) given each "
        "answer (columns); the diagonal holds the right answers; the chosen cell is framed in orange.",
    )


@charts.cached_spec
def class_accuracy_spec() -> dict:
    base = alt.Chart(alt.Data(name=PER_DIGIT)).encode(
        x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 100]), title="accuracy (%)"),
        tooltip=["digit:O", alt.Tooltip("accuracy:Q", format=".2f"), "images:Q"],
    )
    labels = base.mark_text(dy=-6, fontSize=11, color=charts.TEXT).encode(text=alt.Text("accuracy:Q", format=".1f"))
    return charts.spec(
        (base.mark_bar(color=charts.ANSWER) + labels).properties(height=260),
        "Share of each digit's test images read right",
        "Bar chart: the share of the test images of each digit, 0 to 9, that the model reads right.",
    )
