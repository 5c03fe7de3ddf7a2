"""Put saved runs side by side: name each run by the settings that set it apart, and lay
their histories out in one long table for an overlay chart.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Sequence

import pandas as pd

# The settings a run is told apart by, and how each reads in a legend.
SETTING_LABELS: dict[str, str] = {
    "cell_type": "{}",
    "hidden_size": "hidden {}",
    "num_layers": "{} layers",
    "optimizer": "{}",
    "learning_rate": "lr {:g}",
    "batch_size": "batch {}",
    "train_limit": "{} images",
    "seed": "seed {}",
    "device": "{}",
}
# What names a run that has nothing to be told apart from: the notebook's exercise.
EXERCISE_SETTINGS = ("hidden_size", "batch_size", "learning_rate")
OVERLAY_COLUMNS = ["run", "run_id", "epoch", "test_accuracy", "test_loss", "seconds"]

RunRecord = tuple[dict[str, Any], list[dict[str, Any]]]  # (info, history) as RunStore.scan gives


def run_settings(info: dict[str, Any]) -> dict[str, Any]:
    settings = {**info["model_config"], **info["train_config"]}
    return {name: settings.get(name) for name in SETTING_LABELS}


def differing_settings(infos: Sequence[dict[str, Any]]) -> list[str]:
    """The settings that do not have the same value in all these runs."""
    all_settings = [run_settings(info) for info in infos]
    return [name for name in SETTING_LABELS if len({repr(s[name]) for s in all_settings}) > 1]


def _describe(name: str, value: Any) -> str:
    if name == "train_limit" and value is None:
        return "all images"
    if name == "num_layers" and value == 1:
        return "1 layer"
    return SETTING_LABELS[name].format(value)


def run_labels(infos: Sequence[dict[str, Any]]) -> list[str]:
    """One legend label per run: the settings that differ, plus the start time where those
    alone do not tell two runs apart. A run on its own is named by the exercise's settings."""
    names = differing_settings(infos) if len(infos) > 1 else list(EXERCISE_SETTINGS)
    settings = [" · ".join(_describe(name, run_settings(info)[name]) for name in names) for info in infos]
    labels, uses = [], Counter()
    for label, info in zip(settings, infos):
        if not label or settings.count(label) > 1:
            started = time.strftime("%H:%M:%S", time.localtime(info.get("created", 0)))
            label = f"{label} (started {started})" if label else f"started {started}"
        # runs started within the same second still need a label of their own
        uses[label] += 1
        labels.append(label if uses[label] == 1 else f"{label} #{uses[label]}")
    return labels


def overlay_history(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (run, scored epoch); `seconds` is the training time up to that epoch."""
    rows = []
    for label, (info, history) in zip(run_labels([info for info, _ in runs]), runs):
        seconds = 0.0
        for row in history:
            seconds += row.get("train_seconds") or 0.0
            rows.append([label, info.get("id"), row["epoch"], row["test_accuracy"], row["test_loss"], seconds])
    return pd.DataFrame(rows, columns=OVERLAY_COLUMNS)
