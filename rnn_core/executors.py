"""Picks the executor the settings name. Ray is imported only when asked for, so the app
stays light without it."""

from __future__ import annotations

from .data import MnistData
from .jobs import Executor
from .local_executor import LocalExecutor

EXECUTORS = ("local", "ray")


def make_executor(
    name: str, data: MnistData, slots: int | None = None, cpus_per_job: int = 1, ray_address: str | None = None
) -> Executor:
    """ "local": a pool of threads here; "ray": Ray tasks on the cluster at `ray_address`, or on
    a local Ray cluster started in this process without one."""
    if name == "local":
        return LocalExecutor(data, slots)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(data, cpus_per_job=cpus_per_job, slots=slots, address=ray_address)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
