"""The Train page's settings: the choices it offers, its presets, and its shareable link.

The settings are one flat dict of ModelConfig and TrainConfig fields. The page link carries
only what differs from the defaults (or from the preset named in it), so a link stays short
and a teacher can share `?preset=strong&lr=0.01`. Reading a link never fails: a value that is
not allowed is left out and explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from rnn_core.config import CELL_TYPES, MODEL_LIMITS, OPTIMIZERS, PRESETS, TRAIN_LIMITS, ModelConfig, TrainConfig

CUSTOM = "custom"
DEFAULT_PRESET = "notebook"
PRESET_CHOICES = (*PRESETS, CUSTOM)
PRESET_PARAM = "preset"
# A preset fixes the model and how it learns; seed, device and data size stay the user's,
# except for a preset that names its data size (quick: its point is a small one).
PRESET_FIELDS = ("hidden_size", "num_layers", "cell_type", "batch_size", "learning_rate", "epochs", "optimizer")

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
HIDDEN_SIZES = (2, 4, 8, 10, 16, 20, 32, 50, 64, 100, 128, 256, 512)
BATCH_SIZES = (10, 16, 32, 50, 64, 100, 128, 200, 256, 500, 1000)
TRAIN_IMAGES = (500, 1000, 2000, 5000, 10_000, 20_000, 30_000, None)  # None: the whole split
ALL_IMAGES = "all"


def available_devices() -> tuple[str, ...]:
    """The device choices that can work on this machine ("auto" picks the best of them)."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return tuple(devices)


@dataclass(frozen=True)
class Control:
    """One setting: its config field, its name in the page link, and what it may be."""

    field: str
    param: str
    choices: tuple[Any, ...] | None = None  # the allowed values, or None for an integer range
    limits: tuple[int, int] | None = None


CONTROLS = (
    Control("hidden_size", "hidden", HIDDEN_SIZES),
    Control("num_layers", "layers", limits=MODEL_LIMITS["num_layers"]),
    Control("cell_type", "cell", CELL_TYPES),
    Control("batch_size", "batch", BATCH_SIZES),
    Control("learning_rate", "lr", LEARNING_RATES),
    Control("epochs", "epochs", limits=tuple(map(int, TRAIN_LIMITS["epochs"]))),
    Control("optimizer", "optimizer", OPTIMIZERS),
    Control("seed", "seed", limits=tuple(map(int, TRAIN_LIMITS["seed"]))),
    Control("device", "device", available_devices()),
    Control("train_limit", "images", TRAIN_IMAGES),
)


def format_value(value: Any) -> str:
    """How a setting is written in the page link."""
    if value is None:
        return ALL_IMAGES
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def preset_values(name: str) -> dict[str, Any]:
    preset = PRESETS[name]
    values = {field: getattr(preset.model if hasattr(preset.model, field) else preset.train, field) for field in PRESET_FIELDS}
    if preset.train.train_limit is not None:
        values["train_limit"] = preset.train.train_limit
    return values


DEFAULTS: dict[str, Any] = {
    **preset_values(DEFAULT_PRESET),
    "seed": TrainConfig.seed,
    "device": TrainConfig.device,
    "train_limit": TrainConfig.train_limit,
}


def matching_preset(values: Mapping[str, Any]) -> str:
    """The preset these settings are, or CUSTOM."""
    for name in PRESETS:
        if all(values[field] == value for field, value in preset_values(name).items()):
            return name
    return CUSTOM


def configs(values: Mapping[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The configs to train with; raises ValueError (with a readable message) on a bad value."""
    model_fields = {"hidden_size", "num_layers", "cell_type"}
    model = ModelConfig(**{k: v for k, v in values.items() if k in model_fields})
    train = TrainConfig(**{k: v for k, v in values.items() if k not in model_fields})
    return model, train


def _parse(control: Control, raw: str) -> Any:
    if control.choices is not None:
        for choice in control.choices:
            if format_value(choice) == raw:
                return choice
        raise ValueError(f"must be one of {', '.join(map(format_value, control.choices))}")
    low, high = control.limits
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"must be a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise ValueError(f"must be from {low} to {high}")
    return number


def from_query(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Settings from a page link: the defaults, then its preset, then its own values.

    Returns the settings and one message per value that was left out, as plain text: the
    values come from whoever wrote the link, so the page must escape them.
    """
    values, problems = dict(DEFAULTS), []
    preset = params.get(PRESET_PARAM)
    if preset is not None:
        if preset in PRESETS:
            values.update(preset_values(preset))
        elif preset != CUSTOM:
            problems.append(f"{PRESET_PARAM}={preset[:40]} must be one of {', '.join(PRESET_CHOICES)}: ignored.")
    for control in CONTROLS:
        raw = params.get(control.param)
        if raw is None:
            continue
        try:
            values[control.field] = _parse(control, raw)
        except ValueError as err:
            kept = format_value(values[control.field])
            problems.append(f"{control.param}={raw[:40]} {err}: using {kept}.")
    return values, problems


def to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The page link for these settings: the preset they match, and what differs from it."""
    preset = matching_preset(values)
    base = {**DEFAULTS, **preset_values(preset)} if preset != CUSTOM else DEFAULTS
    params = {PRESET_PARAM: preset} if preset not in (CUSTOM, DEFAULT_PRESET) else {}
    for control in CONTROLS:
        if values[control.field] != base[control.field]:
            params[control.param] = format_value(values[control.field])
    return params
