"""Jobs on a pool of threads in this process, one thread per training slot."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import torch

from .data import MnistData
from .jobs import Job, JobSpec, Report, SlotPool, train_here
from .runs import RunRecord


def threads_per_slot(slots: int) -> int:
    """torch threads for each of `slots` trainings at once: together about one per core, and
    no more than the calling thread's own (OMP_NUM_THREADS or `torch.set_num_threads` lowers
    them on a machine whose cores other work needs: a torch op on more threads than it can
    have waits for the slowest)."""
    return max(1, min((os.cpu_count() or 1) // slots, torch.get_num_threads()))


class LocalExecutor:
    """Each worker thread sizes its own torch thread pool (OpenMP's thread count belongs to the
    calling thread), so the slots training at once share the cores and the rest of the
    process, the pages' own scoring included, keeps torch's default."""

    def __init__(self, data: MnistData, slots: int | None = None):
        self.data = data
        self.slots = slots or os.cpu_count() or 1
        self._threads = threads_per_slot(self.slots)  # here: a worker thread starts with torch's default
        self._pool = SlotPool(self.slots, "rnn-training", initializer=self._size_worker)

    def _size_worker(self) -> None:
        torch.set_num_threads(self._threads)

    def submit(self, spec: JobSpec, publish: Callable[[RunRecord], None] = lambda record: None) -> Job:
        return self._pool.submit(Job(spec, publish), self._train)

    def _train(self, spec: JobSpec, report: Report, stop: threading.Event) -> None:
        train_here(self.data, spec, report, stop)

    def waiting(self) -> int:
        return self._pool.waiting()

    def shutdown(self) -> None:
        self._pool.shutdown()
