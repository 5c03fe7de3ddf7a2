"""Every run's record, held in memory.

Pages ask the index, never the folder. The registry's own jobs hand it each record they write;
folders written by anyone else (a training from the command line, a sweep from another machine
on shared storage, a folder deleted or copied in by hand) are noticed by comparing each
folder's modification times, at most once every `recheck_seconds`, and only changed folders
are read again. A damaged folder stays skipped, with its note, until it changes.

`keep_fresh()` does that look in a thread of its own, so that a page never waits for it (a
thousand folders take tens of milliseconds to look at); a question finds the look due only
when that thread has fallen behind.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .runs import FEATURED_FILE, METRICS_FILE, RUN_FILE, RunNotFound, RunRecord, RunStore, check_run_id, newest_first

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
        self._closed = threading.Event()
        self._featured: tuple[Signature, str | None] = ((), None)

    def keep_fresh(self) -> None:
        """Look at the disk in a thread of this index's own, until `close()`."""

        def look_again() -> None:
            while not self._closed.wait(self.recheck_seconds * 0.8):  # due before a question finds it due
                self.refresh(force=True)

        threading.Thread(target=look_again, daemon=True, name="rnn-run-index").start()

    def close(self) -> None:
        self._closed.set()

    # ----- told by the jobs of this process ----------------------------------------------------

    def put(self, record: RunRecord) -> None:
        """A record a job of this process has just written."""
        folder = str(self.store.folder(record.run_id))
        with self._lock:
            self._entries[record.run_id] = _Entry(_signature(folder), record, None, ours=True)
            self.version += 1

    def feature(self, run_id: str | None) -> None:
        """Feature `run_id` (or none) for every server on this runs folder."""
        self.store.feature(run_id)
        with self._lock:
            self._featured = (_signature(str(self.store.root / FEATURED_FILE)), run_id)
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
            newest_first(entry.record for _, entry in entries if entry.record is not None),
            [entry.note for _, entry in entries if entry.note is not None],
        )

    def featured(self) -> str | None:
        """The featured run's id, when it is a run of the index."""
        self.refresh()
        with self._lock:
            run_id = self._featured[1]
            entry = self._entries.get(run_id) if run_id else None
        return run_id if entry is not None and entry.record is not None else None

    def refresh(self, force: bool = False) -> None:
        """Read again the folders that changed on disk since the last look. The look itself
        holds no lock, so questions are answered meanwhile; what changed is put in at the end,
        except where a job of this process has put a newer record in the meantime."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked_at < self.recheck_seconds:
                return
            self._checked_at = now
            known = dict(self._entries)
        self._refresh_featured()
        names = set(self.store.folder_names())
        changed = {}
        for name in names:
            entry = known.get(name)
            if entry is not None and entry.ours and entry.record is not None and entry.record.status.live:
                continue  # a job here writes it and tells the index itself, after each write
            signature = _signature(str(self.store.root / name))
            if entry is None or entry.signature != signature or self._keeper_may_have_died(entry):
                read = self.store.read_or_note(name)
                record, note = (read, None) if isinstance(read, RunRecord) else (None, read)
                changed[name] = _Entry(signature, record, note, ours=False)
        with self._lock:
            for name, entry in [*((gone, None) for gone in set(known) - names), *changed.items()]:
                if self._entries.get(name) is not known.get(name):
                    continue  # put by a job here since the look began: that record is newer
                if entry is None:
                    del self._entries[name]
                else:
                    self._entries[name] = entry
                self.version += 1

    def _refresh_featured(self) -> None:
        signature = _signature(str(self.store.root / FEATURED_FILE))
        if signature == self._featured[0]:
            return
        run_id = self.store.featured()
        with self._lock:
            self._featured = (signature, run_id)
            self.version += 1

    @staticmethod
    def _keeper_may_have_died(entry: _Entry) -> bool:
        # A run another process trains reads "interrupted" once that process is gone, though
        # its folder does not change: such a run is read again at every look.
        return not entry.ours and entry.record is not None and entry.record.status.live
