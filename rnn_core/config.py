"""Typed hyperparameters for the row-by-row classifier, their limits, and the presets.

Every limit lives in one table per config so that validation, the CLI and the dashboard's
widgets all agree on what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

CELL_TYPES = ("LSTM", "GRU", "RNN")
OPTIMIZERS = ("SGD", "Adam")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Inclusive (low, high) bounds for the numeric fields.
MODEL_LIMITS: dict[str, tuple[int, int]] = {"hidden_size": (1, 512), "num_layers": (1, 3)}
TRAIN_LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 200),
    "batch_size": (1, 60_000),
    "learning_rate": (1e-6, 100.0),
    "seed": (0, 2**31 - 1),
    "train_limit": (1, 60_000),
}


def _check_range(name: str, value: Any, limits: tuple[float, float], integer: bool) -> None:
    low, high = limits
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not integer and not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network: 28 pixels in per step, 10 classes out after the last row."""

    hidden_size: int = 20
    num_layers: int = 1
    cell_type: str = "LSTM"

    def __post_init__(self) -> None:
        for name, limits in MODEL_LIMITS.items():
            _check_range(name, getattr(self, name), limits, integer=True)
        _check_choice("cell_type", self.cell_type, CELL_TYPES)


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `train_limit` caps the training images (None = the whole split)."""

    epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 0.1
    optimizer: str = "SGD"
    seed: int = 0
    device: str = "auto"
    train_limit: int | None = None

    def __post_init__(self) -> None:
        for name, limits in TRAIN_LIMITS.items():
            value = getattr(self, name)
            if name == "train_limit" and value is None:
                continue
            _check_range(name, value, limits, integer=name != "learning_rate")
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("device", self.device, DEVICES)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


PRESETS: dict[str, Preset] = {
    "notebook": Preset(
        "notebook",
        "The teaching notebook: LSTM with 20 hidden units, SGD lr 0.1, batch 100, 10 epochs.",
    ),
    "strong": Preset(
        "strong",
        "Two stacked LSTM layers of 128 units with Adam: about 99% in a few minutes on a CPU.",
        ModelConfig(hidden_size=128, num_layers=2),
        TrainConfig(epochs=10, batch_size=64, learning_rate=1e-3, optimizer="Adam"),
    ),
    "quick": Preset(
        "quick",
        "For trying settings in class: LSTM of 64 units with Adam lr 0.01 on 10,000 images for 3 epochs, "
        "over 90% in seconds on a CPU.",
        ModelConfig(hidden_size=64),
        TrainConfig(epochs=3, batch_size=64, learning_rate=0.01, optimizer="Adam", train_limit=10_000),
    ),
}


def config_from_dict(cls: type, values: dict[str, Any]):
    """Build a config from a plain dict (a checkpoint or a JSON record), ignoring unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
