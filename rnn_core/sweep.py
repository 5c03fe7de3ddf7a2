"""Sweeps: the teaching notebook's exercise ("try other hidden sizes, learning rates, ...") as a
grid of ordinary runs.

Each cell of the grid is a normal run (listed, linkable, testable on every page) whose run.json
carries a `SweepTag`: the sweep's id and the settings it varies. A sweep is therefore nothing
but the runs with that tag; it has no files of its own.

    python -m rnn_core.sweep --hidden-size 8,16 --learning-rate 0.01,0.1 --epochs 1 \\
        --train-limit 1000 --executor local --no-download --json

takes every flag of `python -m rnn_core.train`, any of them as a comma-separated list, and
prints one JSON object per finished run, then one naming the sweep and its runs folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import secrets
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .config import SETTING, SETTINGS, ModelConfig, TrainConfig, flat
from .executors import EXECUTORS, make_executor
from .history import RunStatus
from .registry import JobRegistry, RunView
from .runs import RUN_ID_PATTERN, RunNotFound, RunStore, SweepTag
from .server_settings import ServerSettings
from .train import (
    EXIT_DIVERGED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    build_parser,
    check_folder_flags,
    configs_from_args,
    describe,
    load_data,
    parse_with_server_settings,
    write_line,
)
from .trainer import resolve_device

SETTING_NAMES = tuple(declared.name for declared in SETTINGS)
RESULT_COLUMNS = [
    "test_accuracy",
    "test_loss",
    "seconds",
    "seconds_per_epoch",
    "epochs_trained",
    "status",
    "reason",  # what happened, e.g. "trained to epoch 3; moved to another node after its node was lost at epoch 2"
    "run_id",
]
POLL_SECONDS = 0.2

Cell = tuple[ModelConfig, TrainConfig]


def new_sweep_id() -> str:
    """Shaped like a run id, so links and run.json check it with the same pattern."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_sweep_id(sweep_id: Any) -> str:
    if not isinstance(sweep_id, str) or not RUN_ID_PATTERN.fullmatch(sweep_id):
        raise RunNotFound(f"{str(sweep_id)[:40]!r} is not a sweep id (they look like 20261128-093000-a1b2c3)")
    return sweep_id


def settings_of(cell: Cell) -> dict[str, Any]:
    """A cell's settings by their config names."""
    return flat(*cell)


def grid(base: Mapping[str, Any], axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values over `base`; the first axis changes slowest."""
    names = list(axes)
    return [{**base, **dict(zip(names, values))} for values in itertools.product(*(axes[name] for name in names))]


def varying(cells: Sequence[Cell]) -> tuple[str, ...]:
    """The settings whose value differs between cells, in the CLI's order."""
    rows = [settings_of(cell) for cell in cells]
    return tuple(name for name in SETTING_NAMES if len({row[name] for row in rows}) > 1)


def cell_label(sweep_id: str, cell: Cell, axes: Sequence[str]) -> str:
    """e.g. "sweep 20261128-093000-a1b2c3: hidden 16, lr 0.1"."""
    settings = settings_of(cell)
    return f"sweep {sweep_id}: " + ", ".join(SETTING[name].describe(settings[name]) for name in axes)


def start(registry: JobRegistry, cells: Sequence[Cell], axes: Sequence[str], owner: str | None, label: str = "") -> str:
    """Queue one run per cell through the registry, tagged as one sweep; returns its id. The
    configs were checked when they were made; the devices are checked here before any run is
    queued, so a grid that cannot run queues nothing."""
    registry.check_sweep(owner, len(cells))
    for _, train in cells:
        resolve_device(train.device)
    tag = SweepTag(new_sweep_id(), tuple(axes))
    for cell in cells:
        name = cell_label(tag.sweep_id, cell, axes)
        registry.start(*cell, owner=owner, label=f"{label} · {name}" if label else name, sweep=tag)
    return tag.sweep_id


@dataclass(frozen=True)
class Sweep:
    """A sweep as it is now: its runs, oldest first, with their live state where they train."""

    sweep_id: str
    axes: tuple[str, ...]
    runs: tuple[RunView, ...]

    @property
    def busy(self) -> bool:
        return any(view.busy for view in self.runs)

    @property
    def ended(self) -> tuple[RunView, ...]:
        return tuple(view for view in self.runs if not view.busy)

    def table(self) -> pd.DataFrame:
        """One row per run: the swept settings, then its results (None until it has them)."""
        return pd.DataFrame([result(view, self.axes) for view in self.runs], columns=[*self.axes, *RESULT_COLUMNS])


def result(view: RunView, settings: Iterable[str] = SETTING_NAMES) -> dict[str, Any]:
    """A run's settings (by config name) and results: final test accuracy and loss, training
    seconds in all, seconds per whole epoch."""
    values = settings_of((view.record.model_config, view.record.train_config))
    scored = [row for row in view.history if row.epoch > 0]
    whole = [row.seconds_per_epoch for row in scored if row.seconds_per_epoch]
    last = view.history[-1] if scored else None
    return {
        **{name: values[name] for name in settings},
        "test_accuracy": last.test_accuracy if last else None,
        "test_loss": last.test_loss if last else None,
        "seconds": sum(row.train_seconds for row in scored) if scored else None,
        "seconds_per_epoch": sum(whole) / len(whole) if whole else None,
        "epochs_trained": last.epoch if last else 0,
        "status": view.status.value,
        "reason": view.reason,
        "run_id": view.run_id,
    }


def find(registry: JobRegistry, sweep_id: str) -> Sweep:
    """The sweep's runs; RunNotFound if it has none here."""
    check_sweep_id(sweep_id)
    views, _ = registry.runs()
    runs = tuple(
        sorted(
            (view for view in views if view.record.sweep and view.record.sweep.sweep_id == sweep_id),
            key=lambda view: (view.record.created, view.run_id),
        )
    )
    if not runs:
        raise RunNotFound(f"there is no sweep {sweep_id}")
    tag = runs[0].record.sweep
    assert tag is not None  # every run here was picked by its tag
    return Sweep(sweep_id, tag.axes, runs)


def sweeps(registry: JobRegistry) -> list[str]:
    """The ids of every sweep with a run here, newest first."""
    views, _ = registry.runs()
    return sorted({view.record.sweep.sweep_id for view in views if view.record.sweep}, reverse=True)


def stop(registry: JobRegistry, sweep_id: str, owner: str | None, password: str | None = None) -> None:
    """Stop every run of the sweep that still waits or trains (NotAllowed if not this owner's)."""
    for view in find(registry, sweep_id).runs:
        if view.busy:
            registry.stop(view.run_id, owner, password)


# ----- the command line ---------------------------------------------------------------------


def build_sweep_parser() -> argparse.ArgumentParser:
    parser = build_parser(prog="python -m rnn_core.sweep", description=__doc__.splitlines()[0], lists=True)
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="local: a pool of threads here; ray: Ray tasks on $RAY_ADDRESS or a local Ray "
        "(default: $RNN_EXECUTOR, else local)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        help="runs that train at once (default: $RNN_MAX_TRAININGS, else one per core here, "
        "or per --cpus-per-job on Ray)",
    )
    parser.add_argument("--cpus-per-job", type=positive_int, default=1, help="CPUs each run gets on Ray (default: 1)")
    parser.add_argument(
        "--max-runs",
        type=positive_int,
        help="refuse a grid of more runs than this (default: $RNN_MAX_RUNS_PER_SWEEP, else 25)",
    )
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


def cells_from_args(args: argparse.Namespace) -> list[Cell]:
    """The grid the flags name: every combination of their values, in the flags' order."""
    names = ["preset", *(name for name in SETTING_NAMES if getattr(args, name) is not None)]
    cells = []
    for values in itertools.product(*(getattr(args, name) for name in names)):
        one = {**vars(args), **{name: None for name in SETTING_NAMES}, **dict(zip(names, values))}
        cells.append(configs_from_args(argparse.Namespace(**one)))
    return cells


def _report(row: dict[str, Any], as_json: bool) -> None:
    if as_json:
        write_line(json.dumps(row))
        return
    accuracy = "-" if row["test_accuracy"] is None else f"{row['test_accuracy']:.1f}%"
    seconds = "-" if row["seconds"] is None else f"{row['seconds']:.1f} s"
    write_line(f"{row['status']:>9} {accuracy:>7} {seconds:>8}  {row['label']}  {row['run_id']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_sweep_parser()
    args, settings = parse_with_server_settings(parser, argv)
    check_folder_flags(parser, args)
    try:
        cells = cells_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    max_runs = args.max_runs or settings.limits.runs_per_sweep
    if len(cells) > max_runs:
        parser.error(f"the grid has {len(cells)} runs, more than {max_runs}: give --max-runs {len(cells)} to run it")
    try:
        return _sweep(args, cells, settings, max_runs)
    except KeyboardInterrupt:  # during start-up (data, executor): the sweep catches its own
        print("\ninterrupted before the sweep started", file=sys.stderr)
        return EXIT_INTERRUPTED


def _sweep(args: argparse.Namespace, cells: list[Cell], settings: ServerSettings, max_runs: int) -> int:
    executor_name = args.executor or settings.executor
    data = load_data(args)
    if data is None:
        return EXIT_ERROR
    print(f"data: {data.description}; {len(cells)} runs on the {executor_name} executor", file=sys.stderr)
    try:
        workers = args.workers or settings.max_trainings
        executor = make_executor(executor_name, data, workers, args.cpus_per_job, settings.ray_address)
        # nobody watches a terminal's runs from a page: they must never count as unwatched
        limits = dataclasses.replace(settings.limits, runs_per_sweep=max_runs)
        registry = JobRegistry(data, RunStore(args.runs_dir), executor, unwatched_minutes=math.inf, limits=limits)
        try:
            return run_sweep(registry, cells, args)
        finally:
            registry.close()
    except OSError as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return EXIT_ERROR


def run_sweep(registry: JobRegistry, cells: list[Cell], args: argparse.Namespace) -> int:
    axes = varying(cells)
    sweep_id = start(registry, cells, axes, owner=None, label=args.label)
    reported: set[str] = set()
    try:
        while True:
            sweep = find(registry, sweep_id)
            for view in sweep.ended:
                if view.run_id not in reported:
                    reported.add(view.run_id)
                    row = result(view)
                    _report(row if args.json else {**row, "label": view.record.label}, args.json)
            if len(reported) == len(cells):
                break
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:  # closing the registry (the caller does) stops and saves every run
        print(
            f"\ninterrupted; sweep {sweep_id}'s runs are saved, as far as they got, in {registry.store.root}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    statuses = [view.status for view in find(registry, sweep_id).runs]
    summary = {
        "sweep_id": sweep_id,
        "runs_dir": str(registry.store.root),
        "runs": len(statuses),
        "finished": statuses.count(RunStatus.FINISHED),
        "axes": list(axes),
    }
    write_line(
        json.dumps(summary)
        if args.json
        else f"sweep {sweep_id}: {summary['finished']} of {len(statuses)} runs finished, saved in {summary['runs_dir']}"
    )
    if RunStatus.FAILED in statuses:
        return EXIT_ERROR
    return EXIT_DIVERGED if RunStatus.DIVERGED in statuses else 0


if __name__ == "__main__":
    sys.exit(main())
