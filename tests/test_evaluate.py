import math
import threading

import pytest
import torch

from rnn_core.config import ModelConfig
from rnn_core.evaluate import ScoringStopped, confusion_matrix, per_class_accuracy, predict_log_probs, score
from rnn_core.model import RowClassifier


def test_score_gives_percent_correct_and_mean_nll():
    log_probs = torch.log(torch.tensor([[0.9, 0.1] + [0.0] * 8, [0.2, 0.8] + [0.0] * 8]).clamp_min(1e-12))
    result = score(log_probs, torch.tensor([0, 0]))
    assert result.accuracy == 50.0
    assert result.loss == pytest.approx(-(math.log(0.9) + math.log(0.2)) / 2, rel=1e-5)


def test_score_refuses_an_empty_set():
    with pytest.raises(ValueError):
        score(torch.empty(0, 10), torch.empty(0, dtype=torch.long))


def test_confusion_matrix_counts_true_against_predicted():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 2, 0])
    counts = confusion_matrix(labels, predicted)
    assert counts[0, 0] == 1 and counts[0, 1] == 1 and counts[2, 0] == 1 and counts[2, 2] == 2
    assert counts.sum() == 6
    accuracy = per_class_accuracy(counts)
    assert accuracy[0] == 50.0 and accuracy[1] == 100.0
    assert math.isnan(accuracy[5])


def test_predictions_do_not_depend_on_the_evaluation_chunk_size():
    model = RowClassifier(ModelConfig(hidden_size=6))
    images = torch.rand(7, 28, 28)
    assert torch.allclose(predict_log_probs(model, images, chunk_size=3), predict_log_probs(model, images), atol=1e-6)
    assert model.training  # evaluation leaves the mode as it found it


def test_a_stop_between_two_chunks_ends_the_scoring_and_leaves_the_mode_as_it_was():
    model = RowClassifier(ModelConfig(hidden_size=6))
    stop = threading.Event()
    stop.set()
    with pytest.raises(ScoringStopped):
        predict_log_probs(model, torch.rand(7, 28, 28), chunk_size=3, stop=stop)
    assert model.training
