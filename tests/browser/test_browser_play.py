"""Play on Explore and on Inside the LSTM while two trainings run on the same server: no
connection error, every row shown in order with every chart at that row, never ahead of its
pace, and the page answers after. How well it keeps its pace under that load is a timing, so
`bench/bench_browser.py` measures it (20 plays on each page)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import MAIN, wait_for_app
from tests.browser.play import INTERVAL_S, VIEWS, open_player, play_once, start_training, stop_training

PLAYS = 1


@pytest.fixture
def two_trainings(browser, app_server):
    # per test: every test leaves the shared server with nothing training
    pages = [start_training(browser, app_server.url) for _ in range(2)]
    yield
    for page in pages:  # the server's log must end clean: no run cut short by its stop
        stop_training(page)


def test_play_shows_every_row_in_order_while_two_runs_train(page, app_server, saved_run, two_trainings):
    for view in VIEWS:
        open_player(page, app_server.url, saved_run, view)
        for number in range(1, PLAYS + 1):
            play = play_once(page)
            assert play.rows == list(range(1, 29)), f"{view.path or 'explore'}, play {number}: rows {play.rows}"
            assert play.in_step, f"{view.path or 'explore'}, play {number}: a chart was not at the row shown"
            # a loaded machine can only slow a play down: one faster than its pace skipped its clock
            assert play.seconds >= 0.95 * 28 * INTERVAL_S, "the player ran ahead of its pace"
        assert page.get_by_text("Connection error").count() == 0
        assert page.locator(MAIN).filter(has_text="Cached ForwardMsg").count() == 0

        # the page still answers: another image is read, and the player says so
        page.get_by_label("Index" if not view.path else "Test image", exact=True).fill("1")
        page.keyboard.press("Enter")
        page.locator(".rp-text", has_text=view.next_image).or_(page.get_by_text(view.next_image)).first.wait_for(
            timeout=60_000
        )
        wait_for_app(page)
        assert page.locator('[data-testid="stException"]').count() == 0
