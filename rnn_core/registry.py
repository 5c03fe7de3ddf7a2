"""The server's registry of runs: the one place that starts, continues, stops and deletes them.

A browser tab holds only the id of the run it looks at; the registry holds the jobs, keyed by
run id, so a reload, a second tab or a shared link all see the same live run. A training
outlives its tab: it runs until it ends, or until no page has watched it for
`unwatched_minutes`, when it is stopped and saved with that reason.

Ownership: a run remembers (a digest of) the secret token of the browser that started it.
Only that browser can stop, continue in place, or delete it; anyone with the admin password
may stop or delete. Continuing anybody else's run, or a finished one, forks it: a new run that
records its parent and starts from the parent's checkpoint and optimizer state.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from .admin_gate import AdminGate
from .checkpoint import Checkpoint
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .history import MAX_EPOCH, RunStatus, history_from_rows
from .jobs import Executor, Job, JobSnapshot, TrainerState, job_spec
from .local_executor import LocalExecutor
from .run_index import RunIndex
from .runs import Run, RunRecord, RunStore, SweepTag, check_run_id, owner_digest
from .server_settings import Limits
from .trainer import Trainer, resolve_device

# Ended jobs kept for their live-only view (the per-batch loss line); they hold no trainer.
KEEP_ENDED_JOBS = 64
SHUTDOWN_REASON = "because the server shut down"
# Why a tab whose link names no run shows the run it shows (`run_to_show`).
OWN_RUN, FEATURED_RUN = "your newest run", "the run your teacher featured"
NEWEST_RUN = "the newest finished run on this server"
# An own run that ended this way goes on in the same run folder; any other is forked.
CONTINUABLE_IN_PLACE = (RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.INTERRUPTED)


class Refused(Exception):
    """A command the registry turns down; its message is a sentence meant for the user, and
    nothing went wrong on the server (a page shows it and logs nothing)."""


class NotAllowed(Refused, PermissionError):
    """Refused because the run belongs to someone else; the message is meant for the user."""


class LimitReached(Refused, RuntimeError):
    """Refused by one of the server's limits per person; the message is meant for the user."""


class OutOfRange(Refused, ValueError):
    """Refused because a number asked for is more than the server allows; the message is meant
    for the user."""


class NotNow(Refused, RuntimeError):
    """Refused because of the run's state (training, or without a model); the message is meant
    for the user."""


@dataclass(frozen=True)
class RunView:
    """A run as a page shows it: its record, and its live job's snapshot when it has one."""

    record: RunRecord
    live: JobSnapshot | None

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def status(self) -> RunStatus:
        return self.live.status if self.live else self.record.status

    @property
    def reason(self) -> str:
        return self.live.reason if self.live else self.record.reason

    @property
    def history(self):
        return self.live.history if self.live else self.record.history

    @property
    def busy(self) -> bool:
        return self.status.live

    @property
    def has_model(self) -> bool:
        return bool(self.history)


@dataclass(frozen=True)
class ShownRun:
    """The run a tab shows when its link names none, and why that one."""

    run_id: str
    why: str


class JobRegistry:
    def __init__(
        self,
        data: MnistData,
        store: RunStore,
        executor: Executor | None = None,
        unwatched_minutes: float = 10.0,
        admin_password: str | None = None,
        limits: Limits | None = None,
    ):
        self.data, self.store, self.limits = data, store, limits or Limits()
        self.index = RunIndex(store)
        self.index.keep_fresh()
        self.executor = executor or LocalExecutor(data)
        self.unwatched_seconds = unwatched_minutes * 60
        self.admin_gate = AdminGate(admin_password)  # typed passwords go through its attempt()
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._watched: dict[str, float] = {}  # run id -> when a page last showed it
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._stop_unwatched, daemon=True, name="rnn-unwatched-runs")
        self._watchdog.start()

    # ----- starting and continuing ------------------------------------------------------------

    def start(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        owner: str | None,
        label: str = "",
        sweep: SweepTag | None = None,
    ) -> str:
        """Queue a new model trained from scratch; returns its run id. A sweep's runs are
        bounded by `check_sweep`, every other by the runs this browser has going."""
        resolve_device(train_config.device)  # checked before anything is saved
        if sweep is None:
            self._check_runs_going(owner)
        run = self.store.create(model_config, train_config, label=label, owner=owner, sweep=sweep)
        return self._submit(run, model_config, train_config, None, train_config.epochs)

    def continue_run(self, run_id: str, epochs: int, owner: str | None) -> str:
        """Train `epochs` more. Your own stopped or diverged run goes on in place; any other
        run (finished, someone else's, uploaded, interrupted) is forked. Either goes on from
        the trainer state saved with the run, exactly as if it had never stopped. Returns the
        run id that trains."""
        view = self.view(run_id)
        if view.busy:
            raise NotNow(f"run {run_id} is training already")
        if not view.has_model:
            raise NotNow(f"run {run_id} has no model to continue")
        trained = view.history[-1].epoch
        if math.ceil(trained) + epochs >= MAX_EPOCH:
            raise OutOfRange(
                f"run {run_id} has trained {trained:,g} epochs, and runs here count fewer than {MAX_EPOCH:,}: "
                f"it cannot train {epochs} more"
            )
        self._check_runs_going(owner)
        checkpoint = self.checkpoint(run_id)
        state = checkpoint.trainer_state()
        # a state that does not fit this server's data is refused here, not in a worker
        trainer = Trainer(self.data, checkpoint.model_config, checkpoint.train_config, state)
        if self.continues_in_place(view, owner):
            self._submit(self.store.open(run_id), checkpoint.model_config, checkpoint.train_config, state, epochs)
            job = self._job(run_id)
            if job is not None and view.live is not None:  # the chart goes on from the batches trained before
                job.follow(view.live)
            return run_id
        parent = {"run_id": run_id, "epoch": trainer.epochs_done}
        run = self.store.create(
            checkpoint.model_config, checkpoint.train_config, label=f"continues {run_id}", owner=owner, parent=parent
        )
        return self._submit(run, checkpoint.model_config, checkpoint.train_config, state, epochs)

    @staticmethod
    def continues_in_place(view: RunView, owner: str | None) -> bool:
        """Whether Continue trains this run on in its own folder (else it forks a new run)."""
        return view.record.owned_by(owner) and view.status in CONTINUABLE_IN_PLACE

    def add_checkpoint(self, checkpoint: Checkpoint, name: str, owner: str | None) -> str:
        """Keep an uploaded model as a run of its own; returns its id."""
        record = self.store.add_checkpoint(checkpoint, label=f"uploaded {name}"[:80], owner=owner)
        self.index.put(record)
        return record.run_id

    def check_sweep(self, owner: str | None, runs: int) -> None:
        """LimitReached when a sweep of `runs` runs is more than one person may ask for."""
        if runs > self.limits.runs_per_sweep:
            raise LimitReached(
                f"a sweep of {runs} runs is more than this server allows ({self.limits.runs_per_sweep}): "
                "take fewer values on an axis"
            )
        if owner is not None and any(
            self._owned(job, owner) and job.run.info.get("sweep") and job.snapshot().busy for job in self._all_jobs()
        ):
            raise LimitReached("a sweep of yours is still training: stop it or wait for it before starting another")

    def runs_going(self, owner: str | None) -> list[str]:
        """The runs this browser has training or waiting, its sweep's apart, newest first."""
        if owner is None:
            return []
        return sorted(
            (
                job.run_id
                for job in self._all_jobs()
                if self._owned(job, owner) and not job.run.info.get("sweep") and job.snapshot().busy
            ),
            reverse=True,
        )

    def _check_runs_going(self, owner: str | None) -> None:
        going = len(self.runs_going(owner))
        if going >= self.limits.runs_per_browser:
            runs = "a run" if going == 1 else f"{going} runs"
            raise LimitReached(
                f"you already have {runs} training or waiting, as many as this server allows one browser: "
                "stop one, or wait until one ends"
            )

    @staticmethod
    def _owned(job: Job, owner: str) -> bool:
        return job.run.info.get("owner") == owner_digest(owner)

    def _all_jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def _submit(
        self, run: Run, model_config: ModelConfig, train_config: TrainConfig, state: TrainerState | None, epochs: int
    ) -> str:
        spec = job_spec(run, self.data, model_config, train_config, state, epochs)
        history = history_from_rows(state["history"]) if state else ()
        self.index.put(run.current_record(history))
        with self._lock:
            job = self.executor.submit(spec, self.index.put)
            self._jobs[job.run_id] = job
            self._watched[job.run_id] = time.monotonic()
            self._forget_old_jobs()
        return job.run_id

    def _forget_old_jobs(self) -> None:
        ended = [run_id for run_id, job in self._jobs.items() if job.done.is_set()]
        for run_id in ended[:-KEEP_ENDED_JOBS]:
            del self._jobs[run_id]
            self._watched.pop(run_id, None)

    # ----- stopping and deleting --------------------------------------------------------------

    def may_change(self, run_id: str, owner: str | None, password: str | None = None) -> bool:
        """Whether this browser (or the admin password) may stop or delete the run."""
        if self.is_admin(password):
            return True
        try:
            return self.index.get(run_id).owned_by(owner)
        except (LookupError, ValueError, OSError):
            return False

    def is_admin(self, password: str | None) -> bool:
        return self.admin_gate.matches(password)

    def stop(self, run_id: str, owner: str | None, password: str | None = None) -> None:
        job = self._job(check_run_id(run_id))
        if job is None:
            self._refuse_if_trained_elsewhere(run_id, "only that one can stop it")
            return
        if not self.may_change(run_id, owner, password):
            raise NotAllowed("this run was started in another browser: only that browser can stop it")
        job.stop()

    def delete(self, run_id: str, owner: str | None, password: str | None = None) -> None:
        if not self.may_change(run_id, owner, password):
            raise NotAllowed(
                "this run was started in another browser: only that browser, or the admin password, can delete it"
            )
        job = self._job(run_id)
        if job is not None and not job.done.is_set():
            raise NotNow("the run is training: stop it first")
        if job is None:
            self._refuse_if_trained_elsewhere(run_id, "stop it there first")
        self.store.delete(run_id)
        self.index.forget(run_id)
        with self._lock:
            self._jobs.pop(run_id, None)
            self._watched.pop(run_id, None)

    def feature(self, run_id: str | None, password: str | None) -> None:
        """Feature `run_id` (or none) for every browser that has no run of its own: the admin's."""
        if not self.is_admin(password):
            raise NotAllowed("only the teacher (the admin password) can feature a run")
        if run_id is not None:
            self.index.get(run_id)  # RunNotFound for a run that is not there
        self.index.feature(run_id)

    def close(self, wait_seconds: float = 0.0) -> None:
        """The server is going down: every job stops within a batch and is saved as stopped
        "because the server shut down", to be continued exactly after the restart. A training
        not saved within `wait_seconds` (a large model's batch and scoring can take a minute)
        is saved as it stood after its latest scored epoch. Without a wait (the command
        line's), the trainings save in their own time."""
        self._closed.set()
        self.index.close()
        jobs = self._all_jobs()
        for job in jobs:
            job.stop(f"stopped {SHUTDOWN_REASON}")
        if wait_seconds:
            deadline = time.monotonic() + wait_seconds
            for job in jobs:
                if not job.done.wait(max(0.0, deadline - time.monotonic())):
                    job.let_go(f"stopped {SHUTDOWN_REASON}")
        self.executor.shutdown()  # after the waits: a Ray executor leaves the cluster

    def _refuse_if_trained_elsewhere(self, run_id: str, what_then: str) -> None:
        # Another process (an app server on the same runs folder, a command line) trains it and
        # is its folder's only writer.
        try:
            live = self.index.get(run_id).status.live
        except (LookupError, ValueError, OSError):  # no such run, or unreadable: nothing trains it
            return
        if live:
            raise NotNow(f"run {run_id} trains in another process on this runs folder: {what_then}")

    # ----- reading ----------------------------------------------------------------------------

    def _job(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def view(self, run_id: str) -> RunView:
        """The run as it is now; RunNotFound, or ValueError/OSError for a damaged folder."""
        record = self.index.get(run_id)
        job = self._job(run_id)
        return RunView(record, job.snapshot() if job else None)

    def runs(self) -> tuple[list[RunView], list[str]]:
        """Every readable run, newest first, with live state where it trains here, and one
        message per skipped folder."""
        records, problems = self.index.records()
        with self._lock:
            jobs = dict(self._jobs)
        return [
            RunView(record, jobs[record.run_id].snapshot() if record.run_id in jobs else None) for record in records
        ], problems

    def featured(self) -> str | None:
        return self.index.featured()

    def run_to_show(self, owner: str | None) -> ShownRun | None:
        """For a tab whose link names no run: this browser's newest run; else the one the
        teacher featured; else the newest finished run that is no sweep's (a sweep's cells are
        often unfinished experiments, not what a class should meet first)."""
        records, _ = self.index.records()
        own = next((record for record in records if owner is not None and record.owned_by(owner)), None)
        if own is not None:
            return ShownRun(own.run_id, OWN_RUN)
        featured = self.index.featured()
        if featured is not None:
            return ShownRun(featured, FEATURED_RUN)
        newest = next(
            (record for record in records if record.status == RunStatus.FINISHED and record.sweep is None), None
        )
        return ShownRun(newest.run_id, NEWEST_RUN) if newest else None

    def checkpoint(self, run_id: str) -> Checkpoint:
        """The run's model after its latest scored epoch: from memory while its job is here,
        else from its folder."""
        job = self._job(check_run_id(run_id))
        if job is not None:
            try:
                return job.checkpoint()
            except LookupError:  # a job still in line: the run's folder has what it goes on from
                pass
        return self.store.checkpoint(run_id)

    def waiting(self) -> int:
        return self.executor.waiting()

    # ----- watching ---------------------------------------------------------------------------

    def watch(self, run_id: str) -> None:
        """A page shows this run now: it is not unwatched."""
        with self._lock:
            if run_id in self._jobs:
                self._watched[run_id] = time.monotonic()

    def _stop_unwatched(self) -> None:
        interval = min(5.0, max(0.2, self.unwatched_seconds / 4))
        while not self._closed.wait(interval):
            now = time.monotonic()
            with self._lock:
                idle = [
                    job
                    for run_id, job in self._jobs.items()
                    if now - self._watched.get(run_id, now) > self.unwatched_seconds
                ]
            for job in idle:
                job.stop(unwatched_reason(self.unwatched_seconds))


def unwatched_reason(seconds: float) -> str:
    """Why a run no page watched for `seconds` was stopped."""
    return f"stopped because no page watched it for {_minutes(seconds)}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"
