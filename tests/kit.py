"""The tests' shared kit: a trained run in a runs folder, a page opened and a button pressed
under AppTest, and what a page says as data (the kind of each message, the run on show and
its status on disk) rather than as its wording."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rnn_core import RunStore, Trainer
from rnn_core.config import ModelConfig, TrainConfig, configs
from rnn_core.data import MnistData
from rnn_core.runs import RunRecord, SweepTag

# Small and quick on the tiny synthetic data; a test names what it needs to differ.
SMALL_RUN = {"hidden_size": 6, "epochs": 1, "batch_size": 20, "device": "cpu"}
SETTINGS = {field.name for config in (ModelConfig, TrainConfig) for field in dataclasses.fields(config)}


def trained_run(runs_dir: Path, data: MnistData, label: str = "test", sweep: SweepTag | None = None, **settings) -> str:
    """A run trained to its end through its folder's recorder, as every executor trains one;
    its id. `settings` override `SMALL_RUN` by config field name (`hidden_size=32`); `sweep`
    makes it one cell of a sweep."""
    if unknown := set(settings) - SETTINGS:
        raise TypeError(f"no such setting: {sorted(unknown)}")
    model, train = configs({**SMALL_RUN, **settings})
    run = RunStore(runs_dir).create(model, train, label=label, sweep=sweep)
    trainer = Trainer(data, model, train)
    trainer.run(on_event=run.record(trainer))
    return run.run_id


def record(runs_dir: Path, run_id: str) -> RunRecord:
    """A run as its folder holds it: status, reason, history."""
    return RunStore(runs_dir).read(run_id)


def open_page(page: str, token: str | None = None, **params: str) -> AppTest:
    """A fresh tab on one of the dashboard's pages (`"train"`), run once; `token` stands for
    the browser's cookie."""
    from tests.conftest import new_app

    at = new_app()
    at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(params)
    if token:
        at.session_state["browser_token"] = token
    return at.run()


def press(at: AppTest, label: str) -> AppTest:
    """Clicks the button with this label and runs the script again, which must not fail."""
    next(button for button in at.button if button.label == label).click().run()
    assert not at.exception
    return at


def busy(at: AppTest) -> bool:
    """The run on show is training (or waiting for a slot): its progress bar is up."""
    return len(at.get("progress")) > 0


def rerun_until_idle(at: AppTest, timeout: float = 120.0) -> AppTest:
    """Runs the script again until the run on show is no longer busy."""
    deadline = time.monotonic() + timeout
    while busy(at):
        assert time.monotonic() < deadline, "the training did not end"
        time.sleep(0.2)
        at.run()
        assert not at.exception
    return at


@dataclass(frozen=True)
class Message:
    """One of the page's messages: its kind (success, info, warning, error) and its text."""

    kind: str
    text: str


def messages(at: AppTest) -> list[Message]:
    """The page's messages in order of kind, so a test asks "is there an error naming X"
    rather than matching the whole sentence."""
    return [
        Message(kind, element.value)
        for kind in ("success", "info", "warning", "error")
        for element in getattr(at, kind)
    ]


def shown_run(at: AppTest) -> str | None:
    """The run the page shows, as its link names it."""
    return at.query_params.get("run")


@dataclass(frozen=True)
class Process:
    parent: int
    command: str  # its command line, arguments joined by spaces
    zombie: bool  # ended, only waiting to be reaped


def processes() -> dict[int, Process]:
    """Every process on the machine, by pid, read from /proc (one that ends meanwhile is left out)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError):
            continue
        found[int(stat.parent.name)] = Process(int(parent), command, state == "Z")
    return found
