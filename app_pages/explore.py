"""Explore: the MNIST digits, and one digit read row by row as the RNN receives it."""

from __future__ import annotations

import random

import numpy as np
import streamlit as st
import torch

from dashboard import charts, explore_charts, explore_tables, explore_words, ui
from dashboard.inert import inert
from dashboard.player import row_player
from dashboard.step_lines import StepLines
from rnn_core.data import MnistData
from rnn_core.reading_order import ORDER_WORDS, ORDERS, ReadingOrder

GALLERY_SIZE = 24
GALLERY_COLUMNS = 8
GALLERY_SCALE = 3  # 28 px -> 84 px, by repeating pixels; the picture shrinks to fit a phone
MEANS_COLUMNS = 5
PLAY_INTERVAL_S = 0.15
NO_DIGIT = "any digit"
DIGIT_CHOICES = [NO_DIGIT, *range(10)]

state = st.session_state


# ----- gallery -----------------------------------------------------------------------------


def _shuffle() -> None:
    state.explore_gallery_seed += 1


@st.fragment
def gallery(data: MnistData) -> None:
    split_col, digit_col, shuffle_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    split = split_col.segmented_control(
        "Split", ["train", "test"], required=True, key="explore_gallery_split", persist_state="session"
    )
    digit = digit_col.selectbox("Label", DIGIT_CHOICES, key="explore_gallery_digit", persist_state="session")
    shuffle_col.button("Shuffle", icon=":material/shuffle:", on_click=_shuffle, width="stretch")
    images, labels = data.split(split)
    chosen = None if digit == NO_DIGIT else digit
    indices = explore_tables.gallery_indices(labels, chosen, GALLERY_SIZE, state.explore_gallery_seed)
    matching = len(labels) if chosen is None else int((labels == chosen).sum())
    what = "images" if chosen is None else f"images of a {chosen}"
    st.caption(f"{len(indices)} of the {matching:,} {split} {what}, picked at random.")
    # One picture, with its captions: it shrinks to fit a phone, arrives with its captions in
    # one piece, and takes one stop of the keyboard's Tab key instead of one per digit.
    named = [f"{int(labels[index])} #{index}" for index in indices]
    lines = [", ".join(named[start : start + GALLERY_COLUMNS]) for start in range(0, len(named), GALLERY_COLUMNS)]
    grid = charts.digit_grid(images[indices], GALLERY_COLUMNS, GALLERY_SCALE)
    st.image(
        grid,
        width="stretch",  # a fixed width would reach past a phone's screen
        caption="Label and index, left to right: " + "; ".join(f"line {n}: {line}" for n, line in enumerate(lines, 1)),
        alt=f"{len(indices)} handwritten digits from the {split} split, {GALLERY_COLUMNS} to a line. "
        + "Their labels, left to right and line by line: "
        + ", ".join(str(int(labels[i])) for i in indices)
        + ".",
    )


# ----- row by row --------------------------------------------------------------------------


def _random_image(data: MnistData) -> None:
    images, _ = data.split(state.explore_split)
    state.explore_index = random.randrange(len(images))


def row_view(image: torch.Tensor, label: int, probabilities: np.ndarray | None, lines: StepLines) -> None:
    """The player and the charts of every line t, sent once."""
    words = explore_words.Words(lines)
    row_player(
        explore_charts.ROW_T,
        words.player_label,
        explore_tables.step_sentences(probabilities, label, lines),
        start=explore_charts.T_FIRST,
        interval_s=PLAY_INTERVAL_S,
        unit=words.unit,
    )
    # three columns side by side on a screen, one under the other on a phone
    picture_col, map_col, side_col = st.columns([7, 4, 7])
    pixels = {explore_charts.PIXELS: lines.pixel_table(image)}
    reveal = explore_charts.reveal_spec() if lines.is_rows else explore_charts.order_reveal_spec(words.order)
    charts.show(picture_col, reveal, pixels, width="content")
    if not lines.is_rows:
        charts.show(picture_col, explore_charts.read_map_spec(), pixels, width="content")
    if probabilities is not None:
        guesses = explore_tables.guess_frame(probabilities, label)
        spec = explore_charts.guess_map_spec(words.line)
        charts.show(map_col, spec, {explore_charts.GUESSES: guesses}, width="content")
    with side_col:
        inputs = {explore_charts.INPUTS: lines.line_inputs(image)}
        charts.show(st, explore_charts.input_spec(*words.input_chart), inputs)
        if probabilities is None:
            st.info(words.no_guess, icon=":material/info:")
            return
        charts.show(st, explore_charts.guess_bars_spec(words.line), {explore_charts.GUESSES: guesses})
        st.caption(charts.ROLE_KEY)


def order_picker(chosen: ui.ChosenModel | None) -> ReadingOrder:
    """Explore's own order: the chosen run's when it changes, any other the student picks."""
    run_order = chosen.model.order if chosen is not None else ReadingOrder()
    if state.get("explore_order_of") != (chosen and chosen.run_id):
        state.explore_order_of = chosen and chosen.run_id
        state.explore_order = run_order.name
    name = st.selectbox("Reading order", ORDERS, format_func=ORDER_WORDS.get, key="explore_order")
    return run_order if name == run_order.name else ReadingOrder(name)


def row_by_row(data: MnistData) -> None:
    st.header("Row by row: what the RNN sees", divider="gray")
    st.markdown(
        "**Many-to-one.** At time step *t* the network receives row *t* of the image, 28 numbers, and "
        "updates its hidden state, a memory of the rows read so far. It takes one row per step, "
        "28 steps in all, and gives **one prediction, after the last row**. The earlier guesses below "
        "are the same output layer applied to the memory after each row: training only scores the last "
        "one, so early guesses are often wrong and the model changes its mind as it reads."
    )
    chosen = ui.chosen_model(explain=False)
    split_col, index_col, random_col, order_col = st.columns([2, 2, 1, 3], vertical_alignment="bottom")
    split = split_col.segmented_control(
        "Image from", ["train", "test"], required=True, key="explore_split", persist_state="session"
    )
    images, labels = data.split(split)
    state.explore_index = min(state.explore_index, len(images) - 1)
    index = index_col.number_input(
        "Index", min_value=0, max_value=len(images) - 1, step=1, key="explore_index", persist_state="session"
    )
    random_col.button("Random image", icon=":material/casino:", on_click=_random_image, args=(data,), width="stretch")
    with order_col:
        order = order_picker(chosen)
    image, label = images[index], int(labels[index])
    lines = StepLines.whole(order)
    if note := explore_words.order_note(lines):
        st.markdown(note)
    probabilities = None
    if chosen is not None and chosen.model.order == order:
        probabilities = explore_tables.running_guess(chosen.model, image, lines)
        st.caption(
            f"Running guess of {inert(chosen.name)}: {chosen.description}. Another run can be picked under "
            "**Run** in the side panel."
        )
    elif chosen is not None:
        st.caption(
            f"{inert(chosen.name)} reads {ORDER_WORDS[chosen.model.order.name]}: pick that order to see its guesses."
        )
    row_view(image, label, probabilities, lines)


# ----- classes -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def _mean_images(data_key: str, _images: torch.Tensor, _labels: torch.Tensor) -> np.ndarray:
    # The tensors are left out of the cache key (hashing 60,000 images costs more than the mean).
    return charts.digit_grid(explore_tables.mean_images(_images, _labels), MEANS_COLUMNS, 3)


def classes(data: MnistData) -> None:
    st.header("Classes", divider="gray")
    counts_col, means_col = st.columns([3, 2])
    charts.show(
        counts_col, explore_charts.class_counts_spec(), {explore_charts.COUNTS: explore_tables.class_counts(data)}
    )
    means_col.markdown("**The mean image of each digit** (training split)")
    means_col.image(
        _mean_images(f"{data.description} train", data.train_images, data.train_labels),
        caption="0 to 4 on the first line, 5 to 9 on the second.",
        alt="The average of all training images of each digit, 0 to 9, five to a line: blurred but "
        "recognisable digits.",
        width="stretch",
    )


def main() -> None:
    state.setdefault("explore_gallery_seed", 0)
    state.setdefault("explore_gallery_split", "train")
    state.setdefault("explore_split", "test")
    state.setdefault("explore_index", 0)
    st.title("Explore the data")
    st.markdown(
        "Each MNIST image is 28 x 28 grey pixels of a handwritten digit. The network does not see "
        "the picture at once: it **reads it like a text, one row of 28 pixels per time step**."
    )
    data = ui.get_data()
    if data is None:
        st.stop()
    st.header("The digits", divider="gray")
    gallery(data)
    row_by_row(data)
    classes(data)


main()
