"""Explore and the drawing canvas on a 390 x 844 phone: nothing reaches past the screen's edge,
Explore's gallery is one picture rather than one digit per line, and the canvas takes a finger.
(Every other page and tab is checked on a phone in test_browser_axe.py.)"""

from __future__ import annotations

from dashboard.evaluation_tables import DRAW_PROMPT
from tests.browser.conftest import ARTIFACTS, PHONE, wait_for_drawn
from tests.browser.fit import off_the_screen

# Explore was 7,342 px tall on this phone when its gallery put one digit on each line, and the
# row-by-row view began 4,515 px down.
EXPLORE_MAX_HEIGHT = 4_500
ROW_VIEW_MAX_TOP = 1_800
PAGE_HEIGHT = (
    "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')].map(e => e.scrollHeight))"
)


def test_explore_fits_a_phone_and_its_gallery_is_one_picture(phone, app_server, saved_run):
    phone.goto(f"{app_server.url}/?run={saved_run}")
    wait_for_drawn(phone, 5)  # the image, the guess map, the input, the guess bars, the class counts
    phone.screenshot(path=str(ARTIFACTS / "explore-390.png"))
    assert off_the_screen(phone) == []
    height = phone.evaluate(PAGE_HEIGHT)
    row_view = phone.get_by_role("heading", name="Row by row").bounding_box()["y"]
    print(f"Explore on a phone: {height} px tall, the row-by-row view {row_view:.0f} px down")
    assert height < EXPLORE_MAX_HEIGHT and row_view < ROW_VIEW_MAX_TOP
    gallery = phone.get_by_role("img", name="handwritten digits")
    assert gallery.count() == 1 and gallery.bounding_box()["width"] <= PHONE["width"]
    assert phone.locator('[data-testid="stException"]').count() == 0


def touch_stroke(page, points) -> None:
    """One stroke of a finger on the drawing canvas, through points given as fractions of its
    size: real touch input (touchstart, touchmove, touchend) sent through Chrome's DevTools."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, fx: float, fy: float) -> None:
        where = [{"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [] if kind == "touchEnd" else where})

    touch("touchStart", *points[0])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for step in range(1, 11):
            touch("touchMove", x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    touch("touchEnd", *points[-1])
    cdp.detach()


SCROLLED = "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')].map(e => e.scrollTop))"


def test_a_finger_draws_a_digit_on_a_phone(phone, app_server, saved_run):
    phone.goto(f"{app_server.url}/test?run={saved_run}")
    wait_for_drawn(phone, 0)
    phone.get_by_role("tab", name="Draw a digit").click()
    canvas = phone.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=30_000)
    phone.get_by_text(DRAW_PROMPT).wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    scrolled = phone.evaluate(SCROLLED)
    touch_stroke(phone, [(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)])  # a 7
    phone.get_by_text("Prediction:").first.wait_for(timeout=30_000)
    phone.get_by_role("img", name="Your drawing as the model receives it").wait_for(timeout=10_000)
    assert phone.evaluate(SCROLLED) == scrolled, "a stroke on the canvas must not scroll the page"
    assert off_the_screen(phone) == []
    assert phone.locator('[data-testid="stException"]').count() == 0
