"""The model after every scored epoch: one small file per epoch in the run's folder.

    runs/<run id>/epochs/<epoch>.pt   the weights after that epoch (0 = untrained, 2.5 = a
                                      pass a stop cut short), with the history up to it

The teaching notebook's last task is to look at the same test images after epoch 0, 1, 2...
and see the model learn. A run's checkpoint is rewritten after each epoch, so its earlier
models would be lost; these files keep them. Each is a checkpoint without optimizer state
(a hidden-20 LSTM is 20 KB, the strong preset 0.86 MB), written atomically, and read
back through `load_checkpoint`, so it gets every check an upload gets, and then must match the
run's own model config.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .config import ModelConfig

EPOCHS_FOLDER = "epochs"
# "3.pt" or "2.5.pt": the epoch as the history writes it (whole, or a fraction to 3 places)
EPOCH_FILE = re.compile(r"(0|[1-9][0-9]{0,5})(\.[0-9]{1,3})?\.pt")


def epoch_name(epoch: float) -> str:
    """3 -> "3", 2.5 -> "2.5": the file name's stem, and how pages write the epoch."""
    return f"{epoch:g}" if float(epoch).is_integer() else f"{epoch:.3f}".rstrip("0")


def save_epoch_weights(run_folder: Path, checkpoint: Checkpoint) -> Path | None:
    """Keep the checkpoint's weights as those after its latest epoch; None without a history."""
    if not checkpoint.history:
        return None
    epoch = checkpoint.history[-1].epoch
    path = Path(run_folder) / EPOCHS_FOLDER / f"{epoch_name(epoch)}.pt"
    path.parent.mkdir(exist_ok=True)
    # the weights (while averaging, their mean) and the history only: Continue reads checkpoint.pt
    dataclasses.replace(checkpoint, optimizer_state=None, position=None, averaging=None).save(path)
    return path


@dataclass(frozen=True)
class EpochWeights:
    """A file of weights after one epoch, not read yet."""

    epoch: float
    path: Path

    @property
    def name(self) -> str:
        return epoch_name(self.epoch)


def saved_epochs(run_folder: Path) -> list[EpochWeights]:
    """The epochs whose weights the run kept, in order; [] for a run from before they were."""
    folder = Path(run_folder) / EPOCHS_FOLDER
    if not folder.is_dir():
        return []
    found = [
        EpochWeights(float(path.name[:-3]), path)
        for path in folder.iterdir()
        if EPOCH_FILE.fullmatch(path.name) and path.is_file()
    ]
    return sorted(found, key=lambda weights: weights.epoch)


def load_epoch_weights(weights: EpochWeights, model_config: ModelConfig) -> Checkpoint:
    """The checkpoint after one epoch, checked as an upload is and against the run's model."""
    try:
        checkpoint = load_checkpoint(weights.path)
    except CheckpointError as err:
        raise CheckpointError(f"the weights after epoch {weights.name}: {err}") from None
    if checkpoint.model_config != model_config:
        raise CheckpointError(f"the weights after epoch {weights.name} are of another model than the run's")
    last = checkpoint.history[-1].epoch if checkpoint.history else None
    if last != weights.epoch:
        raise CheckpointError(f"the file of epoch {weights.name} holds the weights of another epoch")
    return checkpoint
