"""Typed hyperparameters for the row-by-row classifier: the one place each setting is declared.

Each field of `ModelConfig` and `TrainConfig` carries a `Setting`: its type, default, limits or
choices, the values the dashboard offers, its label and help, and its short name in links and
legends. Everything else is derived from these declarations: validation, the CLI's flags, the
dashboard's controls and page links, the runs table's columns, legends, and `describe()`.
Adding a hyperparameter means adding one field here and using it in the model or the trainer.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .reading_order import COLUMNS, ORDERS, ROWS, ROWS_UPWARD, ReadingOrder

CELL_TYPES = ("LSTM", "GRU", "RNN")
ALL = "all"  # how an optional setting's None is written (every training image)


def devices_here() -> tuple[str, ...]:
    """The devices a training can use on this machine ("auto" picks the best of them)."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return tuple(devices)


@dataclass(frozen=True)
class Setting:
    """One hyperparameter. `offered` are the values a slider or a sweep axis offers; `limits`
    bound a number typed freely. `legend` formats a value for a legend or a description.
    `available`, when given, says which of the choices work on this machine."""

    name: str
    kind: type
    default: Any
    label: str
    key: str
    help: str
    legend: str = "{key} {value}"
    limits: tuple[float, float] | None = None
    choices: tuple[Any, ...] | None = None
    offered: tuple[Any, ...] | None = None
    sweep: tuple[Any, ...] | None = None  # the values a sweep tries first; None: never swept
    log_scale: bool = False  # values spread over orders of magnitude
    optional: bool = False  # None is allowed and means "all"
    # How this one run is carried out (its random draw, its device), not which model or
    # training it is: a preset leaves it as it was, and it is seldom part of the lesson.
    incidental: bool = False
    described: bool = True  # named when a run is described; where it trained is not what it is
    said_at_default: bool = True  # False: named only when a run departs from the default
    available: Callable[[], tuple[Any, ...]] | None = None
    section: str = "train"

    def values_here(self) -> tuple[Any, ...]:
        """The values that can be used on this machine."""
        return self.available() if self.available else self.values

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest value of a setting given by limits (not by choices)."""
        if self.limits is None:
            raise TypeError(f"{self.label} has choices, not limits")
        return self.limits

    @property
    def values(self) -> tuple[Any, ...]:
        """The values to pick from: the offered ones, else the choices, else a small range."""
        if self.offered is not None:
            return self.offered
        if self.choices is not None:
            return self.choices
        low, high = self.bounds
        return tuple(range(int(low), int(high) + 1))

    def allowed(self) -> str:
        """What may be given, in words: "SGD, Adam" or "1 to 512"."""
        if self.choices is not None:
            return ", ".join(map(self.format, self.choices))
        low, high = (self.show(self.kind(limit)) for limit in self.bounds)
        return f"{low} to {high}" + (f" or {ALL}" if self.optional else "")

    def problem(self, value: Any) -> str | None:
        """Why a value is not allowed, or None when it is."""
        if value is None and self.optional:
            return None
        if self.choices is not None:
            return None if value in self.choices else f"must be one of {self.allowed()}"
        wrong_type = isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else self.kind)
        if wrong_type or not self.bounds[0] <= value <= self.bounds[1]:
            return f"must be {'a whole number' if self.kind is int else 'a number'} from {self.allowed()}"
        return None

    def check(self, value: Any) -> None:
        if problem := self.problem(value):
            raise ValueError(f"{self.name} {problem}, got {value!r}")

    def format(self, value: Any) -> str:
        """The value as written in a link or on the command line."""
        if value is None:
            return ALL
        return f"{value:g}" if isinstance(value, float) else str(value)

    def parse(self, text: str) -> Any:
        """A value from a link or the command line; ValueError saying what is allowed."""
        text = text.strip()
        if self.choices is not None:
            value = next((choice for choice in self.choices if self.format(choice) == text), text)
        elif self.optional and text == ALL:
            return None
        else:
            try:
                value = self.kind(float(text)) if self.kind is float else self.kind(text)
            except ValueError:
                value = text
        if problem := self.problem(value):
            raise ValueError(problem)
        return value

    def show(self, value: Any) -> str:
        """The value as a person reads it: "0.1", "10,000", "all". A value from a table column
        is taken as read there: a missing one (NaN) is "all", a whole float a whole number."""
        if isinstance(value, float) and self.kind is int:
            value = None if math.isnan(value) else int(value) if value.is_integer() else value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
            return f"{value:,}"
        return self.format(value)

    def describe(self, value: Any) -> str:
        """The value in words, for legends and descriptions: "lr 0.1", "2 layers", "all images"."""
        return self.legend.format(key=self.key, value=self.show(value), s="" if value == 1 else "s")


def setting(default: Any, **declaration: Any) -> Any:
    """A config field declared with its `Setting` (the name and type are filled in from the class)."""
    return dataclasses.field(default=default, metadata={"setting": declaration})


def _settings_of(cls: type, section: str) -> tuple[Setting, ...]:
    hints = typing.get_type_hints(cls)
    declared = []
    for field in dataclasses.fields(cls):
        kind = next(t for t in (int, float, str) if t in (typing.get_args(hints[field.name]) or (hints[field.name],)))
        declared.append(Setting(field.name, kind, field.default, section=section, **field.metadata["setting"]))
    return tuple(declared)


class _Checked:
    """Validates every field against its declaration when a config is made."""

    def __post_init__(self) -> None:
        for declared in SETTINGS_BY_SECTION[type(self).__name__]:
            declared.check(getattr(self, declared.name))


@dataclass(frozen=True)
class ModelConfig(_Checked):
    """Shape of the network: the pixels of one step in (28, or 1 for the pixel orders), 10
    classes out after the last step. `reading_order` and `order_seed` make a `ReadingOrder`."""

    cell_type: str = setting(
        "LSTM",
        label="Cell type",
        key="cell",
        choices=CELL_TYPES,
        legend="{value}",
        sweep=("RNN", "GRU", "LSTM"),
        help="LSTM and GRU have gates that keep a memory across the 28 rows; the plain RNN forgets fast.",
    )
    hidden_size: int = setting(
        20,
        label="Hidden size",
        key="hidden",
        limits=(1, 512),
        legend="hidden {value}",
        log_scale=True,
        sweep=(10, 20, 50, 100),
        offered=(2, 4, 8, 10, 16, 20, 32, 50, 64, 100, 128, 256, 512),
        help="Units in the cell's memory: the notebook uses 20. More units learn more, each epoch slower.",
    )
    num_layers: int = setting(
        1,
        label="Layers",
        key="layers",
        limits=(1, 3),
        legend="{value} layer{s}",
        sweep=(1, 2),
        help="Recurrent layers stacked: each reads the sequence of hidden states of the one below.",
    )
    reading_order: str = setting(
        ROWS,
        label="Reading order",
        key="order",
        choices=ORDERS,
        legend="{value} order",
        said_at_default=False,
        sweep=(ROWS, ROWS_UPWARD, COLUMNS),  # the 784-step orders are offered, not picked: dozens of times slower
        help="How the digit is cut into steps: rows from top to bottom (28 steps of 28 pixels, the notebook's), "
        "rows from the bottom up, columns from left to right, pixels one by one (784 steps of 1: "
        "sequential MNIST, a long-memory test, dozens of times slower per epoch), or pixels in a fixed "
        "random order (784 steps: permuted MNIST).",
    )
    order_seed: int = setting(
        0,
        label="Permutation seed",
        key="order_seed",
        limits=(0, 2**31 - 1),
        said_at_default=False,  # part of the model (not incidental): another permutation is another task
        legend="permutation {value}",
        offered=(0, 1, 2, 3, 4),
        help="Draws the fixed random order of the pixels for the permuted reading order (the other "
        "orders ignore it); kept with the run, so its model always reads in the same order.",
    )

    @property
    def order(self) -> ReadingOrder:
        """How this model reads a digit."""
        return ReadingOrder(self.reading_order, self.order_seed)


@dataclass(frozen=True)
class TrainConfig(_Checked):
    """How to train. `train_limit` caps the training images (None = the whole split)."""

    optimizer: str = setting(
        "SGD",
        label="Optimizer",
        key="optimizer",
        choices=("SGD", "Adam"),
        legend="{value}",
        sweep=("SGD", "Adam"),
        help="SGD takes plain steps down the gradient (the notebook); Adam scales each weight's step.",
    )
    learning_rate: float = setting(
        0.1,
        label="Learning rate",
        key="lr",
        limits=(1e-6, 100.0),
        log_scale=True,
        sweep=(0.01, 0.1, 1.0),
        offered=(1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
        help="Log scale. The notebook uses 0.1 with SGD, Adam wants about 0.001. "
        "To watch a run diverge, try 100 with the notebook model.",
    )
    batch_size: int = setting(
        100,
        label="Batch size",
        key="batch",
        limits=(1, 60_000),
        legend="batch {value}",
        log_scale=True,
        sweep=(32, 100, 500),
        offered=(10, 16, 32, 50, 64, 100, 128, 200, 256, 500, 1000),
        help="Images per step of the optimizer: smaller batches take more, noisier steps per epoch.",
    )
    epochs: int = setting(
        10,
        label="Epochs",
        key="epochs",
        limits=(1, 200),
        legend="{value} epoch{s}",
        sweep=(1, 2, 3),
        offered=(1, 2, 3, 5, 10, 20, 50, 100, 200),
        help="Passes over the training images.",
    )
    average_from: int = setting(
        0,
        label="Average the weights from epoch",
        key="average",
        legend="weights averaged from epoch {value}",
        limits=(0, 200),
        said_at_default=False,
        offered=(0, 1, 2, 3, 5, 7, 10, 20, 50),
        help="From this epoch on, the model is the mean of the weights at the end of each epoch since "
        "(stochastic weight averaging): the ups and downs from one epoch to the next even out, while "
        "training goes on from its own weights. 0: the weights as the last step left them (the notebook).",
    )
    train_limit: int | None = setting(
        None,
        label="Training images",
        key="images",
        limits=(1, 60_000),
        optional=True,
        legend="{value} images",
        log_scale=True,
        sweep=(1000, 5000, 20_000),
        offered=(500, 1000, 2000, 5000, 10_000, 20_000, 30_000, None),
        help="Fewer images make each epoch quicker and the model weaker.",
    )
    seed: int = setting(
        0,
        label="Seed",
        key="seed",
        limits=(0, 2**31 - 1),
        incidental=True,
        offered=(0, 1, 2, 3, 4),
        sweep=(0, 1, 2),
        help="Fixes the starting weights and the order of the images, so a run can be repeated.",
    )
    device: str = setting(
        "auto",
        label="Device",
        key="device",
        choices=("auto", "cpu", "cuda", "mps"),
        available=devices_here,
        described=False,
        incidental=True,
        legend="{value}",
        help="auto picks a GPU when there is one.",
    )
    augment: float = setting(
        0.0,
        label="Augmentation",
        key="augment",
        limits=(0.0, 1.0),
        said_at_default=False,
        offered=(0.0, 0.25, 0.5, 0.75, 1.0),
        sweep=(0.0, 0.5, 1.0),
        help="How much each training image is turned, slanted, scaled, moved and its strokes thickened "
        "or thinned, or redrawn from its centre lines with strokes of one width as the canvas's are "
        "(half of them at 1), afresh at every batch, so the model expects digits as people draw them "
        "(0: MNIST as it is, as in the notebook).",
    )


SETTINGS_BY_SECTION = {
    "ModelConfig": _settings_of(ModelConfig, "model"),
    "TrainConfig": _settings_of(TrainConfig, "train"),
}
SETTINGS: tuple[Setting, ...] = (*SETTINGS_BY_SECTION["ModelConfig"], *SETTINGS_BY_SECTION["TrainConfig"])
SETTING: dict[str, Setting] = {declared.name: declared for declared in SETTINGS}
DEFAULTS: dict[str, Any] = {declared.name: declared.default for declared in SETTINGS}
# The notebook's exercise: the settings it asks to vary, which name a run when nothing else does.
EXERCISE = ("hidden_size", "learning_rate", "batch_size")


def flat(model: ModelConfig, train: TrainConfig) -> dict[str, Any]:
    """Both configs as one dict of setting name to value, in the declarations' order."""
    return {**dataclasses.asdict(model), **dataclasses.asdict(train)}


def configs(values: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The two configs from one flat dict (missing settings take their defaults); ValueError
    with a readable message on a bad value. Unknown keys are ignored."""
    return config_from_dict(ModelConfig, values), config_from_dict(TrainConfig, values)


def config_from_dict(cls: type, values: dict[str, Any]):
    """Build a config from a plain dict (a checkpoint or a JSON record), ignoring unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def describe(model: ModelConfig, train: TrainConfig | None = None, leave_out: tuple[str, ...] = ()) -> str:
    """A model (and how it was trained) in words, the same way everywhere:
    "LSTM, hidden 20, 1 layer" and "SGD, lr 0.1, batch 100, 10 epochs, all images, seed 0"."""
    shown = flat(model, train) if train else dataclasses.asdict(model)
    return ", ".join(
        SETTING[name].describe(value)
        for name, value in shown.items()
        if SETTING[name].described
        and (SETTING[name].said_at_default or value != SETTING[name].default)
        and name not in leave_out
    )


@dataclass(frozen=True)
class Preset:
    description: str
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def values(self) -> dict[str, Any]:
        return flat(self.model, self.train)


PRESETS: dict[str, Preset] = {
    "notebook": Preset("the teaching notebook's model: LSTM with 20 hidden units, SGD lr 0.1, batch 100, 10 epochs."),
    "strong": Preset(
        "two stacked LSTM layers of 128 units with Adam: about 99% in a few minutes on a CPU.",
        ModelConfig(hidden_size=128, num_layers=2),
        TrainConfig(epochs=10, batch_size=64, learning_rate=1e-3, optimizer="Adam"),
    ),
    "quick": Preset(
        "64 units with Adam lr 0.01 on 10,000 images for 3 epochs: over 90% in seconds on a CPU, "
        "for trying settings fast.",
        ModelConfig(hidden_size=64),
        TrainConfig(epochs=3, batch_size=64, learning_rate=0.01, optimizer="Adam", train_limit=10_000),
    ),
    "drawing": Preset(
        "the strong model trained on digits varied as people draw them (turned, slanted, resized, "
        "thicker and thinner strokes, half of them redrawn with strokes of one width), its weights "
        "averaged from epoch 7 (the last four of its ten): for the canvas.",
        ModelConfig(hidden_size=128, num_layers=2),
        TrainConfig(epochs=10, batch_size=64, learning_rate=1e-3, optimizer="Adam", augment=1.0, average_from=7),
    ),
}
