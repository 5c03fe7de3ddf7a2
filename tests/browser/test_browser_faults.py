"""What needs a server of its own: a link opened first on a freshly started server, a run no
page watches, and the server ended by SIGTERM mid-training (on each executor). One server
(`own_server`) serves the first three, in this order, and SIGTERM ends it; the Ray one is the
run's third and last start. None uses the shared server, so under `make test` these run on the
Ray tests' worker, beside the other browser tests (tests/conftest.py)."""

import re
import signal
import time

import pytest

from rnn_core import RunStore, Trainer
from rnn_core.history import RunStatus
from rnn_core.registry import SHUTDOWN_REASON, unwatched_reason
from tests.browser.conftest import ARTIFACTS, wait_for_app
from tests.browser.server import AppServer
from tests.browser.test_browser_runs import LONG_RUN, start_training, wait_for_status
from tests.kit import processes

RAY_PROCESS = re.compile(r"gcs_server|raylet|ray::")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A local-executor server that stops a run no page has watched for 3 seconds."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "server-own.log"
    log.unlink(missing_ok=True)
    server = AppServer(tmp_path_factory.mktemp("runs"), log, {"RNN_UNWATCHED_MINUTES": "0.05"})
    yield server.start()
    server.kill()


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app_shell(browser, own_server):
    page = browser.new_page()
    page.goto(f"{own_server.url}/train?hidden=16&lr=0.03")
    wait_for_app(page, timeout=180_000)  # the first page of a server loads MNIST and torch
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Data: MNIST, 60,000 train").wait_for(timeout=60_000)
    assert sidebar.get_by_role("link", name="Explore").count() == 1
    # the link's settings reach the controls
    page.locator('[data-testid="stSliderThumbValue"]', has_text="16").wait_for(timeout=30_000)
    page.locator('[data-testid="stSliderThumbValue"]', has_text="0.03").wait_for(timeout=30_000)
    page.close()


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


# A server that ends at once on SIGTERM takes a second or two; one that waits for its training
# would take hours: the bound tells the two apart on however loaded a machine.
ENDS_WITHIN_S = 30


def sigterm_mid_training(browser, server: AppServer, real_mnist) -> set[int]:
    """A training started in the browser, SIGTERM: the process ends and the run is saved as
    stopped, with where its epoch was cut, so that it goes on exactly. The Ray processes the
    server had started, as it was signalled."""
    page = browser.new_page()
    try:
        run_id = start_training(page, server.url, "train?hidden=16&images=20000&epochs=200")
        its_ray = ray_processes_under(server.process.pid)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(ENDS_WITHIN_S)  # subprocess.TimeoutExpired if it is still there
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
    return its_ray


def test_sigterm_mid_training_on_the_local_executor_saves_the_run_and_ends_at_once(browser, own_server, real_mnist):
    sigterm_mid_training(browser, own_server, real_mnist)


def test_sigterm_mid_training_on_ray_saves_the_run_and_leaves_no_ray_process(browser, tmp_path, real_mnist):
    pytest.importorskip("ray")
    log = ARTIFACTS / "server-sigterm-ray.log"
    log.unlink(missing_ok=True)
    server = AppServer(tmp_path / "runs", log, env={"RNN_EXECUTOR": "ray"}).start()
    its_ray = sigterm_mid_training(browser, server, real_mnist)
    assert its_ray, "the server trained on Ray, yet no Ray process of its own was found"
    # the cluster's processes end on their own once the server has gone: a moment, not at once
    deadline = time.monotonic() + 60
    while left := {pid for pid, process in processes().items() if pid in its_ray and not process.zombie}:
        assert time.monotonic() < deadline, f"the server's Ray cluster outlived it: {left}"
        time.sleep(0.5)


def ray_processes_under(ancestor: int) -> set[int]:
    """The Ray processes (the head's store and scheduler, the workers) started by `ancestor` or
    its descendants: not those of another Ray cluster on the machine."""
    found = processes()

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = found[pid].parent if pid in found else 0
            if pid == ancestor:
                return True
        return False

    return {pid for pid, process in found.items() if RAY_PROCESS.search(process.command) and descends(pid)}
