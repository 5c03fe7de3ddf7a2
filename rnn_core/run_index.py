"""Every run's record, held in memory.

Pages ask the index, never the folder. The registry's own jobs hand it each record they write;
folders written by anyone else (a training from the command line, a sweep from another machine
on shared storage, a folder deleted or copied in by hand) are noticed by comparing each
folder's modification times, at most once every `recheck_seconds`, and only changed folders
are read again. A damaged folder stays skipped, with its note, until it changes.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .runs import METRICS_FILE, RUN_FILE, RunNotFound, RunRecord, RunStore, check_run_id

# What tells a folder changed: its own time (a file replaced in it) and its two record files'
# (a file rewritten in place).
Signature = tuple[int | None, ...]


def _signature(folder: str) -> Signature:
    def stamp(path: str) -> tuple[int | None, int | None]:
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            return None, None
        return info.st_mtime_ns, info.st_size

    return (*stamp(folder), *stamp(os.path.join(folder, RUN_FILE)), *stamp(os.path.join(folder, METRICS_FILE)))


@dataclass(frozen=True)
class _Entry:
    signature: Signature
    record: RunRecord | None
    note: str | None  # why the folder is skipped, when it is
    ours: bool  # written by a job of this process, which tells the index itself


class RunIndex:
    def __init__(self, store: RunStore, recheck_seconds: float = 1.0):
        self.store = store
        self.recheck_seconds = recheck_seconds
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._checked_at = -float("inf")
        self.version = 0  # goes up with every change, so a table built from the records can be kept

    # ----- told by the jobs of this process ----------------------------------------------------

    def put(self, record: RunRecord) -> None:
        """A record a job of this process has just written."""
        folder = str(self.store.folder(record.run_id))
        with self._lock:
            self._entries[record.run_id] = _Entry(_signature(folder), record, None, ours=True)
            self.version += 1

    def forget(self, run_id: str) -> None:
        with self._lock:
            if self._entries.pop(run_id, None) is not None:
                self.version += 1

    # ----- asked by the pages ------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord:
        """The run's record; RunNotFound, or ValueError/OSError for a damaged folder."""
        check_run_id(run_id)
        self.refresh()
        with self._lock:
            entry = self._entries.get(run_id)
        if entry is None:  # made since the last look, perhaps: a link can be faster than the check
            self.refresh(force=True)
            with self._lock:
                entry = self._entries.get(run_id)
        if entry is None:
            raise RunNotFound(f"there is no run {run_id}")
        if entry.record is None:
            raise ValueError(entry.note)
        return entry.record

    def records(self) -> tuple[list[RunRecord], list[str]]:
        """Every readable run, newest first, and one note per skipped folder."""
        self.refresh()
        with self._lock:
            entries = sorted(self._entries.items(), reverse=True)
        return (
            [entry.record for _, entry in entries if entry.record is not None],
            [entry.note for _, entry in entries if entry.note is not None],
        )

    def refresh(self, force: bool = False) -> None:
        """Read again the folders that changed on disk since the last look."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked_at < self.recheck_seconds:
                return
            self._checked_at = now
            names = set(self.store.folder_names())
            for gone in set(self._entries) - names:
                del self._entries[gone]
                self.version += 1
            for name in names:
                entry = self._entries.get(name)
                signature = _signature(str(self.store.root / name))
                if entry is not None and entry.signature == signature and not self._keeper_may_have_died(entry):
                    continue
                read = self.store.read_or_note(name)
                if isinstance(read, RunRecord):
                    self._entries[name] = _Entry(signature, read, None, ours=False)
                else:
                    self._entries[name] = _Entry(signature, None, read, ours=False)
                self.version += 1

    @staticmethod
    def _keeper_may_have_died(entry: _Entry) -> bool:
        # A run another process trains reads "interrupted" once that process is gone, though
        # its folder does not change: such a run is read again at every look.
        return not entry.ours and entry.record is not None and entry.record.status.live
