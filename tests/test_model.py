import pytest
import torch
from torch.nn import functional as F

from rnn_core.config import ModelConfig
from rnn_core.model import RowClassifier


@pytest.mark.parametrize("cell_type", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_forward_gives_log_probabilities_for_each_image(cell_type, num_layers):
    model = RowClassifier(ModelConfig(hidden_size=8, num_layers=num_layers, cell_type=cell_type))
    log_probs = model(torch.rand(5, 28, 28))
    assert log_probs.shape == (5, 10)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(5), atol=1e-5)


def test_accepts_images_with_a_channel_dimension_like_to_tensor_gives():
    model = RowClassifier(ModelConfig(hidden_size=8))
    images = torch.rand(3, 28, 28)
    assert torch.equal(model(images.unsqueeze(1)), model(images))


def test_trace_gives_a_prediction_and_hidden_state_after_every_row():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=12, num_layers=2))
    images = torch.rand(4, 28, 28)
    trace = model.trace(images)
    assert trace.log_probs.shape == (4, 28, 10)
    assert trace.hidden.shape == (4, 28, 12)
    # the last row's guess is the model's answer
    assert torch.allclose(trace.log_probs[:, -1], model(images), atol=1e-6)
    # the guess after row t depends only on rows 0..t
    changed = images.clone()
    changed[:, 20:] = 0
    assert torch.allclose(model.trace(changed).log_probs[:, :20], trace.log_probs[:, :20], atol=1e-6)
    assert not torch.allclose(model.trace(changed).log_probs[:, 27], trace.log_probs[:, 27])


def test_hidden_size_sets_the_parameter_count():
    small = sum(p.numel() for p in RowClassifier(ModelConfig(hidden_size=20)).parameters())
    # LSTM: 4 gates x (input 28 + hidden 20 + 2 biases) x 20, then Linear 20 -> 10
    assert small == 4 * 20 * (28 + 20 + 2) + 20 * 10 + 10


def traced(cell_type: str, num_layers: int, hidden_size: int = 9):
    torch.manual_seed(num_layers)
    model = RowClassifier(ModelConfig(hidden_size=hidden_size, num_layers=num_layers, cell_type=cell_type))
    with torch.no_grad():
        # Larger weights than the default init, so that gates reach towards 0 and 1.
        for weight in model.recurrent.parameters():
            weight.mul_(3)
        return model.trace(torch.rand(4, 28, 28))


def shifted(states: torch.Tensor) -> torch.Tensor:
    """The state before each row: zeros before row 1, then the state after the row before."""
    return torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_lstm_gates_and_cell_state_obey_the_cell_equations(num_layers):
    trace = traced("LSTM", num_layers)
    gates = trace.gates
    assert set(gates) == {"input", "forget", "candidate", "output"}
    assert all(gate.shape == (4, 28, 9) for gate in gates.values()) and trace.cell.shape == (4, 28, 9)
    for name in ("input", "forget", "output"):
        assert gates[name].min() > 0 and gates[name].max() < 1
    assert gates["forget"].min() < 0.3 and gates["forget"].max() > 0.7  # not all near one half
    assert -1 < gates["candidate"].min() < 0 < gates["candidate"].max() < 1
    c_before = shifted(trace.cell)
    assert torch.allclose(trace.cell, gates["forget"] * c_before + gates["input"] * gates["candidate"], atol=1e-6)
    # the recomputed h_t is the fused nn.LSTM's own output
    assert torch.allclose(gates["output"] * torch.tanh(trace.cell), trace.hidden, atol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_gru_gates_obey_the_cell_equation(num_layers):
    trace = traced("GRU", num_layers)
    gates = trace.gates
    assert set(gates) == {"reset", "update", "candidate"} and trace.cell is None
    assert all(gate.shape == (4, 28, 9) for gate in gates.values())
    update = gates["update"]
    assert update.min() > 0 and update.max() < 1 and gates["reset"].min() > 0 and gates["reset"].max() < 1
    assert torch.allclose((1 - update) * gates["candidate"] + update * shifted(trace.hidden), trace.hidden, atol=1e-5)


def test_a_plain_rnn_has_no_gates_or_cell_state():
    trace = traced("RNN", 2)
    assert trace.cell is None and trace.gates == {}
    assert trace.hidden.shape == (4, 28, 9)


@pytest.mark.parametrize("cell_type", ["LSTM", "GRU"])
def test_gates_are_those_of_the_top_layer(cell_type):
    """A second layer over the same first layer gives other gates: the top one is shown."""
    torch.manual_seed(0)
    images = torch.rand(2, 28, 28)
    two = RowClassifier(ModelConfig(hidden_size=6, num_layers=2, cell_type=cell_type))
    one = RowClassifier(ModelConfig(hidden_size=6, num_layers=1, cell_type=cell_type))
    one.load_state_dict({k: v for k, v in two.state_dict().items() if "_l1" not in k})
    with torch.no_grad():
        bottom, top = one.trace(images), two.trace(images)
        lower_output, _ = one.recurrent(images)
        assert torch.allclose(bottom.hidden, lower_output)
        assert not torch.allclose(top.gates["candidate"], bottom.gates["candidate"], atol=1e-3)


def test_row_log_probs_are_the_traces_and_end_with_the_answer():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=7, num_layers=2, cell_type="GRU"))
    images = torch.rand(3, 28, 28)
    with torch.no_grad():
        row_log_probs = model.row_log_probs(images)
        assert torch.allclose(row_log_probs, model.trace(images).log_probs, atol=1e-6)
        assert torch.allclose(row_log_probs[:, -1], model(images), atol=1e-6)
        first_ten_rows, _ = model.recurrent(images[:, :10])
        after_row_ten = F.log_softmax(model.classifier(first_ten_rows[:, -1]), dim=-1)
        assert torch.allclose(row_log_probs[:, 9], after_row_ten, atol=1e-5)


def test_the_input_size_follows_the_reading_order():
    pixels = RowClassifier(ModelConfig(hidden_size=20, reading_order="pixels"))
    assert pixels.recurrent.input_size == 1
    # LSTM: 4 gates x (input 1 + hidden 20 + 2 biases) x 20, then Linear 20 -> 10
    assert sum(p.numel() for p in pixels.parameters()) == 4 * 20 * (1 + 20 + 2) + 20 * 10 + 10
    assert RowClassifier(ModelConfig(reading_order="columns")).recurrent.input_size == 28


def test_the_rows_order_feeds_the_recurrent_layer_the_image_rows_as_the_notebook_does():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=8))
    images = torch.rand(4, 1, 28, 28)
    states, _ = model.recurrent(images.reshape(4, 28, 28))
    assert torch.equal(model(images), F.log_softmax(model.classifier(states[:, -1]), dim=-1))


def test_a_pixel_model_traces_all_784_steps_and_its_last_is_its_answer():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=6, reading_order="permuted", order_seed=2))
    images = torch.rand(2, 28, 28)
    trace = model.trace(images)
    assert trace.log_probs.shape == (2, 784, 10) and trace.gates["forget"].shape == (2, 784, 6)
    assert torch.allclose(trace.log_probs[:, -1], model(images), atol=1e-5)


def test_the_same_weights_read_in_another_order_give_another_answer():
    torch.manual_seed(0)
    columns = RowClassifier(ModelConfig(hidden_size=8, reading_order="columns"))
    rows = RowClassifier(ModelConfig(hidden_size=8))
    rows.load_state_dict(columns.state_dict())
    images = torch.rand(3, 28, 28)
    assert torch.allclose(columns(images), rows(images.transpose(1, 2)), atol=1e-6)
    assert not torch.allclose(columns(images), rows(images))
