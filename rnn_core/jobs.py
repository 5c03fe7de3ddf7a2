"""Training jobs, and the contract every executor keeps.

A `Job` is the handle of one training of one run, whatever executes it: pages read it through
`snapshot()`, an immutable copy taken under a lock; `stop()` asks the training to end within a
batch; `checkpoint()` is the model after the latest scored epoch. The job is also the only
writer of its run's folder, from the events the training reports.

An `Executor` takes a `JobSpec` and returns its `Job`. It decides only *where* the training
runs: it calls `job.work(train)` with a function that trains the spec and reports each event,
with the trainer's state after every scored epoch and at the end. The local pool trains in a
thread here, Ray in a task on a cluster; both keep the same waiting line (`SlotPool`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from .checkpoint import Checkpoint
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .history import EpochRecord, RunStatus
from .runs import Run, RunRecord
from .safe_files import error_words
from .trainer import BatchEvent, EndEvent, Event, Trainer, epoch_size

MAX_BATCH_POINTS = 600  # loss points kept for the live chart, spread over the whole training
USER_STOP = "stopped by the user"  # the reason Stop saves, unless the caller gives another
log = logging.getLogger(__name__)

TrainerState = dict[str, Any]  # what `Trainer.state_dict()` gives


@dataclass(frozen=True)
class Placement:
    """Where a training runs now, as its executor names the machine (a Ray node's id), and
    why it runs there when it was moved ("" the first time)."""

    node: str
    reason: str = ""


# How a training reports: every event, with the trainer's state after a scored epoch and at
# the end (None with a batch event or a placement).
Report = Callable[[Event | Placement, TrainerState | None], None]
Training = Callable[["JobSpec", Report, threading.Event], None]


@dataclass(frozen=True)
class JobSpec:
    """What to train: the run folder, its configs, the trainer state it goes on from (None: a
    new model), how many more epochs, and how many images an epoch has."""

    run: Run
    model_config: ModelConfig
    train_config: TrainConfig
    state: TrainerState | None
    epochs: int
    epoch_size: int
    batch_event_interval: float = 0.1  # seconds between two batch events, at the least


def job_spec(
    run: Run,
    data: MnistData,
    model_config: ModelConfig,
    train_config: TrainConfig,
    state: TrainerState | None = None,
    epochs: int | None = None,
    batch_event_interval: float = 0.1,
) -> JobSpec:
    """The spec that trains `run` on `data`: from `state` (None: a new model), `epochs` more
    (default: the config's)."""
    epochs = train_config.epochs if epochs is None else epochs
    return JobSpec(run, model_config, train_config, state, epochs, epoch_size(data, train_config), batch_event_interval)


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


class Job:
    def __init__(self, spec: JobSpec, publish: Callable[[RunRecord], None] = lambda record: None):
        self.spec, self.run = spec, spec.run
        self.run_id = spec.run.run_id
        self._publish = publish  # told of every record the job writes (the registry's index)
        self._lock = threading.RLock()
        # held while a report is saved and while let_go saves: a let-go run's files never mix
        # the epoch it was saved at with one its training wrote after (kept apart from _lock,
        # so a page's snapshot does not wait for the disk)
        self._saving = threading.RLock()
        self._stop = threading.Event()
        self._stop_reason = ""
        self._status, self._reason = RunStatus.WAITING, "waiting for a free training slot"
        # the model after the latest scored epoch, and its history: made once per epoch
        self._checkpoint = (
            Checkpoint.of_trainer_state(spec.model_config, spec.train_config, spec.state) if spec.state else None
        )
        self._batch_losses: list[tuple[float, float]] = []
        self._batch_stride, self._batch_events = 1, 0
        self._progress: BatchEvent | None = None
        self._images_per_second: float | None = None
        self._pass_clock: tuple[int, float, int] | None = None  # (pass, clock, images) at its first event
        self._epochs_start = self._history[-1].epoch if self._history else 0
        images_trained = (spec.state or {}).get("images_trained", round(self._epochs_start * spec.epoch_size))
        # whole: a cut epoch is finished first
        self._epochs_target = -(-images_trained // spec.epoch_size) + spec.epochs
        self._queue_position: int | None = None
        self._let_go = False  # the run was saved without this training: what it reports now is dropped
        self.cancel_waiting: Callable[[], bool] = lambda: False  # set by the executor
        self.done = threading.Event()

    # ----- commands -------------------------------------------------------------------------

    def stop(self, reason: str = USER_STOP) -> None:
        """Ask the training to stop at the next batch; the run is saved with `reason`."""
        with self._lock:
            if self._stop.is_set() or not self._status.live:
                return
            self._stop_reason = reason
            self._stop.set()
        self.cancel_waiting()  # a job still in line leaves it at once

    def checkpoint(self) -> Checkpoint:
        """The model after the latest scored epoch (LookupError before the first)."""
        with self._lock:
            checkpoint = self._checkpoint
        if checkpoint is None:
            raise LookupError(f"run {self.run_id} has no scored epoch yet")
        return checkpoint

    @property
    def _history(self) -> tuple[EpochRecord, ...]:
        return self._checkpoint.history if self._checkpoint else ()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                run_id=self.run_id,
                status=self._status,
                reason=self._reason,
                stopping=self._stop.is_set() and self._status.live,
                history=self._history,
                batch_losses=tuple(self._batch_losses),
                progress=self._progress,
                epochs_start=self._epochs_start,
                epochs_target=self._epochs_target,
                images_per_second=self._images_per_second,
                seconds_left=self._seconds_left(),
                queue_position=self._queue_position,
                model_config=self.spec.model_config,
                train_config=self.spec.train_config,
            )

    def follow(self, earlier: JobSnapshot) -> None:
        """This job goes on with the run `earlier` trained in this process: its chart keeps the
        batch losses trained before, ahead of this job's own."""
        with self._lock:
            self._batch_losses[:0] = earlier.batch_losses

    # ----- for the executor -----------------------------------------------------------------

    def set_queue_position(self, position: int | None) -> None:
        with self._lock:
            self._queue_position = position

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def work(self, train: Training) -> None:
        """Train with `train` in the calling thread until finished, stopped or diverged."""
        try:
            with self._lock:
                self._status, self._reason, self._queue_position = RunStatus.RUNNING, "", None
            self._publish(self.run.mark(RunStatus.RUNNING, history=self._history))
            train(self.spec, self._on_report, self._stop)
        except Exception as err:  # reported on the page instead of dying silently in a thread
            log.exception("training of run %s failed", self.run_id)
            self._fail(f"training failed: {type(err).__name__}: {error_words(err)}")
        finally:
            self.done.set()

    def let_go(self, reason: str) -> None:
        """Save the run as it stood after its latest scored epoch, stopped with `reason`, without
        waiting for the training to stop (the process is ending): what the training reports
        from now on is dropped. The saved state goes on exactly from that epoch."""
        with self._saving:
            with self._lock:
                if self.done.is_set() or self._let_go:
                    return
                self._let_go = True
                history, epoch = self._history, self._history[-1].epoch if self._history else 0
            message = (
                f"{reason} during epoch {int(epoch) + 1}; the epoch under way was dropped, "
                f"it goes on from epoch {epoch:g}"
            )
            self._publish(self.run.finish(RunStatus.STOPPED, message, history))
            with self._lock:
                self._status, self._reason = RunStatus.STOPPED, message

    def end_unstarted(self) -> None:
        """The job was stopped before a slot came free: it never trained."""
        with self._saving:
            if not self._let_go:
                self._end(EndEvent(RunStatus.STOPPED, f"{self._stop_reason} while waiting for a training slot"))
        self.done.set()

    def _fail(self, message: str) -> None:
        with self._saving:
            if self._let_go:
                return
            with self._lock:
                self._status, self._reason = RunStatus.FAILED, message
            try:
                self._publish(self.run.finish(RunStatus.FAILED, message, self._history))
            except OSError:  # the disk that failed the training may fail this too: the page still knows
                log.exception("run %s: the failure could not be saved", self.run_id)

    def _end(self, event: EndEvent) -> None:
        try:
            self._publish(self.run.finish(event.status, event.reason, self._history))
        except OSError as err:
            self._fail(f"the run could not be saved: {error_words(err)}")
            return
        with self._lock:
            self._status, self._reason = event.status, event.reason

    def _on_report(self, event: Event | Placement, state: TrainerState | None) -> None:
        with self._saving:
            if not self._let_go:
                self._take_report(event, state)

    def _take_report(self, event: Event | Placement, state: TrainerState | None) -> None:
        if isinstance(event, Placement):
            self._place(event)
            return
        if isinstance(event, EndEvent) and event.status == RunStatus.STOPPED:
            event = dataclasses.replace(event, reason=f"{self._stop_reason} {event.reason}")
        if state is not None:
            checkpoint = Checkpoint.of_trainer_state(self.spec.model_config, self.spec.train_config, state)
            self.run.save_epoch(checkpoint.history, checkpoint)
            with self._lock:
                self._checkpoint = checkpoint
        with self._lock:
            if isinstance(event, BatchEvent):
                self._progress = event
                self._keep_batch_loss(event)
                self._measure_speed(event)
            elif isinstance(event, EndEvent) and event.status == RunStatus.DIVERGED:
                self._keep_blow_up()
        if isinstance(event, EndEvent):
            self._end(event)
        elif state is not None:
            self._publish(self.run.current_record(self._history))

    def _place(self, placement: Placement) -> None:
        # kept in run.json, so every server reading the folder can tell where the run trains
        with self._lock:
            self._reason = placement.reason
        self._publish(self.run.mark(RunStatus.RUNNING, placement.reason, self._history, node=placement.node))

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
        images_left = (self._epochs_target - self._progress.epoch) * self.spec.epoch_size
        return max(0.0, images_left / self._images_per_second)


def train_here(data: MnistData, spec: JobSpec, report: Report, stop: threading.Event) -> None:
    """Train the spec in the calling thread, reporting the trainer's state with every scored
    epoch and with the end. The trainer is built only now, so a job waiting in line holds no
    copy of the training images."""
    trainer = Trainer(data, spec.model_config, spec.train_config, spec.state, spec.batch_event_interval)

    def on_event(event: Event) -> None:
        # a run stopped before its untrained model was scored has no state worth keeping
        scored = isinstance(event, (EpochRecord, EndEvent)) and trainer.history
        report(event, trainer.state_dict() if scored else None)

    trainer.run(spec.epochs, on_event=on_event, stop=stop)


class Executor(Protocol):
    """Runs jobs. `slots` is how many train at once; the rest wait in line, in order."""

    slots: int

    def submit(self, spec: JobSpec, publish: Callable[[RunRecord], None]) -> Job: ...

    def waiting(self) -> int: ...

    def shutdown(self) -> None: ...


class SlotPool:
    """`slots` threads that each run one job at a time; submitted jobs wait in line, numbered
    (1 = next), and a job stopped while waiting leaves the line at once."""

    def __init__(self, slots: int, name: str, initializer: Callable[[], None] | None = None):
        self.slots = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix=name, initializer=initializer)
        self._lock = threading.Lock()
        self._line: list[Job] = []  # submitted, not yet started, in order

    def submit(self, job: Job, train: Training) -> Job:
        with self._lock:
            future = self._pool.submit(self._work, job, train)
            self._line.append(job)
            self._number_the_line()
        future.add_done_callback(lambda done: self._cancelled(job, done))
        job.cancel_waiting = future.cancel
        return job

    def waiting(self) -> int:
        with self._lock:
            return len(self._line)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _leave_line(self, job: Job) -> None:
        with self._lock:
            self._line = [queued for queued in self._line if queued is not job]
            self._number_the_line()

    def _work(self, job: Job, train: Training) -> None:
        self._leave_line(job)
        if job.stop_requested:
            job.end_unstarted()
            return
        job.work(train)

    def _number_the_line(self) -> None:
        for position, job in enumerate(self._line, start=1):
            job.set_queue_position(position)

    def _cancelled(self, job: Job, future: Future) -> None:
        if future.cancelled():
            self._leave_line(job)
            job.end_unstarted()
