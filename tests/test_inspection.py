import dataclasses

import pytest
import torch
from torch.nn import functional as F

from rnn_core import inspection
from rnn_core.checkpoint import Checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.evaluate import evaluate
from rnn_core.inspection import (
    EvaluationReport,
    Reading,
    accuracy_by_rows,
    accuracy_by_rows_per_digit,
    correct_by_rows,
    gradient_by_row,
    model_fingerprint,
    read_image,
    report_on,
)
from rnn_core.model import RowClassifier


def checkpoint_of(model: RowClassifier) -> Checkpoint:
    return Checkpoint(model.config, TrainConfig(), {k: v.clone() for k, v in model.state_dict().items()})


def log_probs_of(rows: list[list[float]]) -> torch.Tensor:
    """Log-probabilities from rows that list the first few class probabilities."""
    probabilities = torch.full((len(rows), 10), 1e-6)
    for i, row in enumerate(rows):
        probabilities[i, : len(row)] = torch.tensor(row)
    return (probabilities / probabilities.sum(1, keepdim=True)).log()


def reading_of(leader_probabilities: list[tuple[int, float]]) -> Reading:
    """A reading in which, after each row, `digit` leads with probability `p`."""
    probabilities = torch.zeros(len(leader_probabilities), 10)
    for row, (digit, p) in enumerate(leader_probabilities):
        probabilities[row] = (1 - p) / 9
        probabilities[row, digit] = p
    return Reading(probabilities=probabilities, hidden=torch.zeros(len(leader_probabilities), 4))


def test_equal_weights_give_equal_fingerprints_and_a_change_does_not():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=5))
    first, copy = checkpoint_of(model), checkpoint_of(model)
    assert model_fingerprint(first) == model_fingerprint(copy)
    copy.state_dict["classifier.bias"][3] += 1e-3
    assert model_fingerprint(first) != model_fingerprint(copy)
    other_shape = dataclasses.replace(first, model_config=ModelConfig(hidden_size=5, cell_type="GRU"))
    assert model_fingerprint(other_shape) != model_fingerprint(first)


def test_a_report_counts_mistakes_and_confusions():
    labels = torch.tensor([0, 0, 1, 1, 2])
    report = EvaluationReport(labels, log_probs_of([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4], [0, 0, 1]]))
    assert report.predictions.tolist() == [0, 1, 1, 0, 2]
    assert report.score.accuracy == 60.0
    assert report.confusion[0, 1] == 1 and report.confusion[1, 0] == 1 and report.confusion.trace() == 3
    assert report.per_class_accuracy[:3].tolist() == [50.0, 50.0, 100.0]


def test_examples_are_filtered_and_the_most_confident_come_first():
    labels = torch.tensor([3, 3, 3, 5, 5])
    report = EvaluationReport(
        labels,
        log_probs_of(
            [
                [0, 0, 0, 0.6, 0, 0.4],
                [0, 0, 0, 0.1, 0, 0.9],
                [0, 0, 0, 0.2, 0, 0.8],
                [0, 0, 0, 0.7, 0, 0.3],
                [0, 0, 0, 0, 0, 1],
            ]
        ),
    )
    assert report.examples(true=3, predicted=5).tolist() == [1, 2]
    assert report.examples(mistakes_only=True).tolist() == [1, 2, 3]
    assert report.examples(true=5).tolist() == [4, 3]
    assert report.examples(true=3, predicted=3).tolist() == [0]
    assert report.examples(true=0).tolist() == []


def test_a_report_on_a_model_matches_evaluate(tiny_data):
    model = RowClassifier(ModelConfig(hidden_size=6))
    report = report_on(model, tiny_data.test_images, tiny_data.test_labels)
    expected = evaluate(model, tiny_data.test_images, tiny_data.test_labels)
    assert report.score.accuracy == expected.accuracy
    assert report.score.loss == pytest.approx(expected.loss, rel=1e-6)
    assert report.confusion.sum() == len(tiny_data.test_labels)


def test_the_sure_row_is_where_the_final_answer_starts_to_hold_above_the_threshold():
    leaders = [(1, 0.5)] * 10 + [(7, 0.95)] * 3 + [(7, 0.6)] + [(7, 0.97)] * 14
    reading = reading_of(leaders)
    assert reading.prediction == 7
    assert reading.sure_row() == 15  # row 14 dropped to 60%, so it is sure from row 15 on
    assert reading.sure_row(threshold=0.5) == 11


def test_a_reading_that_never_gets_sure_or_is_sure_at_once():
    assert reading_of([(4, 0.5)] * 28).sure_row() is None
    assert reading_of([(2, 0.95)] * 27 + [(2, 0.8)]).sure_row() is None  # unsure at the very end
    assert reading_of([(2, 0.99)] * 28).sure_row() == 1


def test_mind_changes_list_the_rows_where_the_leader_changed():
    reading = reading_of([(1, 0.4)] * 5 + [(7, 0.5)] * 10 + [(1, 0.6)] * 3 + [(7, 0.9)] * 10)
    assert reading.mind_changes() == [(6, 1, 7), (16, 7, 1), (19, 1, 7)]
    assert reading_of([(3, 0.9)] * 28).mind_changes() == []


def test_reading_an_image_gives_the_trace_row_by_row_and_the_models_answer(tiny_data):
    model = RowClassifier(ModelConfig(hidden_size=6, num_layers=2))
    image = tiny_data.test_images[0]
    reading = read_image(model, image)
    assert reading.probabilities.shape == (28, 10) and reading.hidden.shape == (28, 6)
    assert torch.allclose(reading.probabilities.sum(1), torch.ones(28), atol=1e-5)
    assert torch.allclose(reading.final, model(image[None]).exp()[0].detach(), atol=1e-6)
    assert model.training  # reading leaves the mode as it found it


def test_reading_an_lstm_image_gives_its_cell_state_and_gates(tiny_data):
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=5, num_layers=2))
    image = tiny_data.test_images[3]
    reading = read_image(model, image)
    with torch.no_grad():
        trace = model.trace(image[None])
    assert torch.equal(reading.cell, trace.cell[0])
    assert set(reading.gates) == {"input", "forget", "candidate", "output"}
    assert torch.equal(reading.gates["forget"], trace.gates["forget"][0])
    assert read_image(RowClassifier(ModelConfig(hidden_size=5, cell_type="RNN")), image).gates == {}


def fitted(data, cell_type: str = "LSTM", steps: int = 60) -> RowClassifier:
    """A model trained just enough on the synthetic data that its guesses change with the rows."""
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=16, cell_type=cell_type))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        optimizer.zero_grad()
        F.nll_loss(model(data.train_images), data.train_labels).backward()
        optimizer.step()
    return model


def accuracy_reading_only(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor, rows: int) -> float:
    """Percent right when the model is given the first `rows` rows and nothing else."""
    with torch.no_grad():
        outputs, _ = model.recurrent(images[:, :rows])
        guesses = model.classifier(outputs[:, -1]).argmax(1)
    return 100 * (guesses == labels).double().mean().item()


@pytest.mark.parametrize("cell_type", ["LSTM", "RNN"])
def test_accuracy_by_rows_is_the_accuracy_of_the_model_given_only_the_first_rows(tiny_data, monkeypatch, cell_type):
    monkeypatch.setattr(inspection, "ROWS_BATCH", 7)  # batches, and a shorter last one
    model = fitted(tiny_data, cell_type)
    images, labels = tiny_data.test_images, tiny_data.test_labels
    curve = accuracy_by_rows(model, images, labels)
    assert curve.shape == (28,)
    expected = [accuracy_reading_only(model, images, labels, rows) for rows in range(1, 29)]
    assert curve.tolist() == pytest.approx(expected)
    assert curve[-1].item() == pytest.approx(evaluate(model, images, labels).accuracy)
    # the label is drawn in row 2*label+5, so the first rows cannot tell the digits apart
    assert curve[:4].max() <= 20 < 50 < curve[-1]


def test_accuracy_by_rows_per_digit_is_the_curve_of_each_digits_images(tiny_data):
    model = fitted(tiny_data)
    images, labels = tiny_data.test_images, tiny_data.test_labels
    per_digit = accuracy_by_rows_per_digit(correct_by_rows(model, images, labels), labels)
    assert per_digit.shape == (10, 28)
    for digit in (0, 4, 9):
        chosen = labels == digit
        assert torch.allclose(per_digit[digit], accuracy_by_rows(model, images[chosen], labels[chosen]))
    no_sevens = labels != 7
    images, labels = images[no_sevens], labels[no_sevens]
    without_sevens = accuracy_by_rows_per_digit(correct_by_rows(model, images, labels), labels)
    assert without_sevens[7].isnan().all() and not without_sevens[:7].isnan().any()


def gradient_norms_one_image_at_a_time(model: RowClassifier, images, labels) -> torch.Tensor:
    model.eval()
    norms = []
    for image, label in zip(images, labels):
        rows = image.clone().requires_grad_()
        nll = -model(rows[None])[0, label]
        (gradient,) = torch.autograd.grad(nll, rows)
        norms.append(gradient.norm(dim=1))
    return torch.stack(norms).mean(0)


@pytest.mark.parametrize("cell_type", ["LSTM", "GRU", "RNN"])
def test_gradient_by_row_is_the_mean_gradient_norm_of_each_image_by_autograd(tiny_data, monkeypatch, cell_type):
    monkeypatch.setattr(inspection, "GRADIENT_BATCH", 4)
    model = fitted(tiny_data, cell_type, steps=10)
    images, labels = tiny_data.test_images[:10], tiny_data.test_labels[:10]
    model.train()
    model.zero_grad()
    by_row = gradient_by_row(model, images, labels)
    assert model.training and all(p.grad is None for p in model.parameters())  # the model is left as it was
    assert by_row.shape == (28,) and (by_row > 0).all()
    expected = gradient_norms_one_image_at_a_time(model, images, labels)
    assert torch.allclose(by_row, expected.double(), rtol=1e-4, atol=1e-9)


def test_the_whole_set_measures_refuse_an_empty_set():
    model = RowClassifier(ModelConfig(hidden_size=4))
    empty_images, empty_labels = torch.empty(0, 28, 28), torch.empty(0, dtype=torch.long)
    with pytest.raises(ValueError):
        accuracy_by_rows(model, empty_images, empty_labels)
    with pytest.raises(ValueError):
        gradient_by_row(model, empty_images, empty_labels)


def test_a_pixel_model_is_read_and_measured_step_by_step(tiny_data):
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=4, reading_order="permuted", order_seed=1))
    images, labels = tiny_data.test_images[:6], tiny_data.test_labels[:6]
    reading = read_image(model, images[0])
    assert reading.probabilities.shape == (784, 10) and reading.gates["output"].shape == (784, 4)
    assert reading.sure_row(threshold=0.0) is not None and 1 <= reading.sure_row(threshold=0.0) <= 784
    correct = correct_by_rows(model, images, labels)
    assert correct.shape == (6, 784)
    assert torch.equal(correct[:, -1], model(images).argmax(1) == labels)
    assert accuracy_by_rows_per_digit(correct, labels).shape == (10, 784)
    gradient = gradient_by_row(model, images, labels)
    assert gradient.shape == (784,) and (gradient >= 0).all() and gradient.sum() > 0
