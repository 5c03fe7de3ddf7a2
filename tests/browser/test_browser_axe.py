"""axe-core on every page and tab, at a desktop's size and a phone's: nothing critical or
serious (contrast, names of pictures and charts, labels) stands between a student and a page."""

from __future__ import annotations

import pytest

from tests.browser import axe
from tests.browser.conftest import MAIN, wait_for_app, wait_for_drawn

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
# (path, tab or segment to pick, charts the view draws at the least)
VIEWS = [
    ("/", None, 5),
    ("/train", None, 3),
    ("/test", "Test set", 2),
    ("/test", "One image at a time", 2),
    ("/test", "Draw a digit", 0),
    ("/test", "How it learned", 0),
    ("/inside", None, 8),
    ("/inside", "A digit you draw", 0),
    ("/sweep", None, 0),
    ("/runs", None, 1),
]


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize(
    "path, pick, charts", VIEWS, ids=[f"{path.strip('/') or 'explore'}-{pick or 'page'}" for path, pick, _ in VIEWS]
)
def test_axe_finds_nothing_critical_or_serious(page, app_server, saved_run, size, path, pick, charts):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{app_server.url}{path}?run={saved_run}")
    wait_for_drawn(page, 0 if pick else charts)
    if pick:
        # a tab (Test), or a segment of a segmented control (Inside's image source)
        page.get_by_role("tab", name=pick).or_(page.locator(MAIN).get_by_text(pick, exact=True)).first.click()
        wait_for_app(page)
        wait_for_drawn(page, charts)
    found = axe.violations(page)
    assert not found, axe.described(found)
