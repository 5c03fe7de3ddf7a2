"""Test: how good a model is, one test image at a time, on a drawn digit, and how it reads."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard import charts, epoch_views, evaluation_charts, evaluation_tables, ui
from dashboard.inert import inert
from dashboard.step_lines import StepLines
from dashboard.ui import ChosenModel
from rnn_core import CheckpointError, MnistData, RowClassifier
from rnn_core.checkpoint import SAVE_A_STATE_DICT
from rnn_core.config import describe
from rnn_core.export import FORMATS, export_bytes, loading_line
from rnn_core.guess import best_two
from rnn_core.inspection import (
    EvaluationReport,
    Reading,
    read_image,
    report_on,
)
from rnn_core.notebook_models import load_model_file, scored
from rnn_core.safe_files import error_words

TEST_SET, ONE_BY_ONE, DRAW, LEARNED = "Test set", "One image at a time", "Draw a digit", "How it learned"
AUTOPLAY_SECONDS = 1.5
GALLERY_SIZE = 32
GALLERY_COLUMNS = 8
GALLERY_SCALE = 2  # 28 px -> 56 px, by repeating pixels so they stay sharp
PICTURE_SCALE = 6  # one digit on its own: 168 px
# what the page remembers of the model it shows; cleared when another model is chosen
PICKS = (
    "test_cell_true",
    "test_cell_predicted",
    "test_cell_pick",
    "test_mistakes_pick",
    "test_image_index",
    "test_image_shown_at",
)

state = st.session_state


# ----- loading and caching ----------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Scoring the test images (once per model)...")
def _test_report(fingerprint: str, data_description: str, _model: RowClassifier, _data: MnistData) -> EvaluationReport:
    return report_on(_model, _data.test_images, _data.test_labels)


# ----- choosing the model -----------------------------------------------------------------


def upload_checkpoint() -> None:
    """An uploaded checkpoint, or a state_dict saved from the notebook's class, becomes a run
    of its own and the run this tab looks at. What became of it is said right under the
    uploader, where the user is looking (and again on the page, once the popover closes)."""
    uploaded = st.file_uploader(
        "Upload a model (.pt): a checkpoint of this app, or a state_dict saved from the notebook's class",
        type=["pt"],
        key="test_upload",
        help="Downloaded from this page, `checkpoint.pt` from a run folder, or the notebook's model saved "
        f"with `{SAVE_A_STATE_DICT}`. It is kept as a run.",
    )
    if uploaded is not None and uploaded.file_id != state.get("test_upload_seen"):
        state["test_upload_seen"] = uploaded.file_id
        state["test_upload_error"], state["test_upload_done"] = load_upload(uploaded.name, uploaded.getvalue())
    if error := state.get("test_upload_error"):
        st.error(error, icon=":material/error:")
    elif done := state.get("test_upload_done"):
        st.success(done, icon=":material/check_circle:")


def load_upload(name: str, content: bytes) -> tuple[str | None, str | None]:
    """(error, success) sentences for an uploaded file, kept as a run and chosen when good."""
    try:
        checkpoint = load_model_file(content)
        from_notebook = not checkpoint.history  # this app's checkpoints carry their history
        if from_notebook:
            checkpoint = scored(checkpoint, ui.get_data())
        label = f"{name} (notebook)" if from_notebook else name
        run_id = ui.registry().add_checkpoint(checkpoint, label, ui.browser_token())
    except (CheckpointError, OSError) as err:
        return (
            f"**{inert(name)} was not loaded:** {inert(error_words(err))}. The model in use is unchanged.",
            None,
        )
    ui.choose_run(run_id)
    kind = "a model from the notebook's class" if from_notebook else "a checkpoint"
    return None, f"{inert(name)}: {kind}, {describe(checkpoint.model_config)}, kept as run {run_id}."


def downloads(chosen: ChosenModel) -> None:
    """The model as this app saves it; for the notebook's class; and the code that rebuilds the run."""
    st.download_button(
        "Checkpoint of this app",
        data=chosen.checkpoint.to_bytes,
        file_name=f"{chosen.run_id}.pt",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        key="test_download",
        help="Configs, weights, optimizer state and history (.pt): uploads here, or continues on the Train page",
        width="stretch",
    )
    line = loading_line(chosen.checkpoint, f"{chosen.run_id}{FORMATS['state-dict']}")
    st.markdown(
        f"**Download for the notebook**: load it with `{line}`. **Get the code**: the model class, the "
        "training and test loops and this run's settings, in plain PyTorch."
    )
    for to, (label, help_text) in evaluation_tables.NOTEBOOK_FILES.items():
        st.download_button(
            label,
            data=lambda to=to: export_bytes(chosen.checkpoint, chosen.run_id, to),
            file_name=f"{chosen.run_id}{FORMATS[to]}",
            mime="application/octet-stream",
            on_click="ignore",
            icon=":material/download:",
            key=f"test_export_{to}",
            help=help_text,
            width="stretch",
        )


def choose_model() -> ChosenModel | None:
    """One line: the model on test, the epoch it is taken after, its downloads, and the upload
    of another; the canvas and its prediction then fit the first screen."""
    words, epoch, download, upload = st.columns([6, 3, 2.4, 2], vertical_alignment="center")
    with upload.popover(
        "Upload", icon=":material/upload:", width="stretch", help="A model of this app or the notebook"
    ):
        upload_checkpoint()
    if error := state.get("test_upload_error"):
        st.error(error, icon=":material/error:")
    with words:
        chosen = ui.chosen_model()
    if chosen is None:
        return None
    with epoch:
        chosen = epoch_views.pick_epoch(chosen, "test", label_visibility="collapsed")
    words.markdown(
        f"**Testing {inert(chosen.name)}**: {chosen.description}.",
        help="Another run can be picked under **Run** in the side panel, or a model uploaded here.",
    )
    with download.popover(
        "Download", icon=":material/download:", width="stretch", help="This model, for this app or the notebook"
    ):
        downloads(chosen)
    forget_picks_of_another_model(chosen.fingerprint)
    return chosen


def forget_picks_of_another_model(fingerprint: str) -> None:
    """Images picked for one model mean nothing for the next: a new model starts afresh."""
    if state.get("test_model_seen") not in (None, fingerprint):
        for key in PICKS:
            state.pop(key, None)
    state["test_model_seen"] = fingerprint


# ----- charts -----------------------------------------------------------------------------


def show_reading(image: torch.Tensor, reading: Reading, model: RowClassifier) -> None:
    """The reading chart and its words, in the model's reading order."""
    st.header(evaluation_tables.READING_TITLE)
    lines = StepLines.whole(model.order)
    chart_col, words_col = st.columns([1, 1])
    spec = evaluation_charts.reading_spec(reading.hidden.shape[1], *evaluation_tables.slider_words(lines))
    charts.show(chart_col, spec, evaluation_tables.reading_tables(image, reading, lines), width="content")
    words_col.markdown(evaluation_tables.explain_reading(reading, lines))
    words_col.caption(evaluation_tables.reading_caption(lines))


# ----- the three views ----------------------------------------------------------------------


def _open_in_one_by_one(index: int) -> None:
    state["test_image_index"] = index
    state["test_view"] = ONE_BY_ONE


def gallery(data: MnistData, indices: torch.Tensor, caption: Callable[[int], str], key: str, what: str) -> None:
    """Up to GALLERY_SIZE test images as one picture (it shrinks to fit a phone and arrives with
    its captions), and a picker to look inside one of them."""
    shown = indices[:GALLERY_SIZE].tolist()
    if not shown:
        st.caption("No images here.")
        return
    named = [f"#{i} {caption(i)}" for i in shown]
    lines = [", ".join(named[start : start + GALLERY_COLUMNS]) for start in range(0, len(named), GALLERY_COLUMNS)]
    picture, choice = st.columns([3, 2])  # side by side on a screen, one under the other on a phone
    grid = charts.digit_grid(data.test_images[shown], GALLERY_COLUMNS, GALLERY_SCALE)
    picture.image(
        grid,
        width="stretch",  # a fixed width would reach past a phone's screen
        caption="Left to right: " + "; ".join(f"line {n}: {line}" for n, line in enumerate(lines, 1)),
        alt=f"{len(shown)} test images {what}, {GALLERY_COLUMNS} to a line.",
        output_format="PNG",
    )
    index = choice.selectbox(
        "Look inside one of them", shown, format_func=lambda i: f"test image #{i}: {caption(i)}", key=f"{key}_pick"
    )
    choice.button(
        "Show how the RNN reads it",
        key=f"{key}_open",
        on_click=_open_in_one_by_one,
        args=(index,),
        icon=":material/visibility:",
    )


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
        state["test_cell_true"], state["test_cell_predicted"] = (
            int(v) for v in np.unravel_index(off_diagonal.argmax(), confusion.shape)
        )
    matrix, per_class = st.columns([1, 1])
    with matrix:
        st.header("Confusion matrix")
        st.caption("Rows: the true digit. Columns: the model's answer. Click a cell to see those images.")
        chosen = (state["test_cell_true"], state["test_cell_predicted"])
        charts.show(
            st,
            evaluation_charts.confusion_spec(),
            {evaluation_charts.CONFUSION: evaluation_tables.confusion_table(confusion, chosen)},
            key="test_confusion",
            on_select=_select_cell,
        )
    with per_class:
        st.header("Accuracy per digit")
        per_digit = pd.DataFrame(
            {"digit": range(10), "accuracy": report.per_class_accuracy.numpy(), "images": confusion.sum(1)}
        )
        charts.show(st, evaluation_charts.class_accuracy_spec(), {evaluation_charts.PER_DIGIT: per_digit})
        true_box, predicted_box = st.columns(2)
        true_digit = true_box.selectbox("True digit", range(10), key="test_cell_true")
        predicted = predicted_box.selectbox("Predicted as", range(10), key="test_cell_predicted")

    count = int(confusion[true_digit, predicted])
    shown = f" (the first {GALLERY_SIZE} shown)" if count > GALLERY_SIZE else ""
    st.header(f"True {true_digit}, predicted {predicted}: {count:,} image{'' if count == 1 else 's'}{shown}")
    confidence = report.confidence
    gallery(
        data,
        report.examples(true_digit, predicted),
        lambda i: f"{confidence[i]:.0%} sure",
        key="test_cell",
        what=f"of a {true_digit} read as a {predicted}",
    )

    st.header("The most confident mistakes")
    predictions = report.predictions
    gallery(
        data,
        mistakes,
        lambda i: f"{report.labels[i]}→{predictions[i]} {confidence[i]:.0%}",
        key="test_mistakes",
        what="the model gets wrong, the surest first",
    )


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
        left.image(
            charts.digit_picture(image, PICTURE_SCALE),
            caption=f"test image #{index} · true digit {true_digit}",
            alt=f"A handwritten {true_digit}, test image number {index}.",
        )
        verdict = ":green[right]" if answer == true_digit else f":red[wrong: it is a {true_digit}]"
        right.markdown(f"## Prediction: {answer} ({probabilities[answer]:.1%}) · {verdict}")
        charts.show(
            right,
            evaluation_charts.probability_bars_spec(),
            {evaluation_charts.PROBABILITIES: evaluation_tables.probability_table(probabilities, true_digit)},
        )
        right.caption(charts.ROLE_KEY)
        show_reading(image, reading, model)

    show_one()


def suggest_drawing_preset() -> None:
    words, link = st.columns([3, 1], vertical_alignment="center")
    words.caption(
        "This model was trained on MNIST's digits as they are. The **drawing** preset trains on them turned, "
        "slanted, resized, with thicker and thinner strokes or redrawn with strokes of one width as the canvas draws "
        "them, and reads drawn digits better."
    )
    link.page_link("app_pages/train.py", label="Train it", query_params={"preset": "drawing"}, icon=":material/draw:")


@st.fragment
def draw_view(model: RowClassifier, trained_for_drawings: bool) -> None:
    if not trained_for_drawings:
        suggest_drawing_preset()
    canvas_column, seen_column, answer_column = st.columns([3, 2, 3])
    with canvas_column:
        image = ui.drawn_digit("test_canvas")
    if image is None:
        answer_column.info(evaluation_tables.DRAW_PROMPT)
        return
    reading = read_image(model, image)
    with seen_column:
        st.image(
            charts.digit_picture(image, PICTURE_SCALE),
            caption="what the model sees: 28×28, MNIST-style",
            alt="Your drawing as the model receives it: 28 by 28 grey pixels, centred and scaled like an MNIST digit.",
        )
    answer_column.markdown(evaluation_tables.prediction_words(best_two(reading.final)))
    charts.show(
        answer_column,
        evaluation_charts.probability_bars_spec(),
        {evaluation_charts.PROBABILITIES: evaluation_tables.probability_table(reading.final, None)},
    )
    show_reading(image, reading, model)


def main() -> None:
    st.title("Test the model")
    data = ui.get_data()
    if data is None:
        st.stop()
    chosen = choose_model()
    if chosen is None:
        st.stop()
    fingerprint, model = chosen.fingerprint, chosen.model

    test_set, one_by_one, draw, learned = st.tabs(
        [TEST_SET, ONE_BY_ONE, DRAW, LEARNED], key="test_view", on_change="rerun"
    )
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
            draw_view(model, chosen.checkpoint.train_config.augment > 0)
    if learned.open:
        with learned:
            epoch_views.how_it_learned(chosen, data)


main()
