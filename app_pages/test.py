"""Test: how good a model is, one test image at a time, on a drawn digit, and how it reads."""

from __future__ import annotations

import copy
import functools
import random
import time
from typing import Callable, Sequence

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard import ui
from rnn_core import CheckpointError, MnistData, RowClassifier, load_checkpoint
from rnn_core.inspection import SURE_PROBABILITY, Reading, EvaluationReport, read_image, report_on
from dashboard.ui import ChosenModel, escape_markdown
TEST_SET, ONE_BY_ONE, DRAW = "Test set", "One image at a time", "Draw a digit"
AUTOPLAY_SECONDS = 1.5
GALLERY_SIZE = 32
GALLERY_SCALE = 3  # 28 px -> 84 px, by repeating pixels so they stay sharp
ANSWER, TRUE_DIGIT, OTHER = "answer", "true digit", "other digits"
ROLE_COLOURS = alt.Scale(domain=[ANSWER, TRUE_DIGIT, OTHER], range=["#1f6feb", "#2da44e", "#c9ced6"])
SURE_COLOUR = "#e8590c"
DIMMED = 0.12

state = st.session_state


# ----- loading and caching ----------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Scoring the test images (once per model)...")
def _test_report(fingerprint: str, data_description: str, _model: RowClassifier, _data: MnistData) -> EvaluationReport:
    return report_on(_model, _data.test_images, _data.test_labels)


def picture(image: torch.Tensor, scale: int) -> np.ndarray:
    """White ink on black, as the model sees it, enlarged by repeating pixels."""
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))


# ----- choosing the model -----------------------------------------------------------------


def upload_checkpoint() -> None:
    """An uploaded checkpoint becomes a run of its own, and the run this tab looks at."""
    uploaded = st.file_uploader(
        "Checkpoint saved by this app (.pt)", type=["pt"], key="test_upload",
        help="Downloaded from this page, or `checkpoint.pt` from a run folder. It is kept as a run.",
    )  # fmt: skip
    if uploaded is None or uploaded.file_id == state.get("test_upload_seen"):
        return
    state["test_upload_seen"] = uploaded.file_id
    try:
        checkpoint = load_checkpoint(uploaded.getvalue())
        run_id = ui.registry().add_checkpoint(checkpoint, uploaded.name, ui.browser_token())
    except (CheckpointError, OSError) as err:
        state["test_upload_error"] = (
            f"**{escape_markdown(uploaded.name)} was not loaded:** {escape_markdown(err)}. The model in use is unchanged."
        )
        return
    state["test_upload_error"] = None
    ui.choose_run(run_id)


def describe(chosen: ChosenModel) -> None:
    st.markdown(f"**Testing {chosen.name}**: {chosen.description}. Another run can be picked under **Run** in the side panel.")
    st.download_button(
        "Download this model (.pt)", data=chosen.checkpoint.to_bytes, file_name=f"{chosen.run_id}.pt",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:",
    )  # fmt: skip


def choose_model() -> ChosenModel | None:
    with st.expander("Upload a model", expanded=False):
        upload_checkpoint()
    if error := state.get("test_upload_error"):
        st.error(error, icon=":material/error:")
    chosen = ui.chosen_model()
    if chosen is not None:
        describe(chosen)
    return chosen


# ----- charts -----------------------------------------------------------------------------


# The probability and reading charts are redrawn after every stroke on the canvas: their specs
# are built (and validated by Altair, which is slow) once, and only their tables change.
PROBABILITIES, PIXELS, GUESSES, SURE_LINE, HIDDEN = "probabilities", "pixels", "guesses", "sure_line", "hidden"


def draw_chart(where, spec: dict, tables: dict[str, pd.DataFrame]) -> None:
    where.vega_lite_chart(spec={**copy.deepcopy(spec), "datasets": tables}, width="content")


@functools.cache
def probability_bars_spec() -> dict:
    """Blue: the model's answer; green: the true digit, when the answer is wrong."""
    base = alt.Chart(alt.Data(name=PROBABILITIES)).encode(
        x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
        tooltip=["digit:O", alt.Tooltip("probability:Q", format=".2%")],
    )
    bars = base.mark_bar().encode(color=alt.Color("role:N", scale=ROLE_COLOURS, legend=None))
    labels = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("probability:Q", format=".0%"))
    return (bars + labels).properties(height=240, width=360).to_dict()


def probability_table(probabilities: torch.Tensor, true_digit: int | None) -> pd.DataFrame:
    answer = int(probabilities.argmax())
    roles = [ANSWER if d == answer else TRUE_DIGIT if d == true_digit else OTHER for d in range(10)]
    return pd.DataFrame({"digit": range(10), "probability": probabilities.numpy(), "role": roles})


@functools.cache
def reading_spec(units: int) -> dict:
    """The image, the probabilities after each row beside it, and the hidden state, with a
    slider that reveals the rows one by one (all in the browser, no rerun)."""
    rows_read = alt.param(name="rows_read", value=28, bind=alt.binding_range(min=1, max=28, step=1, name="rows read "))
    revealed = alt.condition("datum.row <= rows_read", alt.value(1.0), alt.value(DIMMED))
    row_axis = alt.Y("top:Q", scale=alt.Scale(domain=[0.5, 28.5], reverse=True), title="row",
                     axis=alt.Axis(values=[1, 7, 14, 21, 28]))  # fmt: skip
    image_view = (
        alt.Chart(alt.Data(name=PIXELS), title="image, read from the top")
        .transform_calculate(top="datum.row - 0.5", bottom="datum.row + 0.5", left="datum.column - 0.5", right="datum.column + 0.5")
        .mark_rect()
        .encode(
            x=alt.X("left:Q", scale=alt.Scale(domain=[0.5, 28.5]), axis=None), x2="right:Q",
            y=row_axis, y2="bottom:Q",
            color=alt.Color("ink:Q", scale=alt.Scale(domain=[0, 1], range=["black", "white"]), legend=None),
            opacity=revealed,
        )  # fmt: skip
        .properties(width=224, height=224)
    )
    heatmap = (
        alt.Chart(alt.Data(name=GUESSES))
        .transform_calculate(top="datum.row - 0.5", bottom="datum.row + 0.5")
        .mark_rect()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=row_axis.axis(None), y2="bottom:Q",
            color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
            opacity=revealed,
            tooltip=["row:Q", "digit:O", alt.Tooltip("probability:Q", format=".1%")],
        )  # fmt: skip
    )
    sure_line = alt.Chart(alt.Data(name=SURE_LINE)).mark_rule(color=SURE_COLOUR, strokeWidth=2).encode(y="top:Q")
    after_rows = (
        alt.Chart(alt.Data(name=GUESSES), title=alt.Title(alt.expr("'after row ' + rows_read")))
        .transform_filter("datum.row == rows_read")
        .mark_bar()
        .encode(
            x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.condition("datum.answer", alt.value(ROLE_COLOURS.range[0]), alt.value(ROLE_COLOURS.range[2])),
            tooltip=["digit:O", alt.Tooltip("probability:Q", format=".1%")],
        )  # fmt: skip
        .properties(width=200, height=224)
    )
    hidden_view = (
        alt.Chart(alt.Data(name=HIDDEN), title="hidden state h after each row (one line per unit)")
        .transform_calculate(left="datum.row - 0.5", right="datum.row + 0.5")
        .mark_rect()
        .encode(
            x=alt.X("left:Q", scale=alt.Scale(domain=[0.5, 28.5]), title="row", axis=alt.Axis(values=[1, 7, 14, 21, 28])),
            x2="right:Q",
            y=alt.Y("unit:O", axis=alt.Axis(values=list(range(0, units, max(1, units // 10))))),
            color=alt.Color("value:Q", scale=alt.Scale(domain=[-1, 1], scheme="redblue", reverse=True), title="h"),
            opacity=revealed,
            tooltip=["row:Q", "unit:O", alt.Tooltip("value:Q", format=".3f")],
        )  # fmt: skip
        .properties(width=652, height=int(np.clip(units * 6, 120, 360)))
    )
    guesses = (heatmap + sure_line).properties(width=180, height=224, title="what it thinks after each row")
    # Each view has its own colour scale: a concatenation would otherwise merge them into one.
    top = alt.hconcat(image_view, guesses, after_rows).resolve_scale(color="independent")
    return alt.vconcat(top, hidden_view).resolve_scale(color="independent").add_params(rows_read).to_dict()


def reading_tables(image: torch.Tensor, reading: Reading, sure_row: int | None) -> dict[str, pd.DataFrame]:
    rows, columns = np.indices((28, 28))
    steps, digits = np.indices(reading.probabilities.shape)
    hidden_steps, units = np.indices(reading.hidden.shape)
    return {
        PIXELS: pd.DataFrame({"row": rows.ravel() + 1, "column": columns.ravel() + 1, "ink": image.reshape(-1).numpy()}),
        GUESSES: pd.DataFrame({"row": steps.ravel() + 1, "digit": digits.ravel(), "probability": reading.probabilities.numpy().ravel(),
                               "answer": digits.ravel() == reading.prediction}),
        SURE_LINE: pd.DataFrame({"top": [] if sure_row is None else [sure_row - 0.5]}, dtype=float),
        HIDDEN: pd.DataFrame({"row": hidden_steps.ravel() + 1, "unit": units.ravel(), "value": reading.hidden.numpy().ravel()}),
    }  # fmt: skip


def explain_reading(reading: Reading, sure_row: int | None) -> str:
    answer, confidence = reading.prediction, reading.final[reading.prediction].item()
    if sure_row is None:
        verdict = f"It never gets {SURE_PROBABILITY:.0%} sure: its final answer is **{answer}** with {confidence:.0%}."
    elif sure_row == 1:
        verdict = f"It says **{answer}** from the first row on, above {SURE_PROBABILITY:.0%}."
    else:
        verdict = (f"It becomes sure after **row {sure_row}** of 28: from there on it answers **{answer}** "
                   f"with more than {SURE_PROBABILITY:.0%} (orange line).")  # fmt: skip
    changes = reading.mind_changes()
    if changes:
        listed = ", ".join(f"row {row}: {before}→{after}" for row, before, after in changes[-6:])
        more = f" (the last 6 of {len(changes)})" if len(changes) > 6 else ""
        verdict += f" Its leading guess changed {len(changes)} time(s){more}: {listed}."
    return verdict


def show_reading(image: torch.Tensor, reading: Reading) -> None:
    st.subheader("How the RNN makes up its mind")
    sure_row = reading.sure_row()
    st.markdown(explain_reading(reading, sure_row))
    draw_chart(st, reading_spec(reading.hidden.shape[1]), reading_tables(image, reading, sure_row))
    st.caption(
        "Move the *rows read* slider to hide the rows the network has not read yet. Each row of the "
        "middle heatmap is the output layer applied to the hidden state after that row; only the "
        "last one is the network's answer. Below: the hidden state, one line per unit."
    )


def confusion_chart(confusion: np.ndarray, chosen: tuple[int, int]) -> alt.LayerChart:
    true, predicted = np.indices(confusion.shape)
    frame = pd.DataFrame({"true": true.ravel(), "predicted": predicted.ravel(), "count": confusion.ravel()})
    frame["share"] = frame["count"] / frame.groupby("true")["count"].transform("sum").clip(lower=1)
    # White counts on the darker cells; the colour scale is logarithmic, so is the threshold.
    dark = float(np.expm1(0.6 * np.log1p(frame["count"].max())))
    cell = alt.selection_point(name="cell", fields=["true", "predicted"], empty=False)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", axis=alt.Axis(labelAngle=0, orient="top"), title="predicted"),
        y=alt.Y("true:O", title="true digit"),
    )
    colours = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None))
    counts = base.mark_text(fontSize=11).encode(
        text="count:Q", color=alt.condition(f"datum.count > {dark}", alt.value("white"), alt.value("black"))
    )
    # A see-through layer on top takes the clicks and tooltips (the numbers would catch them
    # otherwise) and outlines the chosen cell.
    chosen_cell = f"datum.true == {chosen[0]} && datum.predicted == {chosen[1]}"
    clickable = base.mark_rect(fill="white", fillOpacity=0.001, stroke=SURE_COLOUR).encode(
        strokeWidth=alt.condition(chosen_cell, alt.value(3), alt.value(0)),
        tooltip=[alt.Tooltip("true:O", title="true digit"), "predicted:O", "count:Q",
                 alt.Tooltip("share:Q", format=".1%", title="share of this digit")],
    ).add_params(cell)  # fmt: skip
    return (colours + counts + clickable).properties(height=400)


def class_accuracy_chart(accuracy: np.ndarray, counts: np.ndarray) -> alt.LayerChart:
    frame = pd.DataFrame({"digit": range(10), "accuracy": accuracy, "images": counts})
    base = alt.Chart(frame).encode(
        x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 100]), title="accuracy (%)"),
        tooltip=["digit", alt.Tooltip("accuracy:Q", format=".2f"), "images"],
    )
    labels = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("accuracy:Q", format=".1f"))
    return (base.mark_bar(color=ROLE_COLOURS.range[0]) + labels).properties(height=260)


# ----- the three views ----------------------------------------------------------------------


def _open_in_one_by_one(index: int) -> None:
    state["test_image_index"] = index
    state["test_view"] = ONE_BY_ONE


def gallery(data: MnistData, indices: torch.Tensor, caption: Callable[[int], str], key: str) -> None:
    shown = indices[:GALLERY_SIZE].tolist()
    if not shown:
        st.caption("No images here.")
        return
    st.image([picture(data.test_images[i], GALLERY_SCALE) for i in shown], caption=[caption(i) for i in shown], output_format="PNG")
    choice, button = st.columns([3, 2], vertical_alignment="bottom")
    index = choice.selectbox("Look inside one of them", shown, format_func=lambda i: f"test image #{i}: {caption(i)}", key=f"{key}_pick")
    button.button("Show how the RNN reads it", key=f"{key}_open", on_click=_open_in_one_by_one, args=(index,), icon=":material/visibility:")


def _select_cell() -> None:
    chosen = state["test_confusion"].selection.get("cell") or []
    if chosen:
        state["test_cell_true"], state["test_cell_predicted"] = int(chosen[0]["true"]), int(chosen[0]["predicted"])


def test_set_view(report: EvaluationReport, data: MnistData) -> None:
    result, confusion = report.score, report.confusion.numpy()
    mistakes = report.examples(mistakes_only=True)
    overall, loss, errors = st.columns(3)
    overall.metric("Test accuracy", f"{result.accuracy:.2f}%")
    loss.metric("Test loss (mean NLL)", f"{result.loss:.4f}")
    errors.metric("Misclassified", f"{len(mistakes):,} of {len(report.labels):,}")

    if "test_cell_true" not in state:  # start with the most frequent confusion
        off_diagonal = confusion - np.diag(np.diag(confusion))
        state["test_cell_true"], state["test_cell_predicted"] = (int(v) for v in np.unravel_index(off_diagonal.argmax(), confusion.shape))
    matrix, per_class = st.columns([1, 1])
    with matrix:
        st.subheader("Confusion matrix")
        st.caption("Rows: the true digit. Columns: the model's answer. Click a cell to see those images.")
        chosen = (state["test_cell_true"], state["test_cell_predicted"])
        st.altair_chart(confusion_chart(confusion, chosen), key="test_confusion", on_select=_select_cell, width="stretch")
    with per_class:
        st.subheader("Accuracy per digit")
        st.altair_chart(class_accuracy_chart(report.per_class_accuracy.numpy(), confusion.sum(1)), width="stretch")
        true_box, predicted_box = st.columns(2)
        true_digit = true_box.selectbox("True digit", range(10), key="test_cell_true")
        predicted = predicted_box.selectbox("Predicted as", range(10), key="test_cell_predicted")

    st.subheader(f"True {true_digit}, predicted {predicted}: {confusion[true_digit, predicted]:,} image(s)")
    confidence = report.confidence
    gallery(data, report.examples(true_digit, predicted), lambda i: f"{confidence[i]:.0%} sure", key="test_cell")

    st.subheader("The most confident mistakes")
    predictions = report.predictions
    gallery(data, mistakes, lambda i: f"{report.labels[i]}→{predictions[i]} {confidence[i]:.0%}", key="test_mistakes")


def _next_image(pool: Sequence[int]) -> None:
    current = state.get("test_image_index")
    state["test_image_index"] = random.choice([i for i in pool if i != current] or list(pool))
    state["test_image_shown_at"] = time.monotonic()


def one_by_one_view(model: RowClassifier, report: EvaluationReport, data: MnistData) -> None:
    autoplay_column, mistakes_column = st.columns(2)
    autoplay = autoplay_column.toggle(f"Autoplay (one every {AUTOPLAY_SECONDS:g} s)", key="test_autoplay")
    mistakes_only = mistakes_column.toggle("Only images it gets wrong", key="test_mistakes_only")
    pool = report.examples(mistakes_only=True).tolist() if mistakes_only else range(len(report.labels))
    if len(pool) == 0:
        st.info("The model gets every test image right.")
        return
    state.setdefault("test_image_index", random.randrange(len(report.labels)))

    @st.fragment(run_every=AUTOPLAY_SECONDS if autoplay else None)
    def show_one() -> None:
        # A timed rerun moves on; any other rerun (a click elsewhere) keeps the image.
        if autoplay and time.monotonic() - state.get("test_image_shown_at", 0) >= AUTOPLAY_SECONDS * 0.8:
            _next_image(pool)
        st.button("Next image", on_click=_next_image, args=(pool,), icon=":material/skip_next:", key="test_next")
        index = state["test_image_index"]
        image, true_digit = data.test_images[index], int(report.labels[index])
        reading = read_image(model, image)
        answer, probabilities = reading.prediction, reading.final
        left, right = st.columns([1, 2])
        left.image(picture(image, 6), caption=f"test image #{index} · true digit {true_digit}")
        verdict = ":green[right]" if answer == true_digit else f":red[wrong: it is a {true_digit}]"
        right.markdown(f"### Prediction: {answer} ({probabilities[answer]:.1%}) · {verdict}")
        draw_chart(right, probability_bars_spec(), {PROBABILITIES: probability_table(probabilities, true_digit)})
        right.caption("Blue: the model's answer. Green: the true digit, when the answer is wrong.")
        show_reading(image, reading)

    show_one()


@st.fragment
def draw_view(model: RowClassifier) -> None:
    canvas_column, seen_column, answer_column = st.columns([3, 2, 3])
    with canvas_column:
        image = ui.drawn_digit("test_canvas")
    if image is None:
        answer_column.info("Draw a digit (0-9) in the black square: the prediction follows your strokes.")
        return
    reading = read_image(model, image)
    with seen_column:
        st.image(picture(image, 6), caption="what the model sees: 28×28, MNIST-style")
    answer, probabilities = reading.prediction, reading.final
    answer_column.markdown(f"### Prediction: {answer} ({probabilities[answer]:.1%})")
    draw_chart(answer_column, probability_bars_spec(), {PROBABILITIES: probability_table(probabilities, None)})
    show_reading(image, reading)


def main() -> None:
    st.title("Test the model")
    data = ui.get_data()
    if data is None:
        st.stop()
    with st.container(border=True):
        chosen = choose_model()
    if chosen is None:
        st.stop()
    fingerprint, model = chosen.fingerprint, chosen.model

    test_set, one_by_one, draw = st.tabs([TEST_SET, ONE_BY_ONE, DRAW], key="test_view", on_change="rerun")
    # Only the open tab runs: drawing never waits for the test set to be scored.
    if test_set.open or one_by_one.open:
        report = _test_report(fingerprint, data.description, model, data)
    if test_set.open:
        with test_set:
            test_set_view(report, data)
    if one_by_one.open:
        with one_by_one:
            one_by_one_view(model, report, data)
    if draw.open:
        with draw:
            draw_view(model)


main()
