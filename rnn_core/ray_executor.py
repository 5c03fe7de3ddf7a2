"""Jobs on Ray: each run trains in one Ray task, on the cluster named by RAY_ADDRESS or on a
local one started in this process when it is unset.

The driver (the app's server, or the sweep CLI) keeps everything the pages read: the `Job`
and its line of waiting jobs. The task trains as a local worker would (`train_here`) and
streams what it reports back (a Ray streaming generator): every event, and the trainer's state
after every scored epoch and at the end. So the run folder is written by the driver alone,
from the same reports as with the local executor: one writer per run, and a cluster's workers
need the code but not the runs folder.

MNIST is put in Ray's object store once per executor, as numpy arrays that every worker on a
node maps without a copy. Stop goes through a small mailbox actor: a thread in the task waits
on it and sets the trainer's stop flag, which the trainer checks before every batch. Both live
on the driver's node, so losing any other node loses neither.

A node that dies takes its trainings with it, but not their runs: the driver has each run's
trainer state after its latest scored epoch, and starts the training again from there on a
node that is left ("moved to another node after its node was lost at epoch 2"), which is the
run that never stopped, to the bit. With no node left that has a CPU for it, the run is saved
as interrupted, to be continued when one is back. Ray itself retries no training: a retry
would start over from the spec, not from the latest epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import queue
import secrets
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
import ray._private.ray_constants as ray_constants
import torch
from ray.exceptions import NodeDiedError, ObjectLostError, RayTaskError, WorkerCrashedError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .data import MnistData
from .history import RunStatus, history_from_rows
from .jobs import Job, JobSpec, Placement, Report, SlotPool, TrainerState, train_here
from .runs import RunRecord
from .trainer import EndEvent

DATA_FIELDS = ("train_images", "train_labels", "test_images", "test_labels")
STOP_POLL_SECONDS = 0.05  # how soon a Stop in this process is passed on to the task
# A training lost with its node or its worker process this often is saved as interrupted
# rather than started again (a node that dies as soon as it gets work).
MAX_TRIES = 4
# What ends a training without being its own error: the training goes on elsewhere.
LOST = (NodeDiedError, WorkerCrashedError, ObjectLostError)


def connect(address: str | None = None) -> None:
    """Join the cluster at `address`; without one, start a local cluster."""
    if ray.is_initialized():
        return
    # Ray's core would answer SIGTERM with a crash report and an abort, before the server's
    # own clean shutdown (rnn_core.shutdown) could save the trainings: it is told not to.
    ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True
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


@dataclass(frozen=True)
class RemoteTraining:
    """Everything a task needs, besides MNIST, to train a run as a local worker would."""

    spec: JobSpec
    threads: int


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


@ray.remote(max_retries=0)  # the driver starts a lost training again, from its latest epoch
def train_remotely(stored: dict[str, Any], mailbox, key: str, training: RemoteTraining):
    """Yields the id of the node it runs on, then (event, trainer state or None) as the run
    trains, as `train_here` reports them."""
    yield ray.get_runtime_context().get_node_id()
    torch.set_num_threads(training.threads)
    stop = threading.Event()
    threading.Thread(target=_watch_for_stop, args=(mailbox, key, stop), daemon=True, name="rnn-stop-watch").start()
    reports: queue.Queue = queue.Queue()

    def train() -> None:
        try:
            train_here(mnist_from_store(stored), training.spec, lambda *report: reports.put(report), stop)
        except Exception as err:  # raised again in the generator, so the driver sees it
            reports.put(err)
        finally:
            reports.put(_DONE)

    # The trainer reports through a callback and a generator cannot yield from one: it trains
    # in a thread of this task and the task yields what it reports.
    threading.Thread(target=train, daemon=True, name="rnn-remote-training").start()
    try:
        while (item := reports.get()) is not _DONE:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        mailbox.release.remote(key)


def epochs_done(state: TrainerState | None) -> float:
    """The epochs a trainer state has trained (0 for a new model)."""
    history = history_from_rows(state["history"]) if state else ()
    return history[-1].epoch if history else 0


def lost_words(err: Exception) -> str:
    return "its node was lost" if isinstance(err, NodeDiedError) else "its worker process was lost"


def cluster_slots(cpus_per_job: int) -> int:
    """How many jobs train at once by default: the cluster's CPUs per job."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_job)


class RayExecutor:
    """Jobs on Ray, `cpus_per_job` CPUs each, `slots` at once; the rest wait in this process's
    line, in order, as with the local executor (so the pages can say "3rd in line")."""

    def __init__(self, data: MnistData, cpus_per_job: int = 1, slots: int | None = None, address: str | None = None):
        self._connected_here = not ray.is_initialized()  # else its connection is someone else's to end
        connect(address)
        self.cpus_per_job = cpus_per_job
        self.data_ref = ray.put(stored_mnist(data))
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.mailbox = StopMailbox.options(scheduling_strategy=here).remote()
        ray.get(self.mailbox.ready.remote())  # up before any job needs it: a Stop is never late
        self.slots = slots or cluster_slots(cpus_per_job)
        self._pool = SlotPool(self.slots, "rnn-ray-driver")
        # One worker per slot imports torch now, while the server starts, not during the first sweep.
        ray.get([warm_up.options(num_cpus=cpus_per_job).remote() for _ in range(self.slots)])

    def submit(self, spec: JobSpec, publish: Callable[[RunRecord], None] = lambda record: None) -> Job:
        return self._pool.submit(Job(spec, publish), self._train)

    def waiting(self) -> int:
        return self._pool.waiting()

    def shutdown(self) -> None:
        """Stop taking jobs; leave the cluster when this executor joined it (a local cluster it
        started ends with it)."""
        self._pool.shutdown()
        if self._connected_here:
            # Ray ends the whole process when a handle is freed after its shutdown: these go first.
            del self.data_ref, self.mailbox
            ray.shutdown()

    def _train(self, spec: JobSpec, report: Report, stop: threading.Event) -> None:
        """Train on a node of the cluster; when the node (or the worker process) is lost, again
        from the latest scored epoch on a node that is left, or saved as interrupted."""
        latest, node, moves = spec.state, "", []  # moves: those that found a node
        dead: set[str] = set()
        # the whole epochs the training heads for: a cut epoch is finished first
        target = math.ceil(epochs_done(spec.state)) + spec.epochs

        def keep(event, state: TrainerState | None) -> None:
            nonlocal latest, node
            latest = latest if state is None else state
            if isinstance(event, Placement):
                node = event.node
                moves.extend([event.reason] if event.reason else [])
            if isinstance(event, EndEvent) and moves:
                event = dataclasses.replace(event, reason=f"{event.reason}; {'; '.join(moves)}")
            report(event, state)

        lost, move = "", ""  # how the cluster ended the latest try, and the move it calls for
        for _ in range(MAX_TRIES):
            if not self._a_node_has_room(dead):
                why = f"{lost} and no node with a CPU for it is left" if lost else "no node has a CPU for it"
                keep(EndEvent(RunStatus.INTERRUPTED, why), None)
                return
            epochs = target - round(epochs_done(latest))
            attempt = spec if latest is spec.state else dataclasses.replace(spec, state=latest, epochs=epochs)
            try:
                self._attempt(attempt, keep, stop, move)
                return
            except RayTaskError:  # the training's own error, not the cluster's
                raise
            except LOST as err:
                if isinstance(err, NodeDiedError):  # for good, though the cluster may not know it yet
                    dead.add(node)
                lost = f"{lost_words(err)} at epoch {epochs_done(latest):g}"
                if stop.is_set():
                    keep(EndEvent(RunStatus.STOPPED, f"when {lost}"), None)
                    return
                move = f"{'moved to another node' if isinstance(err, NodeDiedError) else 'started again'} after {lost}"
        keep(EndEvent(RunStatus.INTERRUPTED, f"{lost}, {MAX_TRIES} times"), None)

    def _a_node_has_room(self, dead: set[str]) -> bool:
        """Whether a live node, none of the `dead`, has the CPUs a training needs (busy or not)."""
        return any(
            node["Alive"] and node["NodeID"] not in dead and node["Resources"].get("CPU", 0) >= self.cpus_per_job
            for node in ray.nodes()
        )

    def _attempt(self, spec: JobSpec, report: Report, stop: threading.Event, moved: str) -> None:
        key = secrets.token_hex(8)  # names this training in the stop mailbox
        stream = train_remotely.options(num_cpus=self.cpus_per_job).remote(
            self.data_ref, self.mailbox, key, RemoteTraining(spec, self.cpus_per_job)
        )
        ended = threading.Event()
        forwarder = threading.Thread(
            target=self._forward_stop, args=(key, stop, ended), daemon=True, name="rnn-ray-stop-forward"
        )
        forwarder.start()
        try:
            report(Placement(ray.get(next(stream)), moved), None)  # type: ignore[call-overload,arg-type]
            for ref in stream:
                report(*ray.get(ref))
        finally:
            ended.set()

    def _forward_stop(self, key: str, stop: threading.Event, ended: threading.Event) -> None:
        while not ended.is_set():
            if stop.wait(STOP_POLL_SECONDS):
                self.mailbox.stop.remote(key)
                return
