"""The admin password, guarded against guessing: a growing wait after each wrong try, and a
log line for each.

The wait is server-wide, since a guesser can open as many sessions (and browser tokens) as it
likes: after the n-th wrong try in a row, no try is even compared for 2^(n-1) seconds (1, 2,
4, ... up to MAX_WAIT_SECONDS), and a try made sooner is answered "wait". Nothing sleeps: a
refused try returns at once, so no page and no other visitor waits on it. A right password
clears the count, and so do QUIET_SECONDS without a wrong one. The log names neither the
password nor anything typed.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
MAX_WAIT_SECONDS = 60.0
QUIET_SECONDS = 15 * 60


@dataclass(frozen=True)
class Attempt:
    accepted: bool
    wait_seconds: float = 0.0  # before the next try is compared

    @property
    def message(self) -> str:
        if self.accepted:
            return "Admin: this tab may stop and delete every run."
        return f"That is not the admin password, or it came too soon: try again in {self.wait_seconds:.0f} s."


class AdminGate:
    def __init__(self, password: str | None, clock=time.monotonic):
        self._password = password or None
        self._clock = clock
        self._lock = threading.Lock()  # held for bookkeeping only, never while waiting
        self._failures = 0
        self._next_try = 0.0
        self._last_failure = -float("inf")

    @property
    def enabled(self) -> bool:
        return self._password is not None

    def matches(self, password: str | None) -> bool:
        """The password, compared in constant time. Only for a password `attempt` accepted."""
        if not (self._password and password):
            return False
        return hmac.compare_digest(password, self._password)

    def attempt(self, password: str | None, who: str = "unknown") -> Attempt:
        """One typed try. `who` (a short tag of the browser) goes into the log line."""
        with self._lock:
            now = self._clock()
            if now - self._last_failure > QUIET_SECONDS:
                self._failures = 0
            if now < self._next_try:
                wait = self._next_try - now
                log.warning("admin password: a try from %s came %.0f s too soon and was not compared", who, wait)
                return Attempt(False, wait)
            if self.matches(password):
                self._failures, self._next_try = 0, 0.0
                return Attempt(True)
            self._failures += 1
            self._last_failure = now
            wait = min(MAX_WAIT_SECONDS, 2.0 ** (self._failures - 1))
            self._next_try = now + wait
            log.warning(
                "admin password: wrong try from %s (%d in a row); the next is compared in %.0f s",
                who,
                self._failures,
                wait,
            )
            return Attempt(False, wait)
