"""One `.pt` file per model: configs, weights, optimizer state and history.

Files are read with `weights_only=True`, so a crafted pickle cannot run code; anything that
is not a checkpoint of this project, or whose weights do not fit its own config, is refused
with a CheckpointError that says why.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .config import ModelConfig, TrainConfig, config_from_dict
from .data import atomic_write_bytes
from .history import EpochRecord, history_from_rows, history_rows
from .model import RowClassifier

FORMAT = "rnn-mnist-row-classifier"
VERSION = 1
MAX_CHECKPOINT_BYTES = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A file that cannot be used as a checkpoint; the message is meant for the user."""


@dataclass
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    state_dict: dict[str, torch.Tensor]
    history: tuple[EpochRecord, ...] = ()
    optimizer_state: dict[str, Any] | None = None

    def build_model(self) -> RowClassifier:
        model = RowClassifier(self.model_config)
        model.load_state_dict(self.state_dict)
        return model

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "format": FORMAT,
                "version": VERSION,
                "model_config": dataclasses.asdict(self.model_config),
                "train_config": dataclasses.asdict(self.train_config),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
                "history": history_rows(self.history),
                "optimizer_state": self.optimizer_state,
            },
            buffer,
        )
        return buffer.getvalue()

    def save(self, path: str | Path) -> None:
        atomic_write_bytes(Path(path), self.to_bytes())


def load_checkpoint(source: str | Path | bytes | BinaryIO) -> Checkpoint:
    """Read and check a checkpoint from a path, raw bytes or a binary file object."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
        if path.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path.name}: larger than {MAX_CHECKPOINT_BYTES // 2**20} MB")
        raw = path.read_bytes()
    elif isinstance(source, bytes):
        raw = source
    else:
        raw = source.read(MAX_CHECKPOINT_BYTES + 1)
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"larger than {MAX_CHECKPOINT_BYTES // 2**20} MB: not a checkpoint of this app")
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"refused: the file holds objects a checkpoint never has ({first_line})") from None
    except Exception as err:  # zip, EOF and format errors all mean "not a torch file"
        raise CheckpointError(f"not a PyTorch checkpoint file ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("a PyTorch file, but not a checkpoint saved by this app")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {payload.get('version')!r} is not supported (expected {VERSION})")
    try:
        checkpoint = Checkpoint(
            model_config=config_from_dict(ModelConfig, payload["model_config"]),
            train_config=config_from_dict(TrainConfig, payload["train_config"]),
            state_dict=payload["state_dict"],
            history=history_from_rows(payload.get("history", [])),
            optimizer_state=payload.get("optimizer_state"),
        )
        checkpoint.build_model()  # proves the weights fit the config
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"damaged checkpoint: {str(err).splitlines()[0]}") from None
    return checkpoint
