"""Models saved from the teaching notebook's class come in as checkpoints, and go back out."""

from __future__ import annotations

import io

import pytest
import torch

from rnn_core.checkpoint import SAVE_A_STATE_DICT, CheckpointError
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.evaluate import evaluate
from rnn_core.notebook_models import load_model_file, notebook_state_dict, scored
from rnn_core.trainer import Trainer


class NotebookStyle(torch.nn.Module):
    """A class shaped like the notebook's LSTMnist: a recurrent layer under a name of the
    student's choosing, then `hidden2digits`; the answer is read from the top layer's last
    hidden state."""

    def __init__(self, cell: str, hidden: int, layers: int = 1, attribute: str = "lstm", **options):
        super().__init__()
        self.attribute = attribute
        layer = getattr(torch.nn, cell)(28, hidden, num_layers=layers, batch_first=True, **options)
        setattr(self, attribute, layer)
        self.hidden2digits = torch.nn.Linear(hidden, 10)

    def forward(self, images):
        _, last = getattr(self, self.attribute)(images.reshape(len(images), 28, 28))
        h_last = last[0] if isinstance(last, tuple) else last  # an LSTM gives (h, c)
        return torch.nn.functional.log_softmax(self.hidden2digits(h_last[-1]), dim=1)


def saved(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def accuracy_in_class(model: torch.nn.Module, images, labels) -> float:
    with torch.no_grad():
        return (model(images).argmax(1) == labels).double().mean().item() * 100


@pytest.mark.parametrize(
    "cell, hidden, layers, attribute",
    [("LSTM", 20, 1, "lstm"), ("GRU", 12, 1, "gru"), ("RNN", 9, 1, "rnn"), ("LSTM", 8, 2, "lstm")],
)
def test_a_notebook_state_dict_uploads_with_its_shape_and_scores_as_in_its_class(
    tiny_data, cell, hidden, layers, attribute
):
    torch.manual_seed(3)
    notebook_model = NotebookStyle(cell, hidden, layers, attribute).eval()
    checkpoint = load_model_file(saved(notebook_model.state_dict()))
    assert checkpoint.model_config == ModelConfig(cell_type=cell, hidden_size=hidden, num_layers=layers)
    assert checkpoint.optimizer_state is None and checkpoint.history == ()

    uploaded = scored(checkpoint, tiny_data)
    images, labels = tiny_data.test_images, tiny_data.test_labels
    assert uploaded.history[-1].test_accuracy == pytest.approx(accuracy_in_class(notebook_model, images, labels))
    with torch.no_grad():
        torch.testing.assert_close(uploaded.build_model()(images), notebook_model(images))


def test_the_notebooks_own_key_names_are_read(tiny_data):
    keys = set(NotebookStyle("LSTM", 20).state_dict())
    assert keys == {
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "hidden2digits.weight",
        "hidden2digits.bias",
    }
    assert load_model_file(saved(NotebookStyle("LSTM", 20).state_dict())).model_config.hidden_size == 20


def test_a_whole_pickled_model_is_refused_with_the_line_that_saves_a_state_dict():
    with pytest.raises(CheckpointError) as refused:
        load_model_file(saved(NotebookStyle("LSTM", 20)))
    assert SAVE_A_STATE_DICT in str(refused.value)
    assert "weights_only" not in str(refused.value)


@pytest.mark.parametrize(
    "model, message",
    [
        (NotebookStyle("LSTM", 8, bidirectional=True), "weight_ih_l0_reverse"),
        (NotebookStyle("GRU", 8, bias=False), "missing"),
        (NotebookStyle("LSTM", 8, proj_size=4), "weight_hr_l0"),
        (NotebookStyle("LSTM", 600), "hidden_size"),
    ],
)
def test_a_notebook_model_of_another_shape_is_refused_saying_why(model, message):
    with pytest.raises(CheckpointError, match=message):
        load_model_file(saved(model.state_dict()))


def test_weights_for_other_images_or_digits_are_refused():
    model = NotebookStyle("LSTM", 8)
    model.hidden2digits = torch.nn.Linear(8, 26)  # letters, not digits
    with pytest.raises(CheckpointError, match="hidden2digits|classifier"):
        load_model_file(saved(model.state_dict()))
    wide = NotebookStyle("LSTM", 8)
    wide.lstm = torch.nn.LSTM(32, 8, batch_first=True)  # rows of 32 pixels
    with pytest.raises(CheckpointError, match="weight_ih_l0"):
        load_model_file(saved(wide.state_dict()))


def test_nan_weights_in_a_notebook_model_are_refused():
    state = NotebookStyle("RNN", 8, attribute="rnn").state_dict()
    state["rnn.weight_hh_l0"][0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load_model_file(saved(state))


@pytest.mark.parametrize("cell, attribute", [("LSTM", "lstm"), ("GRU", "gru"), ("RNN", "rnn")])
def test_an_exported_state_dict_loads_into_the_notebook_class_and_answers_the_same(tiny_data, cell, attribute):
    trainer = Trainer(tiny_data, ModelConfig(cell_type=cell, hidden_size=10), TrainConfig(epochs=1, batch_size=30))
    trainer.run()
    checkpoint = trainer.checkpoint()
    notebook_model = NotebookStyle(cell, 10, attribute=attribute).eval()
    exported = torch.load(io.BytesIO(saved(notebook_state_dict(checkpoint))), weights_only=True)
    notebook_model.load_state_dict(exported)  # strict: every name must match
    images, labels = tiny_data.test_images, tiny_data.test_labels
    ours = evaluate(checkpoint.build_model(), images, labels).accuracy
    assert accuracy_in_class(notebook_model, images, labels) == pytest.approx(ours)


def test_an_exported_state_dict_comes_back_in_as_the_same_model(tiny_data):
    trainer = Trainer(tiny_data, ModelConfig(hidden_size=6, num_layers=2), TrainConfig(epochs=1, batch_size=30))
    trainer.run()
    back = load_model_file(saved(notebook_state_dict(trainer.checkpoint())))
    assert back.model_config == trainer.model_config
    for name, value in trainer.checkpoint().state_dict.items():
        assert torch.equal(back.state_dict[name], value)
