"""Training and evaluation loop, reporting progress as events.

The training split is held as one tensor on the device and batches are gathered by shuffled
indices, which is several times faster than a DataLoader over PIL images. A Trainer keeps its
model, optimizer and shuffling generator between calls to `run`, so training can be stopped,
looked at and continued ("one more epoch") exactly as if it had not paused.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch.nn import functional as F

from .checkpoint import Checkpoint, build_optimizer
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .evaluate import evaluate
from .history import EpochRecord, RunStatus
from .model import RowClassifier

# A batch loss this many times the untrained model's test loss counts as blown up: a
# learning rate far too high can send the loss into the hundreds without reaching NaN.
BLOW_UP_FACTOR = 10.0
# Held while a model is built from a seed, so two trainings started at once on a threaded
# server cannot interleave their draws from the one global generator.
_GLOBAL_SEED_LOCK = threading.Lock()


def initial_model(model_config: ModelConfig, seed: int) -> RowClassifier:
    """The untrained model a run with this seed starts from. torch's layers draw their first
    weights from the global generator: it is seeded here and then given back as it was."""
    with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RowClassifier(model_config)


@dataclass(frozen=True)
class BatchEvent:
    epoch: float  # fractional epochs of data seen so far, e.g. 2.35
    epoch_index: int  # the pass in progress, counting from 1
    batch: int  # batches done in this pass
    batches: int  # batches per pass
    images_seen: int  # images done in this pass
    loss: float  # loss of the latest batch


@dataclass(frozen=True)
class EndEvent:
    status: RunStatus  # FINISHED, STOPPED or DIVERGED
    reason: str


Event = Union[BatchEvent, EpochRecord, EndEvent]
EventCallback = Callable[[Event], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for, but Apple MPS is not available")
    return torch.device(name)


def _whole(epoch: float) -> float:
    return int(epoch) if float(epoch).is_integer() else epoch


class Trainer:
    def __init__(
        self,
        data: MnistData,
        model_config: ModelConfig,
        train_config: TrainConfig,
        checkpoint: Checkpoint | None = None,
        batch_event_interval: float = 0.1,
    ):
        self.model_config, self.config = model_config, train_config
        self.device = resolve_device(train_config.device)
        self.batch_event_interval = batch_event_interval
        self.generator = torch.Generator().manual_seed(train_config.seed)

        images, labels = data.train_images, data.train_labels
        if train_config.train_limit is not None and train_config.train_limit < len(labels):
            keep = torch.randperm(len(labels), generator=self.generator)[: train_config.train_limit]
            images, labels = images[keep], labels[keep]
        self.train_images, self.train_labels = images.to(self.device), labels.to(self.device)
        self.test_images, self.test_labels = data.test_images, data.test_labels

        self.model = initial_model(model_config, train_config.seed).to(self.device)
        self.optimizer = build_optimizer(self.model, train_config)
        self.history: list[EpochRecord] = []
        self.images_trained = 0
        self._step_lock: contextlib.AbstractContextManager = contextlib.nullcontext()
        if checkpoint is not None:
            self.model.load_state_dict(checkpoint.state_dict)
            if checkpoint.optimizer_state is not None:
                self.optimizer.load_state_dict(checkpoint.optimizer_state)
            self.history = list(checkpoint.history)
            self.images_trained = round(self.epochs_done * len(self.train_labels))
        self._last_good = self._snapshot()

    @property
    def epochs_done(self) -> float:
        return self.history[-1].epoch if self.history else 0

    @property
    def train_size(self) -> int:
        return len(self.train_labels)

    def _snapshot(self) -> tuple[dict, dict]:
        return copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict())

    def _restore_last_good(self) -> None:
        model_state, optimizer_state = self._last_good
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optimizer_state)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            model_config=self.model_config,
            train_config=self.config,
            state_dict={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            history=tuple(self.history),
            optimizer_state=copy.deepcopy(self.optimizer.state_dict()),
        )

    def _record(self, train_loss: float | None, seconds: float, images: int, partial: bool) -> EpochRecord:
        result = evaluate(self.model, self.test_images, self.test_labels)
        event = EpochRecord(
            epoch=_whole(round(self.images_trained / self.train_size, 3)),
            train_loss=train_loss,
            test_loss=result.loss,
            test_accuracy=result.accuracy,
            train_seconds=seconds,
            images_per_second=images / seconds if seconds > 0 and images else None,
            partial=partial,
        )
        self.history.append(event)
        return event

    def run(
        self,
        epochs: int | None = None,
        on_event: EventCallback | None = None,
        stop: threading.Event | None = None,
        step_lock: contextlib.AbstractContextManager | None = None,
    ) -> EndEvent:
        """Train `epochs` more passes (default: the config's), scoring the test set after each.

        Returns, and reports, how it ended: finished, stopped (between two batches) or
        diverged (loss blew up: the weights of the last good epoch are put back).
        `step_lock`, when given, is held around every change to the weights, so another
        thread holding it can copy a consistent model.
        """
        emit = on_event or (lambda event: None)
        stop = stop or threading.Event()
        self._step_lock = step_lock or contextlib.nullcontext()
        if not self.history:
            emit(self._record(None, 0.0, 0, partial=False))
        batch_size = self.config.batch_size
        batches = math.ceil(self.train_size / batch_size)
        for epoch_index in range(1, (epochs or self.config.epochs) + 1):
            self.model.train()
            order = torch.randperm(self.train_size, generator=self.generator).to(self.device)
            loss_sum = torch.zeros((), device=self.device)
            seen, last_emit, start = 0, -math.inf, time.perf_counter()
            for batch in range(batches):
                if stop.is_set():
                    end = EndEvent(RunStatus.STOPPED, f"during epoch {self.epochs_done_whole + 1}")
                    if seen:
                        emit(self._record(loss_sum.item() / batch, time.perf_counter() - start, seen, partial=True))
                    emit(end)
                    return end
                index = order[batch * batch_size : (batch + 1) * batch_size]
                with self._step_lock:
                    loss = F.nll_loss(self.model(self.train_images[index]), self.train_labels[index])
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                loss_sum += loss.detach()
                seen += len(index)
                self.images_trained += len(index)
                now = time.perf_counter()
                if now - last_emit >= self.batch_event_interval or batch == batches - 1:
                    last_emit = now
                    value = loss.item()
                    if self._blown_up(value):
                        return self._diverge(emit, value, batch + 1)
                    emit(BatchEvent(self.images_trained / self.train_size, epoch_index, batch + 1, batches, seen, value))
            seconds = time.perf_counter() - start
            train_loss = loss_sum.item() / batches
            if self._blown_up(train_loss):
                return self._diverge(emit, train_loss, batches)
            event = self._record(train_loss, seconds, seen, partial=False)
            if not math.isfinite(event.test_loss):
                self.history.pop()
                return self._diverge(emit, event.test_loss, batches)
            self._last_good = self._snapshot()
            emit(event)
        end = EndEvent(RunStatus.FINISHED, f"trained to epoch {_whole(self.epochs_done)}")
        emit(end)
        return end

    def _blown_up(self, loss: float) -> bool:
        return not math.isfinite(loss) or loss > BLOW_UP_FACTOR * self.history[0].test_loss

    @property
    def epochs_done_whole(self) -> int:
        return int(self.epochs_done)

    def _diverge(self, emit: EventCallback, value: float, batch: int) -> EndEvent:
        last_good = self.epochs_done
        with self._step_lock:
            self._restore_last_good()
        self.images_trained = round(last_good * self.train_size)
        end = EndEvent(
            RunStatus.DIVERGED,
            f"the loss blew up to {value:.4g} at batch {batch} of epoch {self.epochs_done_whole + 1}: "
            f"learning rate {self.config.learning_rate:g} is too high, lower it. "
            f"The model keeps its weights from epoch {_whole(last_good)}.",
        )
        emit(end)
        return end
