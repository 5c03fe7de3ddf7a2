"""A training session that runs in a worker thread and is read by polling.

The dashboard keeps one TrainingSession per browser tab. Its worker thread owns the Trainer
while it runs; everything the page shows comes from `snapshot()`, an immutable copy taken
under a lock, so the page never touches the model while it trains. The worker never calls
any UI code: it only updates the session's state from the trainer's events.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .checkpoint import Checkpoint
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .runs import Run, RunStore
from .trainer import STOPPED, BatchEvent, EndEvent, EpochEvent, Event, Trainer

IDLE, WAITING, RUNNING, FAILED = "idle", "waiting", "running", "failed"
MAX_BATCH_POINTS = 600  # loss points kept for the live chart, spread over the whole training


def _default_slots() -> int:
    return int(os.environ.get("RNN_MAX_TRAININGS") or os.cpu_count() or 1)


class TrainingSlots:
    """Bounds how many sessions train at once, and sizes torch's threads to match.

    torch's intra-op thread count is process-wide, so it is set once here so that all the
    allowed simultaneous trainings together use about one thread per core.
    """

    def __init__(self, slots: int | None = None):
        self.limit = slots or _default_slots()
        self._semaphore = threading.BoundedSemaphore(self.limit)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.limit))

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a free slot; False if `stop` was set while waiting."""
        while not self._semaphore.acquire(timeout=0.1):
            if stop.is_set():
                return False
        return True

    def release(self) -> None:
        self._semaphore.release()


@dataclass(frozen=True)
class Snapshot:
    status: str  # IDLE, WAITING, RUNNING, or how the last training ended
    reason: str
    history: list[dict[str, Any]]
    batch_losses: list[tuple[float, float]]  # (fractional epoch, loss)
    progress: BatchEvent | None
    epochs_start: float  # where this training started (0, or the epoch it continues from)
    epochs_target: float  # the epoch count this training is heading for
    images_per_second: float | None  # training speed in the pass under way
    seconds_left: float | None  # training time left at that speed (test-set scoring not counted)
    run_id: str | None
    model_config: ModelConfig | None
    train_config: TrainConfig | None

    @property
    def busy(self) -> bool:
        return self.status in (WAITING, RUNNING)

    @property
    def has_model(self) -> bool:
        return self.model_config is not None


@dataclass
class _State:
    status: str = IDLE
    reason: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    batch_losses: list[tuple[float, float]] = field(default_factory=list)
    batch_stride: int = 1  # keep one batch event in this many
    batch_events: int = 0
    progress: BatchEvent | None = None
    epochs_start: float = 0
    epochs_target: float = 0
    images_per_second: float | None = None
    # (pass number, clock, images seen in that pass) at the pass's first batch event
    pass_clock: tuple[int, float, int] | None = None


class TrainingSession:
    def __init__(self, data: MnistData, store: RunStore, slots: TrainingSlots):
        self.data, self.store, self.slots = data, store, slots
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._run: Run | None = None
        self._checkpoint: Checkpoint | None = None  # a model adopted but not yet trained here
        self._state = _State()

    # ----- commands from the page -------------------------------------------------------

    def start(self, model_config: ModelConfig, train_config: TrainConfig, label: str = "") -> None:
        """Train a new model from scratch, recorded as a new run."""
        self._require_idle()
        trainer = Trainer(self.data, model_config, train_config)  # validates before anything is saved
        run = self.store.create(model_config, train_config, label=label)
        with self._lock:
            self._trainer, self._run, self._checkpoint = trainer, run, None
            self._state = _State()
        self._launch(train_config.epochs)

    def continue_training(self, epochs: int) -> None:
        """Train the current model `epochs` more, with its optimizer state, in the same run."""
        self._require_idle()
        if self._trainer is None:
            if self._checkpoint is None:
                raise RuntimeError("there is no model to continue: train one first")
            checkpoint = self._checkpoint
            self._trainer = Trainer(self.data, checkpoint.model_config, checkpoint.train_config, checkpoint)
            if self._run is None:
                self._run = self.store.create(checkpoint.model_config, checkpoint.train_config, label="continued")
        self._launch(epochs)

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        """Forget the current model (its run stays saved)."""
        self.close()
        with self._lock:
            self._trainer = self._run = self._checkpoint = None
            self._state = _State()

    def adopt(self, checkpoint: Checkpoint, run_id: str | None = None) -> None:
        """Make a saved run's or an uploaded model the current one."""
        self._require_idle()
        with self._lock:
            self._trainer, self._checkpoint = None, checkpoint
            self._run = self.store.open(run_id) if run_id else None
            self._state = _State(status=IDLE, history=[dict(r) for r in checkpoint.history])

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker and wait for it; the run is saved as stopped."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # ----- reading ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            state = self._state
            source = self._trainer or self._checkpoint
            return Snapshot(
                status=state.status,
                reason=state.reason,
                history=[dict(row) for row in state.history],
                batch_losses=list(state.batch_losses),
                progress=state.progress,
                epochs_start=state.epochs_start,
                epochs_target=state.epochs_target,
                images_per_second=state.images_per_second,
                seconds_left=self._seconds_left(),
                run_id=self._run.run_id if self._run else None,
                model_config=source.model_config if source else None,
                train_config=(source.config if isinstance(source, Trainer) else source.train_config) if source else None,
            )

    def checkpoint(self) -> Checkpoint | None:
        """A copy of the current model, safe to use while training goes on."""
        with self._lock:
            if self._trainer is not None:
                return self._trainer.checkpoint()
            return self._checkpoint

    def _seconds_left(self) -> float | None:
        state = self._state
        if state.status != RUNNING or not state.progress or not state.images_per_second:
            return None
        images_left = (state.epochs_target - state.progress.epoch) * self._trainer.train_size
        return max(0.0, images_left / state.images_per_second)

    # ----- the worker -------------------------------------------------------------------

    def _require_idle(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and not self.snapshot().busy:
            thread.join(5.0)  # the training has ended and its thread is on its way out
        if thread is not None and thread.is_alive():
            raise RuntimeError("training is already running in this session")

    def _launch(self, epochs: int) -> None:
        self._stop.clear()
        with self._lock:
            state = self._state
            state.status, state.reason = WAITING, "waiting for a free training slot"
            state.epochs_start = self._trainer.epochs_done
            state.epochs_target = self._trainer.epochs_done + epochs
            state.progress = state.pass_clock = None
        self._thread = threading.Thread(target=self._work, args=(epochs,), daemon=True, name="rnn-training")
        self._thread.start()

    def _work(self, epochs: int) -> None:
        trainer, run = self._trainer, self._run
        if not self.slots.acquire(self._stop):
            # the run is saved before the page can see the training as ended
            end = EndEvent(STOPPED, "stopped while waiting for a training slot")
            run.finish(end.status, end.reason)
            self._on_event(end)
            return
        try:
            with self._lock:
                self._state.status, self._state.reason = RUNNING, ""
            # The trainer's lock-free work happens outside self._lock; checkpoint() takes the
            # lock, so copies are never made halfway through an optimizer step.
            trainer.run(epochs, on_event=run.record(trainer, self._on_event), stop=self._stop, step_lock=self._lock)
        except Exception as err:  # reported on the page instead of dying silently in a thread
            message = f"training failed: {type(err).__name__}: {err}"
            run.finish(FAILED, message)
            with self._lock:
                self._state.status, self._state.reason = FAILED, message
        finally:
            self.slots.release()

    def _on_event(self, event: Event) -> None:
        with self._lock:
            state = self._state
            if isinstance(event, BatchEvent):
                state.progress = event
                self._keep_batch_loss(event)
                self._measure_speed(event)
            elif isinstance(event, EpochEvent):
                state.history.append(event.as_dict())
            elif isinstance(event, EndEvent):
                state.status, state.reason = event.status, event.reason
                # the trainer may have dropped or restored epochs (divergence): its history rules
                state.history = [dict(row) for row in self._trainer.history] if self._trainer else state.history

    def _keep_batch_loss(self, event: BatchEvent) -> None:
        # When the points are all used, every other one goes and from then on half as many
        # are kept: the chart covers the whole training at a bounded cost.
        state = self._state
        state.batch_events += 1
        if state.batch_events % state.batch_stride:
            return
        state.batch_losses.append((event.epoch, event.loss))
        if len(state.batch_losses) > MAX_BATCH_POINTS:
            state.batch_losses = state.batch_losses[1::2]
            state.batch_stride *= 2

    def _measure_speed(self, event: BatchEvent) -> None:
        # Timed per pass from its first batch event, so scoring the test set between two
        # passes does not count as training time.
        state, now = self._state, time.perf_counter()
        if state.pass_clock is None or state.pass_clock[0] != event.epoch_index:
            state.pass_clock = (event.epoch_index, now, event.images_seen)
            return
        _, start, seen_at_start = state.pass_clock
        if now > start and event.images_seen > seen_at_start:
            state.images_per_second = (event.images_seen - seen_at_start) / (now - start)
