"""The server's settings: one typed object, read from the environment once, at start, and passed
down. This is the only module that reads the environment.

A value that cannot be used stops the start with one line naming the variable and what it
accepts: a server that half-works with a typo (every run stopped at once, runs written into
the working folder) is worse than one that says why it will not start.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

Value = TypeVar("Value")
ExecutorName = Literal["local", "ray"]


class SettingsError(ValueError):
    """One line naming the variable, its value and what it accepts."""


@dataclass(frozen=True)
class Limits:
    """What one person may ask of a shared server; each refused with a sentence."""

    runs_per_browser: int = 2  # runs of one browser training or waiting at once (its sweep apart)
    runs_per_sweep: int = 25  # cells in one sweep's grid (5 x 5)


@dataclass(frozen=True)
class ServerSettings:
    runs_dir: Path = Path("runs")
    data_dir: Path = Path("data")
    mnist_dir: Path | None = None  # a folder of the four IDX files, used before any download
    executor: ExecutorName = "local"
    ray_address: str | None = None  # the cluster to join; without one, Ray starts a local cluster
    max_trainings: int | None = None  # runs training at once; default: one per core (or per Ray CPU)
    unwatched_minutes: float = 10.0  # a run no page has shown for this long is stopped
    admin_password: str | None = None  # lets a teacher stop, delete and feature any run
    limits: Limits = Limits()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """The settings from `environ` (default: this process's); SettingsError for a bad value."""
        env = os.environ if environ is None else environ
        return cls(
            runs_dir=_read(env, "RNN_RUNS_DIR", _folder, Path("runs")),
            data_dir=_read(env, "RNN_DATA_DIR", _folder, Path("data")),
            mnist_dir=_read(env, "MNIST_DIR", _folder, None),
            executor=_read(env, "RNN_EXECUTOR", _executor, "local"),
            ray_address=_read(env, "RAY_ADDRESS", str, None),
            max_trainings=_read(env, "RNN_MAX_TRAININGS", _whole(1, 256), None),
            unwatched_minutes=_read(env, "RNN_UNWATCHED_MINUTES", _minutes, 10.0),
            admin_password=_read(env, "RNN_ADMIN_PASSWORD", str, None),
            limits=Limits(
                runs_per_browser=_read(env, "RNN_MAX_RUNS_PER_BROWSER", _whole(1, 1000), 2),
                runs_per_sweep=_read(env, "RNN_MAX_RUNS_PER_SWEEP", _whole(1, 10_000), 25),
            ),
        )


def _read(env: Mapping[str, str], name: str, parse: Callable[[str], Value], default: Value) -> Value:
    # Unset and set-but-empty mean the same for the optional ones (shells make empty easily);
    # a folder must be named, so an empty one is refused by its parser.
    raw = env.get(name)
    if raw is None or (raw == "" and default is None):
        return default
    try:
        return parse(raw)
    except ValueError as err:
        raise SettingsError(f"{name}={raw[:40]!r} cannot be used: {err}") from None


def _folder(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("it must name a folder (unset it for the default)")
    return Path(raw)


def _executor(raw: str) -> ExecutorName:
    if raw not in ("local", "ray"):
        raise ValueError('it must be "local" or "ray"')
    return raw  # type: ignore[return-value]  # checked just above


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"it must be a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"it must be a whole number from {low} to {high}")
        return value

    return parse


def _minutes(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 7 * 24 * 60):
        raise ValueError("it must be a number of minutes above 0, at most a week (10080)")
    return value
