import pytest
import torch

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
