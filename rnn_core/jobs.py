"""Training jobs and the executor that runs them.

A `Job` is one training of one run: it owns the run's Trainer while it trains and is the only
writer of the run's folder. Pages read it through `snapshot()`, an immutable copy taken under
a lock; the worker never calls UI code. An executor takes a `JobSpec` and runs it:
`LocalExecutor` on a pool of threads in this process, sized to the machine's cores. Another
executor (Ray, on a cluster) gives back the same Job interface: snapshot, stop, checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import torch

from .checkpoint import Checkpoint
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .history import EpochRecord, RunStatus
from .runs import Run
from .safe_files import error_words
from .trainer import BatchEvent, EndEvent, Event, Trainer

MAX_BATCH_POINTS = 600  # loss points kept for the live chart, spread over the whole training
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSnapshot:
    """A run's live state at one moment, safe to read from any thread."""

    run_id: str
    status: RunStatus
    reason: str
    stopping: bool  # a stop was asked for and the partial epoch is being scored
    history: tuple[EpochRecord, ...]
    batch_losses: tuple[tuple[float, float], ...]  # (fractional epoch, loss)
    progress: BatchEvent | None
    epochs_start: float  # where this training started (0, or the epoch it continues from)
    epochs_target: float  # the epoch count this training is heading for
    images_per_second: float | None  # training speed in the pass under way
    seconds_left: float | None  # training time left at that speed (test-set scoring not counted)
    queue_position: int | None  # 1 = next to start, while waiting for a slot
    model_config: ModelConfig
    train_config: TrainConfig

    @property
    def busy(self) -> bool:
        return self.status.live


@dataclass(frozen=True)
class JobSpec:
    """What to train: a run folder, and a trainer set up to continue where it should."""

    run: Run
    trainer: Trainer
    epochs: int


class Job:
    def __init__(self, spec: JobSpec):
        self.run, self.trainer, self.epochs = spec.run, spec.trainer, spec.epochs
        self.run_id = spec.run.run_id
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._stop_reason = ""
        self._status, self._reason = RunStatus.WAITING, "waiting for a free training slot"
        self._batch_losses: list[tuple[float, float]] = []
        self._batch_stride, self._batch_events = 1, 0
        self._progress: BatchEvent | None = None
        self._images_per_second: float | None = None
        self._pass_clock: tuple[int, float, int] | None = None  # (pass, clock, images) at its first event
        self._epochs_start = self.trainer.epochs_done
        self._epochs_target = self.trainer.target_epoch(self.epochs)  # whole: a cut epoch is finished first
        self._queue_position: int | None = None
        self.cancel_waiting: Callable[[], bool] = lambda: False  # set by the executor
        self.done = threading.Event()

    # ----- commands -------------------------------------------------------------------------

    def stop(self, reason: str = "stopped by the user") -> None:
        """Ask the training to stop at the next batch; the run is saved with `reason`."""
        with self._lock:
            if self._stop.is_set() or not self._status.live:
                return
            self._stop_reason = reason
            self._stop.set()
        self.cancel_waiting()  # a job still in line leaves it at once

    def checkpoint(self) -> Checkpoint:
        """A copy of the model as it is now, consistent even while it trains."""
        with self._lock:
            return self.trainer.checkpoint()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                run_id=self.run_id,
                status=self._status,
                reason=self._reason,
                stopping=self._stop.is_set() and self._status.live,
                history=tuple(self.trainer.history),
                batch_losses=tuple(self._batch_losses),
                progress=self._progress,
                epochs_start=self._epochs_start,
                epochs_target=self._epochs_target,
                images_per_second=self._images_per_second,
                seconds_left=self._seconds_left(),
                queue_position=self._queue_position,
                model_config=self.trainer.model_config,
                train_config=self.trainer.config,
            )

    # ----- for the executor -----------------------------------------------------------------

    def set_queue_position(self, position: int | None) -> None:
        with self._lock:
            self._queue_position = position

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def work(self) -> None:
        """Train in the calling thread until finished, stopped or diverged."""
        try:
            with self._lock:
                self._status, self._reason, self._queue_position = RunStatus.RUNNING, "", None
            self.run.mark(RunStatus.RUNNING)
            # The trainer changes the weights only while holding self._lock, so checkpoint()
            # never copies a model halfway through an optimizer step.
            record = self.run.record(self.trainer, self._on_event)
            self._train(lambda event: record(self._with_stop_reason(event)))
        except Exception as err:  # reported on the page instead of dying silently in a thread
            log.exception("training of run %s failed", self.run_id)
            self._fail(f"training failed: {type(err).__name__}: {error_words(err)}")
        finally:
            self.done.set()

    def _train(self, on_event: Callable[[Event], None]) -> None:
        """The training itself, here in this thread; another executor's job trains elsewhere
        and feeds the same events to `on_event`."""
        self.trainer.run(self.epochs, on_event=on_event, stop=self._stop, step_lock=self._lock)

    def end_unstarted(self) -> None:
        """The job was stopped before a slot came free: it never trained."""
        self._end(EndEvent(RunStatus.STOPPED, f"{self._stop_reason} while waiting for a training slot"))
        self.done.set()

    def _fail(self, message: str) -> None:
        with self._lock:
            self._status, self._reason = RunStatus.FAILED, message
        try:
            self.run.finish(RunStatus.FAILED, message)
        except OSError:  # the disk that failed the training may fail this too: the page still knows
            log.exception("run %s: the failure could not be saved", self.run_id)

    def _end(self, event: EndEvent) -> None:
        try:
            self.run.finish(event.status, event.reason)
        except OSError as err:
            self._fail(f"the run could not be saved: {error_words(err)}")
            return
        with self._lock:
            self._status, self._reason = event.status, event.reason

    def _with_stop_reason(self, event: Event) -> Event:
        if isinstance(event, EndEvent) and event.status == RunStatus.STOPPED:
            return dataclasses.replace(event, reason=f"{self._stop_reason} {event.reason}")
        return event

    def _on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, BatchEvent):
                self._progress = event
                self._keep_batch_loss(event)
                self._measure_speed(event)
            elif isinstance(event, EndEvent):
                if event.status == RunStatus.DIVERGED:
                    self._keep_blow_up()
                self._status, self._reason = event.status, event.reason

    def _keep_batch_loss(self, event: BatchEvent) -> None:
        # When the points are all used, every other one goes and from then on half as many
        # are kept: the chart covers the whole training at a bounded cost.
        self._batch_events += 1
        if self._batch_events % self._batch_stride:
            return
        self._batch_losses.append((event.epoch, event.loss))
        if len(self._batch_losses) > MAX_BATCH_POINTS:
            self._batch_losses = self._batch_losses[1::2]
            self._batch_stride *= 2

    def _keep_blow_up(self) -> None:
        # The batch where the loss blew up is the lesson of a diverged run: it is on the
        # chart even when thinning would have skipped it.
        if self._progress and (not self._batch_losses or self._batch_losses[-1][0] != self._progress.epoch):
            self._batch_losses.append((self._progress.epoch, self._progress.loss))

    def _measure_speed(self, event: BatchEvent) -> None:
        # Timed per pass from its first batch event, so scoring the test set between two
        # passes does not count as training time.
        now = time.perf_counter()
        if self._pass_clock is None or self._pass_clock[0] != event.epoch_index:
            self._pass_clock = (event.epoch_index, now, event.images_seen)
            return
        _, start, seen_at_start = self._pass_clock
        if now > start and event.images_seen > seen_at_start:
            self._images_per_second = (event.images_seen - seen_at_start) / (now - start)

    def _seconds_left(self) -> float | None:
        if self._status != RunStatus.RUNNING or not self._progress or not self._images_per_second:
            return None
        images_left = (self._epochs_target - self._progress.epoch) * self.trainer.train_size
        return max(0.0, images_left / self._images_per_second)


class Executor(Protocol):
    """Runs jobs. `slots` is how many train at once; the rest wait in line, in order."""

    slots: int

    def submit(self, spec: JobSpec) -> Job: ...

    def waiting(self) -> int: ...

    def shutdown(self) -> None: ...


def default_slots() -> int:
    return int(os.environ.get("RNN_MAX_TRAININGS") or os.cpu_count() or 1)


def threads_per_slot(slots: int) -> int:
    """torch threads for each of `slots` trainings at once: together about one per core."""
    return max(1, (os.cpu_count() or 1) // slots)


class LocalExecutor:
    """Jobs on a pool of threads in this process, one per slot.

    Each worker thread sizes its own torch thread pool (OpenMP's thread count belongs to the
    calling thread), so the slots training at once share the cores and the rest of the
    process, the pages' own scoring included, keeps torch's default.
    """

    def __init__(self, slots: int | None = None):
        self.slots = slots or default_slots()
        self._pool = ThreadPoolExecutor(
            max_workers=self.slots, thread_name_prefix="rnn-training", initializer=self._size_worker
        )
        self._lock = threading.Lock()
        self._line: list[tuple[Job, Future]] = []  # submitted, not yet started, in order

    def _size_worker(self) -> None:
        torch.set_num_threads(threads_per_slot(self.slots))

    def _new_job(self, spec: JobSpec) -> Job:
        return Job(spec)

    def submit(self, spec: JobSpec) -> Job:
        job = self._new_job(spec)
        with self._lock:
            future = self._pool.submit(self._work, job)
            self._line.append((job, future))
            self._number_the_line()
        future.add_done_callback(lambda done: self._cancelled(job, done))
        job.cancel_waiting = future.cancel
        return job

    def waiting(self) -> int:
        with self._lock:
            return len(self._line)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _work(self, job: Job) -> None:
        with self._lock:
            self._line = [(queued, future) for queued, future in self._line if queued is not job]
            self._number_the_line()
        if job.stop_requested:
            job.end_unstarted()
            return
        job.work()

    def _number_the_line(self) -> None:
        for position, (job, _) in enumerate(self._line, start=1):
            job.set_queue_position(position)

    def _cancelled(self, job: Job, future: Future) -> None:
        if not future.cancelled():
            return
        with self._lock:
            self._line = [(queued, waiting) for queued, waiting in self._line if queued is not job]
            self._number_the_line()
        job.end_unstarted()


EXECUTORS = ("local", "ray")


def executor_named(name: str | None, data: MnistData) -> Executor:
    """The executor for RNN_EXECUTOR or --executor: "local" (the default) or "ray". Ray is
    imported only when asked for, so the app stays light without it."""
    if name in (None, "", "local"):
        return LocalExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(data)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
