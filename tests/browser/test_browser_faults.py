"""What needs a server of its own: a link opened first on a freshly started server, a run no
page watches, and the server ended by SIGTERM mid-training (on each executor). One server
(`own_server`) serves the first three, in this order, and SIGTERM ends it; the Ray one is the
run's third and last start."""

import signal
import subprocess
import time

import pytest

from rnn_core import RunStore, Trainer
from rnn_core.history import RunStatus
from rnn_core.registry import SHUTDOWN_REASON, unwatched_reason
from tests.browser.conftest import ARTIFACTS, wait_for_app
from tests.browser.server import AppServer
from tests.browser.test_browser_runs import LONG_RUN, start_training, wait_for_status


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A local-executor server that stops a run no page has watched for 3 seconds."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "server-own.log"
    log.unlink(missing_ok=True)
    server = AppServer(tmp_path_factory.mktemp("runs"), log, {"RNN_UNWATCHED_MINUTES": "0.05"})
    yield server.start()
    server.kill()


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app_shell(page, own_server):
    page.goto(f"{own_server.url}/train?hidden=16&lr=0.03")
    wait_for_app(page, timeout=180_000)  # the first page of a server loads MNIST and torch
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Data: MNIST, 60,000 train").wait_for(timeout=60_000)
    assert sidebar.get_by_role("link", name="Explore").count() == 1
    # the link's settings reach the controls
    page.locator('[data-testid="stSliderThumbValue"]', has_text="16").wait_for(timeout=30_000)
    page.locator('[data-testid="stSliderThumbValue"]', has_text="0.03").wait_for(timeout=30_000)


def test_a_run_nobody_watches_is_stopped_and_saved_with_the_reason(browser, own_server):
    context = browser.new_context()
    page = context.new_page()
    run_id = start_training(page, own_server.url, LONG_RUN)
    store = RunStore(own_server.runs_dir)
    page.wait_for_timeout(5_000)  # watched all along: still training
    assert store.read(run_id).status == RunStatus.RUNNING
    context.close()
    record = wait_for_status(store, run_id, RunStatus.STOPPED, timeout=60)
    assert unwatched_reason(3) in record.reason  # RNN_UNWATCHED_MINUTES of this server


def sigterm_mid_training(browser, server: AppServer, real_mnist) -> None:
    """A training started in the browser, SIGTERM: the process ends within 5 s and the run is
    saved as stopped, with where its epoch was cut, so that it goes on exactly."""
    page = browser.new_page()
    try:
        run_id = start_training(page, server.url, "train?hidden=16&images=20000&epochs=200")
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(5)  # subprocess.TimeoutExpired if it is still there
    finally:
        page.close()
        server.kill()
    assert server.process.returncode == 0, server.log_tail()
    store = RunStore(server.runs_dir)
    record = store.read(run_id)
    assert record.status == RunStatus.STOPPED and SHUTDOWN_REASON in record.reason
    checkpoint = store.checkpoint(run_id)
    assert checkpoint.position is not None  # where the epoch was cut: the run goes on exactly
    assert Trainer.from_checkpoint(real_mnist, checkpoint).epochs_done == record.history[-1].epoch


def test_sigterm_mid_training_on_the_local_executor_saves_the_run_and_ends_within_5_s(browser, own_server, real_mnist):
    sigterm_mid_training(browser, own_server, real_mnist)


def test_sigterm_mid_training_on_ray_saves_the_run_and_leaves_no_ray_process(browser, tmp_path, real_mnist):
    pytest.importorskip("ray")
    log = ARTIFACTS / "server-sigterm-ray.log"
    log.unlink(missing_ok=True)
    ray_before = ray_processes()
    server = AppServer(tmp_path / "runs", log, env={"RNN_EXECUTOR": "ray"}).start()
    sigterm_mid_training(browser, server, real_mnist)
    # the cluster's processes end on their own once the server has gone: a moment, not at once
    deadline = time.monotonic() + 60
    while not ray_processes() <= ray_before:
        assert time.monotonic() < deadline, f"the server's Ray cluster outlived it: {ray_processes() - ray_before}"
        time.sleep(0.5)


def ray_processes() -> set[int]:
    """The Ray cluster processes on this machine (the head's store and scheduler, the workers)."""
    found = subprocess.run(["pgrep", "-f", "gcs_server|raylet|ray::"], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}
