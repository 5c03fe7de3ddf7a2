"""The Runs page's table and chart: every saved run in one table, and the selected runs' test
accuracy overlaid, against epochs and against training time."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import charts
from rnn_core.config import SETTINGS
from rnn_core.runs import RESULT_COLUMNS

OVERLAY_HEIGHT = 220
OVERLAY = "overlay"
# The saved runs' table, in this order: when, the settings, the results.
RUN_COLUMNS = [
    "created",
    "status",
    *(declared.name for declared in SETTINGS if declared.described),
    *RESULT_COLUMNS[:-3],
    "run_id",
]
RUN_COLUMN_CONFIG = {
    **{
        declared.name: st.column_config.NumberColumn(declared.label, format="%g")
        if declared.kind is float
        else declared.label
        for declared in SETTINGS
    },
    "run_id": "Run",
    "status": "Status",
    "parent": "Continues",
    "epochs_trained": "Epochs trained",
    "final_accuracy": st.column_config.NumberColumn("Final acc. (%)", format="%.2f"),
    "best_accuracy": st.column_config.NumberColumn("Best acc. (%)", format="%.2f"),
    "seconds_per_epoch": st.column_config.NumberColumn("s / epoch", format="%.1f"),
    "images_per_second": st.column_config.NumberColumn("Images/s", format="%.0f"),
    "created": st.column_config.DatetimeColumn("Started", format="MMM D, HH:mm:ss"),
}


LEGEND_LABEL_PX = 230  # a 390 px phone, less the page margins, the y axis and the legend symbol


@charts.cached_spec
def overlay_spec() -> dict:
    """Test accuracy of the runs (the table compare_tables.overlay_history makes) against epochs
    and against training time, one colour per run; stacked so that they share one legend."""
    tooltip = [
        alt.Tooltip("run:N", title="Run"),
        alt.Tooltip("epoch:Q", title="Epoch"),
        alt.Tooltip("seconds:Q", title="Training seconds", format=".1f"),
        alt.Tooltip("test_accuracy:Q", title="Test accuracy (%)", format=".2f"),
    ]
    base = (
        alt.Chart(alt.Data(name=OVERLAY))
        .mark_line(point=alt.OverlayMarkDef(size=40))
        .encode(
            y=alt.Y("test_accuracy:Q", title="Test accuracy (%)", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "run:N",
                title="Settings that differ",
                scale=alt.Scale(scheme="tableau10"),
                # as wide as a phone allows; a longer label ends in "…" (the tooltip and the
                # table have it whole), and what tells two runs apart comes first
                legend=alt.Legend(orient="bottom", columns=1, labelLimit=LEGEND_LABEL_PX),
            ),
            tooltip=tooltip,
        )
    )
    by_epoch = base.encode(x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1)))
    by_time = base.encode(x=alt.X("seconds:Q", title="Training seconds"))
    chart = alt.vconcat(
        by_epoch.properties(height=OVERLAY_HEIGHT, title="by epoch"),
        by_time.properties(height=OVERLAY_HEIGHT, title="by training time"),
    )
    description = (
        "Test accuracy of the compared runs, one coloured line per run, against epochs and against training seconds."
    )
    return charts.spec(chart, "Test accuracy of the runs", description)
