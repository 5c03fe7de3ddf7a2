"""The Sweep page's form and charts, as plain tables: which settings a sweep may vary and with
which values, the values a page link names, and the rows the result charts draw."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnn_core.config import SETTING, SETTINGS
from rnn_core.sweep import Sweep

# The settings a sweep may vary, and the values it offers for each.
AXIS_CHOICES: dict[str, tuple[Any, ...]] = {declared.name: declared.values for declared in SETTINGS if declared.sweep}


def values_from_link(field: str, text: str | None) -> list[Any]:
    """The values a page link names for a setting (`4,8,16`), those the form offers, in its
    order; anything else is left out."""
    if field not in AXIS_CHOICES or not text:
        return []
    wanted = set(text.split(",")[: len(AXIS_CHOICES[field])])
    return [value for value in AXIS_CHOICES[field] if SETTING[field].format(value) in wanted]


def chart_rows(sweep: Sweep) -> pd.DataFrame:
    """The runs that have a result, for the charts: the first swept setting as `x`, the second
    (as text) as `line`, and a name per run."""
    table = sweep.table()
    table = table[table.test_accuracy.notna() & (table.epochs_trained > 0)].copy()
    first = sweep.axes[0] if sweep.axes else None
    second = sweep.axes[1] if len(sweep.axes) > 1 else None
    table["x"] = table[first] if first else 0
    table["line"] = table[second].map(SETTING[second].show) if second else "all runs"
    table["name"] = [", ".join(SETTING[a].describe(row[a]) for a in sweep.axes) for _, row in table.iterrows()]
    return table
