"""The model after epoch k: the picker of the Test and Inside pages, and the Test page's
*How it learned* view.

A run keeps its model after every scored epoch (rnn_core.epochs). The tab remembers the epoch
it looks at in its own session key and in the page link (`?epoch=3`; none means the latest),
so a shared link or a reload shows the same model; another run starts again from its latest.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Literal

import streamlit as st
import torch

from dashboard import ui
from dashboard.inert import inert
from dashboard.learning_tables import (
    LATEST,
    EpochGuesses,
    epoch_choice_label,
    epoch_sentence,
    guess_strip,
    guesses_in_words,
    guesses_of,
    learning_summary,
    parse_epoch,
    shown_epochs,
)
from dashboard.ui import ChosenModel
from rnn_core import Checkpoint, CheckpointError, MnistData, RowClassifier
from rnn_core.config import ModelConfig, describe
from rnn_core.epochs import EpochWeights, load_epoch_weights, saved_epochs
from rnn_core.inspection import model_fingerprint
from rnn_core.runs import RunNotFound

EPOCH_PARAM = "epoch"
CHOSEN_KEY, LINK_SEEN_KEY, RUN_SEEN_KEY = "chosen_epoch", "epoch_link_seen", "epoch_run_seen"
SAMPLE_KEY, SAMPLE_SIZE = "learned_images", 8
POLL_SECONDS = 2.0
NO_EPOCHS = (
    "This run kept no model per epoch (it was trained before the app kept them, or uploaded): "
    "only its latest model can be shown."
)
ONLY_LATEST = "Its latest model only: this run kept none per epoch."

state = st.session_state


MAX_ANCESTORS = 50  # a chain of continued runs longer than any class makes


def run_epochs(run_id: str) -> list[EpochWeights]:
    """The models the run kept after each epoch, with those of the runs it continues up to
    where it took over (Continue on a finished run starts a new run from that run's model)."""
    runs = ui.registry()
    epochs: list[EpochWeights] = []
    up_to = float("inf")
    for _ in range(MAX_ANCESTORS):
        try:
            parent = runs.view(run_id).record.parent  # from the registry's index: no file read
            own = saved_epochs(runs.store.folder(run_id))  # a listing: the files are read when shown
        except (RunNotFound, ValueError, OSError):  # an ancestor deleted since: its epochs are gone
            break
        first_own = min((epoch.epoch for epoch in epochs), default=float("inf"))
        epochs = [epoch for epoch in own if epoch.epoch <= up_to and epoch.epoch < first_own] + epochs
        fork = parent.get("epoch") if parent else None
        if parent is None or isinstance(fork, bool) or not isinstance(fork, (int, float)):
            break
        run_id, up_to = parent["run_id"], fork
    return epochs


@st.cache_resource(max_entries=64, show_spinner=False)
def _epoch_model(
    root: str, run_id: str, epoch: float, _weights: EpochWeights, _model_config: ModelConfig
) -> tuple[Checkpoint, str, RowClassifier]:
    # An epoch's file is written once: the runs folder, the run and the epoch make the key.
    checkpoint = load_epoch_weights(_weights, _model_config)
    return checkpoint, model_fingerprint(checkpoint), checkpoint.build_model().eval()


def epoch_model(run_id: str, weights: EpochWeights, model_config: ModelConfig) -> tuple[Checkpoint, str, RowClassifier]:
    """The run's checkpoint and model after one epoch, read once per server; CheckpointError
    when its file fails a check."""
    return _epoch_model(ui.runs_root(), run_id, weights.epoch, weights, model_config)


# ----- which epoch this tab looks at ----------------------------------------------------------


def _follow_run_and_link(run_id: str) -> None:
    """Another run starts from its latest model; a new `?epoch=` in the link (a shared link,
    the Back button) wins over the tab's choice. A link without one keeps the choice: the
    pages' own links do not carry it."""
    if state.get(RUN_SEEN_KEY) not in (None, run_id):
        state[CHOSEN_KEY] = None
    state[RUN_SEEN_KEY] = run_id
    linked = st.query_params.get(EPOCH_PARAM)
    if linked is not None and linked != state.get(LINK_SEEN_KEY):
        state[CHOSEN_KEY] = parse_epoch(linked)
        state[LINK_SEEN_KEY] = linked


def _write_link() -> None:
    chosen = state.get(CHOSEN_KEY)
    if st.query_params.get(EPOCH_PARAM) != chosen:
        if chosen is None:
            st.query_params.pop(EPOCH_PARAM, None)
        else:
            st.query_params[EPOCH_PARAM] = chosen
    state[LINK_SEEN_KEY] = chosen


def _picked(key: str) -> None:
    state[CHOSEN_KEY] = None if state[key] == LATEST else state[key]


def pick_epoch(
    chosen: ChosenModel, page: str, label_visibility: Literal["visible", "hidden", "collapsed"] = "visible"
) -> ChosenModel:
    """A picker of the run's models after each epoch (default: the latest); the model picked."""
    _follow_run_and_link(chosen.run_id)
    epochs = {epoch.name: epoch for epoch in run_epochs(chosen.run_id)}
    wanted = state.get(CHOSEN_KEY)
    if not epochs:
        st.caption(NO_EPOCHS if wanted is not None else ONLY_LATEST)
        state[CHOSEN_KEY] = None
        _write_link()
        return chosen
    if wanted is not None and wanted not in epochs:
        st.warning(
            f"Run {chosen.run_id} kept no model after epoch {inert(wanted)}: this is its latest.",
            icon=":material/history:",
        )
        state[CHOSEN_KEY] = wanted = None
    key = f"{page}_epoch_picker"
    state[key] = wanted or LATEST
    latest = chosen.checkpoint.history[-1].epoch if chosen.checkpoint.history else None
    st.selectbox(
        "Model of the run",
        [LATEST, *epochs],
        key=key,
        label_visibility=label_visibility,
        on_change=_picked,
        args=(key,),
        format_func=lambda choice: epoch_choice_label(choice, latest),
        help="The run kept its model after every epoch: pick one to see what it knew then "
        "(epoch 0 is the untrained model). The page link carries the choice.",
    )
    _write_link()
    if wanted is None:
        return chosen
    try:
        checkpoint, fingerprint, model = epoch_model(chosen.run_id, epochs[wanted], chosen.checkpoint.model_config)
    except CheckpointError as err:
        st.error(f"This epoch's model cannot be used: {inert(err)}", icon=":material/error:")
        return chosen
    score = f" ({checkpoint.history[-1].test_accuracy:.1f}% on the test set)"
    return dataclasses.replace(
        chosen,
        checkpoint=checkpoint,
        model=model,
        fingerprint=fingerprint,
        description=f"{describe(checkpoint.model_config)}, after epoch {wanted}{score}",
    )


# ----- How it learned ---------------------------------------------------------------------------


def _shuffle(count: int) -> None:
    state[SAMPLE_KEY] = random.sample(range(count), SAMPLE_SIZE)


def _rows(chosen: ChosenModel, epochs: list[EpochWeights], images, labels) -> list[EpochGuesses]:
    if not epochs:  # an older run: its latest model alone
        last = chosen.checkpoint.history[-1] if chosen.checkpoint.history else None
        at, accuracy = (last.epoch, last.test_accuracy) if last else (0, None)
        return [guesses_of(chosen.model, at, accuracy, images, labels)]
    rows = []
    for epoch in shown_epochs(epochs):
        try:
            checkpoint, _, model = epoch_model(chosen.run_id, epoch, chosen.checkpoint.model_config)
        except CheckpointError as err:
            st.warning(inert(err), icon=":material/warning:")
            continue
        rows.append(guesses_of(model, epoch.epoch, checkpoint.history[-1].test_accuracy, images, labels))
    return rows


def _learning_rows(chosen: ChosenModel, data: MnistData, polling: bool) -> None:
    try:
        busy = ui.registry().view(chosen.run_id).busy
    except (RunNotFound, ValueError, OSError):
        st.caption("This run is gone.")
        return
    if polling and not busy:
        st.rerun()  # the training ended: the page draws the view once more, without polling
    count = len(data.test_labels)
    state.setdefault(SAMPLE_KEY, random.sample(range(count), SAMPLE_SIZE))
    st.button(
        "Shuffle",
        icon=":material/shuffle:",
        on_click=_shuffle,
        args=(count,),
        key="learned_shuffle",
        help="Other random test images",
    )
    indices = torch.tensor(state[SAMPLE_KEY])
    images, labels = data.test_images[indices], data.test_labels[indices]
    epochs = run_epochs(chosen.run_id)
    if not epochs:
        st.info(NO_EPOCHS, icon=":material/history:")
    rows = _rows(chosen, epochs, images, labels)
    if len(epochs) > len(rows):
        st.caption(f"{len(rows)} of its {len(epochs)} epochs, evenly spread.")
    st.markdown(learning_summary(rows) + (" The run is training: new epochs appear here." if busy else ""))
    for row in rows:
        words, strip = st.columns([1, 4], vertical_alignment="center")
        words.markdown(epoch_sentence(row))
        strip.image(guess_strip(images, row), caption=None, alt=guesses_in_words(row, labels.tolist()))


def how_it_learned(chosen: ChosenModel, data: MnistData) -> None:
    """The same random test images read by the run's model after each epoch, one line per
    epoch; while the run trains, new epochs fill in."""
    st.markdown(
        "The notebook's last task: look at a few test images with the untrained model, train one epoch, "
        "look again, and so on. The run kept its model after every epoch, so here are the same images "
        "read by each of them: the guess and how sure it is under each digit, framed green when right "
        "and red when wrong."
    )
    busy = ui.registry().view(chosen.run_id).busy
    st.fragment(_learning_rows, run_every=POLL_SECONDS if busy else None)(chosen, data, busy)
