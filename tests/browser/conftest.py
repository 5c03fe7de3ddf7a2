"""Real-browser fixtures: the app served on a free local port, driven by Debian's Chromium.

On a failure the page's screenshot and the server log are saved under test-artifacts/ and
the log's tail is printed, so CI's output shows what the browser saw.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from rnn_core import RunStore, Trainer
from rnn_core.config import configs
from tests.browser.server import REPO, AppServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
LOG_PROBLEM = re.compile(r"Warning|WARNING|Traceback")


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, request):
    _require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"server-{request.module.__name__.rsplit('.', 1)[-1]}.log"
    log_path.unlink(missing_ok=True)
    server = AppServer(tmp_path_factory.mktemp("runs"), log_path).start()
    yield server
    # A warning (torch's, pandas', Streamlit's) or a traceback while serving is a fault the page
    # may hide. What a script run still going at the stop logs is not: the stop cut it short
    # (pyarrow, say, can no longer start a thread in an interpreter that is shutting down).
    served = log_path.read_text(errors="replace")
    server.stop()
    problems = [line for line in served.splitlines() if LOG_PROBLEM.search(line)]
    assert not problems, f"the server log of {log_path.name} has warnings or tracebacks:\n" + "\n".join(problems[:20])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def page(browser, app_server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    if getattr(request.node, "failed_call", False):
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as err:  # the page may be what broke; the log still tells
            print(f"no screenshot: {err}")
        shutil.copy(app_server.log_path, ARTIFACTS / f"{request.node.name}.server.log")
        print(f"screenshot: {shot}\n--- server log (tail) ---\n{app_server.log_tail()}")
    context.close()


# The page itself: Streamlit's own toolbar has a Stop button too (for a slow script run).
MAIN = '[data-testid="stMain"]'


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Waits until Streamlit has finished running the script for the current page."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def wait_for_drawn(page, charts: int) -> None:
    """Until the page is up, its pictures loaded and at least `charts` charts drawn."""
    page.wait_for_selector("h1", timeout=120_000)
    wait_for_app(page, timeout=120_000)
    page.wait_for_function(
        "() => [...document.images].every(image => image.complete)"
        " && [...document.querySelectorAll('[data-testid=stVegaLiteChart]')].filter(c => "
        f"c.querySelector('canvas, svg')).length >= {charts}",
        timeout=90_000,
    )


def draw_stroke(page, points) -> None:
    """One stroke on the drawing canvas, through points given as fractions of its size."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=10)
    page.mouse.up()


def save_trained_run(app_server, data, label: str, **settings) -> str:
    """A run trained here, saved in the server's runs folder; its id. Small by default: LSTM 20,
    Adam, one epoch of 3,000 images (about 80% on the test set)."""
    small = {"hidden_size": 20, "epochs": 1, "batch_size": 50, "learning_rate": 3e-3, "optimizer": "Adam"}
    model, train = configs({**small, "train_limit": 3000, "device": "cpu", **settings})
    run = RunStore(app_server.runs_dir).create(model, train, label=label)
    trainer = Trainer(data, model, train)
    trainer.run(on_event=run.record(trainer))
    return run.run_id


@pytest.fixture(scope="module")
def saved_run(app_server, real_mnist) -> str:
    return save_trained_run(app_server, real_mnist, "browser test")
