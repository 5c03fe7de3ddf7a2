"""Looking at a trained model: its results on the test set, and how it reads one image.

`EvaluationReport` holds the probabilities for every test image, from which the accuracy, the
confusion matrix and any group of examples (a cell of the matrix, the confident mistakes)
are read. `Reading` holds what the model thinks after each of the 28 rows of one image, to
show at which row it becomes sure and where it changed its mind, and inside the cell.

A model that reads in another order (`rnn_core.reading_order`) is asked the same after each of
its steps: 28 columns, or 784 pixels. Every "row" below is then a step of that order.

`accuracy_by_rows` and `gradient_by_row` ask the same of a whole test set: how many rows the
model needs, and how much each row still moves its final answer (vanishing gradients).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import Checkpoint
from .evaluate import Score, confusion_matrix, per_class_accuracy, predict_log_probs, score
from .model import NUM_CLASSES, RowClassifier
from .reading_order import SIDE

SURE_PROBABILITY = 0.9
# Images per batch for the whole-set measures: memory stays bounded on 10,000 images.
ROWS_BATCH = 1000
GRADIENT_BATCH = 500


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[torch.device]:
    """The model in eval mode for the block (restored after); yields the model's device."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        model.train(was_training)


def model_fingerprint(checkpoint: Checkpoint) -> str:
    """A short digest of the weights and config: equal models, equal fingerprints."""
    digest = hashlib.sha256(repr(checkpoint.model_config).encode())
    for name in sorted(checkpoint.state_dict):
        digest.update(name.encode())
        digest.update(checkpoint.state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class EvaluationReport:
    labels: torch.Tensor  # int64 [N]
    log_probs: torch.Tensor  # float [N, 10]

    @property
    def score(self) -> Score:
        return score(self.log_probs, self.labels)

    @property
    def predictions(self) -> torch.Tensor:
        return self.log_probs.argmax(1)

    @property
    def confidence(self) -> torch.Tensor:
        """The probability the model gave its own answer, per image."""
        return self.log_probs.max(1).values.exp()

    @property
    def confusion(self) -> torch.Tensor:
        return confusion_matrix(self.labels, self.predictions)

    @property
    def per_class_accuracy(self) -> torch.Tensor:
        return per_class_accuracy(self.confusion)

    def examples(
        self, true: int | None = None, predicted: int | None = None, mistakes_only: bool = False
    ) -> torch.Tensor:
        """Indices of the images with that label and/or prediction, most confident first."""
        chosen = torch.ones_like(self.labels, dtype=torch.bool)
        if true is not None:
            chosen &= self.labels == true
        if predicted is not None:
            chosen &= self.predictions == predicted
        if mistakes_only:
            chosen &= self.predictions != self.labels
        indices = torch.nonzero(chosen).flatten()
        return indices[self.confidence[indices].argsort(descending=True, stable=True)]


def report_on(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> EvaluationReport:
    return EvaluationReport(labels=labels, log_probs=predict_log_probs(model, images))


@dataclass(frozen=True)
class Reading:
    """The model's view of one image after each row (step): probabilities [steps, 10], hidden
    [steps, H], and for the top layer the cell state [steps, H] (LSTM) and gates (name ->
    [steps, H])."""

    probabilities: torch.Tensor
    hidden: torch.Tensor
    cell: torch.Tensor | None = None
    gates: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def final(self) -> torch.Tensor:
        return self.probabilities[-1]

    @property
    def prediction(self) -> int:
        return int(self.final.argmax())

    @property
    def leaders(self) -> torch.Tensor:
        """The most probable digit after each row."""
        return self.probabilities.argmax(1)

    def sure_row(self, threshold: float = SURE_PROBABILITY) -> int | None:
        """The first row (step, from 1) from which the model holds its final answer above `threshold`
        to the end; None if it never gets that sure."""
        held = (self.leaders == self.prediction) & (self.probabilities[:, self.prediction] > threshold)
        if not held[-1]:
            return None
        unsure = torch.nonzero(~held).flatten()
        return 1 if len(unsure) == 0 else int(unsure[-1]) + 2

    def mind_changes(self) -> list[tuple[int, int, int]]:
        """(row or step from 1, digit before, digit after) for each one after which the leader changed."""
        leaders = self.leaders.tolist()
        return [
            (row + 1, leaders[row - 1], leaders[row])
            for row in range(1, len(leaders))
            if leaders[row] != leaders[row - 1]
        ]


@torch.no_grad()
def read_image(model: RowClassifier, image: torch.Tensor) -> Reading:
    """Run one [28, 28] image through the model row by row (in its reading order); the reading
    is on the CPU."""
    with _evaluating(model) as device:
        trace = model.trace(image.reshape(1, SIDE, SIDE).to(device))
    return Reading(
        probabilities=trace.log_probs[0].exp().cpu(),
        hidden=trace.hidden[0].cpu(),
        cell=None if trace.cell is None else trace.cell[0].cpu(),
        gates={name: gate[0].cpu() for name, gate in trace.gates.items()},
    )


@torch.no_grad()
def correct_by_rows(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """bool [N, steps]: whether the model's guess after reading rows (steps) 1..t of each image
    is right."""
    chunks = []
    with _evaluating(model) as device:
        for start in range(0, len(images), ROWS_BATCH):
            guesses = model.row_log_probs(images[start : start + ROWS_BATCH].to(device)).argmax(-1).cpu()
            chunks.append(guesses == labels[start : start + ROWS_BATCH, None])
    return torch.cat(chunks) if chunks else torch.empty(0, model.order.steps, dtype=torch.bool)


def accuracy_by_rows(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """float [steps]: percent of the images guessed right after reading rows (steps) 1..t; the
    last is the model's accuracy."""
    if len(labels) == 0:
        raise ValueError("cannot score an empty set")
    return correct_by_rows(model, images, labels).double().mean(0) * 100


def accuracy_by_rows_per_digit(correct: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """float [10, steps] from `correct_by_rows`: accuracy_by_rows for each true digit (NaN for a
    digit with no images)."""
    right = torch.zeros(NUM_CLASSES, correct.shape[1], dtype=torch.float64).index_add_(0, labels, correct.double())
    totals = torch.bincount(labels, minlength=NUM_CLASSES).double()
    return right / totals[:, None] * 100


def gradient_by_row(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """float [steps]: the mean over images of |d NLL(true label) / d row t|, the norm over the
    row's 28 pixels (a step's pixels): how much each row still moves the final answer."""
    if len(labels) == 0:
        raise ValueError("cannot measure an empty set")
    # A private copy in training mode: cuDNN runs the RNN backward pass only in training
    # mode, which computes the same function here (no dropout), and the caller's model,
    # perhaps in use by another thread, keeps its mode.
    model = copy.deepcopy(model)
    model.train().requires_grad_(False)  # no weight gradients needed
    device = next(model.parameters()).device
    totals = torch.zeros(model.order.steps, dtype=torch.float64)
    with torch.enable_grad():
        for start in range(0, len(images), GRADIENT_BATCH):
            batch = images[start : start + GRADIENT_BATCH]
            rows = model.sequences(batch).to(device).detach().requires_grad_()
            # Each image's loss depends on its own rows only, so the gradient of the sum
            # holds every image's own gradient.
            loss = F.nll_loss(model.read(rows), labels[start : start + GRADIENT_BATCH].to(device), reduction="sum")
            (row_grads,) = torch.autograd.grad(loss, rows)
            totals += row_grads.norm(dim=2).sum(0).double().cpu()
    return totals / len(labels)
