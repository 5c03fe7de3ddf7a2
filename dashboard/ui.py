"""What every page shares: the data, the server's run registry, the run this tab looks at, the
browser's identity and the sidebar.

The only module besides the pages that imports Streamlit; all logic lives in rnn_core.
A tab holds nothing but the id of the run it looks at (also in the page link as `?run=<id>`)
and the browser's token; runs, their jobs and their files belong to the server's registry.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from dashboard.inert import inert
from rnn_core import (
    Checkpoint,
    CheckpointError,
    MnistData,
    MnistFileError,
    MnistUnavailable,
    RowClassifier,
    RunStore,
    load_mnist,
)
from rnn_core.config import SETTINGS, describe
from rnn_core.executors import make_executor
from rnn_core.history import RunStatus
from rnn_core.inspection import model_fingerprint
from rnn_core.preprocess import mnist_style
from rnn_core.registry import JobRegistry, RunView
from rnn_core.runs import RunNotFound, summary_table
from rnn_core.safe_files import error_words
from rnn_core.server_settings import ServerSettings, SettingsError
from rnn_core.shutdown import close_on_exit
from rnn_core.trainer import warm_up

FIX_HINT = (
    "To fix it: connect to the internet (the app downloads MNIST on first start), or set "
    "`MNIST_DIR` to a folder holding the four MNIST IDX files (`train-images-idx3-ubyte.gz`, ...) "
    "and restart the app."
)
RUN_KEY, RUN_PARAM, PICKER_KEY = "run_id", "run", "sidebar_run"
LINK_SEEN_KEY = "run_link_seen"  # the `?run=` value this tab last read or wrote
RUN_GONE_KEY = "run_gone"  # why the run this tab chose is no longer on show
TOKEN_KEY, OWNER_COOKIE = "browser_token", "rnn_owner"
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
ADMIN_KEY = "admin_password"
DATA_ERRORS = (MnistFileError, MnistUnavailable, OSError)
POLL_SECONDS = 1.0


# ----- the server's settings, data and registry --------------------------------------------

log = logging.getLogger(__name__)


def server_settings() -> ServerSettings:
    """The settings from the environment. A value that cannot be used stops every page with
    the one line that names it (and the server log gets it too)."""
    try:
        return ServerSettings.from_environment()
    except SettingsError as err:
        log.error("the server's settings cannot be used: %s", err)
        st.error(f"**The server cannot start.** {inert(err)}", icon=":material/error:")
        st.stop()
        raise  # st.stop() ends the script run; this line only tells type checkers so


@st.cache_resource(show_spinner="Loading MNIST (only on the first start)...")
def _load_data_from(data_dir: Path, mnist_dir: Path | None) -> MnistData:
    # One copy per server process, shared read-only by every session.
    return load_mnist(data_dir, mnist_dir)


def _load_data(settings: ServerSettings) -> MnistData:
    return _load_data_from(settings.data_dir, settings.mnist_dir)


def get_data() -> MnistData | None:
    """The shared MNIST, or None after showing why it could not be loaded and how to fix it."""
    try:
        return _load_data(server_settings())
    except DATA_ERRORS as err:
        st.error(f"**MNIST could not be loaded.** {inert(err)}\n\n{FIX_HINT}", icon=":material/error:")
        return None


@st.cache_resource(on_release=JobRegistry.close)
def _registry(settings: ServerSettings, _data: MnistData) -> JobRegistry:
    # One per server process (and settings): every tab and every browser sees the same runs.
    executor = make_executor(settings.executor, _data, settings.max_trainings, ray_address=settings.ray_address)
    registry = JobRegistry(
        _data,
        RunStore(settings.runs_dir),
        executor,
        unwatched_minutes=settings.unwatched_minutes,
        admin_password=settings.admin_password,
        limits=settings.limits,
    )
    # Under AppTest there is no served runtime, and the test process must end as it would.
    close_on_exit(registry, end_at_once=st.runtime.exists())
    return registry


def runs_root() -> str:
    return str(server_settings().runs_dir)


def registry() -> JobRegistry | None:
    data = get_data()
    return None if data is None else _registry(server_settings(), data)


@st.cache_resource(show_spinner=False)
def warm_up_training(_data: MnistData) -> threading.Thread:
    """Starts, once per server process, a thread that does what the first training would pay
    for on the click's path (see rnn_core.trainer.warm_up). Only a head start: a real training
    reports its own faults, so the warm-up's are dropped."""

    def warm_up_quietly() -> None:
        with contextlib.suppress(Exception):
            warm_up(_data)

    thread = threading.Thread(target=warm_up_quietly, name="training-warm-up", daemon=True)
    thread.start()
    return thread


# ----- who this browser is ------------------------------------------------------------------


def browser_token() -> str:
    """This browser's secret, kept in a cookie: runs it starts are its own, in every tab."""
    token = st.session_state.get(TOKEN_KEY)
    if token is None:
        cookie = _cookie()
        token = cookie if cookie and TOKEN_PATTERN.fullmatch(cookie) else secrets.token_hex(16)
        st.session_state[TOKEN_KEY] = token
    return token


def _cookie() -> str | None:
    value = st.context.cookies.get(OWNER_COOKIE)
    return value if isinstance(value, str) else None  # AppTest has no browser, so no cookies


def _remember_browser() -> None:
    """Writes the token into a cookie the first time, so a reload or a new tab keeps it."""
    token = browser_token()
    if _cookie() != token:
        st.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def admin_password() -> str | None:
    return st.session_state.get(ADMIN_KEY) or None


def may_change(run_id: str) -> bool:
    runs = registry()
    return runs is not None and runs.may_change(run_id, browser_token(), admin_password())


# ----- which run this tab looks at ----------------------------------------------------------


def choose_run(run_id: str | None) -> None:
    """Look at this run from now on, on every page; None: the one a tab with no link shows."""
    st.session_state[RUN_KEY] = run_id
    st.session_state.pop(RUN_GONE_KEY, None)


def sync_run_link() -> None:
    """Puts the chosen run in the page link. Called once at the end of every full run (never
    from a fragment), and only when it changed, so the browser's history is not flooded."""
    chosen = st.session_state.get(RUN_KEY)
    if st.query_params.get(RUN_PARAM) != chosen:
        if chosen:
            st.query_params[RUN_PARAM] = chosen
        else:
            st.query_params.pop(RUN_PARAM, None)
    st.session_state[LINK_SEEN_KEY] = chosen


def read_run_link() -> None:
    """A new `?run=` in the page link (a shared link, a reload, the Back button) wins over what
    the tab looked at before. The link the tab wrote itself is not new: a click that chose
    another run reaches the server before the browser's address has caught up."""
    linked = st.query_params.get(RUN_PARAM)
    if linked == st.session_state.get(LINK_SEEN_KEY):
        return
    st.session_state[LINK_SEEN_KEY] = linked
    if linked and linked != st.session_state.get(RUN_KEY):
        runs = registry()
        try:
            runs.view(linked)
        except (RunNotFound, ValueError, OSError) as err:
            st.warning(f"The link names a run that cannot be shown: {inert(err)}", icon=":material/link_off:")
            st.query_params.pop(RUN_PARAM, None)
            return
        choose_run(linked)


def current_run() -> RunView | None:
    """The run this tab looks at: the one chosen, else the one the registry shows a tab whose
    link names none (see `JobRegistry.run_to_show`), else None."""
    runs = registry()
    if runs is None:
        return None
    chosen = st.session_state.get(RUN_KEY)
    if chosen:
        try:
            view = runs.view(chosen)
            runs.watch(chosen)
            return view
        except (RunNotFound, ValueError, OSError) as err:
            # deleted, or damaged, since it was chosen: say so (in the side panel) and draw the
            # whole page again, since a fragment may be the first to notice
            st.session_state[RUN_KEY] = None
            st.session_state[RUN_GONE_KEY] = (
                f"Run {chosen} can no longer be shown ({error_words(err)}): its folder was deleted or damaged "
                "since this tab chose it. The tab shows another run instead."
            )
            st.rerun()
    shown = runs.run_to_show(browser_token())
    return runs.view(shown.run_id) if shown else None


@dataclass(frozen=True)
class RunListing:
    """Every run as the pages list it. The parts made from the records alone (labels, the
    summary table) are made once per change of the registry's index, not per script run, so a
    page costs about the same with ten runs or a thousand."""

    views: list[RunView]
    problems: list[str]
    labels: dict[str, str]  # run id -> its picker label
    table: pd.DataFrame  # rnn_core.runs.summary_table of the records, newest first, for people


@st.cache_resource(max_entries=4, show_spinner=False)
def _labels_and_table(root: str, version: int, _views: list[RunView]) -> tuple[dict[str, str], pd.DataFrame]:
    # keyed by the index's version: the records behind the views are those of that version
    table = summary_table([view.record for view in _views])
    for declared in SETTINGS:
        if declared.optional:  # None reads "all"
            table[declared.name] = table[declared.name].map(declared.show)
    return {view.run_id: run_label(view) for view in _views}, table


def run_listing() -> RunListing:
    runs = registry()
    views, problems = runs.runs()
    labels, table = _labels_and_table(runs_root(), runs.index.version, views)
    return RunListing(views, problems, labels, table)


def run_label(view: RunView) -> str:
    """One line naming a run in pickers: id, label and model, nothing that changes while it
    trains. Streamlit keeps a picker's choice by the text of its option, so a label that
    changed with the run's state would silently drop the choice."""
    parts = [view.run_id, view.record.label, describe(view.record.model_config)]
    return " · ".join(part for part in parts if part)


@dataclass(frozen=True)
class ChosenModel:
    run_id: str
    name: str  # for people, as plain text: `inert(name)` in Markdown
    checkpoint: Checkpoint
    model: RowClassifier  # shared read-only by every tab: eval mode, no gradients
    fingerprint: str
    description: str  # the model and how far it is trained


@st.cache_resource(max_entries=16, show_spinner=False)
def _saved_checkpoint(_runs: JobRegistry, run_id: str, epochs: float) -> Checkpoint:
    # `epochs` is part of the key: a run trained further is read again.
    return _runs.checkpoint(run_id)


@st.cache_resource(max_entries=8, show_spinner=False)
def _built_model(fingerprint: str, _checkpoint: Checkpoint) -> RowClassifier:
    return _checkpoint.build_model().eval()


def chosen_model(explain: bool = True) -> ChosenModel | None:
    """The current run's model as saved after its latest epoch, or None (after saying why,
    if `explain`). A training run is read from its last saved epoch, not from weights that
    change every batch."""
    view = current_run()
    if view is None:
        if explain:
            st.info("There is no model yet: train one on the Train page, or upload one here.", icon=":material/info:")
            st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
        return None
    if not view.has_model or (view.busy and view.history[-1].epoch == 0):
        if explain:
            st.info(f"Run {view.run_id} has no trained epoch yet: its model can be used once its first epoch is done.")
        return None
    try:
        checkpoint = _saved_checkpoint(registry(), view.run_id, float(view.history[-1].epoch))
    except CheckpointError as err:
        st.error(f"This run's model cannot be used: {inert(err)}", icon=":material/error:")
        return None
    if view.busy and explain:
        st.caption(f"Run {view.run_id} is training: this is its model as saved after epoch {view.history[-1].epoch:g}.")
    fingerprint = model_fingerprint(checkpoint)
    name = f"run {view.run_id}" + (f" ({view.record.label})" if view.record.label else "")
    last = checkpoint.history[-1] if checkpoint.history else None
    trained = f", after {last.epoch:g} epochs ({last.test_accuracy:.1f}% on the test set)" if last else ""
    model = _built_model(fingerprint, checkpoint)
    return ChosenModel(view.run_id, name, checkpoint, model, fingerprint, describe(view.record.model_config) + trained)


# ----- drawing a digit ----------------------------------------------------------------------

CANVAS_PX = 280
# Drawn at 25-85% of the 280 px canvas, a digit gets a pen of 20-6% of its height: the range the
# preprocessing is measured on (README, "Drawn digits and the pen's width").
BRUSH_PX = 14


def _next_canvas(round_key: str) -> None:
    st.session_state[round_key] += 1


def drawn_digit(key: str) -> torch.Tensor | None:
    """A canvas to draw one digit on, and a Clear button; the drawing as an MNIST-style
    28x28 image, or None while the canvas is empty."""
    # imported here: the component refuses to be imported outside a running app (pytest)
    from streamlit_drawable_canvas import st_canvas

    round_key = f"{key}_round"
    st.session_state.setdefault(round_key, 0)
    st.caption("Draw one digit, any size, anywhere in the square.")
    st.space("small")  # room for the canvas's toolbar, which floats above it
    drawing = st_canvas(
        stroke_width=BRUSH_PX,
        stroke_color="#ffffff",
        background_color="#000000",
        width=CANVAS_PX,
        height=CANVAS_PX,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=f"{key}_{st.session_state[round_key]}",
    )
    # a new key gives a fresh, empty canvas; the click reruns the fragment it is in, or the page
    st.button("Clear", icon=":material/ink_eraser:", key=f"{key}_clear", on_click=_next_canvas, args=(round_key,))
    return mnist_style(drawing.image_data) if drawing.image_data is not None else None


# ----- the sidebar --------------------------------------------------------------------------


NEWEST = "newest"  # the picker's choice for "no run chosen": a string, as None means "nothing picked"


def _pick_run() -> None:
    picked = st.session_state[PICKER_KEY]
    choose_run(None if picked == NEWEST else picked)


def _run_picker(labels: dict[str, str]) -> None:
    chosen = st.session_state.get(RUN_KEY)
    st.session_state[PICKER_KEY] = chosen if chosen in labels else NEWEST
    st.selectbox(
        "Run",
        [NEWEST, *labels],
        key=PICKER_KEY,
        on_change=_pick_run,
        format_func=lambda run_id: "Newest finished run" if run_id == NEWEST else labels[run_id],
        help="The run every page shows: Explore's running guess, Train's charts, Test's model. "
        "It is also in the page link, so a reload or a shared link shows the same run.",
    )


def _run_status(view: RunView | None, explicit: bool) -> None:
    """The run on show, as one block: a run drawn after another replaces all of it at once,
    so no line of the one before (its "finished", say) stays on while the page reruns."""
    if gone := st.session_state.get(RUN_GONE_KEY):
        st.warning(inert(gone), icon=":material/folder_off:")
    if view is None:
        st.caption("No model yet: train one on the Train page.")
        return
    lines = [f"**Model:** {describe(view.record.model_config)}"]
    if not explicit and (runs := registry()) and (shown := runs.run_to_show(browser_token())):
        lines.append(f"*No run chosen: showing {shown.why}.*")
    if view.history:
        last = view.history[-1]
        lines.append(f"Epochs trained: **{last.epoch:g}** · test accuracy **{last.test_accuracy:.1f}%**")
    live = view.live
    if live and live.status == RunStatus.WAITING:
        lines.append(f":blue[**Waiting**] ({ordinal(live.queue_position)} in line)")
    elif live and live.busy:
        progress = live.progress
        where = f" (epoch {progress.epoch_index}, batch {progress.batch}/{progress.batches})" if progress else ""
        lines.append(f":blue[**{'Stopping' if live.stopping else 'Training'}**]{where}")
    else:
        lines.append(f":gray[Status: {view.status.value}. {inert(view.reason)}]")
    st.markdown("  \n".join(lines))


def ordinal(number: int | None) -> str:
    number = number or 1
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _live_run_status() -> None:
    view = current_run()
    _run_status(view, bool(st.session_state.get(RUN_KEY)))


def render_sidebar() -> None:
    """The block every page shows: where the data came from and the run this tab looks at."""
    with st.sidebar:
        try:
            data = _load_data(server_settings())
        except DATA_ERRORS:  # the page itself shows the whole explanation
            st.error("No data: see the message on the page.")
            return
        if data.is_sample:
            st.warning(
                f"Data: {data.description}. Accuracy figures are not comparable to full MNIST.",
                icon=":material/warning:",
            )
        else:
            st.caption(f"Data: MNIST, {len(data.train_labels):,} train / {len(data.test_labels):,} test")
        _remember_browser()
        read_run_link()
        labels = run_listing().labels
        if labels:
            _run_picker(labels)
        view = current_run()
        st.fragment(run_every=POLL_SECONDS if view and view.busy else None)(_live_run_status)()
        st.divider()
