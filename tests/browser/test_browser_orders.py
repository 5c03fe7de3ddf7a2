"""Reading orders in a real browser: Explore animates columns and a pixel scan, Inside the LSTM
and Test show a run that reads columns and one that reads pixel by pixel, and a digit drawn on
Test is read in the pixel run's order.

The two runs are tiny (300 images, one epoch, LSTM 8) and trained on one torch thread: a
784-step model trains many times faster on one thread than on two on a busy machine.
"""

from __future__ import annotations

import pytest
import torch

from dashboard import cost_note, explore_charts, explore_words, inside_charts
from dashboard.step_lines import StepLines
from rnn_core.reading_order import COLUMNS, ORDER_WORDS, PIXEL_BY_PIXEL, ReadingOrder
from tests.browser import axe
from tests.browser.conftest import ARTIFACTS, MAIN, draw_stroke, save_trained_run, wait_for_app

PLAYER = ".rp"
TINY = {"hidden_size": 8, "train_limit": 300, "epochs": 1, "batch_size": 50}


@pytest.fixture(scope="module")
def order_runs(app_server, real_mnist) -> dict[str, str]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            order: save_trained_run(app_server, real_mnist, f"reads {order}", reading_order=order, **TINY)
            for order in ("columns", "pixels")
        }
    finally:
        torch.set_num_threads(before)


def wait_for_charts(page, count: int) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]"
        f".filter(chart => chart.querySelector('canvas, svg')).length >= {count}",
        timeout=120_000,
    )


def move_player_to(page, step: int) -> None:
    page.locator(".rp-slider").fill(str(step))
    page.wait_for_function(f"() => document.querySelector('{PLAYER}').dataset.row === '{step}'", timeout=10_000)


def check_the_player(page, lines: StepLines, step: int, play_to: int) -> None:
    """At `step` the player names what is read then and every chart stands there; Play then moves on."""
    move_player_to(page, step)
    page.locator(PLAYER).get_by_text(lines.line_words(step)).first.wait_for(timeout=10_000)
    assert charts_at(page, "explore_t") == {step}
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"() => Number(document.querySelector('{PLAYER}').dataset.row) >= {play_to}", timeout=60_000)
    page.get_by_role("button", name="Pause").click()


def charts_at(page, param: str) -> set[int]:
    """Line t of every chart carrying the player's parameter."""
    return set(page.evaluate(f"() => [...document.querySelectorAll('input[name={param}]')].map(i => Number(i.value))"))


def no_error(page) -> None:
    """No traceback, no failed command, and axe-core finds nothing critical or serious."""
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(MAIN).get_by_text("Could not").count() == 0
    found = axe.violations(page)
    assert not found, axe.described(found)


def test_explore_animates_a_columns_run_column_by_column(page, app_server, order_runs):
    page.goto(f"{app_server.url}/?run={order_runs['columns']}")
    wait_for_app(page, timeout=120_000)
    lines = StepLines.whole(ReadingOrder(COLUMNS))
    page.get_by_text(ORDER_WORDS[COLUMNS]).first.wait_for(timeout=60_000)
    wait_for_charts(page, 5)  # the image, the mini-map, the guess map, the input and the guess bars
    check_the_player(page, lines, 5, play_to=8)
    assert page.get_by_text(explore_words.Words(lines).input_chart[1]).count() == 1
    page.locator(PLAYER).screenshot(path=str(ARTIFACTS / "explore-columns-player.png"))
    no_error(page)


def test_explore_animates_a_pixel_scan_picked_in_its_own_order_picker(page, app_server, order_runs):
    page.goto(f"{app_server.url}/")  # the picker starts at the order of the run on show, if any
    wait_for_app(page, timeout=120_000)
    picker = page.get_by_label("Reading order")
    picker.scroll_into_view_if_needed()
    picker.click()
    page.keyboard.type("pixel by pixel")  # the list opens below the fold: typing filters it
    page.keyboard.press("Enter")
    page.get_by_text(explore_charts.read_map_spec()["title"]).first.wait_for(timeout=60_000)
    wait_for_charts(page, 3)  # the image, the mini-map, the inputs (and the guesses of a pixels run)
    check_the_player(page, StepLines.whole(ReadingOrder(PIXEL_BY_PIXEL)), 2, play_to=5)
    page.screenshot(path=str(ARTIFACTS / "explore-pixels-1400.png"), full_page=True)
    no_error(page)


def test_inside_shows_a_columns_run_step_by_step(page, app_server, order_runs):
    page.goto(f"{app_server.url}/inside?run={order_runs['columns']}")
    wait_for_app(page, timeout=120_000)
    wait_for_charts(page, 10)
    move_player_to(page, 5)
    lines = StepLines.whole(ReadingOrder(COLUMNS))
    page.locator(PLAYER).get_by_text(f"{lines.line_words(5).capitalize()} of 28").wait_for(timeout=10_000)
    assert charts_at(page, "inside_row") == {5}
    page.get_by_text(inside_charts.rows_spec(read="columns")["title"]).wait_for(timeout=30_000)
    no_error(page)


def test_inside_shows_a_pixels_run_28_steps_at_a_time(page, app_server, order_runs):
    page.goto(f"{app_server.url}/inside?run={order_runs['pixels']}")
    wait_for_app(page, timeout=120_000)
    wait_for_charts(page, 10)
    page.locator(PLAYER).get_by_text("Step 28 of 784").wait_for(timeout=10_000)
    slider = page.get_by_role("slider", name="Steps shown (28 at a time)")
    slider.focus()
    page.keyboard.press("ArrowRight")  # steps 29-56
    page.locator(PLAYER).get_by_text("Step 56 of 784").wait_for(timeout=60_000)
    page.get_by_text("after step 392 of 784").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "inside-pixels-1400.png"), full_page=True)
    no_error(page)


@pytest.mark.parametrize("order, slider", [("columns", "steps read"), ("pixels", "steps read (x 28)")])
def test_test_page_reads_one_image_in_the_runs_order(page, app_server, order_runs, order, slider):
    page.goto(f"{app_server.url}/test?run={order_runs[order]}")
    wait_for_app(page, timeout=120_000)
    page.get_by_role("tab", name="One image at a time").click()
    page.get_by_text(slider, exact=False).first.wait_for(timeout=60_000)
    assert page.locator(MAIN).get_by_text("rows read").count() == 0
    no_error(page)


def test_a_drawn_digit_is_read_pixel_by_pixel_by_a_pixels_run(page, app_server, order_runs):
    page.goto(f"{app_server.url}/test?run={order_runs['pixels']}")
    wait_for_app(page, timeout=120_000)
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("canvas.upper-canvas").wait_for(timeout=30_000)
    draw_stroke(page, [(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)])
    page.get_by_text(ReadingOrder(PIXEL_BY_PIXEL).describe(), exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("steps read (x 28)").first.wait_for(timeout=30_000)
    no_error(page)


def test_train_says_what_a_pixel_epoch_costs_and_fewer_images_cut_it(page, app_server):
    page.goto(f"{app_server.url}/train?order=pixels&hidden=8&images=10000&epochs=1")
    wait_for_app(page, timeout=120_000)
    page.get_by_text(cost_note.HEADLINE).wait_for(timeout=120_000)
    assert "10,000 training images" in page.locator(MAIN).inner_text()
    page.get_by_role("button", name="Use 2,000 images").click()
    page.get_by_text("2,000 training images").wait_for(timeout=60_000)
    wait_for_app(page)
    assert "images=2000" in page.url  # the settings, and so the page link, follow the offer
    # no axe-core here: the Train page's own charts and pictures are being fixed for it (issue 22)
    assert page.locator('[data-testid="stException"]').count() == 0
