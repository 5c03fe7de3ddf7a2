"""Put saved runs side by side: name each run by the settings that set it apart, and lay
their histories out in one long table for an overlay chart.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from rnn_core.config import EXERCISE, SETTING, SETTINGS, flat
from rnn_core.runs import RunRecord

OVERLAY_COLUMNS = ["run", "run_id", "epoch", "test_accuracy", "test_loss", "seconds"]


def run_settings(record: RunRecord) -> dict[str, Any]:
    return flat(record.model_config, record.train_config)


def differing_settings(records: Sequence[RunRecord]) -> list[str]:
    """The settings that do not have the same value in all these runs."""
    all_settings = [run_settings(record) for record in records]
    return [s.name for s in SETTINGS if len({repr(settings[s.name]) for settings in all_settings}) > 1]


def run_labels(records: Sequence[RunRecord]) -> list[str]:
    """One legend label per run: the settings that differ, plus the start time where those
    alone do not tell two runs apart. A run on its own is named by the exercise's settings."""
    names = differing_settings(records) if len(records) > 1 else list(EXERCISE)
    settings = [" · ".join(SETTING[name].describe(run_settings(record)[name]) for name in names) for record in records]
    labels: list[str] = []
    uses: Counter[str] = Counter()
    for label, record in zip(settings, records):
        if not label or settings.count(label) > 1:
            started = time.strftime("%H:%M:%S", time.localtime(record.created))
            # the time first: on a narrow screen the legend's end is cut, and the rest is alike
            label = f"started {started} · {label}" if label else f"started {started}"
        # runs started within the same second still need a label of their own
        uses[label] += 1
        labels.append(label if uses[label] == 1 else f"{label} #{uses[label]}")
    return labels


def overlay_history(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (run, scored epoch); `seconds` is the training time up to that epoch."""
    rows = []
    for label, record in zip(run_labels(runs), runs):
        seconds = 0.0
        for row in record.history:
            seconds += row.train_seconds
            rows.append([label, record.run_id, row.epoch, row.test_accuracy, row.test_loss, seconds])
    return pd.DataFrame(rows, columns=OVERLAY_COLUMNS)
