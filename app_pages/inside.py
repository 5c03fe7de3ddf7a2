"""Inside the LSTM: the cell's gates and states for one image, how many rows a model needs, and
how far back its gradient reaches, with an RNN, a GRU and an LSTM trained alike side by side."""

from __future__ import annotations

import random

import pandas as pd
import streamlit as st
import torch

from dashboard import charts, commands, epoch_views, inside_cell, inside_charts, inside_tables, inside_view, ui
from dashboard.inert import inert
from dashboard.inside_tables import (
    CELL_TRIO,
    TRIO_MODEL,
    TRIO_TRAIN,
    cell_trios,
    describe_settings,
    gradient_frame,
    gradient_ratio,
    per_digit_frame,
    rows_curve_frame,
    trio_configs,
    untrained_model,
)
from dashboard.step_lines import StepLines
from rnn_core import Checkpoint, MnistData, RowClassifier, RunStatus, sweep
from rnn_core.inspection import Reading, accuracy_by_rows_per_digit, correct_by_rows, gradient_by_row, read_image
from rnn_core.runs import SweepTag

TEST_IMAGE, DRAWN = "A test image", "A digit you draw"
IMAGE_SOURCES = (TEST_IMAGE, DRAWN)
GRADIENT_IMAGES = 2000  # the first test images: enough for a steady curve in about a second
TRIO_POLL_S = 2.0
TRIO_ERROR = "inside_trio_error"


state = st.session_state


# ----- cached measures ----------------------------------------------------------------------


@st.cache_resource(max_entries=16, show_spinner="Reading the test set row by row (once per model)...")
def _rows_needed(
    fingerprint: str, data_description: str, _model: RowClassifier, _data: MnistData
) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy after lines 1..28 [28] and per digit [10, 28] (StepLines.whole of the model's
    order: after each row, or every 28 steps), on the whole test set."""
    correct = correct_by_rows(_model, _data.test_images, _data.test_labels)
    lines = StepLines.whole(_model.order)
    per_digit = accuracy_by_rows_per_digit(correct, _data.test_labels)
    return lines.sample(correct.double().mean(0) * 100), lines.sample(per_digit.T).T


@st.cache_resource(max_entries=16, show_spinner="Measuring the gradient of every row (once per model)...")
def _gradients(
    fingerprint: str, data_description: str, _checkpoint: Checkpoint, _model: RowClassifier, _data: MnistData
):
    """(trained, untrained) mean |dNLL / d row t| over the first GRADIENT_IMAGES test images,
    per line (StepLines.pooled_sizes); the untrained model is the run's own starting point (same
    config, same seed)."""
    images, labels = _data.test_images[:GRADIENT_IMAGES], _data.test_labels[:GRADIENT_IMAGES]
    start = untrained_model(_checkpoint.model_config, _checkpoint.train_config.seed)
    pooled = StepLines.whole(_model.order).pooled_sizes
    return pooled(gradient_by_row(_model, images, labels)), pooled(gradient_by_row(start, images, labels))


@st.cache_resource(max_entries=16, show_spinner=False)
def _run_model(run_id: str, epochs: float, root: str) -> tuple[str, Checkpoint, RowClassifier]:
    # `epochs` is part of the key: a run trained further is read again.
    from rnn_core.inspection import model_fingerprint

    checkpoint = ui.registry().checkpoint(run_id)
    return model_fingerprint(checkpoint), checkpoint, checkpoint.build_model().eval()


def run_model(view) -> tuple[str, Checkpoint, RowClassifier]:
    return _run_model(view.run_id, float(view.history[-1].epoch), ui.runs_root())


# ----- chart specs (built once, fed named datasets) -----------------------------------------


# ----- 1. inside the cell ----------------------------------------------------------------------


def _random_image(count: int) -> None:
    state.inside_index = random.randrange(count)


def explain_cell(cell_type: str) -> None:
    if cell_type in ("LSTM", "GRU"):
        st.markdown(inside_cell.explanation(cell_type))
    else:
        st.info(inside_cell.explanation(cell_type), icon=":material/info:")


def test_image_reading(chosen: ui.ChosenModel, data: MnistData, last: str) -> tuple[torch.Tensor, Reading]:
    count = len(data.test_labels)
    state.inside_index = min(state.inside_index, count - 1)
    index_col, random_col, label_col = st.columns([2, 1, 2], vertical_alignment="bottom")
    index = index_col.number_input("Test image", min_value=0, max_value=count - 1, step=1, key="inside_index")
    random_col.button("Random image", icon=":material/casino:", on_click=_random_image, args=(count,), width="stretch")
    image, label = data.test_images[index], int(data.test_labels[index])
    reading = read_image(chosen.model, image)
    verdict = "right" if reading.prediction == label else "wrong"
    label_col.markdown(f"True digit **{label}** · answer after {last}: **{reading.prediction}** ({verdict})")
    return image, reading


def inside_the_cell(chosen: ui.ChosenModel, data: MnistData) -> None:
    st.header("Inside the cell", divider="gray")
    cell_type = chosen.checkpoint.model_config.cell_type
    st.caption(
        f"{inert(chosen.name)}: {chosen.description}. The panels show its recurrent layer (the top one, where layers "
        f"are stacked), one line per {'row' if chosen.model.order.is_identity else 'step'} read."
    )
    explain_cell(cell_type)
    order = chosen.model.order
    last = "row 28" if order.is_identity else f"step {order.steps}"
    source = st.segmented_control("Image", IMAGE_SOURCES, required=True, key="inside_source", persist_state="session")
    if source == DRAWN:
        canvas_col, answer_col = st.columns([1, 2])
        with canvas_col:
            image = ui.drawn_digit("inside_canvas")
        if image is None:
            answer_col.info("Draw a digit in the black square: the panels below show what the cell does with it.")
            return
        reading = read_image(chosen.model, image)
        answer_col.image(
            charts.digit_picture(image, 4),
            caption="what the model reads: 28×28, MNIST-style",
            alt="Your drawing as the model receives it: 28 by 28 grey pixels, centred and scaled like an MNIST digit.",
        )
        answer_col.markdown(f"Answer after {last}: **{reading.prediction}** ({reading.final[reading.prediction]:.0%})")
    else:
        image, reading = test_image_reading(chosen, data, last)
    inside_view.cell_view(image, reading, cell_type, inside_view.step_lines(order, "inside_window"))


# ----- 2. how many rows does it need ----------------------------------------------------------


def rows_needed(chosen: ui.ChosenModel, data: MnistData, views: list) -> None:
    st.header("How many rows does it need?", divider="gray")
    st.markdown(
        "Stop the network after row t and take its guess: how often is it right? It is trained to "
        "answer after row 28 only, so early guesses say how much of the digit it needs to see."
    )
    choices = {view.run_id: view for view in views if view.has_model and not view.busy}
    options = list(dict.fromkeys([chosen.run_id, *choices]))
    labels = {run_id: ui.run_label(choices[run_id]) if run_id in choices else chosen.name for run_id in options}
    picked = st.multiselect(
        "Compare runs",
        options,
        default=[chosen.run_id],
        format_func=lambda run_id: labels[run_id],
        key=f"inside_runs_{chosen.run_id}",
        help="Runs that are not training. The current run is chosen under Run in the side panel.",
    )
    curves, per_digit = {}, None
    for run_id in picked:
        if run_id == chosen.run_id:
            fingerprint, model = chosen.fingerprint, chosen.model
        else:
            fingerprint, _, model = run_model(choices[run_id])
        curve, digits = _rows_needed(fingerprint, data.description, model, data)
        name = inside_tables.curve_name(choices.get(run_id)) if run_id in choices else chosen.run_id
        curves[name] = curve
        if run_id == chosen.run_id:
            per_digit = digits
    if not curves:
        st.caption("Pick at least one run.")
        return
    left, right = st.columns([3, 2])
    lines = StepLines.whole(chosen.model.order)
    rows_spec = inside_charts.rows_spec(read=inside_tables.lines_read(lines))
    charts.show(left, rows_spec, {inside_charts.CURVES: rows_curve_frame(curves)}, key="inside_rows_chart")
    mine, _ = _rows_needed(chosen.fingerprint, data.description, chosen.model, data)
    left.caption(inside_tables.rows_needed_caption(chosen.run_id, mine, lines))
    if per_digit is None:
        per_digit = _rows_needed(chosen.fingerprint, data.description, chosen.model, data)[1]
    charts.show(
        right,
        inside_charts.per_digit_spec(chosen.run_id, inside_tables.lines_read(lines)),
        {inside_charts.PER_DIGIT: per_digit_frame(per_digit)},
        key="inside_digits_chart",
    )
    half = per_digit[:, 13]
    best = [str(d) for d in half.argsort(descending=True)[:3].tolist()]
    right.caption(
        "Darker green: more of that digit's test images guessed right after reading rows 1..t (white 0%, darkest 100%)."
    )
    right.caption(
        f"After half the image ({lines.after_line(14)}) the digits told apart best are {', '.join(best)} "
        f"({half[int(best[0])]:.0f}% for {best[0]})."
    )


# ----- 3. memory through time -----------------------------------------------------------------


def memory_of_model(chosen: ui.ChosenModel, data: MnistData) -> None:
    trained, untrained = _gradients(chosen.fingerprint, data.description, chosen.checkpoint, chosen.model, data)
    name = chosen.checkpoint.model_config.cell_type
    frame = gradient_frame({(name, "untrained"): untrained, (name, "trained"): trained})
    lines = StepLines.whole(chosen.model.order)
    x_title = "row of the input" if lines.is_rows else f"line of the input ({lines.per_line} steps a line)"
    spec = inside_charts.gradient_spec(
        f"How much each row moves the answer: {chosen.run_id}",
        "Line chart, log scale: the mean size of the loss's gradient with respect to each input row, for this "
        "model before training (dashed) and after (solid).",
        colour_by_cell=False,
        x_title=x_title,
    )
    charts.show(st, spec, {inside_charts.GRADIENTS: frame}, key="inside_gradient_chart")
    st.caption(
        f"On the first {GRADIENT_IMAGES:,} test images. {lines.line_words(1).capitalize()} moves the answer "
        f"{gradient_ratio(untrained):.2g} times as much as {lines.line_words(28)} before training (seed "
        f"{chosen.checkpoint.train_config.seed}), {gradient_ratio(trained):.2g} times after."
    )


def start_trio() -> None:
    # one sweep over the cell type: bounded as a sweep is, not by the runs a browser may have going
    runs, owner, configs = ui.registry(), ui.browser_token(), trio_configs()
    runs.check_sweep(owner, len(configs))
    tag = SweepTag(sweep.new_sweep_id(), ("cell_type",))
    started = [runs.start(model, train, owner=owner, label=label, sweep=tag) for _, model, train, label in configs]
    state["inside_trio_started"] = started


def trio_status(trio: dict) -> None:
    cells = st.columns(len(CELL_TRIO))
    for column, cell in zip(cells, CELL_TRIO):
        view = trio[cell]
        live = view.live
        if view.history:
            last = view.history[-1]
            score = f"epoch {last.epoch:g}/{view.record.train_config.epochs}, {last.test_accuracy:.1f}%"
        else:
            score = "no epoch yet"
        if live and live.progress and view.busy:
            score += f" (batch {live.progress.batch}/{live.progress.batches})"
        column.metric(f"{cell} · {view.run_id}", view.status.value, score, delta_color="off", border=True)


def trio_comparison(trio: dict, data: MnistData) -> None:
    gradients, curves, rows = {}, {}, []
    for cell in CELL_TRIO:
        fingerprint, checkpoint, model = run_model(trio[cell])
        trained, untrained = _gradients(fingerprint, data.description, checkpoint, model, data)
        accuracy, _ = _rows_needed(fingerprint, data.description, model, data)
        gradients[(cell, "untrained")], gradients[(cell, "trained")] = untrained, trained
        curves[cell] = accuracy
        seconds = sum(record.train_seconds for record in checkpoint.history)
        rows.append(
            {
                "cell": cell,
                "run": trio[cell].run_id,
                "test accuracy (%)": round(float(accuracy[-1]), 1),
                "right after 14 rows (%)": round(float(accuracy[13]), 1),
                "row 1 / row 28, untrained": f"{gradient_ratio(untrained):.2g}",
                "row 1 / row 28, trained": f"{gradient_ratio(trained):.2g}",
                "training (s)": round(seconds, 1),
            }
        )
    left, right = st.columns(2)
    spec = inside_charts.gradient_spec(
        "Gradient per row: RNN, GRU, LSTM",
        "Line chart, log scale: mean gradient of the loss with respect to each input row, for the three cells "
        "before training (dashed) and after (solid).",
        colour_by_cell=True,
    )
    charts.show(left, spec, {inside_charts.GRADIENTS: gradient_frame(gradients)}, key="inside_trio_gradients")
    charts.show(
        right,
        inside_charts.rows_spec(colour_by_cell=True),
        {inside_charts.CURVES: rows_curve_frame(curves)},
        key="inside_trio_rows",
    )
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch")
    st.markdown(inside_tables.trio_verdict(table, gradients))


def trio_section(polling: bool) -> None:
    """The three cells' live status while they train; once done, their comparison."""
    trios = cell_trios(ui.run_listing().views)
    newest = trios[0] if trios else None
    busy = newest is not None and any(view.busy for view in newest.values())
    if polling != busy:
        # done: draw the comparison and stop polling; or just started (by the button in this
        # fragment, or elsewhere): the page sets the fragment up again, polling
        st.rerun()
    st.button(
        "Train the three cells",
        icon=":material/model_training:",
        on_click=commands.run,
        args=(TRIO_ERROR, "Could not start the three runs", start_trio),
        disabled=busy,
        key="inside_train_trio",
        type="primary",
        help=f"Starts three runs, an RNN, a GRU and an LSTM: {describe_settings(TRIO_MODEL, TRIO_TRAIN)}. "
        "About 40 s on two cores; they show up in the side panel's run list as 'cells: ...'.",
    )
    commands.show_error(st, TRIO_ERROR)
    if newest is None:
        st.caption(
            "No comparison yet. The button trains three runs alike but for the cell: "
            f"{describe_settings(TRIO_MODEL, TRIO_TRAIN)}."
        )
        return
    if busy:
        st.markdown("**Training the three cells** (they share the server's training slots, so one may wait):")
        trio_status(newest)
    finished = next((trio for trio in trios if all(view.status == RunStatus.FINISHED for view in trio.values())), None)
    if finished is None:
        if not busy:
            st.caption("The newest three runs did not all finish; train them again.")
        return
    first = finished[CELL_TRIO[0]].record
    st.markdown(
        f"**Compared:** runs {', '.join(finished[cell].run_id for cell in CELL_TRIO)}: "
        f"{inert(describe_settings(first.model_config, first.train_config))}."
    )
    trio_comparison(finished, ui.get_data())


def memory_through_time(chosen: ui.ChosenModel | None, data: MnistData) -> None:
    st.header("Memory through time", divider="gray")
    st.markdown(
        "How much does row 1 still matter when the answer comes after row 28? The chart shows the "
        "size of the loss's gradient with respect to each row: where it is tiny, changing that row "
        "hardly changes the answer, and training gets almost no signal to learn from it (the "
        "*vanishing gradient*). Log scale: each grid line is ten times the one below."
    )
    if chosen is not None:
        memory_of_model(chosen, data)
    st.subheader("RNN, GRU and LSTM, trained alike")
    trios = cell_trios(ui.run_listing().views)
    busy = bool(trios) and any(view.busy for view in trios[0].values())
    st.fragment(trio_section, run_every=TRIO_POLL_S if busy else None)(busy)


# ----- the page -------------------------------------------------------------------------------


def main() -> None:
    state.setdefault("inside_index", 0)
    state.setdefault("inside_source", TEST_IMAGE)
    st.title("Inside the LSTM")
    st.markdown(
        "What happens inside the recurrent cell while it reads a digit row by row: its gates, its "
        "memory, how many rows it needs, and how far back its memory reaches. The run is chosen "
        "under Run in the side panel."
    )
    data = ui.get_data()
    if data is None:
        st.stop()
    chosen = ui.chosen_model()
    if chosen is not None:
        with st.columns([1, 2])[0]:
            chosen = epoch_views.pick_epoch(chosen, "inside")
        inside_the_cell(chosen, data)
        rows_needed(chosen, data, ui.run_listing().views)
    memory_through_time(chosen, data)


main()
