"""A sweep in a real browser: four runs from a link, the table filling in, Stop for the rest."""

from tests.browser.conftest import wait_for_app

# Two one-epoch runs that finish at once, then two of 200 epochs that are still training when
# the test stops the sweep (the grid's first setting changes slowest).
SWEEP = "sweep?x=epochs&xv=1,200&y=hidden&yv=4,8&images=500"


PROGRESS = '[data-testid="stProgress"]'


def progress(page) -> str:
    return page.locator(PROGRESS).inner_text()


def test_a_sweep_fills_its_table_and_charts_and_stops(page, app_server):
    page.goto(f"{app_server.url}/{SWEEP}")
    wait_for_app(page)
    page.get_by_role("button", name="Start sweep (4 runs)").click()
    page.locator(PROGRESS, has_text="2 of 4").wait_for(timeout=90_000)
    assert "2 finished" in progress(page)
    assert "sweep=" in page.url
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    page.locator('[data-testid="stVegaLiteChart"]').nth(2).wait_for(timeout=10_000)

    page.get_by_role("button", name="Stop sweep").click()
    page.locator(PROGRESS, has_text="4 of 4").wait_for(timeout=60_000)
    assert "2 finished" in progress(page) and "2 stopped" in progress(page)
    assert page.get_by_role("button", name="Stop sweep").is_disabled()
    assert page.locator('[data-testid="stException"]').count() == 0
