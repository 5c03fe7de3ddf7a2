"""Explore: the MNIST digits, and one digit read row by row as the RNN receives it."""

from __future__ import annotations

import random
import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard import explore_tables, ui
from dashboard.explore_tables import CURRENT, TO_COME
from rnn_core.model import ROWS

GALLERY_SIZE = 24
GALLERY_COLUMNS = 8
GALLERY_SCALE = 4  # 28 px -> 112 px, by repeating pixels
PLAY_INTERVAL_S = 0.15
PIXEL_PX = 11  # side of one pixel in the row-by-row charts
INK = alt.Scale(domain=[0, 1], range=["white", "black"])  # paper and ink, as in the gallery
HIGHLIGHT = "#e8590c"
DIMMED = 0.12
FOG = "#dee2e6"
NO_DIGIT = "any digit"
DIGIT_CHOICES = [NO_DIGIT, *range(10)]

state = st.session_state
state.setdefault("explore_gallery_seed", 0)
state.setdefault("explore_gallery_split", "train")
state.setdefault("explore_split", "test")
state.setdefault("explore_index", 0)
state.setdefault("explore_t", 0)  # the slider
state.setdefault("explore_step", 0)  # where Play is; the slider follows it while playing
state.setdefault("explore_playing", False)

st.title("Explore the data")
st.markdown(
    "Each MNIST image is 28 x 28 grey pixels of a handwritten digit. The network does not see "
    "the picture at once: it **reads it like a text, one row of 28 pixels per time step**."
)

data = ui.get_data()
if data is None:
    st.stop()


# ----- gallery -----------------------------------------------------------------------------


def _shuffle() -> None:
    state.explore_gallery_seed += 1


@st.fragment
def gallery() -> None:
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
    st.caption(f"{len(indices)} of the {matching:,} {split} {what}, picked at random. Caption: label · index.")
    for start in range(0, len(indices), GALLERY_COLUMNS):
        for column, index in zip(st.columns(GALLERY_COLUMNS), indices[start : start + GALLERY_COLUMNS]):
            picture = explore_tables.digit_picture(images[index], GALLERY_SCALE)
            column.image(picture, caption=f"{int(labels[index])} · #{index}")


st.header("The digits", divider="gray")
gallery()


# ----- row by row --------------------------------------------------------------------------


def _random_image() -> None:
    images, _ = data.split(state.explore_split)
    state.explore_index = random.randrange(len(images))


def _play() -> None:
    if not state.explore_playing:
        state.explore_step = 0 if state.explore_t == ROWS - 1 else state.explore_t  # at the end: start over
    state.explore_playing = True


def _pause() -> None:
    state.explore_playing = False


# The row view's charts are drawn on every Play step. Their specs are built once per image and
# take their data from named datasets, so a step only sends new tables and the browser updates
# the charts in place instead of rebuilding them.
PIXELS, GUESSES, ROW_INPUT, GUESS_NOW = "pixels", "guesses", "row_input", "guess_now"
DIMMED_WHEN_TO_COME = alt.when(alt.datum.state == TO_COME).then(alt.value(DIMMED)).otherwise(alt.value(1.0))
EVERY_2ND_ROW = alt.Axis(values=list(range(0, ROWS, 2)))
EVERY_4TH_COLUMN = alt.Axis(values=list(range(0, 28, 4)), labelAngle=0)


def reveal_chart() -> alt.LayerChart:
    """The image with the rows read so far, the row being read in orange, the rest dimmed."""
    base = alt.Chart(alt.Data(name=PIXELS)).encode(
        x=alt.X("column:O", title="pixel column", axis=EVERY_4TH_COLUMN),
        y=alt.Y("row:O", title="row = time step t", axis=EVERY_2ND_ROW),
        tooltip=[
            alt.Tooltip("row:O", title="row (step)"),
            alt.Tooltip("column:O"),
            alt.Tooltip("ink:Q", format=".2f"),
            alt.Tooltip("state:N"),
        ],
    )
    others = (
        base.transform_filter(alt.datum.state != CURRENT)
        .mark_rect()
        .encode(color=alt.Color("ink:Q", scale=INK, legend=None), opacity=DIMMED_WHEN_TO_COME)
    )
    current = (
        base.transform_filter(alt.datum.state == CURRENT)
        .mark_rect(stroke=HIGHLIGHT, strokeWidth=1)
        .encode(color=alt.Color("ink:Q", scale=alt.Scale(domain=[0, 1], scheme="oranges"), legend=None))
    )
    return (
        alt.layer(others, current)
        .resolve_scale(color="independent")
        .properties(width=28 * PIXEL_PX, height=ROWS * PIXEL_PX, title="The image, row by row")
    )


def guess_map_chart() -> alt.Chart:
    """The guess after every row, each row level with the image row just read; rows to come dimmed."""
    return (
        alt.Chart(alt.Data(name=GUESSES))
        .mark_rect()
        .encode(
            x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("row:O", title=None, axis=EVERY_2ND_ROW),
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            opacity=DIMMED_WHEN_TO_COME,
            stroke=alt.when(alt.datum.state == CURRENT).then(alt.value(HIGHLIGHT)).otherwise(alt.value(None)),
            tooltip=[
                alt.Tooltip("row:O", title="after row"),
                alt.Tooltip("digit:O"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(width=10 * 13, height=ROWS * PIXEL_PX, title="Guess after each row")
    )


def input_vector_chart() -> alt.Chart:
    return (
        alt.Chart(alt.Data(name=ROW_INPUT))
        .mark_bar(color=HIGHLIGHT)
        .encode(
            x=alt.X("column:O", title="pixel column", axis=EVERY_4TH_COLUMN),
            y=alt.Y("ink:Q", scale=alt.Scale(domain=[0, 1]), title="value"),
            tooltip=[alt.Tooltip("column:O"), alt.Tooltip("ink:Q", format=".2f", title="value")],
        )
        .properties(height=230, title="Input at step t: row t, 28 numbers")
    )


def guess_bars_chart(label: int) -> alt.Chart:
    return (
        alt.Chart(alt.Data(name=GUESS_NOW))
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.when(alt.datum.digit == label).then(alt.value("#2f9e44")).otherwise(alt.value("#4c78a8")),
            tooltip=[alt.Tooltip("digit:O"), alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=250, title="Guess after row t (green: the true label)")
    )


def draw(where, spec: dict, datasets: dict[str, pd.DataFrame], width: str) -> None:
    where.vega_lite_chart(spec={**spec, "datasets": datasets}, width=width)


def _step_forward() -> None:
    # On a busy machine queued timer runs arrive back to back; stepping on each of them would
    # skip rows on screen, so a run that comes too soon after the last step does not step.
    now = time.monotonic()
    if now - state.get("explore_stepped_at", 0.0) < 0.7 * PLAY_INTERVAL_S:
        return
    state.explore_stepped_at = now
    state.explore_step = min(state.explore_step + 1, ROWS - 1)
    if state.explore_step == ROWS - 1:
        state.explore_playing = False


def _reading_now(t: int) -> str:
    read = "no row read yet" if t == 0 else ("row 0 read" if t == 1 else f"rows 0-{t - 1} read")
    to_come = "none to come" if t == ROWS - 1 else f"rows {t + 1}-{ROWS - 1} to come"
    return f"**t = {t}**: {read}, row {t} is the input now, {to_come}."


def row_view(image: torch.Tensor, label: int, probabilities: np.ndarray | None, specs: dict, ticking: bool) -> None:
    """Slider, Play and the charts for step t. Runs as a fragment, every PLAY_INTERVAL_S while playing."""
    if ticking:
        # Timer runs queue up when a step takes longer than the interval, and each carries the
        # slider value the browser showed when it was queued: the play position overrides it.
        state.explore_t = state.explore_step
    if state.explore_playing != ticking:
        st.rerun()  # the whole page, so that this fragment is set up again with or without its timer
    if state.explore_playing:
        _step_forward()
        state.explore_t = state.explore_step
    play_col, slider_col = st.columns([1, 6], vertical_alignment="bottom")
    # Two buttons, each doing one thing: on a busy server a click can reach the callbacks twice,
    # and a toggle would then undo itself (Pause, then Play again).
    if state.explore_playing:
        play_col.button("Pause", icon=":material/pause:", on_click=_pause, width="stretch", key="explore_pause")
    else:
        play_col.button("Play", icon=":material/play_arrow:", on_click=_play, width="stretch", key="explore_play")
    slider_col.slider("Time step t (the row being read)", 0, ROWS - 1, key="explore_t", persist_state="session")
    t = state.explore_step = state.explore_t
    picture_col, side_col = st.columns([3, 2])
    picture_col.markdown(_reading_now(t))
    pictures = {PIXELS: explore_tables.row_reveal_frame(image, t)}
    if probabilities is not None:
        pictures[GUESSES] = guesses = explore_tables.running_guess_frame(probabilities, t)
    draw(picture_col, specs["picture"], pictures, width="content")
    with side_col:
        draw(st, specs["input"], {ROW_INPUT: explore_tables.input_vector_frame(image, t)}, width="stretch")
        if probabilities is None:
            st.info("Train a model on the **Train** page to see its guess after each row here.", icon=":material/info:")
            return
        draw(st, specs["guess_now"], {GUESS_NOW: guesses[guesses["row"] == t]}, width="stretch")
        guess = int(probabilities[t].argmax())
        verdict = "the prediction" if t == ROWS - 1 else "its guess so far"
        st.markdown(
            f"After {t + 1} of {ROWS} rows, {verdict}: **{guess}** ({probabilities[t, guess]:.0%}). "
            f"True label: **{label}**."
        )


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
random_col.button("Random image", icon=":material/casino:", on_click=_random_image, width="stretch")
image, label = images[index], int(labels[index])

chosen = ui.chosen_model(explain=False)
probabilities = None
if chosen is not None:
    probabilities = explore_tables.running_guess(chosen.model, image)
    st.caption(f"Running guess of {chosen.name}: {chosen.description}. Another run can be picked under **Run** in the side panel.")
ticking = state.explore_playing
picture = reveal_chart() if probabilities is None else alt.hconcat(reveal_chart(), guess_map_chart())
specs = {
    # grey behind the charts: dimmed rows to come fade into it, read rows stand out as paper
    "picture": picture.resolve_scale(color="independent").configure_view(fill=FOG, stroke=None).to_dict(),
    "input": input_vector_chart().to_dict(),
    "guess_now": guess_bars_chart(label).to_dict(),
}
st.fragment(run_every=PLAY_INTERVAL_S if ticking else None)(row_view)(image, label, probabilities, specs, ticking)


# ----- classes -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def _mean_image_frame(data_key: str, _images: torch.Tensor, _labels: torch.Tensor) -> pd.DataFrame:
    # The tensors are left out of the cache key (hashing 60,000 images costs more than the mean).
    return explore_tables.mean_image_frame(explore_tables.mean_images(_images, _labels))


st.header("Classes", divider="gray")
counts_col, means_col = st.columns([2, 3])
counts = explore_tables.class_counts(data)
counts_col.altair_chart(
    alt.Chart(counts)
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
    .properties(height=360, title="Images per digit: about 10% each in both splits"),
    width="stretch",
)
means = _mean_image_frame(f"{data.description} train", data.train_images, data.train_labels)
means_col.altair_chart(
    alt.Chart(means)
    .mark_rect()
    .encode(
        x=alt.X("column:O", axis=None),
        y=alt.Y("row:O", axis=None),
        color=alt.Color("ink:Q", scale=INK, legend=None),
        tooltip=[
            alt.Tooltip("digit:O"),
            alt.Tooltip("row:O"),
            alt.Tooltip("column:O"),
            alt.Tooltip("ink:Q", format=".2f", title="mean ink"),
        ],
    )
    .properties(width=28 * 3, height=28 * 3)
    .facet(facet=alt.Facet("digit:O", title="The mean image of each digit (training split)"), columns=5),
    width="content",
)
