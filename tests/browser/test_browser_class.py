"""What a class meets on a shared server: a second click on Train starts nothing unasked, a new
browser is shown a featured or ordinary run (never a stranger's sweep cell) and told why, a
stopped sweep draws no result it does not have. (Nothing on a phone is cut off unreadably:
test_browser_axe.py.)"""

from __future__ import annotations

import time

from rnn_core import RunStatus, RunStore
from rnn_core.registry import FEATURED_RUN, NEWEST_RUN
from rnn_core.runs import SweepTag
from tests.browser.conftest import MAIN, wait_for_app, wait_for_drawn
from tests.kit import record, trained_run

SIDEBAR = '[data-testid="stSidebar"]'


def test_a_second_click_on_train_starts_no_second_run(page, app_server):
    store = RunStore(app_server.runs_dir)
    before = set(store.folder_names())
    page.goto(f"{app_server.url}/train?hidden=8&images=2000&epochs=200")
    wait_for_app(page)
    page.locator(MAIN).get_by_role("button", name="Train", exact=True).dblclick()  # an eager student
    alongside = page.locator(MAIN).get_by_role("button", name="Start another run alongside")
    alongside.wait_for(timeout=60_000)  # the button says what it would do now
    started = set(store.folder_names()) - before
    assert len(started) == 1, started
    page.locator(MAIN).get_by_role("button", name="Stop").click()
    [run_id] = started
    deadline = time.monotonic() + 120
    while record(app_server.runs_dir, run_id).status.live:
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_a_new_browser_is_shown_the_featured_run_else_one_of_no_sweep_and_told_which(
    page, app_server, saved_run, real_mnist
):
    sweep_cell = trained_run(
        app_server.runs_dir,
        real_mnist,
        "a stranger's sweep",
        sweep=SweepTag("20261205-000000-abcdef", ("hidden_size",)),
    )
    store = RunStore(app_server.runs_dir)

    def first_look() -> str:
        page.context.clear_cookies()  # a browser the app has not met
        page.goto(f"{app_server.url}/test")
        wait_for_drawn(page, 0)
        page.locator(SIDEBAR).get_by_text("No run chosen").wait_for(timeout=60_000)
        # the page has its model (the side panel is drawn first), whose line names its run
        page.locator(MAIN).get_by_text("Testing ").first.wait_for(timeout=60_000)
        return page.locator(SIDEBAR).inner_text() + page.locator(MAIN).inner_text()

    seen = first_look()
    assert sweep_cell not in seen and NEWEST_RUN in seen
    store.feature(sweep_cell)  # what the teacher's button on the Runs page does
    try:
        time.sleep(1.5)  # the server's index looks at the runs folder once a second
        seen = first_look()
        assert sweep_cell in seen and FEATURED_RUN in seen
    finally:
        store.feature(None)


def test_a_stopped_sweep_draws_no_result_and_says_why(page, app_server, real_mnist):
    tag = SweepTag("20261205-000001-abcdef", ("hidden_size",))
    store = RunStore(app_server.runs_dir)
    for hidden in (4, 8):
        run_id = trained_run(app_server.runs_dir, real_mnist, "cut short", sweep=tag, hidden_size=hidden)
        store.open(run_id).finish(RunStatus.STOPPED, "stopped by the user", record(app_server.runs_dir, run_id).history)
    page.goto(f"{app_server.url}/sweep?sweep={tag.sweep_id}")
    page.get_by_text("Not drawn: 2 stopped").wait_for(timeout=60_000)
    assert page.locator(f'{MAIN} [data-testid="stVegaLiteChart"]').count() == 0
