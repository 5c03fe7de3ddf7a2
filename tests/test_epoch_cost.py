"""The cost of an epoch, timed on this machine before a training starts."""

import pytest
import torch

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.epoch_cost import EpochCost, estimate_epoch_cost


def test_an_epoch_is_its_batches_and_the_test_sets_scoring():
    cost = EpochCost(
        seconds_per_batch=0.5, seconds_per_test_image=0.001, batch_size=100, train_images=1000, test_images=2000
    )
    assert cost.seconds_per_epoch == pytest.approx(10 * 0.5 + 2.0)
    assert cost.seconds_for(150) == pytest.approx(2 * 0.5 + 2.0)  # a part batch is a batch
    assert cost.training_seconds(1000) == pytest.approx(5.0) and cost.scoring_seconds == pytest.approx(2.0)


def test_the_estimate_times_the_runs_own_settings_and_leaves_the_threads_as_they_were(tiny_data):
    threads = torch.get_num_threads()
    train = TrainConfig(batch_size=20, train_limit=60, device="cpu")
    cost = estimate_epoch_cost(tiny_data, ModelConfig(hidden_size=4, reading_order="pixels"), train, threads=1)
    assert torch.get_num_threads() == threads
    assert (cost.batch_size, cost.train_images, cost.test_images) == (20, 60, 40)
    assert cost.seconds_per_batch > 0 and cost.seconds_per_test_image > 0
    assert cost.seconds_per_epoch == pytest.approx(3 * cost.seconds_per_batch + 40 * cost.seconds_per_test_image)


def test_a_device_the_machine_lacks_is_refused_before_anything_is_timed(tiny_data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        estimate_epoch_cost(tiny_data, ModelConfig(), TrainConfig(device="cuda"))
