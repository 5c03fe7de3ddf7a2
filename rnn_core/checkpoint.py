"""One `.pt` file per model: configs, weights, optimizer state and history.

A checkpoint may come from anyone (an upload), so reading one is defensive: the zip's
directory is checked before anything is unpacked, the pickle is read with `weights_only=True`
so it cannot run code, and every field is checked against what this app would have saved.
Anything else is refused with a CheckpointError that says why, in words meant for the user.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .config import ModelConfig, TrainConfig, config_from_dict
from .data import atomic_write_bytes
from .history import EpochRecord, history_from_rows, history_rows
from .model import RowClassifier
from .payload_checks import check_floating, check_optimizer_shape, check_plain_values, check_zip_start

FORMAT = "rnn-mnist-row-classifier"
# 2 adds the trainer's place (shuffling generator, images trained, a cut epoch's order), so a
# run continued from its file goes on exactly; a version 1 file goes on from its last epoch.
VERSION = 2
READABLE_VERSIONS = (1, 2)
GENERATOR_STATE_BYTES = torch.Generator().get_state().numel()
MAX_TRAIN_IMAGES = 60_000  # MNIST's training split: no epoch is longer
MAX_CHECKPOINT_BYTES = 100 * 2**20  # the file as stored
# Sizes once unpacked, read from the zip's directory before anything is inflated: a few MB
# of deflated zeros can unpack to GBs. torch.save stores entries uncompressed, so a real
# checkpoint unpacks to about its file size. The largest model allowed (LSTM, hidden 512,
# 3 layers, Adam state) measured 63.8 MB in 62 entries, its largest tensor 4 MiB; 81.2 MB
# with its weights averaged (a second set of weights).
MAX_UNPACKED_BYTES = 100 * 2**20
# Per tensor: 8x the largest, as room for a file saved from a script in which the tensors
# share one storage (on a GPU, an LSTM's weights are views of one buffer: 21 MB at the largest).
MAX_TENSOR_BYTES = 32 * 2**20
# The pickle (configs, tensor index, history) measured 5 kB plus 72 bytes per epoch record.
# Its bound is kept tight because unpickling amplifies: one byte can become a 64-byte dict
# (1 MB of such bytes took 80 MB and 0.8 s to unpickle).
MAX_PICKLE_BYTES = 2 * 2**20  # about 29,000 epoch records
OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}


class CheckpointError(ValueError):
    """A file that cannot be used as a checkpoint; the message is meant for the user."""


@dataclass
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    state_dict: dict[str, torch.Tensor]
    history: tuple[EpochRecord, ...] = ()
    optimizer_state: dict[str, Any] | None = None
    # where the training stands: {"generator", "images_trained", "cut_order", "cut_batch"}
    position: dict[str, Any] | None = None
    # while averaging (`average_from`), `state_dict` is the weights' mean and this holds
    # {"training_weights": the weights training goes on from, "epochs": how many were averaged}
    averaging: dict[str, Any] | None = None

    @classmethod
    def of_trainer_state(
        cls, model_config: ModelConfig, train_config: TrainConfig, state: dict[str, Any]
    ) -> Checkpoint:
        """The checkpoint of a `Trainer.state_dict()`."""
        return cls(
            model_config=model_config,
            train_config=train_config,
            state_dict=state["model"],
            history=history_from_rows(state["history"]),
            optimizer_state=state["optimizer"],
            position={key: state[key] for key in POSITION_KEYS},
            averaging=state.get("averaging"),
        )

    def trainer_state(self) -> dict[str, Any]:
        """What `Trainer.load_state_dict` goes on from."""
        return {
            "model": self.state_dict,
            "averaging": self.averaging,
            "optimizer": self.optimizer_state,
            "history": history_rows(self.history),
            **(self.position or {}),
        }

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
                "position": self.position,
                "averaging": self.averaging,
            },
            buffer,
        )
        return buffer.getvalue()

    def save(self, path: str | Path) -> None:
        atomic_write_bytes(Path(path), self.to_bytes())


def build_optimizer(model: torch.nn.Module, train_config: TrainConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS[train_config.optimizer](model.parameters(), lr=train_config.learning_rate)


# The line a refused whole-model file is answered with: what saves a file that can be read.
SAVE_A_STATE_DICT = 'torch.save(model.state_dict(), "model.pt")'


def load_checkpoint(source: str | Path | bytes | BinaryIO) -> Checkpoint:
    """Read and check a checkpoint from a path, raw bytes or a binary file object."""
    payload = read_payload(source)
    if not is_ours(payload):
        raise CheckpointError("a PyTorch file, but not a checkpoint saved by this app")
    return checkpoint_from_payload(payload)


def read_payload(source: str | Path | bytes | BinaryIO) -> Any:
    """What a PyTorch file unpacks to, with its size and its every value bounded before use; a
    pickle that would build objects (code) is refused."""
    raw = _read_bounded(source)
    _check_unpacked_sizes(raw)
    try:
        check_zip_start(raw)
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message advises turning weights_only off: never pass that on.
        raise CheckpointError(
            "refused: the file holds objects a checkpoint never has (a whole model saved with "
            f"torch.save(model)?). Save its weights instead: {SAVE_A_STATE_DICT}"
        ) from None
    except Exception as err:  # zip, EOF and format errors all mean "not a torch file"
        raise CheckpointError(f"not a PyTorch checkpoint file ({type(err).__name__})") from None
    try:
        check_plain_values(payload, MAX_TENSOR_BYTES, MAX_UNPACKED_BYTES)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"damaged checkpoint: {err}") from None
    return payload


def is_ours(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def checkpoint_from_payload(payload: dict[str, Any]) -> Checkpoint:
    """This app's checkpoint from what its file unpacked to, every field checked."""
    if payload.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint version {payload.get('version')!r:.20} is not supported (expected {VERSION})"
        )
    try:
        return _checkpoint_from_payload(payload)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"damaged checkpoint: {err}") from None


def _read_bounded(source: str | Path | bytes | BinaryIO) -> bytes:
    too_big = f"larger than {MAX_CHECKPOINT_BYTES // 2**20} MB: not a checkpoint of this app"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
        if path.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path.name}: {too_big}")
        raw = path.read_bytes()
    elif isinstance(source, bytes):
        raw = source
    else:
        raw = source.read(MAX_CHECKPOINT_BYTES + 1)
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(too_big)
    return raw


def _check_unpacked_sizes(raw: bytes) -> None:
    """Refuse by the sizes the zip's directory declares; torch.load would inflate them all."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except Exception as err:  # any damage to the zip structure means it is not ours
        raise CheckpointError(f"not a PyTorch checkpoint file ({type(err).__name__})") from None
    total = sum(entry.file_size for entry in entries)
    if total > MAX_UNPACKED_BYTES:
        raise CheckpointError(
            f"refused: it would unpack to {total / 2**20:,.0f} MB, more than any checkpoint of "
            f"this app ({MAX_UNPACKED_BYTES // 2**20} MB)"
        )
    for entry in entries:
        limit = MAX_PICKLE_BYTES if entry.filename.endswith("/data.pkl") else MAX_TENSOR_BYTES
        if entry.file_size > limit:
            raise CheckpointError(
                f"refused: one of its parts would unpack to {entry.file_size / 2**20:,.1f} MB, "
                f"more than any checkpoint of this app holds ({limit / 2**20:g} MB)"
            )


def _mapping(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping, got {type(value).__name__}")
    return value


def _checkpoint_from_payload(payload: dict[str, Any]) -> Checkpoint:
    """Every field checked, so that no page meets a value this app would not have saved."""
    checkpoint = Checkpoint(
        model_config=config_from_dict(ModelConfig, _mapping(payload, "model_config")),
        train_config=config_from_dict(TrainConfig, _mapping(payload, "train_config")),
        state_dict=_mapping(payload, "state_dict"),
        history=history_from_rows(payload.get("history", [])),
        optimizer_state=payload.get("optimizer_state"),
        position=_checked_position(payload.get("position"), has_history=bool(payload.get("history"))),
        averaging=payload.get("averaging"),
    )
    model = RowClassifier(checkpoint.model_config)
    _check_weights(checkpoint.state_dict, model.state_dict())
    _check_averaging(checkpoint, model.state_dict())
    try:
        model.load_state_dict(checkpoint.state_dict)
        if checkpoint.averaging is not None:  # last: the optimizer steps the weights it trains
            model.load_state_dict(checkpoint.averaging["training_weights"])
    except RuntimeError as err:  # e.g. a sparse tensor where a dense one belongs
        raise ValueError(f"the weights cannot be loaded into the model ({type(err).__name__})") from None
    _check_optimizer_state(checkpoint.optimizer_state, model, checkpoint.train_config)
    return checkpoint


POSITION_KEYS = ("generator", "images_trained", "cut_order", "cut_batch")


def _checked_position(position: Any, has_history: bool) -> dict[str, Any] | None:
    """The trainer's place, checked for what it can hold without the data: the trainer checks
    that it fits its training set when it goes on from it."""
    if position is None:
        return None
    if not isinstance(position, dict) or set(position) != set(POSITION_KEYS):
        raise ValueError(f"the training position must hold exactly {', '.join(POSITION_KEYS)}")
    generator, images, order, batch = (position[key] for key in POSITION_KEYS)
    if not (
        isinstance(generator, torch.Tensor)
        and generator.dtype == torch.uint8
        and generator.shape == (GENERATOR_STATE_BYTES,)
    ):
        raise ValueError("the training position's generator state is not a shuffling generator's")
    if isinstance(images, bool) or not isinstance(images, int) or not 0 <= images <= 1e6 * MAX_TRAIN_IMAGES:
        raise ValueError("the training position's count of images trained is not a count")
    if order is not None and not (
        isinstance(order, torch.Tensor)
        and order.dtype == torch.int64
        and order.dim() == 1
        and len(order) <= MAX_TRAIN_IMAGES
    ):
        raise ValueError("the training position's cut epoch is not an order of training images")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 0 <= batch <= MAX_TRAIN_IMAGES:
        raise ValueError("the training position's batch is not a batch number")
    if images and not has_history:
        raise ValueError("the training position counts images trained, but the history has no epoch")
    return position


def _check_averaging(checkpoint: Checkpoint, expected: dict[str, torch.Tensor]) -> None:
    """The weights a training that averages goes on from, and how many epochs it averaged."""
    averaging, average_from = checkpoint.averaging, checkpoint.train_config.average_from
    whole_epochs = int(checkpoint.history[-1].epoch) if checkpoint.history else 0
    # a stop a hair before an epoch's end is recorded as that epoch, one more than it averaged
    averaged = whole_epochs - average_from + 1 if average_from else 0
    if averaging is None:
        # a file to go on from must hold them (one epoch's weights, with no position, need not)
        if checkpoint.position is not None and averaged >= 2:
            raise ValueError(
                f"its training averages the weights from epoch {average_from}, but it holds none to go on from"
            )
        return
    if not average_from:
        raise ValueError("it holds weights to average, but its train config does not average")
    if not isinstance(averaging, dict) or set(averaging) != {"training_weights", "epochs"}:
        raise ValueError("the averaging must hold exactly training_weights and epochs")
    _check_weights(_mapping(averaging, "training_weights"), expected)
    epochs = averaging["epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise ValueError("the averaging's count of epochs must be a whole number")
    if not max(1, averaged - 1) <= epochs <= averaged:
        raise ValueError(f"the averaging counts {epochs} epochs, but its history has {averaged} to average")


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "()"


def _listing(names: list[str], shown: int = 4) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more if names else "none"


def _check_weights(weights: dict[str, Any], expected: dict[str, torch.Tensor]) -> None:
    missing = [name for name in expected if name not in weights]
    unexpected = [str(name) for name in weights if name not in expected]
    if missing or unexpected:
        raise ValueError(
            "the weights do not match the model in its config "
            f"(missing: {_listing(missing)}; unexpected: {_listing(unexpected)})"
        )
    for name, want in expected.items():
        value = weights[name]
        check_floating(f"weight {name}", value)
        if value.shape != want.shape:
            raise ValueError(
                f"weight {name} has shape {_shape(value)}, but the model in its config needs {_shape(want)}"
            )
        if not torch.isfinite(value).all():
            raise ValueError(f"the weights hold NaN/Inf values ({name})")


def _check_optimizer_state(state: Any, model: RowClassifier, train_config: TrainConfig) -> None:
    """Do on copies what Continue will do: load the state into the optimizer it builds, then
    take one step (with zero gradients). A state that is not that optimizer's, or that would
    turn the weights into NaN, is refused here rather than failing or diverging later."""
    if state is None:
        return
    check_optimizer_shape(state, _stepped_optimizer_state(model, train_config), train_config.optimizer)
    optimizer = build_optimizer(model, train_config)
    try:
        optimizer.load_state_dict(copy.deepcopy(state))
        for parameter in model.parameters():
            parameter.grad = torch.zeros_like(parameter)
        optimizer.step()
    except Exception:  # torch raises KeyError, ValueError, RuntimeError... all mean "not this"
        raise ValueError(
            f"the optimizer state is not that of {train_config.optimizer} for this model, "
            "so training could not continue from it"
        ) from None
    if not all(torch.isfinite(parameter).all() for parameter in model.parameters()):
        raise ValueError("the optimizer state holds NaN/Inf values")


def _stepped_optimizer_state(model: RowClassifier, train_config: TrainConfig) -> dict[str, Any]:
    """What the optimizer of `train_config` holds for this model once it has taken a step, worked
    out on a one-weight probe: the keys and hyperparameters are the same for any model, and each
    tensor in the state has its weight's shape (so the model's own weights stand for them)."""
    probe = torch.nn.Linear(1, 1, bias=False)
    optimizer = build_optimizer(probe, train_config)
    probe.weight.grad = torch.zeros_like(probe.weight)
    optimizer.step()
    probed = optimizer.state_dict()
    weights = list(model.parameters())
    return {
        "state": {index: dict.fromkeys(probed["state"].get(0, {}), weight) for index, weight in enumerate(weights)},
        "param_groups": [{**probed["param_groups"][0], "params": list(range(len(weights)))}],
    }
