"""Jobs on Ray: each run trains in one Ray task, on the cluster named by RAY_ADDRESS or on a
local one started in this process when it is unset.

The driver (the app's server, or the sweep CLI) keeps everything the pages read: the `Job`,
its line of waiting jobs, and a copy of the run's trainer. The task trains and streams its
events back (a Ray streaming generator); after every scored epoch and at the end it also sends
the trainer's state, which the driver loads into its copy. So the run folder is written by
the driver alone, from the same events as with the local executor: one writer per run, and a
cluster's workers need the code but not the runs folder.

MNIST is put in Ray's object store once per executor, as numpy arrays that every worker on a
node maps without a copy. Stop goes through a small mailbox actor: a thread in the task waits
on it and sets the trainer's stop flag, which the trainer checks before every batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import queue
import secrets
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
import torch

from .config import ModelConfig, TrainConfig
from .data import MnistData
from .history import EpochRecord
from .jobs import Job, JobSpec, LocalExecutor
from .trainer import EndEvent, Event, Trainer

DATA_FIELDS = ("train_images", "train_labels", "test_images", "test_labels")


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS); without one, start a local cluster."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
        return
    # A local cluster's processes are killed when the *thread* that started them ends (Linux's
    # parent-death signal follows the thread), and a Streamlit script's thread ends with every
    # run: the cluster is started from a thread that lives as long as this process.
    started, failures = threading.Event(), []

    def start_and_stay() -> None:
        try:
            ray.init(include_dashboard=False)
        except Exception as err:  # raised again in the caller's thread
            failures.append(err)
        finally:
            started.set()
        threading.Event().wait()

    threading.Thread(target=start_and_stay, daemon=True, name="rnn-ray-local-cluster").start()
    started.wait()
    if failures:
        raise failures[0]


def stored_mnist(data: MnistData) -> dict[str, Any]:
    """MNIST as the object store keeps it: numpy arrays, which workers read without copying."""
    return {
        **{name: getattr(data, name).numpy() for name in DATA_FIELDS},
        "source": data.source,
        "description": data.description,
    }


def mnist_from_store(stored: dict[str, Any]) -> MnistData:
    with warnings.catch_warnings():
        # The arrays are read-only views of the object store; training only reads them.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensors = {name: torch.from_numpy(stored[name]) for name in DATA_FIELDS}
    return MnistData(**tensors, source=stored["source"], description=stored["description"])


# A trainer's attributes that are its data (the task has MNIST from the object store) or
# belong to the process that runs it; everything else travels.
NOT_SENT = frozenset({"train_images", "train_labels", "test_images", "test_labels", "_step_lock"})


@dataclass(frozen=True)
class TrainerState:
    """A trainer without its data: weights, optimizer, shuffling generator, history, a pass a
    stop cut short, ... everything it needs to go on exactly as it would have. Taken whole
    rather than field by field, so the copy stays exact whatever the trainer comes to keep."""

    attributes: dict[str, Any]

    @classmethod
    def of(cls, trainer: Trainer) -> TrainerState:
        # One deep copy of all of it: the optimizer keeps pointing at the copied model's
        # parameters, and the training going on in another thread cannot change the copy.
        return cls(copy.deepcopy({name: value for name, value in vars(trainer).items() if name not in NOT_SENT}))

    def load_into(self, trainer: Trainer) -> None:
        vars(trainer).update(self.attributes)


@dataclass(frozen=True)
class RemoteTraining:
    """Everything a task needs, besides MNIST, to train a run as the driver's trainer would."""

    model_config: ModelConfig
    train_config: TrainConfig
    state: TrainerState
    epochs: int
    threads: int

    def trainer(self, data: MnistData) -> Trainer:
        # built for its training images (the same subset for the same seed), then given the state
        trainer = Trainer(data, self.model_config, self.train_config)
        self.state.load_into(trainer)
        return trainer


@ray.remote(num_cpus=0)
class StopMailbox:
    """Stop requests, by training key: a task's watcher waits here until its key is stopped
    (or released when the training ends)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def _event(self, key: str) -> asyncio.Event:
        return self._events.setdefault(key, asyncio.Event())

    async def ready(self) -> None:
        pass

    async def stop(self, key: str) -> None:
        self._event(key).set()

    async def wait(self, key: str) -> None:
        await self._event(key).wait()

    async def release(self, key: str) -> None:
        self._event(key).set()
        self._events.pop(key, None)


def _watch_for_stop(mailbox, key: str, stop: threading.Event) -> None:
    # an error means the mailbox is gone with its driver: nobody reads this run any more
    with contextlib.suppress(Exception):
        ray.get(mailbox.wait.remote(key))
    stop.set()


@ray.remote
def warm_up() -> None:
    """Nothing: running it makes a worker process import this module (and torch) before the
    first run needs it."""


_DONE = object()


@ray.remote
def train_remotely(stored: dict[str, Any], mailbox, key: str, training: RemoteTraining):
    """Yields (event, TrainerState or None) as the run trains; the state comes with every
    scored epoch and with the end."""
    torch.set_num_threads(training.threads)
    trainer = training.trainer(mnist_from_store(stored))
    stop = threading.Event()
    threading.Thread(target=_watch_for_stop, args=(mailbox, key, stop), daemon=True, name="rnn-stop-watch").start()
    events: queue.Queue = queue.Queue()

    def on_event(event: Event) -> None:
        state = TrainerState.of(trainer) if isinstance(event, (EpochRecord, EndEvent)) else None
        events.put((event, state))

    def train() -> None:
        try:
            trainer.run(training.epochs, on_event=on_event, stop=stop)
        except Exception as err:  # raised again in the generator, so the driver sees it
            events.put(err)
        finally:
            events.put(_DONE)

    # The trainer reports through a callback and a generator cannot yield from one: it trains
    # in a thread of this task and the task yields what it reports.
    threading.Thread(target=train, daemon=True, name="rnn-remote-training").start()
    try:
        while (item := events.get()) is not _DONE:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        mailbox.release.remote(key)


class RayJob(Job):
    """A job whose training runs in a Ray task; this side keeps the snapshot and the run folder."""

    def __init__(self, spec: JobSpec, executor: RayExecutor):
        super().__init__(spec)
        self._executor = executor
        self._key: str | None = None  # names this training in the stop mailbox

    def stop(self, reason: str = "stopped by the user") -> None:
        super().stop(reason)
        self._forward_stop()

    def _forward_stop(self) -> None:
        with self._lock:
            key = self._key
        if key is not None and self.stop_requested:
            self._executor.mailbox.stop.remote(key)

    def _train(self, on_event: Callable[[Event], None]) -> None:
        executor = self._executor
        with self._lock:
            state = TrainerState.of(self.trainer)
            training = RemoteTraining(
                self.trainer.model_config, self.trainer.config, state, self.epochs, executor.cpus_per_job
            )
            self._key = secrets.token_hex(8)
        self._forward_stop()  # a stop asked for while the key did not exist yet
        stream = train_remotely.options(num_cpus=executor.cpus_per_job).remote(
            executor.data_ref, executor.mailbox, self._key, training
        )
        for ref in stream:
            event, state = ray.get(ref)
            if state is not None:
                with self._lock:  # snapshot() and checkpoint() read the copy under this lock
                    state.load_into(self.trainer)
            on_event(event)


def cluster_slots(cpus_per_job: int) -> int:
    """How many jobs train at once: $RNN_MAX_TRAININGS, else the cluster's CPUs per job."""
    if os.environ.get("RNN_MAX_TRAININGS"):
        return int(os.environ["RNN_MAX_TRAININGS"])
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_job)


class RayExecutor(LocalExecutor):
    """Jobs on Ray, `cpus_per_job` CPUs each, `slots` at once; the rest wait in this process's
    line, in order, as with the local executor (so the pages can say "3rd in line")."""

    def __init__(self, data: MnistData, cpus_per_job: int = 1, slots: int | None = None, address: str | None = None):
        connect(address)
        self.cpus_per_job = cpus_per_job
        self.data_ref = ray.put(stored_mnist(data))
        self.mailbox = StopMailbox.remote()
        ray.get(self.mailbox.ready.remote())  # up before any job needs it: a Stop is never late
        super().__init__(slots or cluster_slots(cpus_per_job))
        # One worker per slot imports torch now, while the server starts, not during the first sweep.
        ray.get([warm_up.options(num_cpus=cpus_per_job).remote() for _ in range(self.slots)])

    def _size_worker(self) -> None:
        pass  # nothing trains in this process: each task sets its own thread count

    def _new_job(self, spec: JobSpec) -> Job:
        return RayJob(spec, self)
