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

import pandas as pd
import streamlit as st
import torch

from dashboard import charts, commands, cost_note, explore_tables, settings, train_charts, train_words, ui
from dashboard.inert import inert
from dashboard.ui import browser_token
from rnn_core import MnistData, RowClassifier
from rnn_core.config import describe
from rnn_core.history import RunStatus
from rnn_core.jobs import JobSnapshot
from rnn_core.registry import JobRegistry, RunView

PROGRESS_SECONDS, EPOCH_VIEW_SECONDS = 0.5, 1.0
METRIC_HEIGHT, TABLE_HEIGHT = 128, 248  # fixed, so that the page does not move as epochs come in
# The status slot above the loss chart holds the progress bar while a run trains and a message
# when idle: at least as tall as a four-line message on a wide screen (the longest, a run that
# learned next to nothing), so that swapping one for the other moves nothing below.
STATUS_KEY, STATUS_MIN_HEIGHT = "train_status", "8rem"
STATUS_STYLE = (
    f"<style>@media (min-width: 640px) {{ .st-key-{STATUS_KEY} {{ min-height: {STATUS_MIN_HEIGHT}; }} }}</style>"
)
STRIP_PER_DIGIT, STRIP_COLUMNS = 2, 20
ACTION_ERROR = "train_action_error"


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


def command_bar(runs: JobRegistry, configs: tuple) -> None:
    """Train, Stop, Continue. Drawn in a fragment of its own, polled while a run trains, so that
    a click on Stop reruns only this bar and *Stopping...* shows at once; Train and Continue
    change the run on show, so they rerun the whole page."""
    view = ui.current_run()
    busy = view is not None and view.busy
    stopping = busy and view.live is not None and view.live.stopping
    mine = view is not None and ui.may_change(view.run_id)
    train, stop, more, go_on = st.columns([1.1, 1, 1.1, 1.1], vertical_alignment="bottom")
    # While this browser's run trains, Train says that it starts a second run: its label (and
    # so its identity) changes, so a click meant for Train that arrives after the first one
    # started the run starts nothing.
    alongside = busy and mine
    at_limit = alongside and len(runs.runs_going(browser_token())) >= runs.limits.runs_per_browser
    if train.button(
        train_words.ALONGSIDE if alongside else "Train",
        type="primary",
        icon=":material/add:" if alongside else ":material/play_arrow:",
        width="stretch",
        disabled=at_limit,
        help=train_words.train_help(alongside, at_limit, runs.limits.runs_per_browser),
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
    forks = view is not None and not runs.continues_in_place(view, browser_token())
    if go_on.button(
        "Continue",
        icon=":material/fast_forward:",
        disabled=busy or view is None or not view.has_model,
        width="stretch",
        help="Train this model further, with its own settings and optimizer state. "
        + (train_words.continue_plan(view) + " " if view is not None else "")
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
    parent = view.record.parent
    # a fork's own label ("continues <run>") would say again what the parent's line says
    if view.record.label and not (parent and view.record.label == f"continues {parent['run_id']}"):
        text += f" ({inert(view.record.label)})"
    if parent:
        # a run id: RunStore.read refuses a parent whose id is not one, so the code span is safe
        text += f" · continues run `{parent['run_id']}` from epoch {parent['epoch']:g}"
    return text


# ----- live view ---------------------------------------------------------------------------


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
        parts.append(f"about {train_words.duration(snapshot.seconds_left)} left")
    st.progress(done, text=" · ".join(parts))


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
        st.error(f"**The training diverged.** {train_words.sentence(reason)}", icon=":material/trending_up:")
    elif view.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        st.error(
            f"**The training {view.status.value}:** {reason}. **Continue** goes on from the last saved epoch.",
            icon=":material/error:",
        )
    elif view.status == RunStatus.FINISHED and train_words.learned_little(view):
        st.warning(f"Finished: {reason}, {train_words.near_chance_advice(view)}", icon=":material/lightbulb:")
    elif view.status == RunStatus.FINISHED:
        st.success(f"Finished: {reason}.", icon=":material/check_circle:")
    elif view.status == RunStatus.STOPPED:
        st.info(
            f"Stopped: {reason.removeprefix('stopped ')}. {train_words.continue_plan(view)}",
            icon=":material/pause_circle:",
        )
    else:
        st.info(
            "An uploaded model. **Continue** trains it further as a new run; the Test page uses it.",
            icon=":material/save:",
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


def epoch_table(frame: pd.DataFrame) -> None:
    table = frame[list(train_charts.HISTORY_COLUMNS)].rename(columns=train_charts.HISTORY_COLUMNS)
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
    loss_spec = train_charts.training_loss_spec(train_charts.loss_chart_end(view), train_charts.shows_blow_up(view))
    charts.show(
        st, loss_spec, {train_charts.LOSS_DATA: train_charts.loss_points(view, train_charts.history_frame(view))}
    )


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
            caption=train_words.STRIP_UNTRAINED,
            alt=f"Twenty handwritten test digits, two of each: {' '.join(map(str, labels))}.",
        )
        return
    guesses = _strip_guesses(chosen.fingerprint, chosen.model, images)
    right = [guess == label for guess, label in zip(guesses, labels)]
    epoch = chosen.checkpoint.history[-1].epoch if chosen.checkpoint.history else 0
    st.image(
        explore_tables.framed_strip(images, right, STRIP_COLUMNS),
        caption=f"Twenty fixed test digits after epoch {epoch:g}: {sum(right)} read right (green frame), "
        f"{len(right) - sum(right)} wrong (red). Guesses: {' '.join(map(str, guesses))}.",
        alt=f"Twenty handwritten test digits, two of each: {' '.join(map(str, labels))}, framed green where the "
        f"model read them right and red where it did not.",
    )


def prepare_charts(end: float) -> None:
    """Builds and keeps the chart specs a run of `end` epochs is drawn with, while the page is
    idle: a click on Train then redraws the charts without waiting for Altair."""
    train_charts.training_loss_spec(end, False)
    train_charts.test_chart_spec("test_accuracy", charts.RIGHT, end)
    train_charts.test_chart_spec("test_loss", charts.HIGHLIGHT, end)


def epoch_view(runs: JobRegistry) -> None:
    """What changes once an epoch, so redrawn less often: the scores, their charts, the table."""
    view = ui.current_run()
    frame = train_charts.history_frame(view)
    metrics_row(frame)
    guess_strip(runs.data)
    accuracy_column, test_loss_column = st.columns(2)
    history = frame[list(train_charts.HISTORY_COLUMNS)]
    charts.show(
        accuracy_column,
        train_charts.test_chart_spec("test_accuracy", charts.RIGHT, train_charts.epoch_end(view)),
        {train_charts.HISTORY_DATA: history},
    )
    charts.show(
        test_loss_column,
        train_charts.test_chart_spec("test_loss", charts.HIGHLIGHT, train_charts.epoch_end(view)),
        {train_charts.HISTORY_DATA: history},
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
    problems = settings.read_link_once(settings.TRAIN_PANEL)
    current = ui.current_run()
    configs = settings_sidebar()
    for problem in problems:
        st.warning(f"The page link had a setting that cannot be used: {inert(problem)}", icon=":material/link_off:")
    busy = current is not None and current.busy
    if not busy:  # timed before a run starts, not while one trains beside the timing
        cost_note.show(registry.data, *configs, settings.TRAIN_PANEL)
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
