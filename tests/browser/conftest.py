"""Real-browser fixtures: the app served on a free local port, driven by Debian's Chromium.

Every test shares one served app (`app_server`, started once per run); a test never counts on
an empty runs folder (it opens its own run by its link), and it leaves no training behind
and no warning in the server's log (checked after each test). A test that must end a server
starts its own; `tests/conftest.py` counts the starts in a run, and the run fails past 3.

On a failure the page's screenshot and the server log are saved under test-artifacts/ and
the log's tail is printed, so CI's output shows what the browser saw.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from rnn_core import RunStatus, RunStore
from tests.browser.server import REPO, AppServer
from tests.kit import trained_run

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


ENDED = {RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.FAILED, RunStatus.INTERRUPTED}


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    _require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "server.log"
    log_path.unlink(missing_ok=True)
    server = AppServer(tmp_path_factory.mktemp("runs"), log_path).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def shared_server_left_clean(request):
    """After a test on the shared server: its runs have ended (a test stops what it starts, or
    waits for it), so the next test finds every training slot free; and the server logged no
    warning or traceback while it ran (torch's, pandas', Streamlit's: faults a page may hide)."""
    if "app_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("app_server")
    logged_before = server.log_path.stat().st_size
    yield
    if getattr(request.node, "failed_call", False):
        return  # what failed is said already
    store = RunStore(server.runs_dir)
    deadline = time.monotonic() + 120
    while busy := [record.run_id for record in store.scan()[0] if record.status not in ENDED | {RunStatus.UPLOADED}]:
        assert time.monotonic() < deadline, f"the test left runs training on the shared server: {busy}"
        time.sleep(0.5)
    with open(server.log_path, "rb") as log:
        log.seek(logged_before)
        logged = log.read().decode(errors="replace")
    problems = [line for line in logged.splitlines() if LOG_PROBLEM.search(line)]
    assert not problems, "the server logged warnings or tracebacks during the test:\n" + "\n".join(problems[:20])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


class ReusedTab:
    """One browser tab that the tests take in turn, each as a new browser would be: no cookie
    (so no owner token of an earlier test's), its own window size, and the app's session
    closed after it (the tab goes back to a blank page, as closing it would).

    Opening a tab costs Chromium a renderer process and the app's scripts compiled again: a
    Train page took 4.0 CPU-seconds in a new tab and 1.8 in this one (measured with six loads
    each), about 2 CPU-s on each of 40-odd tests."""

    def __init__(self, browser, **options):
        self.viewport = options["viewport"]
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()

    def take(self):
        if self.page.is_closed():
            self.page = self.context.new_page()
        self.context.clear_cookies()
        self.page.set_viewport_size(self.viewport)
        return self.page

    def give_back(self) -> None:
        try:
            self.page.goto("about:blank")
        except PlaywrightError:  # a tab that broke: the next test gets a new one
            self.page.close()


@pytest.fixture(scope="session")
def desktop_tab(browser):
    tab = ReusedTab(browser, viewport=DESKTOP)
    yield tab
    tab.context.close()


@pytest.fixture(scope="session")
def phone_tab(browser):
    tab = ReusedTab(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield tab
    tab.context.close()


def _lent(tab: ReusedTab, app_server, request):
    page = tab.take()
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
    tab.give_back()


@pytest.fixture
def page(desktop_tab, app_server, request):
    """A desktop browser's tab (1400 x 1000), new to the app."""
    yield from _lent(desktop_tab, app_server, request)


@pytest.fixture
def phone(phone_tab, app_server, request):
    """A phone's tab (390 x 844, twice as many pixels, touch), new to the app."""
    yield from _lent(phone_tab, app_server, request)


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
    """A run trained here, moved into the server's runs folder once finished; its id. Small by
    default: LSTM 20, Adam, one epoch of 3,000 images (about 80% on the test set).

    Trained in the server's folder, the server saw it half-written: its index looks at the
    folder once a second, and a page opened just after the training ended could still read
    a running run with no epoch (the Test page, which does not poll, then kept saying it had
    no trained epoch). A folder moved in whole is read whole, at once when a link names it."""
    small = {"hidden_size": 20, "batch_size": 50, "learning_rate": 3e-3, "optimizer": "Adam", "train_limit": 3000}
    with tempfile.TemporaryDirectory(dir=app_server.runs_dir.parent) as staging:  # the same disk: a rename
        run_id = trained_run(Path(staging), data, label, **{**small, **settings})
        app_server.runs_dir.mkdir(parents=True, exist_ok=True)
        (Path(staging) / run_id).rename(app_server.runs_dir / run_id)
    return run_id


@pytest.fixture(scope="session")
def saved_run(app_server, real_mnist) -> str:
    """One finished run that the tests only read (none continues, features or deletes it)."""
    return save_trained_run(app_server, real_mnist, "browser test")
