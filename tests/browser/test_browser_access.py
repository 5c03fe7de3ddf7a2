"""Keyboard access on the Explore and Inside pages: Play is a few Tab presses from the top.
(Every chart's and picture's name is checked with axe-core, in test_browser_axe.py.)"""

from __future__ import annotations

import pytest

from tests.browser.conftest import wait_for_drawn

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
