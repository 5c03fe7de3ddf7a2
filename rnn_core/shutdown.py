"""A clean end for a server that trains: on SIGTERM, SIGINT or Ctrl-C every training stops
within a batch and is saved, continuable, before the process exits, within a few seconds.

Streamlit turns those signals into the end of its main thread; Python then joins every
non-daemon thread before it exits, and a training thread would keep it alive until its
training ended. Python runs the hooks registered with `threading._register_atexit` before
that join, newest first (concurrent.futures joins its pool threads from such a hook,
registered when it was imported): a hook registered here runs before that join and stops
the trainings it would wait for. `atexit` itself runs only after the join: too late.

A served app then has nothing left to do, yet Python's teardown of torch, the data and every
module took another 1.3-2.5 s on 2 busy cores: once the trainings are saved and the executor
is shut down, such a process ends at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Protocol

SAVE_SECONDS = 4.0  # how long the trainings may take to score their partial epoch and save
log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self, wait_seconds: float = 0.0) -> None: ...


def close_on_exit(closable: Closable, end_at_once: bool, wait_seconds: float = SAVE_SECONDS) -> None:
    """Close `closable` (a run registry) when the process ends, before its threads are joined;
    then, with `end_at_once` (a served app, nothing else in the process), end it there."""

    def close() -> None:
        log.info("shutting down: stopping and saving every training")
        closable.close(wait_seconds)
        if end_at_once:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    threading._register_atexit(close)  # type: ignore[attr-defined]  # see the module's docstring
