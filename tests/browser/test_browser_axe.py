"""Every page and tab, at a desktop's size and on a phone, loaded once each: axe-core finds
nothing critical or serious (contrast, labels, names), every chart and picture on show has a
name of its own, and on the phone nothing reaches past the screen's edge or is cut off where
no scrolling lets one read it. The Runs page shows two runs of the same settings, whose
overlay's legend tells them apart by their start (the longest names it has)."""

from __future__ import annotations

import pytest

from tests.browser import axe
from tests.browser.conftest import MAIN, save_trained_run, wait_for_app, wait_for_drawn
from tests.browser.fit import off_the_screen

# Each page and its views in the order a student meets them: (tab or segment to pick, None for
# the page as it opens; charts the view draws at the least).
PAGES = {
    "/": [(None, 5)],
    "/train": [(None, 3)],
    "/test": [("Test set", 2), ("One image at a time", 2), ("Draw a digit", 0), ("How it learned", 0)],
    "/inside": [(None, 8), ("A digit you draw", 0)],
    "/sweep": [(None, 0)],
    "/runs": [(None, 1)],
}
# Only what is on show: a tab's charts stay in the page, hidden, when another tab is picked.
VISIBLE_CHARTS = "[...document.querySelectorAll('[data-testid=stVegaLiteChart]')].filter(c => c.checkVisibility())"
ACCESSIBLE_NAMES = f"""() => ({{
    charts: {VISIBLE_CHARTS}.map(c => c.getAttribute('aria-label') || ''),
    images: [...document.querySelectorAll('[data-testid=stImage] img, [data-testid=stFullScreenFrame] img')]
        .filter(i => i.checkVisibility()).map(i => i.alt),
}})"""


def unnamed(page, charts: int) -> list[str]:
    """Charts and pictures on show whose name says nothing (a chart is named once drawn)."""
    page.wait_for_function(
        f"() => {VISIBLE_CHARTS}.filter(c => c.querySelector('canvas, svg') && c.getAttribute('aria-label'))"
        f".length >= {charts}",
        timeout=90_000,
    )
    names = page.evaluate(ACCESSIBLE_NAMES)
    charts_unnamed = [f"chart {name!r}" for name in names["charts"] if len(name) <= 20 or "Vega" in name]
    return charts_unnamed + [f"picture {alt!r}" for alt in names["images"] if len(alt) <= 20]


@pytest.fixture(scope="module")
def twins(app_server, real_mnist) -> list[str]:
    return [save_trained_run(app_server, real_mnist, "twin", train_limit=300) for _ in range(2)]


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("path", PAGES, ids=[path.strip("/") or "explore" for path in PAGES])
def test_every_view_passes_axe_names_what_it_shows_and_fits_the_screen(
    request, app_server, saved_run, twins, size, path
):
    page = request.getfixturevalue("page" if size == "desktop" else "phone")
    page.goto(f"{app_server.url}{path}?run={twins[0] if path == '/runs' else saved_run}")
    views = PAGES[path]
    wait_for_drawn(page, 0 if views[0][0] else views[0][1])
    found = {}
    for pick, charts in views:
        if pick:
            # a tab (Test), or a segment of a segmented control (Inside's image source)
            page.get_by_role("tab", name=pick).or_(page.locator(MAIN).get_by_text(pick, exact=True)).first.click()
            wait_for_app(page)
            wait_for_drawn(page, charts)
        problems = axe.described(violations) if (violations := axe.violations(page)) else ""
        problems += "".join(f"\nno name of its own: {what}" for what in unnamed(page, charts))
        if size == "phone":
            problems += "".join(f"\noff the screen: {what}" for what in off_the_screen(page))
        if problems:
            found[pick or "the page"] = problems
    assert not found, "\n".join(f"{view}:\n{problems}" for view, problems in found.items())
