"""A clean end for a server that trains: on SIGTERM, SIGINT or Ctrl-C every training stops
within a batch and is saved, continuable, before the process exits.

Streamlit turns those signals into the end of its main thread; Python then joins every
non-daemon thread before it exits, and a training thread would keep it alive until its
training ended. Python runs the hooks registered with `threading._register_atexit` before
that join, newest first (concurrent.futures joins its pool threads from such a hook,
registered when it was imported): a hook registered here runs before that join and stops
the trainings it would wait for. `atexit` itself runs only after the join: too late.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

SAVE_SECONDS = 4.0  # how long the trainings may take to score their partial epoch and save
log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self, wait_seconds: float = 0.0) -> None: ...


def close_on_exit(closable: Closable, wait_seconds: float = SAVE_SECONDS) -> None:
    """Close `closable` (a run registry) when the process ends, before its threads are joined."""

    def close() -> None:
        log.info("shutting down: stopping and saving every training")
        closable.close(wait_seconds)

    threading._register_atexit(close)  # type: ignore[attr-defined]  # see the module's docstring
