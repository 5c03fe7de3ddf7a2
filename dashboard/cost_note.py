"""Cost in the open: before a 784-step run starts, how long an epoch will take here.

Reading one pixel a step makes an epoch dozens of times longer than reading a row a step, and by
how much depends on this machine, its load and its device. So the Train and Sweep pages time a
few batches of the training about to start (`rnn_core.epoch_cost.estimate_epoch_cost`, a few
seconds), say what an epoch will cost, and offer what makes it cheaper: fewer training images,
or a GPU when this machine has one. The timing is kept per model and per batch, learning and
device settings (the image count and the epochs only scale it), so a page redraw does not
time again.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import streamlit as st

from dashboard import server_state, settings
from rnn_core.config import ModelConfig, TrainConfig, devices_here
from rnn_core.data import MnistData
from rnn_core.epoch_cost import EpochCost, estimate_epoch_cost
from rnn_core.local_executor import threads_per_slot
from rnn_core.reading_order import SIDE

HEADLINE = "An epoch will take about"  # the note's opening, which tests look for
FEWER_IMAGES = 2000  # what the page offers: a 784-step epoch of a few minutes on two cores


def is_long(model_config: ModelConfig) -> bool:
    """An order of one pixel a step: the cost is worth telling before it is paid."""
    return model_config.order.steps > SIDE


@st.cache_resource(max_entries=32, show_spinner="Timing a few batches of this training on this machine...")
def _timed(model_key: str, train_key: str, data_description: str, threads: int | None, _cost: Callable) -> EpochCost:
    return _cost()


def epoch_cost(data: MnistData, model_config: ModelConfig, train_config: TrainConfig) -> EpochCost:
    """The timed cost of an epoch of this training, timed once per shape of training; a
    ValueError for a device this machine lacks."""
    timed = dataclasses.replace(train_config, train_limit=None, epochs=1)  # they only scale the cost
    server = server_state.server_settings()
    slots = server.max_trainings or os.cpu_count() or 1  # the local executor's default
    threads = threads_per_slot(slots) if server.executor == "local" else None
    cost = _timed(
        repr(model_config),
        repr(timed),
        data.description,
        threads,
        lambda: estimate_epoch_cost(data, model_config, timed, threads=threads),
    )
    images = min(train_config.train_limit or len(data.train_labels), len(data.train_labels))
    return dataclasses.replace(cost, train_images=images)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def _use(key: str, value: object) -> None:
    st.session_state[key] = value
    panel = settings.TRAIN_PANEL  # the Train panel names the preset its settings match
    st.session_state[settings.widget_key(panel, "preset")] = settings.matching_preset(settings.current_values(panel))


def show(
    data: MnistData,
    model_config: ModelConfig,
    train_config: TrainConfig,
    images_prefix: str,
    runs: int = 1,
) -> None:
    """The cost of an epoch of a long-order training, and the offers that make it cheaper:
    `images_prefix` is the panel whose training-images control the offer sets (the device is
    always the Train panel's)."""
    if not is_long(model_config):
        return
    try:
        cost = epoch_cost(data, model_config, train_config)
    except ValueError as err:
        st.warning(f"Could not time an epoch of this training: {err}", icon=":material/timer_off:")
        return
    each = f" for each of the {runs} runs (they share the machine, so together longer)" if runs > 1 else ""
    total = cost.seconds_per_epoch * train_config.epochs
    st.warning(
        f"**{HEADLINE} {duration(cost.seconds_per_epoch)} on this machine**{each}: "
        f"{model_config.order.describe()}, {cost.train_images:,} training images, "
        f"{train_config.epochs} epoch(s) about {duration(total)}. Timed just now: "
        f"{cost.seconds_per_batch:.2f} s a batch of {cost.batch_size} on {train_config.device}, "
        f"{cost.scoring_seconds:.0f} s to score the {cost.test_images:,} test images.",
        icon=":material/timer:",
    )
    offers = st.columns(2)
    if cost.train_images > FEWER_IMAGES:
        offers[0].button(
            f"Use {FEWER_IMAGES:,} images: about {duration(cost.seconds_for(FEWER_IMAGES))} an epoch",
            icon=":material/compress:",
            on_click=_use,
            args=(settings.widget_key(images_prefix, "train_limit"), FEWER_IMAGES),
            key=f"{images_prefix}_fewer_images",
        )
    if "cuda" in devices_here() and train_config.device not in ("cuda", "auto"):
        offers[1].button(
            "Train on the GPU",
            icon=":material/memory:",
            on_click=_use,
            args=(settings.widget_key(settings.TRAIN_PANEL, "device"), "cuda"),
            key=f"{images_prefix}_use_gpu",
        )
