"""Run records: every model, trained here or uploaded, gets a folder under the runs root.

    runs/<run id>/run.json        configs, status, reason, owner, parent, process, node, timestamps
    runs/<run id>/metrics.json    the per-epoch history
    runs/<run id>/checkpoint.pt   the latest good model (rewritten after each epoch)
    runs/<run id>/epochs/<k>.pt   the model after epoch k (see epochs.py)

The folder name is the run id and must match RUN_ID_PATTERN, so no id, from a link or from a
planted run.json, can name a path outside the root. Every file is written atomically. A run
left "running" by a process that no longer exists is reported as interrupted; a folder that
cannot be read is reported and skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .config import SETTINGS, ModelConfig, TrainConfig, config_from_dict, flat
from .data import atomic_write_bytes
from .epochs import save_epoch_weights
from .history import MAX_EPOCH, EpochRecord, RunStatus, history_from_rows, history_rows
from .safe_files import error_words, is_plain_folder, read_plain_file
from .trainer import EndEvent, Event, EventCallback, Trainer

# The settings a sweep may vary: every config field (the CLI's flags are named after them).
SWEEPABLE = frozenset(field.name for cls in (ModelConfig, TrainConfig) for field in dataclasses.fields(cls))
RUN_ID_PATTERN = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")
RUN_FILE, METRICS_FILE, CHECKPOINT_FILE = "run.json", "metrics.json", "checkpoint.pt"
# Beside the run folders: the run a teacher has featured, shown to a browser that has none of its own.
FEATURED_FILE = "featured.json"
MAX_RECORD_BYTES = 16 * 2**20  # run.json and metrics.json are a few KB; refuse planted giants
# A creation time a run can have (seconds since 1970): before 2100, which pandas can show.
MAX_CREATED = 4_102_444_800
# Tells this process apart from an earlier one that had the same pid.
PROCESS_TOKEN = secrets.token_hex(8)


class RunNotFound(LookupError):
    """No run with that id in this store; the message is meant for the user."""


class RunFolderGone(FileNotFoundError):
    """The folder of a run being written was deleted; the message is meant for the user."""


def check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunNotFound(f"{str(run_id)[:40]!r} is not a run id (they look like 20261128-093000-a1b2c3)")
    return run_id


def owner_digest(token: str | None) -> str | None:
    """What run.json keeps of a browser's secret token: enough to recognise it, not to reuse it."""
    return hashlib.sha256(token.encode()).hexdigest()[:32] if token else None


def _process_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _this_process() -> dict[str, Any]:
    return {"pid": os.getpid(), "process": PROCESS_TOKEN, "process_started": _process_started(os.getpid())}


def _owner_alive(info: dict[str, Any]) -> bool:
    if info.get("process") == PROCESS_TOKEN:
        return True
    pid = info.get("pid")
    if pid == os.getpid() or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass
    # the pid is taken, but by the process that wrote the record only if it started then too
    recorded, now = info.get("process_started"), _process_started(pid)
    return recorded is None or now is None or recorded == now


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1).encode())


def _read_json(path: Path) -> Any:
    """A plain file inside its run folder, read up to MAX_RECORD_BYTES (see safe_files)."""
    return json.loads(read_plain_file(path, MAX_RECORD_BYTES))


@dataclass(frozen=True)
class SweepTag:
    """The sweep a run belongs to: the sweep's id, and the settings it varies (config field
    names, the first one the charts' x axis)."""

    sweep_id: str
    axes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.sweep_id, "axes": list(self.axes)}


def _sweep_from_info(value: Any) -> SweepTag | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("id"), str) and RUN_ID_PATTERN.fullmatch(value["id"])):
        raise ValueError("run.json has a malformed sweep")
    axes = value.get("axes")
    if not (isinstance(axes, list) and len(axes) <= len(SWEEPABLE) and set(axes) <= SWEEPABLE):
        raise ValueError("run.json's sweep names settings that are not sweepable")
    return SweepTag(value["id"], tuple(axes))


@dataclass(frozen=True)
class RunRecord:
    """One run as read from its folder: everything but the weights."""

    run_id: str
    status: RunStatus
    reason: str
    label: str
    created: float
    model_config: ModelConfig
    train_config: TrainConfig
    history: tuple[EpochRecord, ...]
    owner: str | None  # owner_digest of the browser token that started it
    parent: dict[str, Any] | None  # {"run_id": ..., "epoch": ...} when it continues another run
    sweep: SweepTag | None = None

    @property
    def epochs(self) -> float:
        return self.history[-1].epoch if self.history else 0

    @property
    def final_accuracy(self) -> float | None:
        return self.history[-1].test_accuracy if self.history else None

    def owned_by(self, token: str | None) -> bool:
        return self.owner is not None and self.owner == owner_digest(token)


def _record_from_info(run_id: str, info: Any, history: tuple[EpochRecord, ...]) -> RunRecord:
    if not isinstance(info, dict):
        raise ValueError("run.json is not an object")
    parent = _parent_from_info(info.get("parent"))
    owner, label, reason = info.get("owner"), info.get("label", ""), info.get("reason", "")
    if not (owner is None or isinstance(owner, str)) or not isinstance(label, str) or not isinstance(reason, str):
        raise ValueError("run.json has a malformed owner, label or reason")
    created = info.get("created", 0)
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not 0 <= created < MAX_CREATED:
        raise ValueError("run.json has a malformed creation time (it must be a time between 1970 and 2100)")
    status = RunStatus(info.get("status"))  # ValueError for anything else
    if status.live and not _owner_alive(info):
        status, reason = RunStatus.INTERRUPTED, "the process training it ended before the run did"
    return RunRecord(
        run_id=run_id,  # the folder's name, whatever run.json says
        status=status,
        reason=reason,
        label=label,
        created=float(created),
        model_config=config_from_dict(ModelConfig, _mapping(info.get("model_config"), "model_config")),
        train_config=config_from_dict(TrainConfig, _mapping(info.get("train_config"), "train_config")),
        history=history,
        owner=owner,
        parent=parent,
        sweep=_sweep_from_info(info.get("sweep")),
    )


def _parent_from_info(parent: Any) -> dict[str, Any] | None:
    """{"run_id": <a run id>, "epoch": <a number>}, as `JobRegistry.continue_run` writes it."""
    if parent is None:
        return None
    run_id = parent.get("run_id") if isinstance(parent, dict) else None
    if not (isinstance(run_id, str) and RUN_ID_PATTERN.fullmatch(run_id)):
        raise ValueError("run.json has a malformed parent (its run id)")
    epoch = parent.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not 0 <= epoch < MAX_EPOCH:
        raise ValueError("run.json has a malformed parent (its epoch)")
    return parent


def _mapping(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"run.json's {name} is not an object")
    return value


@dataclass
class Run:
    """An open run folder, written by one job only. Use `record(trainer, on_event)` as the
    trainer's event callback: it saves the metrics and checkpoint after every epoch."""

    folder: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.folder.name

    def _check_folder(self) -> None:
        """Writing a file would make a deleted run's folder again: say it is gone instead."""
        if not self.folder.is_dir():
            raise RunFolderGone(f"the folder of run {self.run_id} was deleted while it trained: nothing more is saved")

    def _write_info(self, **changes: Any) -> None:
        self._check_folder()
        self.info.update(changes, updated=time.time())
        _write_json(self.folder / RUN_FILE, self.info)

    def current_record(self, history: tuple[EpochRecord, ...]) -> RunRecord:
        """The record as this run's writer knows it, without reading the folder."""
        return _record_from_info(self.run_id, self.info, history)

    def save_epoch(self, history: tuple[EpochRecord, ...], checkpoint: Checkpoint) -> None:
        self._check_folder()
        _write_json(self.folder / METRICS_FILE, history_rows(history))
        checkpoint.save(self.folder / CHECKPOINT_FILE)
        save_epoch_weights(self.folder, checkpoint)  # the model after this epoch, kept for good

    def record(self, trainer: Trainer, forward: EventCallback | None = None) -> EventCallback:
        """An event callback that saves metrics, checkpoint and status, then forwards."""

        def on_event(event: Event) -> None:
            # a divergence may have dropped epochs; a run stopped before any score has none
            if isinstance(event, (EpochRecord, EndEvent)) and trainer.history:
                self.save_epoch(tuple(trainer.history), trainer.checkpoint())
            if isinstance(event, EndEvent):
                self.finish(event.status, event.reason)
            if forward is not None:
                forward(event)

        return on_event

    def mark(
        self, status: RunStatus, reason: str = "", history: tuple[EpochRecord, ...] = (), node: str | None = None
    ) -> RunRecord:
        """A live status (waiting, running), with this process as its keeper and, where the
        executor names it, the node that trains the run (a node named before is dropped)."""
        self.info.pop("node", None)
        self._write_info(status=status.value, reason=reason, **_this_process(), **({"node": node} if node else {}))
        return self.current_record(history)

    def finish(self, status: RunStatus, reason: str, history: tuple[EpochRecord, ...] = ()) -> RunRecord:
        self._write_info(status=RunStatus(status).value, reason=reason)
        return self.current_record(history)


class RunStore:
    """The run folders under one root. `folder_reads` counts the folders read, so a caller
    can check that it reads none it does not need."""

    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root).resolve()
        self.folder_reads = 0

    def folder(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def _new_folder(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            folder = self.root / (time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3))
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue

    def create(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        label: str = "",
        owner: str | None = None,
        parent: dict[str, Any] | None = None,
        status: RunStatus = RunStatus.WAITING,
        sweep: SweepTag | None = None,
    ) -> Run:
        """A new run folder. `owner` is the browser's token (only its digest is kept); `sweep`
        tags it as one cell of a sweep."""
        folder = self._new_folder()
        run = Run(folder)
        try:
            run._write_info(
                id=folder.name,
                label=label,
                created=time.time(),
                status=RunStatus(status).value,
                reason="",
                owner=owner_digest(owner),
                parent=parent,
                sweep=sweep.as_dict() if sweep else None,
                model_config=dataclasses.asdict(model_config),
                train_config=dataclasses.asdict(train_config),
                **_this_process(),
            )
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)  # no half-made run left behind
            raise
        return run

    def add_checkpoint(self, checkpoint: Checkpoint, label: str, owner: str | None = None) -> RunRecord:
        """Keep an uploaded checkpoint as a run of its own, so every page can pick it."""
        run = self.create(checkpoint.model_config, checkpoint.train_config, label, owner, status=RunStatus.UPLOADED)
        try:
            checkpoint.save(run.folder / CHECKPOINT_FILE)
            _write_json(run.folder / METRICS_FILE, history_rows(checkpoint.history))
        except OSError:
            shutil.rmtree(run.folder, ignore_errors=True)
            raise
        return self.read(run.run_id)

    def open(self, run_id: str) -> Run:
        """An existing run, to be written by a job that continues it."""
        folder = self.folder(run_id)
        info = _read_json(folder / RUN_FILE)
        if not isinstance(info, dict):
            raise ValueError("run.json is not an object")
        return Run(folder, info)

    def delete(self, run_id: str) -> None:
        folder = self.folder(run_id)
        if not (folder / RUN_FILE).is_file():
            raise RunNotFound(f"there is no run {run_id}")
        shutil.rmtree(folder)

    def _readable_folder(self, run_id: str) -> Path:
        """The run's folder, if it is a real folder inside the root: a link to a folder elsewhere
        (a planted run) is refused."""
        folder = self.folder(run_id)
        if folder.is_symlink():
            raise ValueError("the run folder is a link to another place; only folders inside the runs folder are read")
        if not is_plain_folder(folder):
            raise RunNotFound(f"there is no run {run_id}")
        return folder

    def read(self, run_id: str) -> RunRecord:
        """One run; its status reads interrupted if the process keeping it is gone.
        RunNotFound for an unknown id, ValueError or OSError for a damaged folder."""
        folder = self._readable_folder(run_id)
        self.folder_reads += 1
        try:
            info = _read_json(folder / RUN_FILE)
        except FileNotFoundError:
            raise RunNotFound(f"there is no run {run_id}") from None
        try:
            history = history_from_rows(_read_json(folder / METRICS_FILE))
        except FileNotFoundError:
            history = ()
        record = _record_from_info(run_id, info, history)
        if record.status != RunStatus.INTERRUPTED:
            return record
        # its writer may have been cut off between the metrics and the checkpoint of an epoch:
        # the checkpoint is the model a continuation goes on from, so its history is the run's
        try:
            return dataclasses.replace(record, history=load_checkpoint(folder / CHECKPOINT_FILE).history)
        except (OSError, CheckpointError):
            return record

    def folder_names(self) -> list[str]:
        """The names of the folders under the root that may be runs, newest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            (entry.name for entry in os.scandir(self.root) if not entry.name.startswith(".") and entry.is_dir()),
            reverse=True,
        )

    def featured(self) -> str | None:
        """The run a teacher has featured, if any; a damaged or planted file features none."""
        try:
            run_id = _read_json(self.root / FEATURED_FILE).get("run_id")
            return check_run_id(run_id)
        except (OSError, ValueError, AttributeError, RunNotFound):
            return None

    def feature(self, run_id: str | None) -> None:
        """Feature `run_id` (one run at a time), or none."""
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json(self.root / FEATURED_FILE, {"run_id": None if run_id is None else check_run_id(run_id)})

    def read_or_note(self, name: str) -> RunRecord | str:
        """The run in folder `name`, or the note that says why it is skipped."""
        if (self.root / name).is_symlink():
            return f"{name}: skipped, a link to a folder outside the runs folder"
        if not RUN_ID_PATTERN.fullmatch(name):
            return f"{name}: skipped, the folder's name is not a run id (a copied folder?)"
        try:
            return self.read(name)
        except (OSError, ValueError, TypeError, RunNotFound) as err:
            return f"{name}: skipped, cannot be read ({type(err).__name__}: {error_words(err)})"

    def scan(self) -> tuple[list[RunRecord], list[str]]:
        """All readable runs (newest first) and one message per folder that was skipped."""
        read = [self.read_or_note(name) for name in self.folder_names()]
        return newest_first(item for item in read if isinstance(item, RunRecord)), [
            item for item in read if isinstance(item, str)
        ]

    def list_runs(self) -> pd.DataFrame:
        """One row per readable run: settings, status and results. Damaged folders are skipped
        (see `scan` for the messages)."""
        return summary_table(self.scan()[0])

    def checkpoint(self, run_id: str) -> Checkpoint:
        try:
            return load_checkpoint(self._readable_folder(run_id) / CHECKPOINT_FILE)
        except CheckpointError as err:
            raise CheckpointError(f"run {run_id}: {err}") from None


def newest_first(records: Iterable[RunRecord]) -> list[RunRecord]:
    """Runs by when they were created, newest first: a folder's name says the second only,
    and two runs started in the same second are told apart by their creation time."""
    return sorted(records, key=lambda record: (record.created, record.run_id), reverse=True)


RESULT_COLUMNS = [
    "epochs_trained",
    "final_accuracy",
    "best_accuracy",
    "seconds_per_epoch",
    "images_per_second",
    "created",
    "reason",
    "parent",
]
SUMMARY_COLUMNS = ["run_id", "label", "status", *(declared.name for declared in SETTINGS), *RESULT_COLUMNS]


def summarize(record: RunRecord) -> dict[str, Any]:
    """One row of the runs table: the run, every setting it was trained with, its results."""
    history = record.history
    speeds = [row.seconds_per_epoch for row in history if row.seconds_per_epoch]
    images = [row.images_per_second for row in history if row.images_per_second]
    return {
        "run_id": record.run_id,
        "label": record.label,
        "status": record.status.value,
        **flat(record.model_config, record.train_config),
        "epochs_trained": record.epochs,
        "final_accuracy": record.final_accuracy,
        "best_accuracy": max(row.test_accuracy for row in history) if history else None,
        "seconds_per_epoch": sum(speeds) / len(speeds) if speeds else None,
        "images_per_second": sum(images) / len(images) if images else None,
        "created": pd.Timestamp(record.created, unit="s"),
        "reason": record.reason,
        "parent": record.parent["run_id"] if record.parent else None,
    }


def summary_table(records: list[RunRecord]) -> pd.DataFrame:
    return pd.DataFrame([summarize(record) for record in records], columns=SUMMARY_COLUMNS)
