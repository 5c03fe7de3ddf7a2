"""axe-core on every page and tab, at a desktop's size and a phone's: nothing critical or
serious (contrast, names of pictures and charts, labels) stands between a student and a page."""

from __future__ import annotations

import pytest

from tests.browser import axe
from tests.browser.conftest import MAIN, wait_for_app, wait_for_drawn

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
# Each page, loaded once a size, and its views in the order a student meets them: (tab or
# segment to pick, None for the page as it opens; charts the view draws at the least).
PAGES = {
    "/": [(None, 5)],
    "/train": [(None, 3)],
    "/test": [("Test set", 2), ("One image at a time", 2), ("Draw a digit", 0), ("How it learned", 0)],
    "/inside": [(None, 8), ("A digit you draw", 0)],
    "/sweep": [(None, 0)],
    "/runs": [(None, 1)],
}


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize("path", PAGES, ids=[path.strip("/") or "explore" for path in PAGES])
def test_axe_finds_nothing_critical_or_serious(page, app_server, saved_run, size, path):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{app_server.url}{path}?run={saved_run}")
    views = PAGES[path]
    wait_for_drawn(page, 0 if views[0][0] else views[0][1])
    found = {}
    for pick, charts in views:
        if pick:
            # a tab (Test), or a segment of a segmented control (Inside's image source)
            page.get_by_role("tab", name=pick).or_(page.locator(MAIN).get_by_text(pick, exact=True)).first.click()
            wait_for_app(page)
            wait_for_drawn(page, charts)
        if violations := axe.violations(page):
            found[pick or "the page"] = axe.described(violations)
    assert not found, "\n".join(f"{view}:\n{described}" for view, described in found.items())
