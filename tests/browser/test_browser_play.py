"""Play on Explore and on Inside the LSTM, 20 times each, while two trainings run on the same
server: no connection error, every row shown in order, and each play on time.

Play runs in the browser (dashboard/player.py): the charts hold every row, and the player moves
their row t on a clock. The recorder below notes each row the player shows, when, and whether
every chart's row t was set to it at that moment.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import MAIN, wait_for_app, wait_for_drawn

PLAYS = 20
INTERVAL_S = 0.15  # a pace the player offers; 28 rows take 4.2 s
SLACK = 1.3  # a play may take up to 1.3x 28 intervals
TRAINING = "train?hidden=64&images=all&epochs=200"  # still training when the plays end

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
PROBLEMS = "Connection error|Cached ForwardMsg|Failed to process"


def start_training(browser, app_server):
    """A long run started on the Train page, from a browser of its own; that page, kept open to
    stop it (a run is stopped by the browser that started it)."""
    page = browser.new_context().new_page()
    page.goto(f"{app_server.url}/{TRAINING}")
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


@pytest.fixture
def two_trainings(browser, app_server):
    # per test: every test leaves the shared server with nothing training
    pages = [start_training(browser, app_server) for _ in range(2)]
    yield
    for page in pages:  # the server's log must end clean: no run cut short by its stop
        page.locator(MAIN).get_by_role("button", name="Stop").click()
        page.locator(MAIN).get_by_text("Stopped:").wait_for(timeout=60_000)
        page.context.close()


def play_once(page, param: str) -> tuple[list[int], float, bool]:
    """Plays from row 28 through row 28 again: the rows shown, the seconds from the click to the
    last row, and whether every chart stood at each row shown."""
    page.evaluate("() => { window.playLog.rows = []; window.playLog.clicks = []; }")
    page.locator(".rp-button").click()
    page.wait_for_function(
        "() => document.querySelector('.rp').dataset.playing === 'no' && window.playLog.rows.length >= 28",
        timeout=60_000,
    )
    log = page.evaluate("() => window.playLog")
    rows = [entry["row"] for entry in log["rows"]]
    seconds = (log["rows"][-1]["at"] - log["clicks"][0]) / 1000
    in_step = all(entry["inStep"] and entry["charts"] > 0 for entry in log["rows"])
    gaps = [b["at"] - a["at"] for a, b in zip(log["rows"], log["rows"][1:])]
    print(f"{seconds:.2f} s, longest gap {max(gaps):.0f} ms at row {gaps.index(max(gaps)) + 2}")
    return rows, seconds, in_step


@pytest.mark.parametrize(
    "path, param, charts, next_image",
    [("", "explore_t", 4, "True label: 2"), ("inside", "inside_row", 8, "True digit 2")],
    ids=["explore", "inside"],
)
def test_play_shows_every_row_in_order_on_time_while_two_runs_train(
    page, app_server, saved_run, two_trainings, path, param, charts, next_image
):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_server.url}/{path}?run={saved_run}")
    wait_for_drawn(page, charts)
    page.locator(".rp").scroll_into_view_if_needed()
    page.locator(".rp-speed").select_option(str(INTERVAL_S))
    page.locator(".rp-slider").fill("28")  # each play then reads the whole digit, row 1 to row 28
    page.evaluate(RECORD.replace("${PARAM}", param))
    durations = []
    for play in range(PLAYS):
        rows, seconds, in_step = play_once(page, param)
        assert rows == list(range(1, 29)), f"play {play + 1} showed rows {rows}"
        assert in_step, f"play {play + 1}: a chart was not at the row the player showed"
        durations.append(seconds)
    print(f"{path or 'explore'}: plays of 28 rows at {INTERVAL_S} s took {min(durations):.2f}-{max(durations):.2f} s")
    assert max(durations) <= SLACK * 28 * INTERVAL_S, durations
    assert min(durations) >= 0.95 * 28 * INTERVAL_S, "the player must not run ahead of its pace"
    assert page.get_by_text("Connection error").count() == 0
    assert page.locator(MAIN).filter(has_text="Cached ForwardMsg").count() == 0

    # the page still answers: another image is read, and the player says so
    page.get_by_label("Index" if not path else "Test image", exact=True).fill("1")
    page.keyboard.press("Enter")
    page.locator(".rp-text", has_text=next_image).or_(page.get_by_text(next_image)).first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
