"""The server killed in the middle of a run, then started again: nothing is lost or corrupt."""

from rnn_core import RunStore
from tests.browser.conftest import ARTIFACTS, wait_for_app
from tests.browser.server import AppServer
from tests.browser.test_browser_train import wait_for_epochs


def test_a_server_killed_mid_run_restarts_with_finished_runs_and_the_interrupted_one(page, app_server):
    page.goto(f"{app_server.url}/train?hidden=8&images=500&epochs=2")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished:").wait_for(timeout=60_000)

    page.goto(f"{app_server.url}/train?hidden=16&images=20000&epochs=200")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(" of 200 · batch").wait_for(timeout=60_000)
    wait_for_epochs(page, 2)
    app_server.kill()

    restarted = AppServer(app_server.runs_dir, ARTIFACTS / "server-restarted.log").start()
    try:
        store = RunStore(app_server.runs_dir)
        runs, problems = store.scan()
        assert problems == []
        statuses = sorted(record.status.value for record in runs)
        assert statuses == ["finished", "interrupted"]
        for record in runs:
            assert store.checkpoint(record.run_id).history == record.history  # every checkpoint loads whole

        page.goto(f"{restarted.url}/train")
        wait_for_app(page)
        # the run table draws on a canvas; its accessible copy carries the cells' text
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
                .some(table => table.textContent.includes('interrupted') && table.textContent.includes('finished'))""",
            timeout=30_000,
        )
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        restarted.stop()
