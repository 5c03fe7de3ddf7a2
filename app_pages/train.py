"""Train: hyperparameters in the sidebar, training in the tab's worker, live charts, saved runs.

The page never touches a model: it sends commands to this tab's TrainingSession and draws
what `snapshot()` returns. While a training is under way two fragments poll the snapshot: the
progress and the batch losses twice a second, the per-epoch scores once a second.
When the training ends the whole page reruns, so that the buttons and the list of runs catch up.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from rnn_core import compare, train_settings
from rnn_core.config import CELL_TYPES, MODEL_LIMITS, OPTIMIZERS, TRAIN_LIMITS
from rnn_core.runs import RUNNING as RUN_IN_PROGRESS
from rnn_core.runs import summarize
from rnn_core.session import FAILED, WAITING, Snapshot, TrainingSession
from rnn_core.train_settings import CUSTOM, PRESET_CHOICES, matching_preset, preset_values
from rnn_core.trainer import DIVERGED, FINISHED, STOPPED
from shared_ui import run_store, training_session

PROGRESS_SECONDS, EPOCH_VIEW_SECONDS = 0.5, 1.0
LOSS_DATA, HISTORY_DATA = "training_loss", "history"
METRIC_HEIGHT, TABLE_HEIGHT = 128, 248  # fixed, so that the page does not move as epochs come in
CHART_HEIGHT = 300
LINK_READ, LINK_PROBLEMS = "train_link_read", "train_link_problems"
ACTION_ERROR, CONFIRM_DELETE = "train_action_error", "train_confirm_delete"
FIELDS = [control.field for control in train_settings.CONTROLS]
RUN_COLUMNS = [  # the saved runs' table, in this order
    "created", "status", "hidden_size", "batch_size", "learning_rate", "optimizer", "cell_type", "num_layers",
    "train_limit", "epochs", "final_accuracy", "best_accuracy", "seconds_per_epoch", "images_per_second", "seed", "run_id",
]  # fmt: skip
# The test-set charts and the table share these names for the history's columns.
HISTORY_COLUMNS = {
    "epoch": "Epoch",
    "train_loss": "Train loss",
    "test_loss": "Test loss",
    "test_accuracy": "Test accuracy (%)",
    "train_seconds": "Seconds",
    "images_per_second": "Images/s",
}


def widget_key(field: str) -> str:
    return f"train_{field}"


def current_values() -> dict:
    return {field: st.session_state[widget_key(field)] for field in FIELDS}


# ----- settings: sidebar, presets, page link -----------------------------------------------


def read_link_once() -> None:
    """The controls start from the page link the first time this tab opens the page; after
    that they keep their own values, also across page switches."""
    if st.session_state.get(LINK_READ):
        return
    values, problems = train_settings.from_query(st.query_params.to_dict())
    for field, value in values.items():
        st.session_state[widget_key(field)] = value
    st.session_state[widget_key("preset")] = matching_preset(values)
    st.session_state[LINK_PROBLEMS] = problems
    st.session_state[LINK_READ] = True


def apply_preset() -> None:
    name = st.session_state[widget_key("preset")]
    if name != CUSTOM:
        for field, value in preset_values(name).items():
            st.session_state[widget_key(field)] = value


def name_preset() -> None:
    st.session_state[widget_key("preset")] = matching_preset(current_values())


def images_label(count: int | None, train_size: int) -> str:
    return f"all {train_size:,}" if pd.isna(count) or count >= train_size else f"{int(count):,}"


def settings_sidebar(train_size: int) -> None:
    keep = {"persist_state": "session", "on_change": name_preset}
    with st.sidebar:
        st.subheader("Training settings")
        st.selectbox(
            "Preset", PRESET_CHOICES, key=widget_key("preset"), on_change=apply_preset, persist_state="session",
            help="notebook: the teaching notebook's model. strong: two LSTM layers of 128 with Adam. "
            "Picking one fills the controls below; changing a control makes it custom.",
        )  # fmt: skip
        st.select_slider("Hidden size", train_settings.HIDDEN_SIZES, key=widget_key("hidden_size"), **keep)
        low, high = MODEL_LIMITS["num_layers"]
        st.radio("Layers", range(low, high + 1), key=widget_key("num_layers"), horizontal=True, **keep)
        st.radio("Cell type", CELL_TYPES, key=widget_key("cell_type"), horizontal=True, **keep)
        st.select_slider("Batch size", train_settings.BATCH_SIZES, key=widget_key("batch_size"), **keep)
        st.select_slider(
            "Learning rate", train_settings.LEARNING_RATES, key=widget_key("learning_rate"),
            format_func=train_settings.format_value, **keep,
            help="Log scale. The notebook uses 0.1 with SGD, Adam wants about 0.001. "
            "To watch a run diverge, try 100 with the notebook model.",
        )  # fmt: skip
        st.radio("Optimizer", OPTIMIZERS, key=widget_key("optimizer"), horizontal=True, **keep)
        st.number_input("Epochs", *TRAIN_LIMITS["epochs"], step=1, key=widget_key("epochs"), **keep)
        st.select_slider(
            "Training images", train_settings.TRAIN_IMAGES, key=widget_key("train_limit"), **keep,
            format_func=lambda count: images_label(count, train_size),
            help="Fewer images make each epoch quicker and the model weaker.",
        )  # fmt: skip
        with st.expander("Seed and device"):
            st.number_input("Seed", *TRAIN_LIMITS["seed"], step=1, key=widget_key("seed"), **keep)
            st.selectbox("Device", train_settings.available_devices(), key=widget_key("device"), **keep)
        st.caption("Moving a control never retrains: **Train** does, with these settings.")
    link = train_settings.to_query(current_values())
    if st.query_params.to_dict() != link:
        st.query_params.from_dict(link)


# ----- commands ----------------------------------------------------------------------------


def run_command(command, *args) -> None:
    """Button callback: any refusal becomes a message on the page instead of a traceback."""
    try:
        command(*args)
    except (ValueError, RuntimeError, OSError) as err:
        st.session_state[ACTION_ERROR] = str(err)


def start_training(session: TrainingSession) -> None:
    values = current_values()
    model_config, train_config = train_settings.configs(values)
    session.start(model_config, train_config, label=matching_preset(values))


def continue_training(session: TrainingSession) -> None:
    session.continue_training(int(st.session_state["train_more_epochs"]))


def adopt_run(session: TrainingSession, run_id: str) -> None:
    session.adopt(run_store().checkpoint(run_id), run_id)


def delete_run(run_id: str) -> None:
    st.session_state.pop(CONFIRM_DELETE, None)
    run_store().delete(run_id)


def command_bar(session: TrainingSession, snapshot: Snapshot) -> None:
    busy, has_model = snapshot.busy, snapshot.has_model
    train, stop, more, go_on, reset = st.columns([1.1, 1, 1.1, 1.1, 1], vertical_alignment="bottom")
    train.button(
        "Train", type="primary", icon=":material/play_arrow:", disabled=busy, width="stretch",
        on_click=run_command, args=(start_training, session), help="Train a new model from the sidebar settings.",
    )  # fmt: skip
    stop.button("Stop", icon=":material/stop:", disabled=not busy, width="stretch", on_click=session.stop)
    more.number_input("More epochs", 1, 50, 1, key="train_more_epochs", persist_state="session")
    go_on.button(
        "Continue", icon=":material/fast_forward:", disabled=busy or not has_model, width="stretch",
        on_click=run_command, args=(continue_training, session),
        help="Train the current model that many more epochs, with its own settings and optimizer state.",
    )  # fmt: skip
    reset.button(
        "Reset", icon=":material/restart_alt:", disabled=busy or not has_model, width="stretch",
        on_click=run_command, args=(session.reset,), help="Forget the current model (its run stays saved).",
    )  # fmt: skip


def describe_model(snapshot: Snapshot) -> str:
    model, train = snapshot.model_config, snapshot.train_config
    images = "all images" if train.train_limit is None else f"{train.train_limit:,} images"
    layers = f"{model.num_layers} layers" if model.num_layers > 1 else "1 layer"
    text = (
        f"**Current model:** {model.cell_type}, hidden {model.hidden_size}, {layers} · "
        f"{train.optimizer} lr {train.learning_rate:g}, batch {train.batch_size}, {images}, seed {train.seed}"
    )
    return text + (f" · run `{snapshot.run_id}`" if snapshot.run_id else "")


# ----- live view ---------------------------------------------------------------------------


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def history_frame(snapshot: Snapshot) -> pd.DataFrame:
    frame = pd.DataFrame(snapshot.history, columns=[*HISTORY_COLUMNS, "partial"])
    return frame.astype({"train_loss": float, "images_per_second": float})


def progress_bar(session: TrainingSession, snapshot: Snapshot) -> None:
    if snapshot.status == WAITING:
        st.progress(
            0.0, text=f"Waiting for a free training slot: this server trains {session.slots.limit} "
            "models at once, and this one starts as soon as another ends.",
        )  # fmt: skip
        return
    progress = snapshot.progress
    if progress is None:
        st.progress(0.0, text="Scoring the untrained model on the test set...")
        return
    span = snapshot.epochs_target - snapshot.epochs_start
    done = min(1.0, max(0.0, (progress.epoch - snapshot.epochs_start) / span)) if span else 0.0
    parts = [
        f"Epoch {int(snapshot.epochs_start) + progress.epoch_index} of {snapshot.epochs_target:g}",
        f"batch {progress.batch:,} / {progress.batches:,}",
    ]
    if snapshot.images_per_second:
        parts.append(f"{snapshot.images_per_second:,.0f} images/s")
    if snapshot.seconds_left is not None:
        parts.append(f"about {duration(snapshot.seconds_left)} left")
    st.progress(done, text=" · ".join(parts))


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def status_message(snapshot: Snapshot) -> None:
    if snapshot.status == DIVERGED:
        st.error(f"**The training diverged.** {sentence(snapshot.reason)}", icon=":material/trending_up:")
    elif snapshot.status == FAILED:
        st.error(snapshot.reason, icon=":material/error:")
    elif snapshot.status == FINISHED:
        st.success(f"Finished: {snapshot.reason}.", icon=":material/check_circle:")
    elif snapshot.status == STOPPED:
        how = snapshot.reason.removeprefix("stopped ")
        st.info(f"Stopped: {how}. **Continue** picks up from here.", icon=":material/pause_circle:")
    elif snapshot.has_model:
        st.info("A saved model is loaded. **Continue** trains it further; the Test page uses it.", icon=":material/save:")
    else:
        st.info(
            "Choose the settings in the sidebar, then press **Train**. Nothing trains until you do.",
            icon=":material/tune:",
        )


def metrics_row(frame: pd.DataFrame) -> None:
    """The latest scores, in boxes of one height whether or not they have a change to show,
    so that nothing below moves when the first epoch comes in."""
    last = frame.iloc[-1] if len(frame) else None
    previous = frame.iloc[-2] if len(frame) > 1 else None
    trained = frame[frame["train_loss"].notna()]

    def change(column: str, digits: int, unit: str = "") -> str | None:
        return None if previous is None else f"{last[column] - previous[column]:+.{digits}f}{unit}"

    accuracy, loss, epochs, speed = st.columns(4)
    box = {"border": True, "height": METRIC_HEIGHT}
    accuracy.metric("Test accuracy", "–" if last is None else f"{last.test_accuracy:.2f}%", change("test_accuracy", 2, " pts"), **box)
    loss.metric("Test loss", "–" if last is None else f"{last.test_loss:.4f}", change("test_loss", 4), delta_color="inverse", **box)
    epochs.metric("Epochs trained", "–" if last is None else f"{last.epoch:g}", **box)
    speed.metric("Seconds per epoch", f"{trained.train_seconds.mean():.2f}" if len(trained) else "–", **box)


def epoch_end(snapshot: Snapshot) -> float:
    last = snapshot.history[-1]["epoch"] if snapshot.history else 0
    return max(1, snapshot.epochs_target, last)


def epoch_axis(end: float) -> alt.X:
    # A fixed span from 0 to the target epoch, so the charts fill in without rescaling.
    return alt.X("epoch:Q", title="Epoch", scale=alt.Scale(domain=[0, end], nice=False, padding=6), axis=alt.Axis(tickMinStep=1))


def point_size(end: float) -> int:
    # big enough to hover over a few epochs, small enough not to merge into a band over many
    return 50 if end <= 30 else 12


def loss_points(snapshot: Snapshot, frame: pd.DataFrame) -> pd.DataFrame:
    batches = pd.DataFrame(snapshot.batch_losses, columns=["epoch", "loss"]).assign(series="batch")
    epochs = frame.loc[frame["train_loss"].notna(), ["epoch", "train_loss"]]
    epochs = epochs.rename(columns={"train_loss": "loss"}).assign(series="epoch mean")
    return pd.concat([batches, epochs], ignore_index=True)


@st.cache_data(show_spinner=False)
def training_loss_spec(end: float) -> str:
    """The training-loss chart without its data, as Vega-Lite JSON. Altair builds it once per
    epoch span; a redraw then only sends the data, which keeps the polls short (an Altair
    build takes tens of milliseconds, during which the training thread waits for the GIL)."""
    x = epoch_axis(end)
    # told apart by the subtitle rather than a legend, which would squeeze the plot
    colour = alt.Color("series:N", legend=None, scale=alt.Scale(domain=["batch", "epoch mean"], range=["#9ecae9", "#1f6feb"]))
    tooltip = [alt.Tooltip("series:N", title="Loss of"), alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("loss:Q", format=".4f")]
    y = alt.Y("loss:Q", title="Loss", scale=alt.Scale(zero=True), axis=alt.Axis(format="~r"))
    batches, epochs = (alt.Chart().transform_filter(alt.datum.series == name) for name in ("batch", "epoch mean"))
    batch_line = batches.mark_line(strokeWidth=1.5).encode(x, y, colour)
    # invisible points over the batch line, so every point of it has a tooltip
    batch_points = batches.mark_circle(size=60, opacity=0).encode(x, y, tooltip=tooltip)
    epoch_points = epochs.mark_line(point=alt.OverlayMarkDef(size=point_size(end))).encode(x, y, colour, tooltip=tooltip)
    title = alt.Title("Training loss", subtitle="light: each batch · dark: mean over the epoch")
    chart = alt.layer(batch_line, batch_points, epoch_points, data=alt.NamedData(LOSS_DATA))
    return vega_lite_json(chart.properties(height=CHART_HEIGHT - 60, title=title))


@st.cache_data(show_spinner=False)
def test_chart_spec(column: str, colour: str, end: float) -> str:
    """A per-epoch test-set chart without its data, as Vega-Lite JSON (see training_loss_spec)."""
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
        .properties(height=CHART_HEIGHT, title=alt.Title(title.replace(" (%)", ""), subtitle="on the 10,000 test images"))
    )
    return vega_lite_json(chart)


def vega_lite_json(chart: alt.TopLevelMixin) -> str:
    spec = chart.to_dict()
    del spec["config"]  # Altair's default sizes; Streamlit sizes its charts itself
    return json.dumps(spec)


def draw(spec_json: str, data: pd.DataFrame) -> None:
    """A chart from a spec built once, with this poll's data in the data set it names."""
    spec = json.loads(spec_json)
    st.vega_lite_chart(spec={**spec, "datasets": {spec["data"]["name"]: data}})


def epoch_table(frame: pd.DataFrame) -> None:
    table = frame[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS)
    st.dataframe(
        table, hide_index=True, height=TABLE_HEIGHT,
        column_config={
            "Train loss": st.column_config.NumberColumn(format="%.4f"),
            "Test loss": st.column_config.NumberColumn(format="%.4f"),
            "Test accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
            "Seconds": st.column_config.NumberColumn(format="%.1f"),
            "Images/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )  # fmt: skip
    st.download_button(
        "Download CSV", data=lambda: table.to_csv(index=False), file_name="epochs.csv", mime="text/csv",
        icon=":material/download:", on_click="ignore", disabled=table.empty,
    )  # fmt: skip


def live_progress(session: TrainingSession, polling: bool) -> None:
    """Redrawn about twice a second while a model trains: the progress and every batch's loss."""
    snapshot = session.snapshot()
    if polling and not snapshot.busy:
        st.rerun()  # the training ended: buttons, sidebar and run list catch up
    if snapshot.busy:
        progress_bar(session, snapshot)
    else:
        status_message(snapshot)
    draw(training_loss_spec(epoch_end(snapshot)), loss_points(snapshot, history_frame(snapshot)))


def epoch_view(session: TrainingSession) -> None:
    """What changes once an epoch, so redrawn less often: the scores, their charts, the table."""
    snapshot = session.snapshot()
    frame = history_frame(snapshot)
    metrics_row(frame)
    accuracy_column, test_loss_column = st.columns(2)
    history = frame[list(HISTORY_COLUMNS)]
    with accuracy_column:
        draw(test_chart_spec("test_accuracy", "#2a9d4b", epoch_end(snapshot)), history)
    with test_loss_column:
        draw(test_chart_spec("test_loss", "#d9480f", epoch_end(snapshot)), history)
    st.markdown("**Per epoch** (epoch 0 is the untrained model)")
    epoch_table(frame)


# ----- compare runs ------------------------------------------------------------------------


def overlay_chart(history: pd.DataFrame) -> alt.VConcatChart:
    """Test accuracy of the runs against epochs and against training time, one colour per
    run; stacked so that they share one legend."""
    tooltip = [
        alt.Tooltip("run:N", title="Run"),
        alt.Tooltip("epoch:Q", title="Epoch"),
        alt.Tooltip("seconds:Q", title="Training seconds", format=".1f"),
        alt.Tooltip("test_accuracy:Q", title="Test accuracy (%)", format=".2f"),
    ]
    base = alt.Chart(history).mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        y=alt.Y("test_accuracy:Q", title="Test accuracy (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color(
            "run:N", title="Settings that differ", scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(orient="bottom", columns=1, labelLimit=0),
        ),
        tooltip=tooltip,
    )
    by_epoch = base.encode(x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1)))
    by_time = base.encode(x=alt.X("seconds:Q", title="Training seconds"))
    return alt.vconcat(
        by_epoch.properties(height=CHART_HEIGHT - 80, title="Test accuracy by epoch"),
        by_time.properties(height=CHART_HEIGHT - 80, title="Test accuracy by training time"),
    )


def run_actions(session: TrainingSession, snapshot: Snapshot, table: pd.DataFrame, labels: dict) -> None:
    choose, use, delete = st.columns([3, 1, 1], vertical_alignment="bottom")
    run_id = choose.selectbox("Run", table["run_id"], format_func=lambda rid: f"{rid} · {labels[rid]}", key="train_action_run")
    status = table.set_index("run_id").loc[run_id, "status"]
    in_progress = status == RUN_IN_PROGRESS
    use.button(
        "Make current model", icon=":material/input:", width="stretch", disabled=snapshot.busy or in_progress,
        on_click=run_command, args=(adopt_run, session, run_id),
        help="Load this run's model as the current one: the Test page uses it and Continue trains it further.",
    )  # fmt: skip
    if delete.button("Delete run", icon=":material/delete:", width="stretch", disabled=in_progress):
        st.session_state[CONFIRM_DELETE] = run_id
    if in_progress:
        st.caption("This run is training right now (here or in another tab): stop it before using or deleting it.")
    pending = st.session_state.get(CONFIRM_DELETE)
    if pending and pending in set(table["run_id"]):
        if pending == snapshot.run_id:
            st.warning("This run holds the current model: press **Reset** first, then delete it.")
            return
        ask, yes, no = st.columns([4, 1, 1], vertical_alignment="center")
        ask.warning(f"Delete run `{pending}`? Its model and history are removed from disk.")
        yes.button("Yes, delete", type="primary", on_click=run_command, args=(delete_run, pending))
        no.button("Cancel", on_click=st.session_state.pop, args=(CONFIRM_DELETE, None))


def compare_runs(session: TrainingSession, snapshot: Snapshot) -> None:
    st.header("Compare runs", divider="gray")
    runs, problems = run_store().scan()
    for problem in problems:
        st.warning(f"A run folder was skipped: {problem}", icon=":material/folder_off:")
    if not runs:
        st.caption("Every training is saved here as a run. None yet.")
        return
    table = pd.DataFrame([summarize(info, history) for info, history in runs])
    table["train_limit"] = [images_label(count, len(session.data.train_labels)) for count in table["train_limit"]]
    labels = dict(zip(table["run_id"], compare.run_labels([info for info, _ in runs])))
    st.caption("Select rows to compare them; without a selection the five newest runs are drawn.")
    selection = st.dataframe(
        table, hide_index=True, on_select="rerun", selection_mode="multi-row", column_order=RUN_COLUMNS,
        key="train_runs_table", height=min(35 * (len(table) + 1) + 3, 320),
        column_config={
            "run_id": "Run", "cell_type": "Cell", "hidden_size": "Hidden", "num_layers": "Layers",
            "optimizer": "Optimizer", "batch_size": "Batch", "train_limit": "Images", "seed": "Seed",
            "epochs": "Epochs", "status": "Status",
            "learning_rate": st.column_config.NumberColumn("Learning rate", format="%g"),
            "final_accuracy": st.column_config.NumberColumn("Final acc. (%)", format="%.2f"),
            "best_accuracy": st.column_config.NumberColumn("Best acc. (%)", format="%.2f"),
            "seconds_per_epoch": st.column_config.NumberColumn("s / epoch", format="%.1f"),
            "images_per_second": st.column_config.NumberColumn("Images/s", format="%.0f"),
            "created": st.column_config.DatetimeColumn("Started", format="MMM D, HH:mm:ss"),
        },
    )  # fmt: skip
    rows = selection.selection.rows or list(range(min(5, len(runs))))
    chosen = [runs[row] for row in rows]
    history = compare.overlay_history(chosen)
    st.altair_chart(overlay_chart(history))
    run_actions(session, snapshot, table, labels)


# ----- the page ----------------------------------------------------------------------------

st.title("Train")
st.caption(
    "The notebook's exercise: change the hidden size, batch size and learning rate, train, and "
    "compare how fast and how well each model learns. Training runs in the background: you can "
    "switch pages and come back."
)
session = training_session()
if session is None:
    st.stop()
read_link_once()
snapshot = session.snapshot()
settings_sidebar(len(session.data.train_labels))
for problem in st.session_state.pop(LINK_PROBLEMS, []):
    st.warning(f"The page link had a setting that cannot be used: {problem}", icon=":material/link_off:")
if error := st.session_state.pop(ACTION_ERROR, None):
    st.error(error, icon=":material/error:")
command_bar(session, snapshot)
if snapshot.has_model:
    st.markdown(describe_model(snapshot))
# Every redraw costs the training thread some time (the GIL), so only what changes within an
# epoch is redrawn twice a second.
st.fragment(live_progress, run_every=PROGRESS_SECONDS if snapshot.busy else None)(session, snapshot.busy)
st.fragment(epoch_view, run_every=EPOCH_VIEW_SECONDS if snapshot.busy else None)(session)
compare_runs(session, snapshot)
