"""Keyboard and screen-reader access on the Explore, Test and Inside pages: Play is a few Tab
presses from the top, every chart has a name of its own and every picture says what it shows."""

from __future__ import annotations

import pytest

from tests.browser.conftest import wait_for_app, wait_for_drawn

# Explore's Play took 43 Tab presses when the gallery was 24 pictures with a fullscreen button
# each; Inside's took 16.
MAX_TABS_TO_PLAY = 25
FOCUSED = "() => { const el = document.activeElement; return el ? (el.innerText || el.getAttribute('aria-label') || '').trim() : ''; }"


def open_page(page, url: str, charts: int) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(url)
    wait_for_drawn(page, charts)


def tabs_to(page, name: str, limit: int = 100) -> int | None:
    """Tab presses from the top of the page until the button called `name` has the focus."""
    page.mouse.click(700, 60)  # the page itself, above everything that takes the focus
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED).endswith(name):
            return presses
    return None


@pytest.mark.parametrize("path, charts", [("/", 5), ("/inside", 8)], ids=["explore", "inside"])
def test_play_is_a_few_tab_presses_from_the_top(page, app_server, saved_run, path, charts):
    open_page(page, f"{app_server.url}{path}?run={saved_run}", charts)
    presses = tabs_to(page, "Play")
    print(f"{path}: Play focused after {presses} Tab presses")
    assert presses is not None and presses <= MAX_TABS_TO_PLAY


# Only what is on show: a tab's charts stay in the page, hidden, when another tab is picked.
VISIBLE_CHARTS = "[...document.querySelectorAll('[data-testid=stVegaLiteChart]')].filter(c => c.checkVisibility())"
ACCESSIBLE_NAMES = f"""() => ({{
    charts: {VISIBLE_CHARTS}.map(c => c.getAttribute('aria-label') || ''),
    images: [...document.querySelectorAll('[data-testid=stImage] img, [data-testid=stFullScreenFrame] img')]
        .filter(i => i.checkVisibility()).map(i => i.alt),
}})"""


@pytest.mark.parametrize(
    "path, tab, charts",
    [("/", None, 5), ("/test", "Test set", 2), ("/test", "One image at a time", 2), ("/inside", None, 8)],
    ids=["explore", "test set", "one image", "inside"],
)
def test_every_chart_and_picture_has_a_name_of_its_own(page, app_server, saved_run, path, tab, charts):
    open_page(page, f"{app_server.url}{path}?run={saved_run}", 0)
    if tab:
        page.get_by_role("tab", name=tab).click()
        wait_for_app(page)
    # drawn, and named: a chart gets its name once it is drawn
    page.wait_for_function(
        f"() => {VISIBLE_CHARTS}.filter(c => c.querySelector('canvas, svg') && c.getAttribute('aria-label'))"
        f".length >= {charts}",
        timeout=90_000,
    )
    names = page.evaluate(ACCESSIBLE_NAMES)
    assert names["charts"] and all(len(name) > 20 and "Vega" not in name for name in names["charts"]), names["charts"]
    assert all(len(alt) > 20 for alt in names["images"]), names["images"]
