"""Training in a real browser: live charts, Stop, page switches while training, Continue."""

import math
import time

from tests.browser.conftest import MAIN, wait_for_app

# Long enough to still be training when the test stops it; small enough to be quick per epoch.
LONG_RUN = "train?hidden=16&images=all&epochs=200"


def epochs_trained(page) -> float:
    metric = page.locator('[data-testid="stMetric"]', has_text="Epochs trained")
    return float(metric.locator('[data-testid="stMetricValue"]').inner_text())


def wait_for_epochs(page, at_least: float, timeout: float = 90_000) -> None:
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Epochs trained')
                  && Number(m.querySelector('[data-testid="stMetricValue"]').innerText) >= n)""",
        arg=at_least,
        timeout=timeout,
    )


def loss_chart(page):
    return page.locator('[data-testid="stVegaLiteChart"]').first


def test_train_shows_live_charts_survives_page_switches_stops_and_continues(page, app_server):
    page.goto(f"{app_server.url}/{LONG_RUN}")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(" of 200 · batch").wait_for(timeout=60_000)

    wait_for_epochs(page, 1)
    loss_chart(page).scroll_into_view_if_needed()
    before = loss_chart(page).screenshot()
    wait_for_epochs(page, epochs_trained(page) + 2)
    assert loss_chart(page).screenshot() != before, "the loss chart must gain points while training"

    page.get_by_role("link", name="Test").click()
    wait_for_app(page)
    time.sleep(1.0)
    page.get_by_role("link", name="Train").click()
    wait_for_app(page)
    seen = epochs_trained(page)
    assert page.get_by_text("of 200").count() == 1, "training must still be running after a page switch"
    wait_for_epochs(page, seen + 1)

    page.locator(MAIN).get_by_role("button", name="Stop").click()  # how soon it shows: bench/bench_browser.py
    page.locator(MAIN).get_by_text("Stopped:").wait_for(timeout=60_000)
    stopped_at = epochs_trained(page)
    assert 2 <= stopped_at < 200

    # Continue finishes the epoch the stop cut short, then trains one more: epochs stay whole
    finished_at = math.ceil(stopped_at) + 1
    page.get_by_role("button", name="Continue").click()
    page.get_by_text(f" of {finished_at} · batch").wait_for(timeout=60_000)
    page.locator(MAIN).get_by_text("Finished:").wait_for(timeout=90_000)
    wait_for_epochs(page, finished_at)
    assert epochs_trained(page) == finished_at
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_diverged_run_stays_on_show_with_its_reason(page, app_server):
    page.goto(f"{app_server.url}/train?lr=100&images=5000&epochs=2")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("The training diverged").wait_for(timeout=60_000)
    time.sleep(3)  # the end of a run reruns the page and relabels it: the tab must keep showing it
    wait_for_app(page)
    assert page.get_by_text("The training diverged").count() == 1
    assert page.get_by_text("No model yet").count() == 0
    assert "run=" in page.url
