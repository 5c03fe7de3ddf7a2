"""Train: hyperparameters in the sidebar, training on the server, live charts, saved runs.

The page never touches a model: it sends commands to the server's run registry and draws the
run this tab looks at (`?run=<id>` in the link). While that run trains, two fragments poll its
snapshot: the progress and the batch losses twice a second, the per-epoch scores once a second.
When the training ends the whole page reruns, so that the buttons and the list of runs catch up.

The page keeps one shape whether a run trains or not (the same elements in the same places, the
status line in a slot of its own height), so a click on Train redraws it in place instead of
removing and adding elements: nothing jumps. What the first click on a fresh server would pay for
(torch's lazy imports, the charts' specs) is paid beforehand, off the click's path.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st
import torch

from dashboard import charts, commands, explore_tables, settings, ui
from dashboard.inert import inert
from dashboard.ui import browser_token
from rnn_core import MnistData, RowClassifier
from rnn_core.config import describe
from rnn_core.history import RunStatus
from rnn_core.jobs import JobSnapshot
from rnn_core.registry import JobRegistry, RunView

PROGRESS_SECONDS, EPOCH_VIEW_SECONDS = 0.5, 1.0
LOSS_DATA, HISTORY_DATA = "training_loss", "history"
METRIC_HEIGHT, TABLE_HEIGHT = 128, 248  # fixed, so that the page does not move as epochs come in
CHART_HEIGHT = 300
# The status slot above the loss chart holds the progress bar while a run trains and a message
# when idle: at least as tall as a four-line message on a wide screen (the longest, a run that
# learned next to nothing), so that swapping one for the other moves nothing below.
STATUS_KEY, STATUS_MIN_HEIGHT = "train_status", "8rem"
STATUS_STYLE = (
    f"<style>@media (min-width: 640px) {{ .st-key-{STATUS_KEY} {{ min-height: {STATUS_MIN_HEIGHT}; }} }}</style>"
)
BLOW_UP = "blew up"
LOSS_CEILING = 1e4  # on the log scale of a diverged run, a larger loss (or NaN) is drawn here
NEAR_CHANCE = 20.0  # test accuracy (%) at or below which a finished run learned next to nothing
STRIP_PER_DIGIT, STRIP_COLUMNS = 2, 20
ACTION_ERROR = "train_action_error"
# The test-set charts and the table share these names for the history's columns.
HISTORY_COLUMNS = {
    "epoch": "Epoch",
    "train_loss": "Train loss",
    "test_loss": "Test loss",
    "test_accuracy": "Test accuracy (%)",
    "train_seconds": "Seconds",
    "images_per_second": "Images/s",
}


# ----- settings: side panel and page link -------------------------------------------------


def settings_sidebar() -> tuple:
    """The settings panel in the side panel; keeps the page link in step with it."""
    with st.sidebar:
        st.subheader("Training settings")
        configs = settings.panel(settings.TRAIN_PANEL)
        st.caption("Moving a control never retrains: **Train** does, with these settings.")
    link = settings.to_query(settings.current_values(settings.TRAIN_PANEL))
    if run_id := st.session_state.get(ui.RUN_KEY):
        link[ui.RUN_PARAM] = run_id
    if st.query_params.to_dict() != link:
        st.query_params.from_dict(link)
    return configs


# ----- commands ----------------------------------------------------------------------------


def start_training(runs: JobRegistry, configs: tuple) -> None:
    label = settings.matching_preset(settings.current_values(settings.TRAIN_PANEL))
    ui.choose_run(runs.start(*configs, owner=browser_token(), label=label))


def continue_training(runs: JobRegistry, run_id: str) -> None:
    epochs = int(st.session_state["train_more_epochs"])
    ui.choose_run(runs.continue_run(run_id, epochs, owner=browser_token()))


def stop_training(runs: JobRegistry, run_id: str) -> None:
    runs.stop(run_id, browser_token(), ui.admin_password())


def continues_in_place(view: RunView) -> bool:
    return view.record.owned_by(browser_token()) and view.status in (
        RunStatus.STOPPED,
        RunStatus.DIVERGED,
        RunStatus.INTERRUPTED,
    )


def command_bar(runs: JobRegistry, configs: tuple) -> None:
    """Train, Stop, Continue. Drawn in a fragment of its own, polled while a run trains, so that
    a click on Stop reruns only this bar and *Stopping...* shows at once; Train and Continue
    change the run on show, so they rerun the whole page."""
    view = ui.current_run()
    busy = view is not None and view.busy
    stopping = busy and view.live is not None and view.live.stopping
    mine = view is not None and ui.may_change(view.run_id)
    train, stop, more, go_on = st.columns([1.1, 1, 1.1, 1.1], vertical_alignment="bottom")
    if train.button(
        "Train",
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        help="Train a new model with the training settings, as a new run.",
    ):
        commands.run(ACTION_ERROR, "Could not start training", start_training, runs, configs)
        st.rerun()
    stop.button(
        "Stopping..." if stopping else "Stop",
        icon=":material/stop:",
        disabled=not busy or stopping or not mine,
        width="stretch",
        on_click=commands.run,
        args=(ACTION_ERROR, "Could not stop the run", stop_training, runs, view.run_id if view else None),
        help=None if mine or not busy else "This run was started in another browser: only that browser can stop it.",
    )
    more.number_input("More epochs", 1, 50, 1, key="train_more_epochs", persist_state="session")
    forks = view is not None and not continues_in_place(view)
    if go_on.button(
        "Continue",
        icon=":material/fast_forward:",
        disabled=busy or view is None or not view.has_model,
        width="stretch",
        help="Train this model further, with its own settings and optimizer state. "
        + (continue_plan(view) + " " if view is not None else "")
        + (
            "It is finished or not yours, so this makes a new run that starts from it; the original stays as it is."
            if forks
            else "It goes on in the same run."
        ),
    ):
        commands.run(ACTION_ERROR, "Could not continue the run", continue_training, runs, view.run_id)
        st.rerun()
    commands.show_error(st, ACTION_ERROR)


def describe_model(view: RunView | None) -> str:
    if view is None:  # a line all the same, so the page keeps its shape when the first run starts
        return "**Current model:** none yet: **Train** trains one with the training settings."
    text = f"**Current model:** {describe(view.record.model_config, view.record.train_config)} · run `{view.run_id}`"
    if view.record.label:
        text += f" ({inert(view.record.label)})"
    if parent := view.record.parent:
        # a run id: RunStore.read refuses a parent whose id is not one, so the code span is safe
        text += f" · continues run `{parent['run_id']}` from epoch {parent['epoch']:g}"
    return text


# ----- live view ---------------------------------------------------------------------------


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def history_frame(view: RunView | None) -> pd.DataFrame:
    rows = (
        [{**record.as_dict(), "seconds_per_epoch": record.seconds_per_epoch} for record in view.history] if view else []
    )
    frame = pd.DataFrame(rows, columns=[*HISTORY_COLUMNS, "partial", "seconds_per_epoch"])
    return frame.astype({"train_loss": float, "images_per_second": float, "seconds_per_epoch": float})


def progress_bar(runs: JobRegistry, snapshot: JobSnapshot) -> None:
    if snapshot.stopping:
        st.progress(0.0, text="Stopping... the part of the epoch already trained is being scored on the test set.")
        return
    if snapshot.status == RunStatus.WAITING:
        st.progress(
            0.0,
            text=f"Waiting for a free training slot: {ui.ordinal(snapshot.queue_position)} in line. This server trains "
            f"{runs.executor.slots} models at once; this one starts as soon as one ends.",
        )
        return
    progress = snapshot.progress
    if progress is None:
        st.progress(0.0, text="Scoring the untrained model on the test set...")
        return
    span = snapshot.epochs_target - snapshot.epochs_start
    done = min(1.0, max(0.0, (progress.epoch - snapshot.epochs_start) / span)) if span else 0.0
    parts = [
        f"Epoch {progress.epoch_index} of {snapshot.epochs_target:g}",
        f"batch {progress.batch:,} / {progress.batches:,}",
    ]
    if snapshot.images_per_second:
        parts.append(f"{snapshot.images_per_second:,.0f} images/s")
    if snapshot.seconds_left is not None:
        parts.append(f"about {duration(snapshot.seconds_left)} left")
    st.progress(done, text=" · ".join(parts))


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def status_message(view: RunView | None) -> None:
    if view is None:
        st.info(
            "Choose the **Training settings** (in the side panel: on a phone, open it with the arrow at the top left), "
            "then press **Train**. Nothing trains until you do.",
            icon=":material/tune:",
        )
        return
    reason = inert(view.reason)
    if view.status == RunStatus.DIVERGED:
        st.error(f"**The training diverged.** {sentence(reason)}", icon=":material/trending_up:")
    elif view.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        st.error(
            f"**The training {view.status.value}:** {reason}. **Continue** goes on from the last saved epoch.",
            icon=":material/error:",
        )
    elif view.status == RunStatus.FINISHED and learned_little(view):
        st.warning(f"Finished: {reason}, {near_chance_advice(view)}", icon=":material/lightbulb:")
    elif view.status == RunStatus.FINISHED:
        st.success(f"Finished: {reason}.", icon=":material/check_circle:")
    elif view.status == RunStatus.STOPPED:
        st.info(f"Stopped: {reason.removeprefix('stopped ')}. {continue_plan(view)}", icon=":material/pause_circle:")
    else:
        st.info(
            "An uploaded model. **Continue** trains it further as a new run; the Test page uses it.",
            icon=":material/save:",
        )


def continue_plan(view: RunView) -> str:
    """What Continue does with this run, in words: an epoch a stop cut short is finished first,
    so that epochs stay whole."""
    trained = view.history[-1].epoch if view.history else 0
    if float(trained).is_integer():
        return "**Continue** trains it *More epochs* further."
    return (
        f"It has trained {trained:g} epochs: **Continue** first finishes epoch {math.ceil(trained)}, "
        "then trains *More epochs* more."
    )


def learned_little(view: RunView) -> bool:
    return bool(view.history) and view.history[-1].test_accuracy <= NEAR_CHANCE


def near_chance_advice(view: RunView) -> str:
    """Why a finished run is near chance, and what to change: small quick runs otherwise end
    at 10% without a word."""
    train, last = view.record.train_config, view.history[-1]
    sgd = (
        " SGD needs many batches to get going: the notebook's model is at about 33% after one epoch of all "
        "60,000 images."
        if train.optimizer == "SGD"
        else ""
    )
    return (
        f"but it learned next to nothing: {last.test_accuracy:.1f}% on the test set is what guessing gives (10%), "
        f"trained as {describe(view.record.model_config, train)}.{sgd} To learn more, give it more images or "
        "epochs, a higher learning rate, "
        "or **Adam**: the **quick** preset gets over 90% from 10,000 images in 3 epochs."
    )


def metrics_row(frame: pd.DataFrame) -> None:
    """The latest scores, in boxes of one height whether or not they have a change to show,
    so that nothing below moves when the first epoch comes in."""
    last = frame.iloc[-1] if len(frame) else None
    previous = frame.iloc[-2] if len(frame) > 1 else None
    whole_epochs = frame["seconds_per_epoch"].dropna()  # a pass cut by a stop is not an epoch's time

    def change(column: str, digits: int, unit: str = "") -> str | None:
        return None if previous is None else f"{last[column] - previous[column]:+.{digits}f}{unit}"

    accuracy, loss, epochs, speed = st.columns(4)
    box = {"border": True, "height": METRIC_HEIGHT}
    accuracy.metric(
        "Test accuracy",
        "–" if last is None else f"{last.test_accuracy:.2f}%",
        change("test_accuracy", 2, " pts"),
        **box,
    )
    loss.metric(
        "Test loss",
        "–" if last is None else f"{last.test_loss:.4f}",
        change("test_loss", 4),
        delta_color="inverse",
        **box,
    )
    epochs.metric("Epochs trained", "–" if last is None else f"{last.epoch:g}", **box)
    speed.metric("Seconds per epoch", f"{whole_epochs.mean():.2f}" if len(whole_epochs) else "–", **box)


def epoch_end(view: RunView | None) -> float:
    if view is None:
        return 1
    target = view.live.epochs_target if view.live else 0
    return max(1, target, view.history[-1].epoch if view.history else 0)


def epoch_axis(end: float, whole_ticks: bool = True) -> alt.X:
    # A fixed span from 0 to the target epoch, so the charts fill in without rescaling.
    axis = alt.Axis(tickMinStep=1) if whole_ticks else alt.Axis()
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
    return max(epoch for epoch, _ in view.live.batch_losses) if shows_blow_up(view) else epoch_end(view)


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
    batch_points = batches.mark_circle(size=60, opacity=0).encode(x, y, tooltip=tooltip)
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


def epoch_table(frame: pd.DataFrame) -> None:
    table = frame[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS)
    st.dataframe(
        table,
        hide_index=True,
        height=TABLE_HEIGHT,
        column_config={
            "Train loss": st.column_config.NumberColumn(format="%.4f"),
            "Test loss": st.column_config.NumberColumn(format="%.4f"),
            "Test accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
            "Seconds": st.column_config.NumberColumn(format="%.1f"),
            "Images/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    st.download_button(
        "Download CSV",
        data=lambda: table.to_csv(index=False),
        file_name="epochs.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        disabled=table.empty,
    )


def live_progress(runs: JobRegistry, polling: bool) -> None:
    """Redrawn about twice a second while a model trains: the progress and every batch's loss."""
    view = ui.current_run()  # a page that shows a run keeps it watched
    if polling and not (view and view.busy):
        st.rerun()  # the training ended: buttons, sidebar and run list catch up
    with st.container(key=STATUS_KEY):  # one slot, of one height, for the progress or the status
        if view is not None and view.busy:
            progress_bar(runs, view.live)
        else:
            status_message(view)
    loss_spec = training_loss_spec(loss_chart_end(view), shows_blow_up(view))
    charts.show(st, loss_spec, {LOSS_DATA: loss_points(view, history_frame(view))})


@st.cache_resource(max_entries=4, show_spinner=False)
def _strip_guesses(fingerprint: str, _model: RowClassifier, _images: torch.Tensor) -> list[int]:
    with torch.no_grad():
        return _model(_images).argmax(1).tolist()


def guess_strip(data: MnistData) -> None:
    """Twenty fixed test digits with the guesses of the model as saved after its latest epoch,
    framed green or red: the class watches the same digits come right as it trains."""
    indices = explore_tables.fixed_examples(data.test_labels, STRIP_PER_DIGIT)
    images, labels = data.test_images[indices], data.test_labels[indices].tolist()
    chosen = ui.chosen_model(explain=False)
    if chosen is None:
        st.image(
            explore_tables.framed_strip(images, None, STRIP_COLUMNS),
            caption="Twenty test digits: their guesses show once a model has trained an epoch.",
        )
        return
    guesses = _strip_guesses(chosen.fingerprint, chosen.model, images)
    right = [guess == label for guess, label in zip(guesses, labels)]
    epoch = chosen.checkpoint.history[-1].epoch if chosen.checkpoint.history else 0
    st.image(
        explore_tables.framed_strip(images, right, STRIP_COLUMNS),
        caption=f"Twenty fixed test digits after epoch {epoch:g}: {sum(right)} read right (green frame), "
        f"{len(right) - sum(right)} wrong (red). Guesses: {' '.join(map(str, guesses))}.",
    )


def prepare_charts(end: float) -> None:
    """Builds and keeps the chart specs a run of `end` epochs is drawn with, while the page is
    idle: a click on Train then redraws the charts without waiting for Altair."""
    training_loss_spec(end, False)
    test_chart_spec("test_accuracy", charts.RIGHT, end)
    test_chart_spec("test_loss", charts.HIGHLIGHT, end)


def epoch_view(runs: JobRegistry) -> None:
    """What changes once an epoch, so redrawn less often: the scores, their charts, the table."""
    view = ui.current_run()
    frame = history_frame(view)
    metrics_row(frame)
    guess_strip(runs.data)
    accuracy_column, test_loss_column = st.columns(2)
    history = frame[list(HISTORY_COLUMNS)]
    charts.show(
        accuracy_column, test_chart_spec("test_accuracy", charts.RIGHT, epoch_end(view)), {HISTORY_DATA: history}
    )
    charts.show(
        test_loss_column, test_chart_spec("test_loss", charts.HIGHLIGHT, epoch_end(view)), {HISTORY_DATA: history}
    )
    st.markdown("**Per epoch** (epoch 0 is the untrained model)")
    epoch_table(frame)


# ----- the page ----------------------------------------------------------------------------


def main() -> None:
    st.title("Train")
    st.caption(
        "The notebook's exercise: change the hidden size, batch size and learning rate, train, and "
        "compare how fast and how well each model learns. Training runs on the server: you can "
        "switch pages, reload or close the tab, and come back through the page link."
    )
    registry = ui.registry()
    if registry is None:
        st.stop()
    problems = settings.read_link_once(settings.TRAIN_PANEL)
    current = ui.current_run()
    configs = settings_sidebar()
    for problem in problems:
        st.warning(f"The page link had a setting that cannot be used: {inert(problem)}", icon=":material/link_off:")
    busy = current is not None and current.busy
    st.fragment(command_bar, run_every=PROGRESS_SECONDS if busy else None)(registry, configs)
    st.markdown(describe_model(current))
    st.html(STATUS_STYLE)
    # Every redraw costs the training thread some time (the GIL), so only what changes within an
    # epoch is redrawn twice a second.
    st.fragment(live_progress, run_every=PROGRESS_SECONDS if busy else None)(registry, busy)
    st.fragment(epoch_view, run_every=EPOCH_VIEW_SECONDS if busy else None)(registry)
    st.page_link(
        "app_pages/runs.py",
        label="Compare your runs with the others, delete one: the Runs page",
        icon=":material/stacked_line_chart:",
    )
    if not busy:
        prepare_charts(configs[1].epochs)
    ui.warm_up_training(registry.data)  # once the page is drawn, so that it does not slow the page


main()
