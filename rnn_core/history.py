"""What a run is made of, as records: one status vocabulary and one typed row per epoch.

Every module that speaks of a run's state uses these: the trainer writes `EpochRecord`s, the
run folder stores them as JSON, checkpoints carry them, the pages read them. A record read
from a file is checked field by field, so a damaged or planted file is refused with a reason
instead of breaking a page later.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any


class RunStatus(str, Enum):
    """Where a run stands. The values are what run.json stores."""

    WAITING = "waiting"  # queued for a free training slot
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the process training it ended before the run did
    UPLOADED = "uploaded"  # a checkpoint file someone uploaded: never trained here

    @property
    def live(self) -> bool:
        return self in (RunStatus.WAITING, RunStatus.RUNNING)

    def __str__(self) -> str:
        return self.value


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)


def _number(name: str, value: Any) -> float:
    """A count, a loss or a time: a finite number, never negative (NaN, infinities and values
    like -1e308 are what a damaged or planted file holds, never a run)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number, not negative, got {value!r:.20}")
    return value


MAX_EPOCH = 1_000_000  # epochs are counted below this; a run that would pass it cannot continue


@dataclass(frozen=True)
class EpochRecord:
    """The test set scored after an epoch (epoch 0 = the untrained model)."""

    epoch: float  # whole epochs, or a fraction after a stop part-way through a pass
    train_loss: float | None  # mean batch loss over the pass; None for epoch 0
    test_loss: float
    test_accuracy: float  # percent
    train_seconds: float  # time spent training in this pass (scoring not counted)
    images_per_second: float | None
    partial: bool = False  # the pass was cut short by a stop

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def seconds_per_epoch(self) -> float | None:
        """Training time of a whole pass; None for epoch 0 and for a pass cut short by a stop,
        whose time says nothing about a full epoch."""
        if self.train_loss is None or self.partial or not self.train_seconds:
            return None
        return self.train_seconds

    @classmethod
    def from_dict(cls, row: Any) -> EpochRecord:
        """A record from JSON or a checkpoint; ValueError naming the first bad field."""
        if not isinstance(row, dict):
            raise ValueError(f"an epoch record must be a mapping, got {type(row).__name__}")
        missing = [f.name for f in fields(cls) if f.name not in row and f.name != "partial"]
        if missing:
            raise ValueError(f"an epoch record lacks {', '.join(missing)}")
        epoch = _number("epoch", row["epoch"])
        if not epoch < MAX_EPOCH:
            raise ValueError(f"epoch must be below {MAX_EPOCH:,}, got {epoch!r}")
        accuracy = _number("test_accuracy", row["test_accuracy"])
        if not 0 <= accuracy <= 100:
            raise ValueError(f"test_accuracy must be a percentage, got {accuracy!r}")
        partial = row.get("partial", False)
        if not isinstance(partial, bool):
            raise ValueError("partial must be true or false")
        return cls(
            epoch=epoch,
            train_loss=_optional_number("train_loss", row["train_loss"]),
            test_loss=_number("test_loss", row["test_loss"]),
            test_accuracy=accuracy,
            train_seconds=_number("train_seconds", row["train_seconds"]),
            images_per_second=_optional_number("images_per_second", row["images_per_second"]),
            partial=partial,
        )


MAX_HISTORY_ROWS = 25_000  # far more epochs than any run has; a checkpoint's pickle bound allows ~29,000


def history_from_rows(rows: Any) -> tuple[EpochRecord, ...]:
    """A whole history from a list of mappings, in increasing epoch order; ValueError if not."""
    if not isinstance(rows, list):
        raise ValueError(f"the history must be a list of epoch records, got {type(rows).__name__}")
    if len(rows) > MAX_HISTORY_ROWS:
        raise ValueError(f"the history has {len(rows):,} rows, more than any run of this app")
    records = []
    for number, row in enumerate(rows):
        try:
            records.append(EpochRecord.from_dict(row))
        except ValueError as err:
            raise ValueError(f"history row {number}: {err}") from None
    if any(later.epoch < earlier.epoch for earlier, later in itertools.pairwise(records)):
        raise ValueError("the history's epochs are not in order")
    return tuple(records)


def history_rows(history: tuple[EpochRecord, ...] | list[EpochRecord]) -> list[dict[str, Any]]:
    return [record.as_dict() for record in history]
