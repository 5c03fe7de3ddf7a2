"""The Sweep page's three result charts: each run's final test accuracy and seconds per epoch
against the first swept setting (one line per value of the second), and accuracy against
training time. Built once per sweep shape, redrawn with a new table once a second while the
sweep trains (the rows sweep_tables.chart_rows makes)."""

from __future__ import annotations

import altair as alt

from dashboard import charts
from rnn_core.config import SETTING
from rnn_core.sweep import Sweep

RESULTS = "results"
CHART_HEIGHT = 320
NOMINAL, LOG, LINEAR = "nominal", "log", "linear"
ACCURACY_TITLE, SPEED_TITLE, WORTH_TITLE = "Final test accuracy", "Seconds per epoch", "Accuracy against training time"


def x_axis(found: Sweep) -> tuple[str, str]:
    """The title and the kind of scale of the charts' x: the first swept setting."""
    if not found.axes:
        return "run", NOMINAL
    first = SETTING[found.axes[0]]
    if first.choices is not None:
        return first.label, NOMINAL
    return first.label, LOG if first.log_scale else LINEAR


def _x(title: str, scale: str, ticks: tuple[float, ...]) -> alt.X:
    if scale == NOMINAL:
        return alt.X("x:N", title=title)
    # Ticked at the swept values only, and no wider than they are (a "nice" log axis for 8-16
    # ran 1-100): a student reads off the values they chose.
    return alt.X(
        "x:Q",
        title=title,
        scale=alt.Scale(type="log" if scale == LOG else "linear", zero=False, nice=False, padding=24),
        axis=alt.Axis(values=list(ticks), format="~g") if ticks else alt.Undefined,
    )


@charts.cached_spec
def result_specs(
    x_title: str, x_scale: str, line_title: str | None, swept: str, ticks: tuple[float, ...] = ()
) -> dict[str, dict]:
    """The three charts by title; `line_title` names the second swept setting (None: one line);
    `ticks` the swept values of a numeric first setting."""
    colour = alt.Color("line:N", title=line_title, legend=alt.Legend(orient="bottom") if line_title else None)
    tooltip: list[str | alt.Tooltip] = [
        "name:N",
        alt.Tooltip("test_accuracy:Q", format=".2f"),
        alt.Tooltip("seconds:Q", format=".1f"),
    ]
    base = alt.Chart(alt.Data(name=RESULTS)).encode(color=colour, tooltip=tooltip).properties(height=CHART_HEIGHT)
    accuracy = base.mark_line(point=True).encode(
        x=_x(x_title, x_scale, ticks), y=alt.Y("test_accuracy:Q", title="Final test accuracy (%)")
    )
    speed = base.mark_line(point=True).encode(
        x=_x(x_title, x_scale, ticks), y=alt.Y("seconds_per_epoch:Q", title="Seconds per epoch")
    )
    worth = base.mark_point(filled=True, size=80).encode(
        x=alt.X("seconds:Q", title="Training time (s)"), y=alt.Y("test_accuracy:Q", title="Final test accuracy (%)")
    )
    lines = f", one line per {line_title.lower()}" if line_title else ""
    shown = (
        (accuracy, ACCURACY_TITLE, f"Each run's final test accuracy (%) against its {swept}"),
        (speed, SPEED_TITLE, f"Each run's training seconds per epoch against its {swept}"),
        (worth, WORTH_TITLE, "Each run's final test accuracy (%) against its training seconds"),
    )
    return {title: charts.spec(chart, title, description + lines + ".") for chart, title, description in shown}
