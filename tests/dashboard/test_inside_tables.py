"""Unit tests of dashboard.inside_tables: the tables the Inside the LSTM page draws."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from dashboard.inside_tables import (
    CELL,
    CELL_TRIO,
    GATE_NAMES,
    HIDDEN,
    SIGMOID,
    TANH,
    TRIO_LABEL,
    UNBOUNDED,
    cell_panels,
    cell_trios,
    colour_domain,
    gate_summary,
    gradient_frame,
    gradient_ratio,
    panel_frame,
    per_digit_frame,
    rows_curve_frame,
    trio_configs,
    untrained_model,
)
from rnn_core import Trainer
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.inspection import read_image
from rnn_core.model import RowClassifier


def reading_of(cell_type: str, hidden: int = 5):
    torch.manual_seed(0)
    return read_image(RowClassifier(ModelConfig(hidden_size=hidden, cell_type=cell_type)), torch.rand(28, 28))


@pytest.mark.parametrize(
    "cell_type, quantities",
    [
        ("LSTM", [GATE_NAMES[g] for g in ("input", "forget", "candidate", "output")] + [CELL, HIDDEN]),
        ("GRU", [GATE_NAMES[g] for g in ("reset", "update", "candidate")] + [HIDDEN]),
        ("RNN", [HIDDEN]),
    ],
)
def test_panels_follow_the_cells_equations_and_carry_the_readings_tensors(cell_type, quantities):
    reading = reading_of(cell_type)
    panels = cell_panels(reading, cell_type)
    assert [panel.quantity for panel in panels] == quantities
    assert panels[-1].values is reading.hidden
    scales = {panel.quantity: panel.scale for panel in panels}
    assert scales[HIDDEN] == TANH and scales.get(CELL, UNBOUNDED) == UNBOUNDED
    assert all(scale == SIGMOID for name, scale in scales.items() if "gate" in name)


def test_panel_frame_is_the_panel_row_by_row_numbered_from_one():
    panel = cell_panels(reading_of("LSTM"), "LSTM")[1]
    frame = panel_frame(panel)
    assert len(frame) == 28 * 5 and frame["row"].min() == 1 and frame["row"].max() == 28
    back = torch.tensor(frame.pivot(index="row", columns="unit", values="value").to_numpy())
    torch.testing.assert_close(back, panel.values.double())


def test_colour_domains_cover_the_values():
    panels = cell_panels(reading_of("LSTM"), "LSTM")
    for panel in panels:
        low, high = colour_domain(panel)
        assert low <= float(panel.values.min()) and float(panel.values.max()) <= high


def test_gate_summary_is_the_mean_over_units_at_that_row():
    reading = reading_of("GRU")
    summary = gate_summary(reading, 3)
    assert summary[GATE_NAMES["update"]] == pytest.approx(float(reading.gates["update"][2].mean()))
    assert gate_summary(reading_of("RNN"), 3) == {}


def test_curve_frames_are_long_tables_with_rows_one_to_28():
    curve = torch.linspace(10, 90, 28)
    frame = rows_curve_frame({"a": curve, "b": curve})
    assert len(frame) == 56 and frame[frame["run"] == "b"]["accuracy"].iloc[-1] == pytest.approx(90)
    assert rows_curve_frame({}).empty
    digits = per_digit_frame(torch.arange(280.0).reshape(10, 28))
    assert digits.set_index(["digit", "rows"]).loc[(3, 28), "accuracy"] == 3 * 28 + 27
    gradients = gradient_frame({("LSTM", "trained"): curve})
    assert set(gradients.columns) == {"model", "state", "row", "gradient"}
    assert gradient_ratio(curve) == pytest.approx(10 / 90)
    assert gradient_ratio(torch.zeros(28)) != gradient_ratio(torch.zeros(28))  # NaN


def test_the_untrained_model_is_the_one_the_trainer_started_from(tiny_data):
    model_config, train_config = ModelConfig(hidden_size=4, cell_type="GRU"), TrainConfig(epochs=1, seed=11)
    trainer = Trainer(tiny_data, model_config, train_config)
    start = untrained_model(model_config, 11)
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(start.state_dict()[name], value)
    state = torch.random.get_rng_state()
    untrained_model(model_config, 12)
    assert torch.equal(state, torch.random.get_rng_state())  # torch's own generator is untouched


@dataclass
class Record:
    label: str
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass
class View:
    run_id: str
    record: Record


def views_of(*runs: tuple[str, str, int]) -> list[View]:
    """(run id, cell, hidden size), newest first, labelled as the comparison button does."""
    return [
        View(
            run_id, Record(TRIO_LABEL.format(cell=cell), ModelConfig(hidden_size=hidden, cell_type=cell), TrainConfig())
        )
        for run_id, cell, hidden in runs
    ]


def test_trios_are_found_newest_first_and_only_when_complete_and_alike():
    views = views_of(
        ("9", "LSTM", 8),
        ("8", "GRU", 8),
        ("7", "RNN", 8),  # a trio
        ("6", "LSTM", 8),
        ("5", "GRU", 9),
        ("4", "RNN", 9),  # mixed settings: no trio
        ("3", "LSTM", 8),
        ("2", "GRU", 8),
        ("1", "RNN", 8),  # an older trio
    )
    views.insert(
        3, View("x", Record("my own LSTM", ModelConfig(cell_type="LSTM"), TrainConfig()))
    )  # not labelled as one
    trios = cell_trios(views)
    assert [[trio[cell].run_id for cell in CELL_TRIO] for trio in trios] == [["7", "8", "9"], ["1", "2", "3"]]
    assert cell_trios(views_of(("2", "LSTM", 8), ("1", "GRU", 8))) == []


def test_trio_configs_differ_only_in_the_cell():
    configs = trio_configs()
    assert [cell for cell, *_ in configs] == list(CELL_TRIO)
    assert len({(m.hidden_size, m.num_layers, t) for _, m, t, _ in configs}) == 1
    assert [m.cell_type for _, m, _, _ in configs] == list(CELL_TRIO)
    assert [label for *_, label in configs] == [f"cells: {cell}" for cell in CELL_TRIO]
