"""How long an epoch of a training will take here, measured before it starts.

A 784-step reading order costs about 30 times a row-by-row epoch, and how much that is depends
on the machine, its load, the device and every setting. So the cost is timed, not assumed: a
fresh model of the run's settings takes a few optimizer steps on real training images, and
scores one chunk of test images, on the run's device; the epoch's cost is those times scaled to
its number of batches and test images. It takes a few seconds even for 784 steps.

It is timed with as many torch threads as the training will have: on a busy machine two threads
made a 784-step LSTM's step 25-50 times slower than one (each of the 784 steps waits for both
threads), against 2-4 times for 28 steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .augment import augment, centre_lines
from .checkpoint import build_optimizer
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .trainer import epoch_size, initial_model, resolve_device

TIMED_BATCHES = 3  # after one untimed batch, which starts the kernels
TIMED_TEST_IMAGES = 256


@dataclass(frozen=True)
class EpochCost:
    """Seconds measured per optimizer step and per test image, and the epoch they make."""

    seconds_per_batch: float
    seconds_per_test_image: float
    batch_size: int
    train_images: int  # one epoch's
    test_images: int  # scored after every epoch

    def seconds_for(self, train_images: int) -> float:
        """An epoch over this many training images, the test set's scoring included: what a
        page offers when it suggests fewer images."""
        return self.training_seconds(train_images) + self.scoring_seconds

    def training_seconds(self, train_images: int) -> float:
        return math.ceil(train_images / self.batch_size) * self.seconds_per_batch

    @property
    def scoring_seconds(self) -> float:
        return self.test_images * self.seconds_per_test_image

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds_for(self.train_images)


def estimate_epoch_cost(
    data: MnistData,
    model_config: ModelConfig,
    train_config: TrainConfig,
    batches: int = TIMED_BATCHES,
    test_images: int = TIMED_TEST_IMAGES,
    threads: int | None = None,
) -> EpochCost:
    """Time a few steps of this training on this machine (ValueError for a device it lacks),
    with `threads` torch threads (a training slot's; default: this thread's own)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)  # OpenMP's count belongs to the calling thread
    try:
        return _timed(data, model_config, train_config, batches, test_images)
    finally:
        torch.set_num_threads(before)


def _timed(
    data: MnistData, model_config: ModelConfig, train_config: TrainConfig, batches: int, test_images: int
) -> EpochCost:
    device = resolve_device(train_config.device)
    model = initial_model(model_config, train_config.seed).to(device)
    optimizer = build_optimizer(model, train_config)
    generator = torch.Generator().manual_seed(train_config.seed)
    size = min(train_config.batch_size, len(data.train_labels))
    chosen = torch.randperm(len(data.train_labels), generator=generator)[: size * (batches + 1)]
    images, labels = data.train_images[chosen], data.train_labels[chosen]
    # thinned before the clock starts, as a trainer thins its digits once, not at every batch
    centres = centre_lines(images) if train_config.augment else None

    def step(part: torch.Tensor) -> None:
        lines = None if centres is None else centres[part].to(device)
        batch = augment(images[part].to(device), train_config.augment, generator, lines)
        loss = F.nll_loss(model(batch), labels[part].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # waits for the device

    first, *timed = torch.arange(len(chosen)).split(size)
    step(first)
    timed = timed or [first]  # a training set of one batch: that batch again
    start = time.perf_counter()
    for index in timed:
        step(index)
    per_batch = (time.perf_counter() - start) / len(timed)

    sample = data.test_images[:test_images].to(device)
    start = time.perf_counter()
    with torch.no_grad():
        model.eval()
        model(sample).sum().item()
    per_test_image = (time.perf_counter() - start) / max(1, len(sample))
    return EpochCost(per_batch, per_test_image, size, epoch_size(data, train_config), len(data.test_labels))
