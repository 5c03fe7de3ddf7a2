"""Training and evaluation loop, reporting progress as events.

The training split is held as one tensor on the device and batches are gathered by shuffled
indices, which is several times faster than a DataLoader over PIL images. A Trainer keeps its
model, optimizer and shuffling generator between calls to `run`, so training can be stopped,
looked at and continued ("one more epoch") exactly as if it had not paused. A training
stopped part-way through an epoch first finishes that epoch when it continues, so epochs
stay whole. With `average_from`, the model scored and saved is the running mean of the
weights at the end of each epoch from that one on, while training goes on from its own.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

from .augment import augment, centre_lines
from .checkpoint import Checkpoint, build_optimizer
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .evaluate import ScoringStopped, evaluate
from .history import EpochRecord, RunStatus, history_from_rows, history_rows
from .model import RowClassifier

# A batch loss this many times the untrained model's test loss counts as blown up: a
# learning rate far too high can send the loss into the hundreds without reaching NaN.
BLOW_UP_FACTOR = 10.0


def initial_model(model_config: ModelConfig, seed: int) -> RowClassifier:
    """The untrained model a run with this seed starts from, drawn from a generator of its own
    (the global one is shared by every thread of a server). The weights follow torch's own
    default for these layers: every weight and bias uniform in +-1/sqrt(hidden size)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # built without drawing anything
        model = RowClassifier(model_config)
    model = model.to_empty(device="cpu")
    bound = model_config.hidden_size**-0.5
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-bound, bound, generator=generator)
    return model


@dataclass(frozen=True)
class BatchEvent:
    epoch: float  # fractional epochs of data seen so far, e.g. 2.35
    epoch_index: int  # the epoch in progress, counting from 1 since the untrained model
    batch: int  # batches done in this pass
    batches: int  # batches per pass
    images_seen: int  # images done in this epoch
    loss: float  # mean loss of the batches since the previous event, weighed by their images


@dataclass(frozen=True)
class EndEvent:
    status: RunStatus  # FINISHED, STOPPED or DIVERGED
    reason: str


Event = BatchEvent | EpochRecord | EndEvent
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


def epoch_size(data: MnistData, train_config: TrainConfig) -> int:
    """How many images one epoch of this training goes through."""
    available = len(data.train_labels)
    return min(available, train_config.train_limit or available)


class Trainer:
    """One run's training: model, optimizer, shuffling generator and history.

    `state_dict()` holds all of it (and where a stop cut an epoch short), the way a model's
    state_dict holds its weights: a trainer built with that state goes on exactly as the one
    that made it would have, in this process or another, before or after a restart.
    """

    def __init__(
        self,
        data: MnistData,
        model_config: ModelConfig,
        train_config: TrainConfig,
        state: dict[str, Any] | None = None,
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
        self._train_centres: torch.Tensor | None = None  # their centre lines, found when first needed
        self.test_images, self.test_labels = data.test_images, data.test_labels

        self.model = initial_model(model_config, train_config.seed).to(self.device)
        self.optimizer = build_optimizer(self.model, train_config)
        # the mean of the weights at each epoch's end from `average_from` on (none averaged yet)
        self.averaged = AveragedModel(self.model) if train_config.average_from else None
        self.history: list[EpochRecord] = []
        self.images_trained = 0
        # (shuffled order, next batch) of the pass a stop cut short, to be finished first
        self._cut_pass: tuple[torch.Tensor, int] | None = None
        if state is not None:
            self.load_state_dict(state)
        self._last_good = self._snapshot()

    @classmethod
    def from_checkpoint(cls, data: MnistData, checkpoint: Checkpoint, **kwargs: Any) -> Trainer:
        return cls(data, checkpoint.model_config, checkpoint.train_config, checkpoint.trainer_state(), **kwargs)

    @property
    def scored_model(self) -> RowClassifier:
        """The model this run gives, scored after each epoch and saved: the weights' mean once
        averaging has begun, else the weights as the last step left them."""
        averaging = self.averaged is not None and self.averaged.n_averaged.item() > 0
        return self.averaged.module if averaging else self.model  # type: ignore[union-attr,return-value]

    def state_dict(self) -> dict[str, Any]:
        """Copies, on the CPU, of everything the training needs to go on: weights (those scored,
        and while averaging those it trains), optimizer, history, the shuffling generator and
        the place in an epoch a stop cut short."""
        cut_order, cut_batch = self._cut_pass or (None, 0)
        averaging = None
        if self.scored_model is not self.model:
            epochs = int(self.averaged.n_averaged.item())  # type: ignore[union-attr]
            averaging = {"training_weights": _weights_on_cpu(self.model), "epochs": epochs}
        return {
            "model": _weights_on_cpu(self.scored_model),
            "averaging": averaging,
            "optimizer": _to_cpu(copy.deepcopy(self.optimizer.state_dict())),
            "history": history_rows(self.history),
            "generator": self.generator.get_state(),
            "images_trained": self.images_trained,
            "cut_order": None if cut_order is None else cut_order.cpu().clone(),
            "cut_batch": cut_batch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from `state_dict()`'s output. A state saved before the generator and the
        place in the epoch were kept (no "generator") goes on from the history's last epoch
        with freshly shuffled images. ValueError when the state does not fit this training."""
        averaging = state.get("averaging")
        if averaging is None:
            self.model.load_state_dict(state["model"])
        elif self.averaged is None:
            raise ValueError("the training state averages weights, but its settings do not")
        else:
            self.model.load_state_dict(averaging["training_weights"])
            self.averaged.module.load_state_dict(state["model"])
            self.averaged.n_averaged.fill_(averaging["epochs"])
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.history = list(history_from_rows(state["history"]))
        if state.get("generator") is None:
            self.images_trained = round(self.epochs_done * self.train_size)
            self._cut_pass = None
            return
        images_trained = state["images_trained"]
        if not isinstance(images_trained, int) or abs(images_trained / self.train_size - self.epochs_done) > 1e-3:
            raise ValueError("the training state's count of images trained does not match its history")
        self.generator.set_state(state["generator"])
        self.images_trained = images_trained
        self._cut_pass = self._checked_cut_pass(state.get("cut_order"), state.get("cut_batch", 0))

    def _checked_cut_pass(self, order: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, int] | None:
        if order is None:  # no epoch was cut short, or a divergence went back to an epoch's end
            return None
        batches = math.ceil(len(order) / self.config.batch_size)
        fits = (
            order.dtype == torch.int64
            and order.dim() == 1
            and 0 < len(order) <= self.train_size
            and int(order.min()) >= 0
            and int(order.max()) < self.train_size
            and isinstance(batch, int)
            and 0 <= batch <= batches
        )
        if not fits:
            raise ValueError("the training state's cut epoch does not fit this training set")
        return order.to(self.device), batch

    @property
    def epochs_done(self) -> float:
        return self.history[-1].epoch if self.history else 0

    @property
    def train_size(self) -> int:
        return len(self.train_labels)

    def target_epoch(self, epochs: int) -> int:
        """The epoch `run(epochs)` ends at: the epoch a stop cut short, then `epochs` more."""
        return -(-self.images_trained // self.train_size) + epochs

    def _snapshot(self) -> tuple[dict, dict | None, dict, int]:
        averaged = None if self.averaged is None else copy.deepcopy(self.averaged.state_dict())
        optimizer = copy.deepcopy(self.optimizer.state_dict())
        return copy.deepcopy(self.model.state_dict()), averaged, optimizer, self.images_trained

    def _restore_last_good(self) -> None:
        model_state, averaged_state, optimizer_state, self.images_trained = self._last_good
        self.model.load_state_dict(model_state)
        if self.averaged is not None and averaged_state is not None:
            self.averaged.load_state_dict(averaged_state)
        self.optimizer.load_state_dict(optimizer_state)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint.of_trainer_state(self.model_config, self.config, self.state_dict())

    def _record(
        self, train_loss: float | None, seconds: float, images: int, partial: bool, stop: threading.Event | None = None
    ) -> EpochRecord:
        result = evaluate(self.scored_model, self.test_images, self.test_labels, stop)
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
    ) -> EndEvent:
        """Finish an epoch a stop cut short, then train `epochs` more passes (default: the
        config's), scoring the test set after each.

        Returns, and reports, how it ended: finished, stopped (between two batches, or while
        the untrained model is scored, with no epoch recorded) or
        diverged (loss blew up: the weights of the last good epoch are put back). Nothing
        outside reads the weights while it trains: what others see of a training is the
        state it reports after each scored epoch.
        """
        emit = on_event or (lambda event: None)
        stop = stop or threading.Event()
        if not self.history:
            # A stop during the untrained model's scoring ends the run at once, with nothing to
            # save: for the largest model that scoring takes minutes on a busy server.
            try:
                untrained = self._record(None, 0.0, 0, partial=False, stop=stop)
            except ScoringStopped:
                unscored = EndEvent(RunStatus.STOPPED, "before its untrained model was scored")
                emit(unscored)
                return unscored
            emit(untrained)
        for order, first_batch in self._passes(self.config.epochs if epochs is None else epochs):
            cut = self._train_pass(order, first_batch, emit, stop)
            if cut is not None:
                return cut
        end = EndEvent(RunStatus.FINISHED, f"trained to epoch {_whole(self.epochs_done)}")
        emit(end)
        return end

    def _passes(self, epochs: int) -> Iterator[tuple[torch.Tensor, int]]:
        """(shuffled order, first batch) of each pass: the rest of a cut epoch, then whole
        epochs. Shuffled one pass at a time, so a stopped and continued training draws the
        same orders as an unbroken one."""
        done_in_cut = self.images_trained % self.train_size
        if done_in_cut:
            # the cut pass itself; a trainer rebuilt from an older checkpoint does not have it, and
            # trains as many freshly shuffled images as the cut epoch still lacked
            yield self._cut_pass or (self._shuffle()[: self.train_size - done_in_cut], 0)
        for _ in range(epochs):
            yield self._shuffle(), 0

    def _shuffle(self) -> torch.Tensor:
        return torch.randperm(self.train_size, generator=self.generator).to(self.device)

    def _train_pass(
        self, order: torch.Tensor, first_batch: int, emit: EventCallback, stop: threading.Event
    ) -> EndEvent | None:
        """Train on `order` from `first_batch` to its end, then score the epoch; the EndEvent
        if the training stopped or diverged on the way."""
        start = time.perf_counter()
        trained = self._train_batches(order, first_batch, emit, stop, start)
        if isinstance(trained, EndEvent):
            return trained
        train_loss, images, batches = trained
        # the rest of a cut epoch is marked partial: its time is not an epoch's
        whole_epoch = first_batch == 0 and len(order) == self.train_size
        return self._score_pass(train_loss, time.perf_counter() - start, images, batches, whole_epoch, emit)

    def _centre_lines(self) -> torch.Tensor:
        """The training digits' centre lines, for the augmentation's redrawing: thinned once, in
        the first pass that augments (about 12 s for 60,000 digits on one thread), not at every batch."""
        if self._train_centres is None:
            self._train_centres = centre_lines(self.train_images)
        return self._train_centres

    def _train_batches(
        self, order: torch.Tensor, first_batch: int, emit: EventCallback, stop: threading.Event, start: float
    ) -> tuple[float, int, int] | EndEvent:
        """The optimizer's steps over one pass: (mean batch loss, images trained, batches), or
        the EndEvent of a stop or a blow-up on the way."""
        batch_size = self.config.batch_size
        batches = math.ceil(len(order) / batch_size)
        epoch_number = self.images_trained // self.train_size + 1
        epoch_start = (epoch_number - 1) * self.train_size
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        # A pass's last batch is often short (10,000 images in batches of 64 end with 16): its
        # loss alone is noisy, so each event gives the mean of the batches since the last one.
        loss_since, images_since = torch.zeros((), device=self.device), 0
        seen, last_emit = 0, -math.inf
        for batch in range(first_batch, batches):
            if stop.is_set():
                return self._stop(
                    emit, order, batch, epoch_number, loss_sum.item() / max(1, batch - first_batch), seen, start
                )
            index = order[batch * batch_size : (batch + 1) * batch_size]
            centres = self._centre_lines()[index] if self.config.augment else None
            images = augment(self.train_images[index], self.config.augment, self.generator, centres)
            loss = F.nll_loss(self.model(images), self.train_labels[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach()
            loss_since += loss.detach() * len(index)
            images_since += len(index)
            seen += len(index)
            self.images_trained += len(index)
            now = time.perf_counter()
            if now - last_emit >= self.batch_event_interval or batch == batches - 1:
                last_emit = now
                value = loss_since.item() / images_since
                loss_since, images_since = torch.zeros((), device=self.device), 0
                # emitted even when it blew up: the loss chart shows the blow-up
                emit(
                    BatchEvent(
                        self.images_trained / self.train_size,
                        epoch_number,
                        batch + 1,
                        batches,
                        self.images_trained - epoch_start,
                        value,
                    )
                )
                if self._blown_up(value):
                    return self._diverge(emit, value, batch + 1)
        train_loss = loss_sum.item() / (batches - first_batch)
        if self._blown_up(train_loss):
            return self._diverge(emit, train_loss, batches)
        return train_loss, seen, batches

    def _score_pass(
        self, train_loss: float, seconds: float, images: int, batches: int, whole_epoch: bool, emit: EventCallback
    ) -> EndEvent | None:
        """Score the test set after a pass and record the epoch; a diverged end when the model
        no longer gives a finite test loss."""
        epoch = self.images_trained // self.train_size  # only whole passes get here: the epoch just ended
        if self.averaged is not None and epoch >= self.config.average_from:
            self.averaged.update_parameters(self.model)
        event = self._record(train_loss, seconds, images, partial=not whole_epoch)
        if not math.isfinite(event.test_loss):
            self.history.pop()
            return self._diverge(emit, event.test_loss, batches)
        self._last_good, self._cut_pass = self._snapshot(), None
        emit(event)
        return None

    def _stop(
        self,
        emit: EventCallback,
        order: torch.Tensor,
        batch: int,
        epoch_number: int,
        train_loss: float,
        seen: int,
        start: float,
    ) -> EndEvent:
        # a stop before the pass's first batch cut nothing short: the epochs so far are whole
        done_in_epoch = self.images_trained % self.train_size
        where = f"during epoch {epoch_number}, after {done_in_epoch:,} of its {self.train_size:,} images"
        end = EndEvent(RunStatus.STOPPED, where if seen else f"before epoch {epoch_number}")
        if seen:
            record = self._record(train_loss, time.perf_counter() - start, seen, partial=True)
            if math.isfinite(record.test_loss):
                self._last_good = self._snapshot()
            emit(record)
        # a pass stopped before its first batch has nothing to finish
        self._cut_pass = (order, batch) if self.images_trained % self.train_size else None
        emit(end)
        return end

    def _blown_up(self, loss: float) -> bool:
        return not math.isfinite(loss) or loss > BLOW_UP_FACTOR * self.history[0].test_loss

    @property
    def epochs_done_whole(self) -> int:
        return int(self.epochs_done)

    def _diverge(self, emit: EventCallback, value: float, batch: int) -> EndEvent:
        last_good = self.epochs_done
        self._restore_last_good()
        self._cut_pass = None  # the next training starts from the last good weights instead
        end = EndEvent(
            RunStatus.DIVERGED,
            f"the loss blew up to {value:.4g} at batch {batch} of epoch {self.epochs_done_whole + 1}: "
            f"learning rate {self.config.learning_rate:g} is too high, lower it. "
            f"The model keeps its weights from epoch {_whole(last_good)}.",
        )
        emit(end)
        return end


def _weights_on_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    return value


def warm_up(data: MnistData) -> None:
    """Does once what a process's first training would otherwise do when it starts: torch
    imports much of itself the first time a model is built on the meta device and the first
    time an optimizer is made (3-4 s on 2 cores), and the LSTM's kernels start on their first
    step. A model of the default settings takes one step on two images."""
    trainer = Trainer(data, ModelConfig(), TrainConfig(train_limit=100, device="cpu"))
    loss = F.nll_loss(trainer.model(trainer.train_images[:2]), trainer.train_labels[:2])
    loss.backward()
    trainer.optimizer.step()
