"""Play in a real browser, recorded: the rows the player shows, when, and whether every chart
stood at that row. Shared by the Play test (rows in order while trainings load the server) and
`bench/bench_browser.py` (how well a play keeps its pace).

Play runs in the browser (dashboard/player.py): the charts hold every row, and the player moves
their row t on a clock. The recorder notes each row the player shows, when, and whether every
chart's row t was set to it at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import MAIN, wait_for_app, wait_for_drawn

INTERVAL_S = 0.15  # a pace the player offers; 28 rows take 4.2 s
TRAINING = "train?hidden=64&images=all&epochs=200"  # still training when the plays end


@dataclass(frozen=True)
class PlayView:
    path: str  # the page's path ("" for Explore)
    param: str  # the charts' row parameter
    charts: int  # charts drawn when the page is ready
    next_image: str  # what the page says once test image 1 is picked


VIEWS = (
    PlayView("", "explore_t", 4, "True label: 2"),
    PlayView("inside", "inside_row", 8, "True digit 2"),
)

RECORD = """() => {
    const player = document.querySelector('.rp');
    window.playLog = {clicks: [], rows: []};
    player.querySelector('.rp-button').addEventListener('click',
        () => window.playLog.clicks.push(performance.now()), {capture: true});
    new MutationObserver(() => {
        const row = Number(player.dataset.row);
        const inputs = [...document.querySelectorAll(`[data-testid="stVegaLiteChart"] input[name="${PARAM}"]`)];
        window.playLog.rows.push({row, at: performance.now(), charts: inputs.length,
                                  inStep: inputs.every(input => Number(input.value) === row)});
    }).observe(player, {attributes: true, attributeFilter: ['data-row']});
}"""


@dataclass(frozen=True)
class Play:
    rows: list[int]  # the rows shown, in order
    seconds: float  # from the click to the last row
    in_step: bool  # every chart stood at each row shown


def start_training(browser, url: str):
    """A long run started on the Train page, from a browser of its own; that page, kept open to
    stop it (a run is stopped by the browser that started it)."""
    page = browser.new_context().new_page()
    page.goto(f"{url}/{TRAINING}")
    wait_for_app(page)
    training = page.get_by_text(" of 200 · batch")  # training, not waiting in line
    for _ in range(3):  # a click that lands while the page is still being drawn can be lost
        page.get_by_role("button", name="Train", exact=True).click()
        try:
            training.wait_for(timeout=60_000)
            break
        except PlaywrightTimeoutError:
            wait_for_app(page)
    training.wait_for(timeout=60_000)
    return page


def stop_training(page) -> None:
    page.locator(MAIN).get_by_role("button", name="Stop").click()
    page.locator(MAIN).get_by_text("Stopped:").wait_for(timeout=60_000)
    page.context.close()


def open_player(page, url: str, run_id: str, view: PlayView) -> None:
    """The view's page on `run_id`, its player at the given pace and at row 28 (so that each
    play reads the whole digit, row 1 to row 28), recording."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{url}/{view.path}?run={run_id}")
    wait_for_drawn(page, view.charts)
    page.locator(".rp").scroll_into_view_if_needed()
    page.locator(".rp-speed").select_option(str(INTERVAL_S))
    page.locator(".rp-slider").fill("28")
    page.evaluate(RECORD.replace("${PARAM}", view.param))


def play_once(page) -> Play:
    """Plays from row 28 through row 28 again."""
    page.evaluate("() => { window.playLog.rows = []; window.playLog.clicks = []; }")
    page.locator(".rp-button").click()
    page.wait_for_function(
        "() => document.querySelector('.rp').dataset.playing === 'no' && window.playLog.rows.length >= 28",
        timeout=60_000,
    )
    log = page.evaluate("() => window.playLog")
    return Play(
        [entry["row"] for entry in log["rows"]],
        (log["rows"][-1]["at"] - log["clicks"][0]) / 1000,
        all(entry["inStep"] and entry["charts"] > 0 for entry in log["rows"]),
    )
