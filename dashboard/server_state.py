"""The server's shared state, made once per server: its settings (the environment, read and
checked once), the MNIST data and the run registry, and a warm-up of the training code."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import streamlit as st

from dashboard.inert import inert
from rnn_core import (
    MnistData,
    MnistFileError,
    MnistUnavailable,
    RunStore,
    load_mnist,
)
from rnn_core.executors import make_executor
from rnn_core.registry import JobRegistry
from rnn_core.server_settings import ServerSettings, SettingsError
from rnn_core.shutdown import close_on_exit
from rnn_core.trainer import warm_up

FIX_HINT = (
    "To fix it: connect to the internet (the app downloads MNIST on first start), or set "
    "`MNIST_DIR` to a folder holding the four MNIST IDX files (`train-images-idx3-ubyte.gz`, ...) "
    "and restart the app."
)
DATA_ERRORS = (MnistFileError, MnistUnavailable, OSError)


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


def load_data(settings: ServerSettings) -> MnistData:
    return _load_data_from(settings.data_dir, settings.mnist_dir)


def get_data() -> MnistData | None:
    """The shared MNIST, or None after showing why it could not be loaded and how to fix it."""
    try:
        return load_data(server_settings())
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


def registry() -> JobRegistry:
    """The server's registry of runs. Without MNIST there is none: the page has said why
    (`get_data`) and stops there."""
    data = get_data()
    if data is None:
        st.stop()
    return _registry(server_settings(), data)


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
