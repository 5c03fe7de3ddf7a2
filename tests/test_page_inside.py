"""AppTest checks of the Inside the LSTM page: the cell's heatmaps are the trace's own numbers,
the rows-needed curve ends at the test accuracy, the gradient chart is gradient_by_row's, and
one click starts the RNN / GRU / LSTM comparison."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard import inside_charts
from dashboard.inside_tables import CELL, CELL_TRIO, GATE_NAMES, HIDDEN, TRIO_LABEL, TRIO_MODEL, TRIO_TRAIN
from rnn_core import RunStore, load_mnist
from rnn_core.config import ModelConfig
from rnn_core.evaluate import evaluate
from rnn_core.inspection import gradient_by_row
from rnn_core.reading_order import COLUMNS, PIXEL_BY_PIXEL
from tests.conftest import chart_titled, charts, table_with
from tests.kit import open_page, trained_run


@pytest.fixture(scope="module")
def app_test_set() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist(os.environ["RNN_DATA_DIR"], allow_download=False, allow_sample=False)
    return data.test_images, data.test_labels


def train_run(
    runs_dir, data, cell_type: str = "LSTM", label: str = "for the inside page", hidden: int = 6, order: str = "rows"
) -> str:
    return trained_run(runs_dir, data, label, cell_type=cell_type, hidden_size=hidden, seed=3, reading_order=order)


def open_inside(**params) -> AppTest:
    return open_page("inside", **params)


def as_matrix(table: pd.DataFrame) -> torch.Tensor:
    """A long row/unit/value table back to [28, H]."""
    return torch.tensor(table.pivot(index="row", columns="unit", values="value").to_numpy())


def open_on_trace(runs_dir, run_id: str, test_images: torch.Tensor):
    """The page on this run, its model, and the model's trace of the test image on show."""
    at = open_inside(run=run_id)
    assert not at.exception
    model = RunStore(runs_dir).checkpoint(run_id).build_model().eval()
    with torch.no_grad():
        trace = model.trace(test_images[at.number_input(key="inside_index").value][None])
    return at, model, trace


@pytest.mark.parametrize("cell_type", ["LSTM", "GRU"])
def test_the_gate_and_state_heatmaps_are_the_traces_numbers(runs_dir, tiny_data, app_test_set, cell_type):
    at, _, trace = open_on_trace(runs_dir, train_run(runs_dir, tiny_data, cell_type), app_test_set[0])
    assert trace.gates, "an LSTM or GRU has gates"
    for name, gate in trace.gates.items():
        shown = as_matrix(chart_titled(at, GATE_NAMES[name]).tables["values"])
        torch.testing.assert_close(shown, gate[0].double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(
        as_matrix(chart_titled(at, HIDDEN).tables["values"]), trace.hidden[0].double(), rtol=0, atol=1e-6
    )
    if cell_type == "LSTM":
        torch.testing.assert_close(
            as_matrix(chart_titled(at, CELL).tables["values"]), trace.cell[0].double(), rtol=0, atol=1e-6
        )
    else:
        assert not [chart for chart in charts(at) if chart.title == CELL]


def test_a_plain_rnn_says_it_has_no_gates_and_shows_its_hidden_state(runs_dir, tiny_data):
    at = open_inside(run=train_run(runs_dir, tiny_data, "RNN"))
    assert not at.exception
    assert any("no gates" in info.value for info in at.info)
    titles = {chart.title for chart in charts(at)}
    assert HIDDEN in titles and not titles & set(GATE_NAMES.values())


def test_the_panels_carry_row_t_from_the_last_row_and_the_player_a_sentence_per_row(runs_dir, tiny_data):
    at = open_inside(run=train_run(runs_dir, tiny_data))
    assert not at.exception
    for title in ("The image", GATE_NAMES["forget"], HIDDEN):
        (param,) = [param for param in chart_titled(at, title).spec["params"] if "bind" in param]
        assert param["name"] == "inside_row" and param["value"] == 28  # the whole image read
    (player,) = at.get("bidi_component")
    data = json.loads(player.proto.json)
    assert data["param"] == "inside_row" and data["start"] == 28 and data["interval"] == 0.3
    assert len(data["texts"]) == 28
    assert data["texts"][4].startswith("<b>Row 5 of 28</b>. Guess after it:") and "forget gate f" in data["texts"][4]


def test_the_rows_curve_ends_at_the_test_accuracy_and_has_every_digit(runs_dir, tiny_data, app_test_set):
    run_id = train_run(runs_dir, tiny_data)
    at = open_inside(run=run_id)
    assert not at.exception
    images, labels = app_test_set
    expected = evaluate(RunStore(runs_dir).checkpoint(run_id).build_model(), images, labels).accuracy
    curve = table_with(at, "run", "rows", "accuracy")
    assert curve["rows"].tolist() == list(range(1, 29))
    assert curve["accuracy"].iloc[-1] == pytest.approx(expected, abs=1e-9)
    digits = table_with(at, "digit", "rows", "accuracy")
    assert sorted(digits["digit"].unique()) == list(range(10)) and len(digits) == 280


def test_comparing_runs_draws_one_curve_per_picked_run(runs_dir, tiny_data):
    first = train_run(runs_dir, tiny_data, label="one")
    second = train_run(runs_dir, tiny_data, "GRU", label="two")
    at = open_inside(run=first)
    at.multiselect(key=f"inside_runs_{first}").set_value([first, second]).run()
    assert not at.exception
    curve = table_with(at, "run", "rows", "accuracy")
    assert curve["run"].nunique() == 2 and len(curve) == 56


def test_the_gradient_chart_is_gradient_by_row_before_and_after_training(runs_dir, tiny_data, app_test_set):
    run_id = train_run(runs_dir, tiny_data)
    at = open_inside(run=run_id)
    images, labels = app_test_set
    model = RunStore(runs_dir).checkpoint(run_id).build_model()
    frame = table_with(at, "model", "state", "row", "gradient")
    assert set(frame["state"]) == {"untrained", "trained"}
    trained = frame[frame["state"] == "trained"].sort_values("row")["gradient"].to_numpy()
    expected = gradient_by_row(model, images[:2000], labels[:2000]).numpy()
    assert trained == pytest.approx(expected, rel=1e-4)
    untrained = frame[frame["state"] == "untrained"].sort_values("row")["gradient"].to_numpy()
    assert untrained[0] / untrained[-1] < trained[0] / trained[-1]  # the untrained gradient fades more


def test_train_the_three_cells_starts_an_rnn_a_gru_and_an_lstm_alike(runs_dir):
    at = open_inside()  # works with no model yet
    assert not at.exception
    at.button(key="inside_train_trio").click().run()
    assert not at.exception
    records, _ = RunStore(runs_dir).scan()
    assert sorted(record.model_config.cell_type for record in records) == sorted(CELL_TRIO)
    for record in records:
        assert record.label == TRIO_LABEL.format(cell=record.model_config.cell_type)
        assert record.train_config == TRIO_TRAIN
        assert (record.model_config.hidden_size, record.model_config.num_layers) == (
            TRIO_MODEL.hidden_size,
            TRIO_MODEL.num_layers,
        )
    assert at.button(key="inside_train_trio").disabled  # while they train
    assert len(at.metric) == 3


def test_a_finished_trio_is_compared_side_by_side(runs_dir, tiny_data):
    ids = {
        cell: train_run(runs_dir, tiny_data, cell, label=TRIO_LABEL.format(cell=cell), hidden=4) for cell in CELL_TRIO
    }
    at = open_inside(run=ids["LSTM"])
    assert not at.exception
    table = at.dataframe[0].value
    assert table["cell"].tolist() == list(CELL_TRIO) and table["run"].tolist() == [ids[cell] for cell in CELL_TRIO]
    gradients = [chart.tables for chart in charts(at) if chart.title == "Gradient per row: RNN, GRU, LSTM"]
    assert gradients
    frame = next(t for t in gradients[0].values() if "gradient" in t.columns)
    assert set(zip(frame["model"], frame["state"])) == {
        (cell, state) for cell in CELL_TRIO for state in ("untrained", "trained")
    }


def test_a_drawn_digit_is_offered_and_the_empty_canvas_asks_for_one(runs_dir, tiny_data):
    at = open_inside(run=train_run(runs_dir, tiny_data))
    at.session_state["inside_source"] = "A digit you draw"
    at.run()
    assert not at.exception
    assert any("Draw a digit" in info.value for info in at.info)
    titles = {chart.title for chart in charts(at)}
    assert not titles & set(GATE_NAMES.values())  # no panels until a digit is drawn


def test_the_link_opens_the_cell_of_the_untrained_model_and_the_choice_follows_to_the_test_page(
    runs_dir, tiny_data, app_test_set
):
    from rnn_core.epochs import load_epoch_weights, saved_epochs

    run_id = train_run(runs_dir, tiny_data, "GRU")
    at = open_inside(run=run_id, epoch="0")
    assert not at.exception
    assert any("after epoch 0" in caption.value for caption in at.caption)
    untrained = load_epoch_weights(saved_epochs(runs_dir / run_id)[0], ModelConfig(hidden_size=6, cell_type="GRU"))
    index = at.number_input(key="inside_index").value
    with torch.no_grad():
        trace = untrained.build_model().eval().trace(app_test_set[0][index][None])
    shown = as_matrix(chart_titled(at, HIDDEN).tables["values"])
    torch.testing.assert_close(shown, trace.hidden[0].double(), rtol=0, atol=1e-6)
    at.switch_page("app_pages/test.py").run()
    assert at.query_params["epoch"] == "0"
    assert any("after epoch 0" in m.value for m in at.markdown if m.value.startswith("**Testing"))


def test_a_pixels_run_shows_a_window_of_28_steps_and_its_curves_every_28_steps(runs_dir, tiny_data, app_test_set):
    run_id = train_run(runs_dir, tiny_data, order=PIXEL_BY_PIXEL)
    at, model, trace = open_on_trace(runs_dir, run_id, app_test_set[0])
    shown = as_matrix(chart_titled(at, HIDDEN).tables["values"])
    torch.testing.assert_close(shown, trace.hidden[0, :28].double(), rtol=0, atol=1e-6)  # steps 1-28
    at = at.select_slider(key="inside_window").set_value(57).run()
    shown = as_matrix(chart_titled(at, GATE_NAMES["forget"]).tables["values"])
    torch.testing.assert_close(shown, trace.gates["forget"][0, 56:84].double(), rtol=0, atol=1e-6)
    pixels = chart_titled(at, "The image").tables["pixels"]
    assert (pixels[pixels["row"] == 3]["line"] == pixels[pixels["row"] == 3]["column"]).all()  # image row 3
    (player,) = at.get("bidi_component")
    assert json.loads(player.proto.json)["texts"][0].startswith("<b>Step 57 of 784</b>.")
    images, labels = app_test_set
    curve = table_with(at, "run", "rows", "accuracy")
    assert curve["rows"].tolist() == list(range(1, 29))  # after steps 28, 56, ..., 784
    assert curve["accuracy"].iloc[-1] == pytest.approx(evaluate(model, images, labels).accuracy, abs=1e-9)
    gradients = table_with(at, "model", "state", "row", "gradient")
    assert len(gradients) == 2 * 28
    assert any("after step 392 of 784" in caption.value for caption in at.caption)


def test_a_columns_run_counts_steps_and_frames_column_t(runs_dir, tiny_data):
    at = open_inside(run=train_run(runs_dir, tiny_data, order=COLUMNS))
    assert not at.exception
    assert not at.get("select_slider")  # 28 steps: all shown
    pixels = chart_titled(at, "The image").tables["pixels"]
    assert (pixels["line"] == pixels["column"]).all()
    (player,) = at.get("bidi_component")
    assert json.loads(player.proto.json)["texts"][4].startswith("<b>Step 5 (column 5) of 28</b>.")
    accuracy = chart_titled(at, inside_charts.rows_spec(read="columns")["title"])
    assert "columns read (1..t)" in json.dumps(accuracy.spec)
