"""Run records: every training run gets a folder under the runs root.

    runs/<run id>/run.json        configs, status, reason, owner pid, timestamps
    runs/<run id>/metrics.json    the per-epoch history
    runs/<run id>/checkpoint.pt   the latest good model (rewritten after each epoch)

Every file is written atomically. A run left "running" by a process that no longer exists
is reported as interrupted; a folder that cannot be read is reported and skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .config import ModelConfig, TrainConfig, config_from_dict
from .data import atomic_write_bytes
from .trainer import EndEvent, EpochEvent, Event, EventCallback, Trainer

RUNNING, INTERRUPTED = "running", "interrupted"
# Tells this process apart from an earlier one that had the same pid.
PROCESS_TOKEN = secrets.token_hex(8)
RUN_FILE, METRICS_FILE, CHECKPOINT_FILE = "run.json", "metrics.json", "checkpoint.pt"


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1, allow_nan=True).encode())


def _owner_alive(info: dict[str, Any]) -> bool:
    pid = info.get("pid", -1)
    if info.get("process") == PROCESS_TOKEN:
        return True
    if pid == os.getpid() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Run:
    """An open run folder. Use `record(trainer, on_event)` as the trainer's event callback."""

    folder: Path
    model_config: ModelConfig
    train_config: TrainConfig
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.folder.name

    def _write_info(self, **changes: Any) -> None:
        self.info.update(changes, updated=time.time())
        _write_json(self.folder / RUN_FILE, self.info)

    def record(self, trainer: Trainer, forward: EventCallback | None = None) -> EventCallback:
        """An event callback that saves metrics, checkpoint and status, then forwards."""

        def on_event(event: Event) -> None:
            if isinstance(event, EpochEvent):
                _write_json(self.folder / METRICS_FILE, trainer.history)
                trainer.checkpoint().save(self.folder / CHECKPOINT_FILE)
                self._write_info(status=RUNNING, pid=os.getpid(), process=PROCESS_TOKEN)
            elif isinstance(event, EndEvent):
                self.finish(event.status, event.reason)
            if forward is not None:
                forward(event)

        return on_event

    def finish(self, status: str, reason: str) -> None:
        self._write_info(status=status, reason=reason)

    def load_checkpoint(self) -> Checkpoint:
        return load_checkpoint(self.folder / CHECKPOINT_FILE)


class RunStore:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def create(self, model_config: ModelConfig, train_config: TrainConfig, label: str = "") -> Run:
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = self.root / run_id
        folder.mkdir()
        run = Run(folder, model_config, train_config)
        run._write_info(
            id=run_id,
            label=label,
            created=time.time(),
            status=RUNNING,
            reason="",
            pid=os.getpid(),
            process=PROCESS_TOKEN,
            model_config=dataclasses.asdict(model_config),
            train_config=dataclasses.asdict(train_config),
        )
        return run

    def open(self, run_id: str) -> Run:
        folder = self.root / run_id
        info = json.loads((folder / RUN_FILE).read_text())
        return Run(
            folder,
            config_from_dict(ModelConfig, info["model_config"]),
            config_from_dict(TrainConfig, info["train_config"]),
            info,
        )

    def delete(self, run_id: str) -> None:
        folder = self.root / run_id
        if folder.parent != self.root or not (folder / RUN_FILE).is_file():
            raise ValueError(f"{run_id!r} is not a run in {self.root}")
        shutil.rmtree(folder)

    def read(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(info, history) of one run; status reads interrupted if its process is gone."""
        folder = self.root / run_id
        info = json.loads((folder / RUN_FILE).read_text())
        metrics_path = folder / METRICS_FILE
        history = json.loads(metrics_path.read_text()) if metrics_path.exists() else []
        if not isinstance(info, dict) or not isinstance(history, list):
            raise ValueError("run.json or metrics.json has the wrong structure")
        config_from_dict(ModelConfig, info["model_config"])
        config_from_dict(TrainConfig, info["train_config"])
        if info.get("status") == RUNNING and not _owner_alive(info):
            info["status"] = INTERRUPTED
            info["reason"] = "the process training it ended before the run did"
        return info, history

    def scan(self) -> tuple[list[tuple[dict, list]], list[str]]:
        """All readable runs (newest first) and one message per damaged folder."""
        runs, problems = [], []
        if not self.root.is_dir():
            return runs, problems
        for folder in sorted(self.root.iterdir(), reverse=True):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                runs.append(self.read(folder.name))
            except (OSError, ValueError, KeyError, TypeError) as err:
                problems.append(f"{folder.name}: skipped, cannot be read ({type(err).__name__}: {err})")
        return runs, problems

    def list_runs(self) -> pd.DataFrame:
        """One row per readable run: settings, status and results. Damaged folders are skipped
        (see `scan` for the messages)."""
        rows = [summarize(info, history) for info, history in self.scan()[0]]
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def checkpoint(self, run_id: str) -> Checkpoint:
        try:
            return load_checkpoint(self.root / run_id / CHECKPOINT_FILE)
        except CheckpointError as err:
            raise CheckpointError(f"run {run_id}: {err}") from None


SUMMARY_COLUMNS = [
    "run_id", "label", "status", "cell_type", "hidden_size", "num_layers", "optimizer",
    "learning_rate", "batch_size", "train_limit", "seed", "epochs", "final_accuracy",
    "best_accuracy", "seconds_per_epoch", "images_per_second", "created", "reason",
]  # fmt: skip


def summarize(info: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    trained = [row for row in history if row.get("train_loss") is not None]
    accuracies = [row["test_accuracy"] for row in history]
    speeds = [row["images_per_second"] for row in trained if row.get("images_per_second")]
    model, train = info["model_config"], info["train_config"]
    return {
        "run_id": info.get("id"),
        "label": info.get("label", ""),
        "status": info.get("status"),
        **{key: model.get(key) for key in ("cell_type", "hidden_size", "num_layers")},
        **{key: train.get(key) for key in ("optimizer", "learning_rate", "batch_size", "train_limit", "seed")},
        "epochs": history[-1]["epoch"] if history else 0,
        "final_accuracy": accuracies[-1] if accuracies else None,
        "best_accuracy": max(accuracies) if accuracies else None,
        "seconds_per_epoch": sum(r["train_seconds"] for r in trained) / len(trained) if trained else None,
        "images_per_second": sum(speeds) / len(speeds) if speeds else None,
        "created": pd.Timestamp(info.get("created", 0), unit="s"),
        "reason": info.get("reason", ""),
    }
