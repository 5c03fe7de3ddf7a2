import dataclasses

import pytest
import torch

from rnn_core.checkpoint import Checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.evaluate import evaluate
from rnn_core.inspection import Reading, EvaluationReport, model_fingerprint, read_image, report_on
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
    report = EvaluationReport(labels, log_probs_of([[0, 0, 0, 0.6, 0, 0.4], [0, 0, 0, 0.1, 0, 0.9], [0, 0, 0, 0.2, 0, 0.8],
                                                 [0, 0, 0, 0.7, 0, 0.3], [0, 0, 0, 0, 0, 1]]))  # fmt: skip
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
