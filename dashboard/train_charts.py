"""The Train page's charts and the tables they draw: the training loss per batch and per epoch
(on a log scale, with the blow-up marked, when a run diverged), and the test accuracy and test
loss per epoch, on an epoch axis fixed from 0 to the target so that they fill in without
rescaling. Built once per epoch span, drawn with named tables."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard import charts
from rnn_core.history import RunStatus
from rnn_core.registry import RunView

LOSS_DATA, HISTORY_DATA = "training_loss", "history"
CHART_HEIGHT = 300
BLOW_UP = "blew up"
LOSS_CEILING = 1e4  # on the log scale of a diverged run, a larger loss (or NaN) is drawn here

# The test-set charts and the table share these names for the history's columns.
HISTORY_COLUMNS = {
    "epoch": "Epoch",
    "train_loss": "Train loss",
    "test_loss": "Test loss",
    "test_accuracy": "Test accuracy (%)",
    "train_seconds": "Seconds",
    "images_per_second": "Images/s",
}


def history_frame(view: RunView | None) -> pd.DataFrame:
    rows = (
        [{**record.as_dict(), "seconds_per_epoch": record.seconds_per_epoch} for record in view.history] if view else []
    )
    frame = pd.DataFrame(rows, columns=[*HISTORY_COLUMNS, "partial", "seconds_per_epoch"])
    return frame.astype({"train_loss": float, "images_per_second": float, "seconds_per_epoch": float})


def epoch_end(view: RunView | None) -> float:
    if view is None:
        return 1
    target = view.live.epochs_target if view.live else 0
    return max(1, target, view.history[-1].epoch if view.history else 0)


def epoch_axis(end: float, whole_ticks: bool = True) -> alt.X:
    # A fixed span from 0 to the target epoch, so the charts fill in without rescaling.
    # a run that blew up early spans a sliver of an epoch: a few ticks, without trailing zeros
    axis = alt.Axis(tickMinStep=1) if whole_ticks else alt.Axis(tickCount=4, format="~g")
    return alt.X("epoch:Q", title="Epoch", scale=alt.Scale(domain=[0, end], nice=False, padding=6), axis=axis)


def point_size(end: float) -> int:
    # big enough to hover over a few epochs, small enough not to merge into a band over many
    return 50 if end <= 30 else 12


def shows_blow_up(view: RunView | None) -> bool:
    """The run diverged here and its batch losses, up to the one that blew up, are at hand."""
    return (
        view is not None
        and view.status == RunStatus.DIVERGED
        and view.live is not None
        and bool(view.live.batch_losses)
    )


def loss_chart_end(view: RunView | None) -> float:
    # a diverged run's chart ends where it blew up, often early in its first epoch
    if view is not None and view.live is not None and shows_blow_up(view):
        return max(epoch for epoch, _ in view.live.batch_losses)
    return epoch_end(view)


def loss_points(view: RunView | None, frame: pd.DataFrame) -> pd.DataFrame:
    losses = view.live.batch_losses if view and view.live else ()
    batches = pd.DataFrame(losses, columns=["epoch", "loss"]).assign(series="batch")
    epochs = frame.loc[frame["train_loss"].notna(), ["epoch", "train_loss"]]
    epochs = epochs.rename(columns={"train_loss": "loss"}).assign(series="epoch mean")
    points = pd.concat([batches, epochs], ignore_index=True)
    if shows_blow_up(view):
        # the last batch loss is the one that blew up; NaN and infinity are drawn at the ceiling
        points = pd.concat([points, batches.tail(1).assign(series=BLOW_UP)], ignore_index=True)
        points["loss"] = points["loss"].fillna(LOSS_CEILING).clip(1e-4, LOSS_CEILING)
    return points


@charts.cached_spec
def training_loss_spec(end: float, blow_up: bool = False) -> dict:
    """The training-loss chart without its data. Altair builds it once per epoch span; a
    redraw then only sends the data, which keeps the polls short (an Altair build takes tens
    of milliseconds, during which the training thread waits for the GIL).
    `blow_up`: the run diverged; a log scale shows the blown-up loss beside the normal ones,
    and the point where it blew up is marked."""
    x = epoch_axis(end, whole_ticks=not blow_up)
    # told apart by the subtitle rather than a legend, which would squeeze the plot
    colour = alt.Color(
        "series:N", legend=None, scale=alt.Scale(domain=["batch", "epoch mean"], range=[charts.OTHER, charts.ANSWER])
    )
    tooltip = [
        alt.Tooltip("series:N", title="Loss of"),
        alt.Tooltip("epoch:Q", format=".2f"),
        alt.Tooltip("loss:Q", format=".4f"),
    ]
    scale = alt.Scale(type="log") if blow_up else alt.Scale(zero=True)
    y = alt.Y("loss:Q", title="Loss (log scale)" if blow_up else "Loss", scale=scale, axis=alt.Axis(format="~r"))
    batches, epochs, blown = (
        alt.Chart().transform_filter(alt.datum.series == name) for name in ("batch", "epoch mean", BLOW_UP)
    )
    batch_line = batches.mark_line(strokeWidth=1.5).encode(x, y, colour)
    # invisible points over the batch line, so every point of it has a tooltip
    # (hidden from screen readers too: the line and the description say what they show)
    batch_points = batches.mark_circle(size=60, opacity=0, aria=False).encode(x, y, tooltip=tooltip)
    epoch_points = epochs.mark_line(point=alt.OverlayMarkDef(size=point_size(end))).encode(
        x, y, colour, tooltip=tooltip
    )
    layers = [batch_line, batch_points, epoch_points]
    subtitle = "grey: each batch · blue: mean over the epoch"
    description = "Training loss against epochs: each batch's loss as a grey line, each epoch's mean as blue points."
    if blow_up:
        layers += [
            blown.mark_point(shape="cross", size=220, filled=True, color=charts.BLOW_UP).encode(x, y, tooltip=tooltip),
            blown.mark_text(align="right", dx=-12, fontWeight="bold", color=charts.BLOW_UP).encode(
                x, y, text=alt.value("blew up")
            ),
        ]
        subtitle = "grey: each batch · red cross: the loss blew up here and the training stopped"
        description += " On a log scale; a red cross marks the batch where the loss blew up and the training stopped."
    chart = alt.layer(*layers, data=alt.NamedData(LOSS_DATA)).properties(height=CHART_HEIGHT - 60)
    return charts.spec(chart, alt.Title("Training loss", subtitle=subtitle), description)


@charts.cached_spec
def test_chart_spec(column: str, colour: str, end: float) -> dict:
    """A per-epoch test-set chart without its data (see training_loss_spec)."""
    tooltip = [
        alt.Tooltip("epoch:Q", title="Epoch"),
        alt.Tooltip("test_accuracy:Q", title="Test accuracy (%)", format=".2f"),
        alt.Tooltip("test_loss:Q", title="Test loss", format=".4f"),
        alt.Tooltip("train_seconds:Q", title="Seconds", format=".1f"),
    ]
    scale = alt.Scale(domain=[0, 100]) if column == "test_accuracy" else alt.Scale(zero=True)
    title = HISTORY_COLUMNS[column]
    y = alt.Y(f"{column}:Q", title=title, scale=scale, axis=alt.Axis(format="~r"))
    chart = (
        alt.Chart(alt.NamedData(HISTORY_DATA))
        .mark_line(color=colour, point=alt.OverlayMarkDef(color=colour, size=point_size(end)))
        .encode(epoch_axis(end), y, tooltip=tooltip)
        .properties(height=CHART_HEIGHT)
    )
    name = title.replace(" (%)", "")
    description = f"{title} on the 10,000 test images after each epoch; epoch 0 is the untrained model."
    return charts.spec(chart, alt.Title(name, subtitle="on the 10,000 test images"), description)
