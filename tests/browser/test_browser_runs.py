"""Runs belong to the server: reload, a second tab, a closed tab, another browser."""

from __future__ import annotations

import contextlib
import re
import time

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from rnn_core import RunStatus, RunStore
from rnn_core.jobs import USER_STOP
from tests.browser.conftest import ARTIFACTS, MAIN, wait_for_app

LONG_RUN = "train?hidden=16&images=10000&epochs=200"  # epochs of a few seconds; still training for minutes
RUN_IN_LINK = re.compile(r"[?&]run=(\d{8}-\d{6}-[0-9a-f]{6})")


def run_in_link(page) -> str:
    """The run id in the page's address, once the page has written it there (at the end of the
    script run that chose the run, which can come after the first progress is drawn)."""
    with contextlib.suppress(PlaywrightTimeoutError):  # the assertion below says what the address was
        page.wait_for_url(RUN_IN_LINK, timeout=30_000)  # a whole script run, on a busy machine
    match = RUN_IN_LINK.search(page.url)
    assert match, f"no run id in {page.url}"
    return match.group(1)


def press_train(page, url: str, path: str) -> None:
    page.goto(f"{url}/{path}")
    # the page drawn to its charts: a click while its first script run is still going can be lost
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(
        timeout=300_000
    )  # a fresh server's first page (Ray's: minutes)
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()


def start_training(page, url: str, path: str) -> str:
    press_train(page, url, path)
    try:
        page.get_by_text(re.compile(r"Epoch \d+ of \d+ · batch")).wait_for(timeout=60_000)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "start_training.png"), full_page=True)
        raise
    return run_in_link(page)


def open_run(page, url: str, run_id: str) -> None:
    """A fresh Runs page on the run's link: the actions start on that run."""
    page.goto(f"{url}/runs?run={run_id}")
    wait_for_app(page)
    expect(page.locator(".st-key-runs_action_run input")).to_have_value(re.compile(run_id), timeout=10_000)


def wait_until_saved(store: RunStore, run_id: str, condition, timeout: float = 120.0):
    """The run's record, once what its folder holds meets `condition`."""
    deadline = time.monotonic() + timeout
    while not condition(record := store.read(run_id)):
        assert time.monotonic() < deadline, f"run {run_id} is {record.status.value} after {record.epochs} epochs"
        time.sleep(0.3)
    return record


def wait_for_status(store: RunStore, run_id: str, status: RunStatus, timeout: float = 90.0):
    return wait_until_saved(store, run_id, lambda record: record.status == status, timeout)


def test_a_reload_mid_training_shows_the_same_live_run_which_then_finishes(page, app_server):
    run_id = start_training(page, app_server.url, "train?hidden=16&images=10000&epochs=8")
    page.reload()
    page.get_by_text(re.compile(r"Epoch \d+ of 8 · batch")).wait_for(timeout=60_000)
    assert run_in_link(page) == run_id
    record = wait_for_status(RunStore(app_server.runs_dir), run_id, RunStatus.FINISHED, timeout=180)
    assert record.epochs == 8
    page.locator(MAIN).get_by_text("Finished:").wait_for(timeout=60_000)  # the page shows the end too
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_second_tab_on_the_link_sees_the_run_and_a_closed_tab_leaves_it_training(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first = context.new_page()
    run_id = start_training(first, app_server.url, LONG_RUN)
    second = context.new_page()
    second.goto(f"{app_server.url}/train?run={run_id}")
    second.get_by_text(re.compile(r"Epoch \d+ of 200 · batch")).wait_for(
        timeout=30_000
    )  # a page load, on a busy machine
    assert second.locator(MAIN).get_by_role("button", name="Stop").is_enabled()  # the same browser may stop it
    first.close()
    second.close()
    store = RunStore(app_server.runs_dir)
    epochs = store.read(run_id).epochs
    # the run must go on with no tab open: it scores another epoch, still running
    record = wait_until_saved(store, run_id, lambda record: record.epochs > epochs)
    assert record.status == RunStatus.RUNNING
    third = context.new_page()
    third.goto(f"{app_server.url}/train?run={run_id}")
    third.get_by_text(re.compile(r"Epoch \d+ of 200 · batch")).wait_for(timeout=30_000)
    third.locator(MAIN).get_by_role("button", name="Stop").click()
    assert wait_for_status(store, run_id, RunStatus.STOPPED).reason.startswith(USER_STOP)
    context.close()


def test_another_browser_forks_on_continue_and_cannot_delete(page, browser, app_server):
    press_train(page, app_server.url, "train?hidden=8&images=500&epochs=1")
    page.locator(MAIN).get_by_text("Finished:").wait_for(timeout=60_000)
    run_id = run_in_link(page)

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    visitor = other.new_page()
    visitor.goto(f"{app_server.url}/train?run={run_id}")
    wait_for_app(visitor)
    visitor.get_by_text(f"run {run_id}").first.wait_for(timeout=10_000)
    visitor.get_by_role("button", name="Continue").click()
    visitor.wait_for_url(lambda url: run_id not in url, timeout=60_000)
    fork = run_in_link(visitor)
    store = RunStore(app_server.runs_dir)
    assert wait_for_status(store, fork, RunStatus.FINISHED).epochs == 2
    assert fork != run_id and store.read(fork).parent == {"run_id": run_id, "epoch": 1}
    assert store.read(run_id).epochs == 1, "the original run is left as it was"

    open_run(visitor, app_server.url, run_id)
    assert visitor.get_by_role("button", name="Delete run").is_disabled()
    open_run(page, app_server.url, run_id)  # the owner may delete it
    assert page.get_by_role("button", name="Delete run").is_enabled()
    other.close()


def test_closing_a_tab_that_trains_the_largest_model_never_blocks_the_server(browser, app_server):
    context = browser.new_context()
    page = context.new_page()
    press_train(page, app_server.url, "train?hidden=512&layers=3&images=all&epochs=1")
    run_id = run_in_link(page)
    wait_for_status(RunStore(app_server.runs_dir), run_id, RunStatus.RUNNING)
    page.close()  # the tab; the browser (its cookie) stays, to stop the run after
    # it answers while the closed tab's session is let go (how fast: bench/bench_browser.py)
    assert all(app_server.healthy(timeout=30) for _ in range(10)), "the server stopped answering"
    tab = context.new_page()
    tab.goto(f"{app_server.url}/train?run={run_id}")
    tab.locator(MAIN).get_by_role("button", name="Stop").click(timeout=120_000)
    # felt between two chunks of 2,000 test images, even while the untrained model is scored
    wait_for_status(RunStore(app_server.runs_dir), run_id, RunStatus.STOPPED, timeout=300)
    context.close()
