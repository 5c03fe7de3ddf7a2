"""Scoring a model on a labelled set: accuracy, mean NLL, predictions, confusion matrix."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .model import NUM_CLASSES

EVAL_CHUNK = 2000


@dataclass(frozen=True)
class Score:
    accuracy: float  # percent
    loss: float  # mean negative log-likelihood per image


class ScoringStopped(Exception):
    """The stop event was set between two chunks of a scoring."""


@torch.no_grad()
def predict_log_probs(
    model: nn.Module, images: torch.Tensor, chunk_size: int = EVAL_CHUNK, stop: threading.Event | None = None
) -> torch.Tensor:
    """Log-probabilities [N, 10] on the CPU, computed batch by batch on the model's device;
    ScoringStopped when `stop` is set between two batches (a large model takes minutes)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    chunks = []
    try:
        for start in range(0, len(images), chunk_size):
            if stop is not None and stop.is_set():
                raise ScoringStopped
            chunks.append(model(images[start : start + chunk_size].to(device)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, NUM_CLASSES)


def score(log_probs: torch.Tensor, labels: torch.Tensor) -> Score:
    if len(labels) == 0:
        raise ValueError("cannot score an empty set")
    loss = F.nll_loss(log_probs, labels, reduction="mean").item()
    accuracy = 100 * (log_probs.argmax(1) == labels).sum().item() / len(labels)
    return Score(accuracy=accuracy, loss=loss)


def evaluate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, stop: threading.Event | None = None
) -> Score:
    return score(predict_log_probs(model, images, stop=stop), labels)


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
    """counts[true, predicted], int64 [10, 10]."""
    flat = labels * NUM_CLASSES + predictions
    return torch.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Percent correct for each true class (NaN for a class with no examples)."""
    totals = confusion.sum(1).double()
    return confusion.diagonal().double() / totals * 100
