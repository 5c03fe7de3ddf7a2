"""Core of the row-by-row RNN dashboard: data, model, training, evaluation, checkpoints, runs.

Nothing here imports Streamlit, so it serves scripts, notebooks and the CLI as well.
"""

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .config import PRESETS, ModelConfig, Preset, TrainConfig
from .data import MnistData, MnistFileError, MnistUnavailable, load_mnist
from .evaluate import Score, evaluate
from .history import EpochRecord, RunStatus
from .model import RowClassifier, RowTrace
from .runs import Run, RunRecord, RunStore
from .trainer import BatchEvent, EndEvent, Trainer

__all__ = [
    "BatchEvent",
    "Checkpoint",
    "CheckpointError",
    "EndEvent",
    "EpochRecord",
    "MnistData",
    "MnistFileError",
    "MnistUnavailable",
    "ModelConfig",
    "PRESETS",
    "Preset",
    "RowClassifier",
    "RowTrace",
    "Run",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "Score",
    "TrainConfig",
    "Trainer",
    "evaluate",
    "load_checkpoint",
    "load_mnist",
]
