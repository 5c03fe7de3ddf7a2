"""Explore: the MNIST digits, and one digit read row by row as the RNN receives it."""

from __future__ import annotations

import random

import altair as alt
import numpy as np
import streamlit as st
import torch

from dashboard import charts, explore_tables, ui
from dashboard.inert import inert
from dashboard.player import only_row, row_layers, row_param, row_player
from rnn_core.data import MnistData
from rnn_core.model import ROWS

GALLERY_SIZE = 24
GALLERY_COLUMNS = 8
GALLERY_SCALE = 3  # 28 px -> 84 px, by repeating pixels; the picture shrinks to fit a phone
MEANS_COLUMNS = 5
PLAY_INTERVAL_S = 0.15
PIXEL_PX = 10  # side of one pixel in the row-by-row picture: 280 px, narrower than a phone
GUESS_PX = 14  # width of one digit's column in the guess map
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


# The row view's charts are drawn once per image, with every row's data: the player moves row t
# in the browser (see dashboard/player.py), so Play sends nothing and reruns nothing.
PIXELS, GUESSES = "pixels", "guesses"
ROW_T = "explore_t"
T_FIRST = 1  # the first row read
ROW = row_param(ROW_T, T_FIRST)


@charts.cached_spec
def reveal_spec() -> dict:
    """The image with the rows read so far, the row being read framed in orange, the rest dimmed."""
    picture = charts.digit_heatmap(PIXELS, PIXEL_PX, row_title="row = time step t")
    return charts.spec(
        # grey behind the digit: dimmed rows to come fade into it, read rows stand out as paper
        row_layers(picture, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        "The image, row by row",
        "Heatmap of the chosen digit, 28 rows of 28 pixels, dark ink on white; the rows read so "
        "far are clear, the row being read at step t is framed in orange, the rows to come are faded.",
    )


@charts.cached_spec
def guess_map_spec() -> dict:
    """The guess after every row, each row level with the image row just read; rows to come dimmed."""
    chart = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_rect()
        .encode(
            x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
            y=charts.row_axis(None, labels=False),
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            tooltip=[
                alt.Tooltip("row:O", title="after row"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(width=10 * GUESS_PX, height=ROWS * PIXEL_PX)
    )
    return charts.spec(
        row_layers(chart, ROW, charts.FOG).configure_view(fill=charts.FOG, stroke=None),
        "Guess per row",
        "Heatmap of the model's probability for each digit (columns) after each row read (rows, "
        "level with the image's rows): darker blue is more probable; rows to come are faded.",
    )


@charts.cached_spec
def input_vector_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name=PIXELS))
        .mark_bar(color=charts.HIGHLIGHT)
        .encode(
            x=alt.X("column:O", title="pixel column", axis=alt.Axis(values=charts.ROW_TICKS, labelAngle=0)),
            y=alt.Y("ink:Q", scale=alt.Scale(domain=[0, 1]), title="value"),
            tooltip=[alt.Tooltip("column:O"), alt.Tooltip("ink:Q", format=".2f", title="value")],
        )
        .properties(height=230)
    )
    return charts.spec(
        only_row(chart, ROW).add_params(ROW),
        "Input at step t: row t, 28 numbers",
        "Bar chart of the 28 numbers the network receives at step t: the ink of each pixel of row t, from 0 to 1.",
    )


@charts.cached_spec
def guess_bars_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("role:N", scale=charts.ROLE_SCALE, legend=None),
            tooltip=[alt.Tooltip("digit:O"), alt.Tooltip("probability:Q", format=".1%"), alt.Tooltip("role:N")],
        )
        .properties(height=250)
    )
    return charts.spec(
        only_row(chart, ROW).add_params(ROW),
        "Guess after row t",
        "Bar chart of the model's probability for each digit after reading rows 1 to t: blue is "
        "its answer, green the true label when the answer is another digit.",
    )


def row_view(image: torch.Tensor, label: int, probabilities: np.ndarray | None) -> None:
    """The player and the charts of every step t, sent once."""
    row_player(
        ROW_T,
        "Time step t (the row being read; 1 = the first)",
        explore_tables.step_sentences(probabilities, label),
        start=T_FIRST,
        interval_s=PLAY_INTERVAL_S,
    )
    # three columns side by side on a screen, one under the other on a phone
    picture_col, map_col, side_col = st.columns([7, 4, 7])
    pixels = charts.pixel_table(image)
    charts.show(picture_col, reveal_spec(), {PIXELS: pixels}, width="content")
    if probabilities is not None:
        guesses = explore_tables.guess_frame(probabilities, label)
        charts.show(map_col, guess_map_spec(), {GUESSES: guesses}, width="content")
    with side_col:
        charts.show(st, input_vector_spec(), {PIXELS: pixels})
        if probabilities is None:
            st.info("Train a model on the **Train** page to see its guess after each row here.", icon=":material/info:")
            return
        charts.show(st, guess_bars_spec(), {GUESSES: guesses})
        st.caption(charts.ROLE_KEY)


def row_by_row(data: MnistData) -> None:
    st.header("Row by row: what the RNN sees", divider="gray")
    st.markdown(
        "**Many-to-one.** At time step *t* the network receives row *t* of the image, 28 numbers, and "
        "updates its hidden state, a memory of the rows read so far. It takes one row per step, "
        "28 steps in all, and gives **one prediction, after the last row**. The earlier guesses below "
        "are the same output layer applied to the memory after each row: training only scores the last "
        "one, so early guesses are often wrong and the model changes its mind as it reads."
    )
    split_col, index_col, random_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    split = split_col.segmented_control(
        "Image from", ["train", "test"], required=True, key="explore_split", persist_state="session"
    )
    images, labels = data.split(split)
    state.explore_index = min(state.explore_index, len(images) - 1)
    index = index_col.number_input(
        "Index", min_value=0, max_value=len(images) - 1, step=1, key="explore_index", persist_state="session"
    )
    random_col.button("Random image", icon=":material/casino:", on_click=_random_image, args=(data,), width="stretch")
    image, label = images[index], int(labels[index])

    chosen = ui.chosen_model(explain=False)
    probabilities = None
    if chosen is not None:
        probabilities = explore_tables.running_guess(chosen.model, image)
        st.caption(
            f"Running guess of {inert(chosen.name)}: {chosen.description}. Another run can be picked under "
            "**Run** in the side panel."
        )
    row_view(image, label, probabilities)


# ----- classes -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def _mean_images(data_key: str, _images: torch.Tensor, _labels: torch.Tensor) -> np.ndarray:
    # The tensors are left out of the cache key (hashing 60,000 images costs more than the mean).
    return charts.digit_grid(explore_tables.mean_images(_images, _labels), MEANS_COLUMNS, 3)


@charts.cached_spec
def class_counts_spec() -> dict:
    chart = (
        alt.Chart(alt.Data(name="counts"))
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("split:N", sort=["train", "test"]),
            y=alt.Y("share:Q", title="share of the split (%)"),
            color=alt.Color(
                "split:N", scale=alt.Scale(domain=["train", "test"]), legend=alt.Legend(orient="top", title=None)
            ),
            tooltip=[
                alt.Tooltip("split:N"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("count:Q", format=","),
                alt.Tooltip("share:Q", format=".1f", title="share (%)"),
            ],
        )
        .properties(height=360)
    )
    return charts.spec(
        chart,
        "Images per digit: about 10% each in both splits",
        "Bar chart: the share of each digit, 0 to 9, in the training and the test split, side by side.",
    )


def classes(data: MnistData) -> None:
    st.header("Classes", divider="gray")
    counts_col, means_col = st.columns([3, 2])
    charts.show(counts_col, class_counts_spec(), {"counts": explore_tables.class_counts(data)})
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
