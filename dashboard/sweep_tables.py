"""The Sweep page's form and charts, as plain tables: which settings a sweep may vary and with
which values, the values a page link names, and the rows the result charts draw."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnn_core.config import SETTING, SETTINGS
from rnn_core.history import RunStatus
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
    """The runs that finished, for the charts: the first swept setting as `x`, the second (as
    text) as `line`, and a name per run. A run stopped, failed or diverged on the way has no
    result to compare: drawn beside the others it would read as one (see `left_out`)."""
    table = sweep.table()
    table = table[(table.status == RunStatus.FINISHED.value) & table.test_accuracy.notna()].copy()
    first = sweep.axes[0] if sweep.axes else None
    second = sweep.axes[1] if len(sweep.axes) > 1 else None
    table["x"] = table[first] if first else 0
    table["line"] = table[second].map(SETTING[second].show) if second else "all runs"
    table["name"] = [", ".join(SETTING[a].describe(row[a]) for a in sweep.axes) for _, row in table.iterrows()]
    return table


def left_out(sweep: Sweep) -> str | None:
    """Which ended runs the charts leave out, and why, in one sentence; None if none."""
    ended = [view for view in sweep.ended if view.status != RunStatus.FINISHED]
    if not ended:
        return None
    counts = pd.Series([view.status.value for view in ended]).value_counts()
    kinds = ", ".join(f"{count} {status}" for status, count in counts.items())
    runs = "run is" if len(ended) == 1 else "runs are"
    return f"Not drawn: {kinds} {runs} not a result to compare (the table above has what each trained)."


def swept_values(sweep: Sweep, train_size: int) -> tuple[float, ...]:
    """The first swept setting's values as the charts' x axis draws them ("all" images at the
    size of the training set), for ticks at exactly those values."""
    if not sweep.axes or SETTING[sweep.axes[0]].choices is not None:
        return ()
    column = sweep.table()[sweep.axes[0]]
    values = {float(value) for value in column.dropna()}
    if column.isna().any():
        values.add(float(train_size))
    return tuple(sorted(values))


def all_near_chance(rows: pd.DataFrame, near_chance: float) -> bool:
    """Every finished run ended where guessing does: the grid needs other settings, not more runs."""
    return not rows.empty and bool((rows.test_accuracy <= near_chance).all())
