"""Looking at a trained model: its results on the test set, and how it reads one image.

`EvaluationReport` holds the probabilities for every test image, from which the accuracy, the
confusion matrix and any group of examples (a cell of the matrix, the confident mistakes)
are read. `Reading` holds what the model thinks after each of the 28 rows of one image, to
show at which row it becomes sure and where it changed its mind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from .checkpoint import Checkpoint
from .evaluate import Score, confusion_matrix, per_class_accuracy, predict_log_probs, score

SURE_PROBABILITY = 0.9


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

    def examples(self, true: int | None = None, predicted: int | None = None, mistakes_only: bool = False) -> torch.Tensor:
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
    """The model's view of one image after each row: probabilities [28, 10], hidden [28, H]."""

    probabilities: torch.Tensor
    hidden: torch.Tensor

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
        """The first row (1-28) from which the model holds its final answer above `threshold`
        to the end; None if it never gets that sure."""
        held = (self.leaders == self.prediction) & (self.probabilities[:, self.prediction] > threshold)
        if not held[-1]:
            return None
        unsure = torch.nonzero(~held).flatten()
        return 1 if len(unsure) == 0 else int(unsure[-1]) + 2

    def mind_changes(self) -> list[tuple[int, int, int]]:
        """(row 1-28, digit before, digit after) for each row after which the leader changed."""
        leaders = self.leaders.tolist()
        return [(row + 1, leaders[row - 1], leaders[row]) for row in range(1, len(leaders)) if leaders[row] != leaders[row - 1]]


@torch.no_grad()
def read_image(model: nn.Module, image: torch.Tensor) -> Reading:
    """Run one [28, 28] image through the model row by row, on the CPU."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        trace = model.trace(image.reshape(1, 28, 28).to(device))
    finally:
        model.train(was_training)
    return Reading(probabilities=trace.log_probs[0].exp().cpu(), hidden=trace.hidden[0].cpu())
