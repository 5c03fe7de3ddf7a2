"""The Inside the LSTM page in a real browser: the row slider and Play drive the heatmaps, and
the page fits a 1400 px screen without sideways scrolling (on a phone: test_browser_axe.py)."""

from tests.browser.conftest import ARTIFACTS, draw_stroke, wait_for_app
from tests.browser.fit import OVERFLOW

PLAYER = ".rp"


def wait_for_charts(page, count: int) -> None:
    page.wait_for_function(
        f"() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]"
        f".filter(chart => chart.querySelector('canvas, svg')).length >= {count}",
        timeout=90_000,
    )


def current_row(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-row"))


def open_page(page, app_server, run_id: str) -> None:
    page.goto(f"{app_server.url}/inside?run={run_id}")
    wait_for_app(page, timeout=120_000)
    # the image, 4 gates, c, h; two rows-needed charts; the gradient chart
    wait_for_charts(page, 10)


def test_the_slider_and_play_move_row_t_and_the_page_fits_a_wide_screen(page, app_server, saved_run):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_page(page, app_server, saved_run)
    assert current_row(page) == 28
    page.locator(".rp-slider").focus()
    for _ in range(14):
        page.keyboard.press("ArrowLeft")
    assert current_row(page) == 14
    page.locator(PLAYER).get_by_text("Row 14 of 28").wait_for(timeout=10_000)
    rows = page.evaluate("() => [...document.querySelectorAll('input[name=inside_row]')].map(i => Number(i.value))")
    assert len(rows) == 7 and set(rows) == {14}, "the image and the six panels stand at row 14"

    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"() => Number(document.querySelector('{PLAYER}').dataset.row) >= 17", timeout=60_000)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for(timeout=10_000)
    assert 17 <= current_row(page) <= 28
    page.screenshot(path=str(ARTIFACTS / "inside-1400.png"))
    page.screenshot(path=str(ARTIFACTS / "inside-1400-full.png"), full_page=True)
    assert page.evaluate(OVERFLOW) == []
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_drawn_digit_opens_up_in_the_cells_panels(page, app_server, saved_run):
    page.goto(f"{app_server.url}/inside?run={saved_run}")
    wait_for_app(page)
    page.get_by_text("A digit you draw", exact=True).click()
    page.locator("canvas.upper-canvas").wait_for(timeout=30_000)
    page.get_by_text("Draw a digit in the black square").wait_for(timeout=30_000)
    draw_stroke(page, [(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)])  # a 7
    page.get_by_text("Answer after row 28").wait_for(timeout=30_000)
    page.get_by_text("what the model reads").wait_for(timeout=10_000)
    wait_for_charts(page, 4)  # the image and the gate, cell and hidden-state panels
    assert page.locator('[data-testid="stException"]').count() == 0
