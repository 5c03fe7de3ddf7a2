"""The server killed in the middle of a run, then started again: nothing is lost or corrupt."""

import signal
import subprocess

import pytest

from rnn_core import RunStore, Trainer
from rnn_core.history import RunStatus
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


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_sigterm_mid_training_saves_the_run_continuable_and_the_server_ends_within_5_s(
    browser, tmp_path, executor, real_mnist
):
    if executor == "ray":
        pytest.importorskip("ray")
    ARTIFACTS.mkdir(exist_ok=True)
    runs_dir, log = tmp_path / "runs", ARTIFACTS / f"server-sigterm-{executor}.log"
    log.unlink(missing_ok=True)
    ray_before = ray_processes()
    server = AppServer(runs_dir, log, env={"RNN_EXECUTOR": executor}).start()
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/train?hidden=16&images=20000&epochs=200")
        wait_for_app(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(" of 200 · batch").wait_for(timeout=120_000)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(5)  # subprocess.TimeoutExpired if it is still there
    finally:
        page.close()
        server.kill()
    assert server.process.returncode == 0, server.log_tail()
    [record], problems = RunStore(runs_dir).scan()
    assert problems == [] and record.status == RunStatus.STOPPED
    assert "because the server shut down" in record.reason
    checkpoint = RunStore(runs_dir).checkpoint(record.run_id)
    assert checkpoint.position is not None  # where the epoch was cut: the run goes on exactly
    assert Trainer.from_checkpoint(real_mnist, checkpoint).epochs_done == record.history[-1].epoch
    assert ray_processes() <= ray_before, "the server's Ray cluster outlived it"


def ray_processes() -> set[int]:
    """The Ray cluster processes on this machine (the head's store and scheduler, the workers)."""
    found = subprocess.run(["pgrep", "-f", "gcs_server|raylet|ray::"], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}
