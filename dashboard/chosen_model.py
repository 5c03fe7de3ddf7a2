"""The model of the run a tab looks at, built once per run and epoch and shared by the pages."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.inert import inert
from dashboard.run_choice import current_run
from dashboard.server_state import registry
from rnn_core import (
    Checkpoint,
    CheckpointError,
    RowClassifier,
)
from rnn_core.config import describe
from rnn_core.inspection import model_fingerprint
from rnn_core.registry import JobRegistry, RunView
from rnn_core.runs import RunNotFound


@dataclass(frozen=True)
class ChosenModel:
    run_id: str
    name: str  # for people, as plain text: `inert(name)` in Markdown
    checkpoint: Checkpoint
    model: RowClassifier  # shared read-only by every tab: eval mode, no gradients
    fingerprint: str
    description: str  # the model and how far it is trained


POLL_SECONDS = 1.0


def _awaits_first_epoch(view: RunView) -> bool:
    """Training, with no trained epoch yet: its model can be used once that epoch is done."""
    return view.busy and not (view.history and view.history[-1].epoch > 0)


def _rerun_once_trained(run_id: str) -> None:
    """Draws the page anew once the run has a trained epoch (or has ended without one), so
    that "once its first epoch is done" comes true without a click."""
    try:
        view = registry().view(run_id)
    except (RunNotFound, ValueError, OSError):  # deleted or damaged meanwhile: the page says so
        st.rerun()
    if not _awaits_first_epoch(view):
        st.rerun()


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
            st.info(
                "There is no model yet: train one on the Train page, or upload one on the Test page.",
                icon=":material/info:",
            )
            st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
        return None
    if not view.has_model or _awaits_first_epoch(view):
        if explain:
            st.info(f"Run {view.run_id} has no trained epoch yet: its model can be used once its first epoch is done.")
            if view.busy:
                st.fragment(run_every=POLL_SECONDS)(_rerun_once_trained)(view.run_id)
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
