"""What on a page reaches past the window's right edge: the checks the browser tests make of a
page's fit, on a phone above all."""

from __future__ import annotations

from tests.browser.conftest import PHONE

# Elements wider than the window, or reaching past its right edge, that no ancestor clips (the
# collapsed sidebar sits left of the window, so it does not count).
OVERFLOW = """() => {
    const clipped = el => {
        for (let up = el.parentElement; up; up = up.parentElement) {
            if (getComputedStyle(up).overflowX !== 'visible' && up.getBoundingClientRect().right <= innerWidth + 1) return true;
        }
        return false;
    };
    return [...document.querySelectorAll('body *')].filter(el => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && (box.width > innerWidth + 1 || box.right > innerWidth + 1) && !clipped(el);
    }).map(el => `${el.tagName} ${el.getAttribute('data-testid')} ${Math.round(el.getBoundingClientRect().width)}px`).slice(0, 10);
}"""
# Pictures, charts and canvases reaching past the right edge of the window: the page's own
# scroll box clips them, so they are cut off rather than scrolled to.
PAST_EDGE = """() => [...document.querySelectorAll(
        '[data-testid=stVegaLiteChart], [data-testid=stVegaLiteChart] svg, [data-testid=stVegaLiteChart] canvas, img, canvas')]
    .filter(el => { const box = el.getBoundingClientRect(); return box.width > 0 && box.left < innerWidth && box.right > innerWidth + 1; })
    .map(el => `${el.tagName} ${el.getAttribute('data-testid') || ''} ${el.getAttribute('aria-label') || el.getAttribute('alt') || ''}`.slice(0, 80)
        + ` ${Math.round(el.getBoundingClientRect().right)}px`)"""

# Elements reaching past the screen's right edge that no scrolling box around them lets one read.
CUT_OFF = """() => [...document.querySelectorAll('[data-testid="stMain"] *')].filter(el => {
    const box = el.getBoundingClientRect();
    if (!el.checkVisibility() || box.width === 0 || box.right <= window.innerWidth + 1) return false;
    for (let up = el.parentElement; up; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (['auto', 'scroll'].includes(style.overflowX) && up.scrollWidth > up.clientWidth) return false;
    }
    return true;
}).map(el => `${el.tagName} ${el.getAttribute('data-testid') || ''} ${(el.textContent || '').slice(0, 60)}`)"""


def off_the_screen(page) -> list[str]:
    """What reaches past the window's right edge, unclipped or where no scrolling reaches it,
    or is cut off by the page's edge."""
    found = page.evaluate(OVERFLOW) + page.evaluate(PAST_EDGE) + page.evaluate(CUT_OFF)
    if (width := page.evaluate("() => document.documentElement.scrollWidth")) > PHONE["width"]:
        found.append(f"the page is {width} px wide")
    return found
