"""Headless training: `python -m rnn_core.train --preset notebook`.

Does the teaching notebook's whole job from a terminal: loads MNIST, trains, scores the test
set before training and after every epoch, and saves the run. `--json` prints one JSON
object per scored epoch, then one with the run folder.

Exit status: 0 trained to the end, 1 an error (bad data, a disk that cannot be written),
2 a usage error, 3 the run diverged, 130 interrupted (also during start-up). Errors are one
line on stderr, and a run that fails after its folder was made is marked failed. A closed
stdout (`| head -1`) is not a failure: training goes on and the run is saved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from .config import PRESETS, SETTINGS, ModelConfig, Setting, TrainConfig, configs
from .data import MnistData, MnistFileError, MnistUnavailable, load_mnist
from .history import EpochRecord, RunStatus
from .runs import Run, RunStore
from .server_settings import ServerSettings, SettingsError
from .trainer import BatchEvent, EndEvent, Event, Trainer

EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 3, 130
LINK_LOOP = "a link that leads back to itself"  # a folder flag naming one: a usage error
TABLE_HEADER = f"{'epoch':>6} {'train loss':>11} {'test loss':>10} {'accuracy':>9} {'seconds':>8} {'img/s':>8}"


def flag_type(declared: Setting, lists: bool) -> Callable[[str], Any]:
    """An argparse type that reads a setting's value, or with `lists` a comma-separated list
    of them, and says what is allowed when a value is not."""

    def parse(text: str) -> Any:
        try:
            values = [declared.parse(part) for part in text.split(",")] if lists else declared.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None
        return values

    return parse


def flag_help(declared: Setting) -> str:
    default = declared.format(declared.default)
    return f"{declared.help} Allowed: {declared.allowed()}. Default: the preset's (notebook: {default})."


def build_parser(
    prog: str = "python -m rnn_core.train", description: str = __doc__.splitlines()[0], lists: bool = False
) -> argparse.ArgumentParser:
    """The flags of a training. With `lists`, the preset and every setting take a
    comma-separated list of values (a sweep's grid), each parsed to a list."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="exit status: 0 trained to the end, 1 an error, 2 a usage error, 3 diverged, 130 interrupted",
    )
    presets = " ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())
    parser.add_argument(
        "--preset",
        type=preset_type(lists),
        default=["notebook"] if lists else "notebook",
        metavar="NAME[,...]" if lists else "NAME",
        help=f"the starting settings{', or a list of them' if lists else ''}; the flags below override them "
        f"(default: notebook). {presets}".replace("%", "%%"),  # argparse reads % as a format
    )
    for declared in SETTINGS:
        parser.add_argument(
            "--" + declared.name.replace("_", "-"),
            type=flag_type(declared, lists),
            default=None,
            metavar=declared.name.upper() + ("[,...]" if lists else ""),
            help=flag_help(declared).replace("%", "%%"),  # argparse reads % as a format
        )
    parser.add_argument("--data-dir", help="data root, torchvision layout (default: $RNN_DATA_DIR, else ./data)")
    parser.add_argument("--mnist-dir", help="folder with the four IDX files (default: $MNIST_DIR)")
    parser.add_argument("--no-download", action="store_true", help="never try torchvision's download")
    parser.add_argument("--runs-dir", help="where runs are saved (default: $RNN_RUNS_DIR, else ./runs)")
    parser.add_argument("--label", default="", help="a name to remember this run by")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, for scripts")
    return parser


def preset_type(lists: bool) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        names = text.split(",") if lists else [text]
        wrong = [name for name in names if name not in PRESETS]
        if wrong:
            raise argparse.ArgumentTypeError(f"{wrong[0]!r} is not one of {', '.join(PRESETS)}")
        return names if lists else text

    return parse


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """The preset's settings with the flags given on top."""
    overrides = {declared.name: getattr(args, declared.name) for declared in SETTINGS}
    values = {
        **PRESETS[args.preset].values(),
        **{name: value for name, value in overrides.items() if value is not None},
    }
    return configs(values)


def _format_row(row: dict) -> str:
    train_loss = "-" if row["train_loss"] is None else f"{row['train_loss']:.4f}"
    speed = "-" if row["images_per_second"] is None else f"{row['images_per_second']:,.0f}"
    return (
        f"{row['epoch']:>6} {train_loss:>11} {row['test_loss']:>10.4f} "
        f"{row['test_accuracy']:>8.1f}% {row['train_seconds']:>8.1f} {speed:>8}"
    )


class ConsoleReporter:
    """Turns training events into terminal output: JSON lines, or a table with a progress bar
    for the epoch in progress."""

    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None):
        # the streams are looked up now, not at import, so a redirected sys.stdout is used
        self.as_json, self.out, self.err = as_json, out or sys.stdout, err or sys.stderr
        self.bar: tqdm | None = None
        if not as_json:
            write_line(TABLE_HEADER, self.out)

    def __call__(self, event: Event) -> None:
        if isinstance(event, BatchEvent):
            if not self.as_json:
                self._show_progress(event)
            return
        self._close_bar()
        if isinstance(event, EpochRecord):
            row = event.as_dict()
            write_line(json.dumps(row) if self.as_json else _format_row(row), self.out)
        elif isinstance(event, EndEvent) and not self.as_json:
            write_line(f"{event.status}: {event.reason}", self.out)

    def _show_progress(self, event: BatchEvent) -> None:
        description = f"epoch {event.epoch_index}"
        if self.bar is None or self.bar.desc != description:
            self._close_bar()
            self.bar = tqdm(total=event.batches, desc=description, unit="batch", file=self.err, leave=False)
        self.bar.set_postfix(loss=f"{event.loss:.4f}", refresh=False)
        self.bar.update(event.batch - self.bar.n)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def write_line(text: str, out: TextIO | None = None) -> None:
    """Print a line of results. If the reader has gone (`| head -1` closed the pipe), the rest
    of the output is dropped, not the run: stdout is pointed at /dev/null, once, with a note."""
    out = out or sys.stdout
    try:
        print(text, file=out, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        print("note: stdout was closed; training goes on and the run is saved", file=sys.stderr)


def check_folder_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A folder flag naming a file, or a link that leads back to itself, is a usage error:
    otherwise MNIST would silently come from the bundled sample, or Python would raise deep
    inside."""
    for flag in ("data_dir", "mnist_dir", "runs_dir"):
        value = getattr(args, flag)
        if not value:
            continue
        name = "--" + flag.replace("_", "-")
        try:
            Path(value).resolve()
        except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a symlink loop
            parser.error(f"{name} {value}: {LINK_LOOP}")
        if Path(value).exists() and not Path(value).is_dir():
            parser.error(f"{name} {value}: a file, not a folder")


def describe(err: OSError) -> str:
    return f"cannot use {err.filename}: {err.strerror}" if err.filename else err.strerror or str(err)


def parse_with_server_settings(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, ServerSettings]:
    """The flags, with the folders the flags leave out taken from the server's settings (the
    environment); a setting that cannot be used ends the command with the line naming it."""
    try:
        settings = ServerSettings.from_environment()
    except SettingsError as err:
        parser.error(str(err))
    parser.set_defaults(data_dir=settings.data_dir, mnist_dir=settings.mnist_dir, runs_dir=settings.runs_dir)
    return parser.parse_args(argv), settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, _ = parse_with_server_settings(parser, argv)
    check_folder_flags(parser, args)
    try:
        return train(parser, args)
    except OSError as err:  # a runs folder that cannot be made or written, a full disk
        print(f"error: {describe(err)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # during start-up (data, model): training catches its own
        print("\ninterrupted before training started", file=sys.stderr)
        return EXIT_INTERRUPTED


def load_data(args: argparse.Namespace) -> MnistData | None:
    """MNIST as the data flags say, or None after one line on stderr saying why not."""
    try:
        return load_mnist(args.data_dir, args.mnist_dir, allow_download=not args.no_download)
    except (MnistFileError, MnistUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        model_config, train_config = configs_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    data = load_data(args)
    if data is None:
        return EXIT_ERROR
    print(f"data: {data.description}", file=sys.stderr)
    try:
        trainer = Trainer(data, model_config, train_config)
    except ValueError as err:
        parser.error(str(err))
    # Only now, with data and settings known to be good, does the run get a folder.
    run = RunStore(args.runs_dir).create(model_config, train_config, label=args.label, status=RunStatus.RUNNING)
    reporter = ConsoleReporter(args.json)
    try:
        end = trainer.run(on_event=run.record(trainer, reporter))
    except KeyboardInterrupt:
        run.finish(RunStatus.INTERRUPTED, "interrupted from the keyboard")
        print(f"\ninterrupted; epochs so far are saved in {run.folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:
        print(f"\nerror: {describe(err)}; {mark_failed(run, err)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # a bug: its traceback follows, but the run must not stay "running"
        mark_failed(run, err)
        raise
    if args.json:
        write_line(json.dumps({"run_dir": str(run.folder), "status": end.status.value, "reason": end.reason}))
    else:
        write_line(f"run saved in {run.folder}")
    return EXIT_DIVERGED if end.status == RunStatus.DIVERGED else 0


def mark_failed(run: Run, err: BaseException) -> str:
    """Record the failure in the run's folder; says what became of the run."""
    try:
        run.finish(RunStatus.FAILED, f"{type(err).__name__}: {err}")
    except OSError:  # the disk that failed the run may refuse this too
        return f"run {run.run_id} could not be marked failed (it will read as interrupted)"
    return f"run {run.run_id} is marked failed"


if __name__ == "__main__":
    sys.exit(main())
