"""Closing the browser tab stops the training and keeps its run, saved as stopped."""

import time

from rnn_core.runs import RunStore
from tests.browser.conftest import wait_for_app


def test_closing_the_tab_stops_the_training_and_saves_the_run_as_stopped(browser, app_server):
    store = RunStore(app_server.runs_dir)
    context = browser.new_context()
    page = context.new_page()
    page.goto(app_server.url)
    wait_for_app(page)
    page.goto(f"{app_server.url}/train?hidden=16&epochs=200")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Epoch 1 of 200").wait_for(timeout=60_000)
    [run_id] = store.list_runs()["run_id"]
    context.close()
    deadline = time.monotonic() + 60
    while (info := store.read(run_id)[0])["status"] != "stopped":
        assert time.monotonic() < deadline, f"the run is still {info['status']} a minute after the tab closed"
        time.sleep(0.5)
    history = store.read(run_id)[1]
    assert history[-1]["partial"] is True and history[-1]["epoch"] < 200
