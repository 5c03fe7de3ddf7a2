"""What every page shares: the data, the per-tab training session, the run store, the sidebar.

The only module besides the pages that imports Streamlit; all logic lives in rnn_core.
"""

from __future__ import annotations

import os

import streamlit as st

from rnn_core import MnistData, MnistFileError, MnistUnavailable, RunStore, load_mnist
from rnn_core.session import Snapshot, TrainingSession, TrainingSlots

FIX_HINT = (
    "To fix it: connect to the internet (the app downloads MNIST on first start), or set "
    "`MNIST_DIR` to a folder holding the four MNIST IDX files (`train-images-idx3-ubyte.gz`, ...) "
    "and restart the app."
)


@st.cache_resource(show_spinner="Loading MNIST (only on the first start)...")
def _load_data() -> MnistData:
    # One copy per server process, shared read-only by every session.
    return load_mnist(os.environ.get("RNN_DATA_DIR", "data"))


DATA_ERRORS = (MnistFileError, MnistUnavailable, OSError)


def get_data() -> MnistData | None:
    """The shared MNIST, or None after showing why it could not be loaded and how to fix it."""
    try:
        return _load_data()
    except DATA_ERRORS as err:
        st.error(f"**MNIST could not be loaded.** {err}\n\n{FIX_HINT}", icon=":material/error:")
        return None


@st.cache_resource
def training_slots() -> TrainingSlots:
    return TrainingSlots()


def run_store() -> RunStore:
    return RunStore(os.environ.get("RNN_RUNS_DIR", "runs"))


@st.cache_resource(scope="session", on_release=TrainingSession.close)
def _session(_data: MnistData) -> TrainingSession:
    return TrainingSession(_data, run_store(), training_slots())


def training_session() -> TrainingSession | None:
    """This browser tab's training session; its worker stops when the tab closes."""
    data = get_data()
    return None if data is None else _session(data)


def _model_status(snapshot: Snapshot) -> None:
    if not snapshot.has_model:
        st.caption("No model yet: train one on the Train page.")
        return
    config = snapshot.model_config
    st.markdown(f"**Model:** {config.cell_type}, {config.hidden_size} hidden units, {config.num_layers} layer(s)")
    if snapshot.history:
        last = snapshot.history[-1]
        st.markdown(f"Epochs trained: **{last['epoch']}** · test accuracy **{last['test_accuracy']:.1f}%**")
    if snapshot.busy:
        progress = snapshot.progress
        where = f" (epoch {progress.epoch_index}, batch {progress.batch}/{progress.batches})" if progress else ""
        st.markdown(f":blue[**Training {snapshot.status}**]{where}")
    elif snapshot.status not in ("idle",):
        st.caption(f"Last training: {snapshot.status}. {snapshot.reason}")


def render_sidebar() -> None:
    """The block every page shows: where the data came from and the state of the model."""
    with st.sidebar:
        try:
            data = _load_data()
        except DATA_ERRORS:  # the page itself shows the whole explanation
            st.error("No data: see the message on the page.")
            return
        if data.is_sample:
            st.warning(f"Data: {data.description}. Accuracy figures are not comparable to full MNIST.", icon=":material/warning:")
        else:
            st.caption(f"Data: MNIST, {len(data.train_labels):,} train / {len(data.test_labels):,} test ({data.description})")
        session = training_session()
        snapshot = session.snapshot()
        st.fragment(run_every=1.0 if snapshot.busy else None)(_live_model_status)(session)
        st.divider()


def _live_model_status(session: TrainingSession) -> None:
    _model_status(session.snapshot())
