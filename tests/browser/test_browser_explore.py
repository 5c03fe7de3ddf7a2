"""Play on the Explore page, in a real browser: the player runs in the browser, where AppTest
cannot look (tests/browser/test_browser_play.py plays it under load)."""

import time

from tests.browser.conftest import wait_for_app, wait_for_drawn

PLAYER = ".rp"


def current_step(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-row"))


def wait_for_step(page, at_least: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        f"() => Number(document.querySelector('{PLAYER}').dataset.row) >= {at_least}", timeout=timeout
    )


def test_play_steps_through_the_rows_in_place_and_pause_stops_it(page, app_server, saved_run):
    page.goto(f"{app_server.url}/?run={saved_run}")  # a run on show, whatever other tests saved
    wait_for_drawn(page, 5)  # the image, the guess map, the input, the guess bars, the class counts
    play = page.get_by_role("button", name="Play")
    play.scroll_into_view_if_needed()  # before measuring: a click scrolls its target into view
    picture = page.locator('[data-testid="stVegaLiteChart"]').first
    top = picture.bounding_box()["y"]

    play.click()
    wait_for_step(page, 2)
    tops = [picture.bounding_box()["y"] for _ in range(3)]
    assert max(abs(y - top) for y in tops) < 1, "the page must not move while Play runs"

    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for(timeout=10_000)
    paused_at = current_step(page)
    time.sleep(1.5)
    assert current_step(page) == paused_at < 28


def test_play_runs_to_the_last_row_and_stops_there(page, app_server, saved_run):
    page.goto(f"{app_server.url}/?run={saved_run}")
    wait_for_app(page)
    page.get_by_role("button", name="Play").click()
    wait_for_step(page, 28, timeout=60_000)
    page.get_by_role("button", name="Play").wait_for(timeout=10_000)
    time.sleep(1)
    assert current_step(page) == 28  # rows are numbered 1-28: the last row read is row 28
    assert page.locator(PLAYER).get_by_text("t = 28").count() == 1
    # every chart of the row view stands at row 28 too
    rows = page.evaluate("() => [...document.querySelectorAll('input[name=explore_t]')].map(i => Number(i.value))")
    assert rows and set(rows) == {28}
