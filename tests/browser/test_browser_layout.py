"""The Train page holds still when Train is clicked (issue 11).

Measured in the page itself: the layout shifts (the browser's own Cumulative Layout Shift
entries, those not right after an input) and the page's height over time, for two clicks in a
row. The time from the click to the first progress text is printed, not checked: a loaded
machine can make any bound fail (bench/bench_browser.py measures it).
"""

from __future__ import annotations

import json
import time

import pytest

from rnn_core import RunStatus, RunStore
from rnn_core.config import ModelConfig, TrainConfig
from tests.browser.conftest import ARTIFACTS, MAIN, wait_for_app

# Long enough that its progress is on the page for a while, short enough for a test.
RUN = "train?hidden=8&images=5000&epochs=3"
WATCH_SECONDS = 3.0
MAX_SHIFT = 0.05

# Starts watching: the click's time, every layout shift after it, the first visible progress
# text, and the main block's height whenever it changes. When the block first gets shorter
# than before the click, it also counts the visible elements of each kind (data-testid), so
# that a shrink says which part of the page went missing.
WATCH = """() => {
  const m = window.__watch = {clickAt: null, shift: 0, shiftAfterInput: 0, shifts: [], heights: [], progressAt: null,
                              partsBefore: null, shrunk: null};
  const parts = block => {
    const counts = {};
    for (const e of block.querySelectorAll('[data-testid]')) {
      if (e.getBoundingClientRect().height > 0) counts[e.dataset.testid] = (counts[e.dataset.testid] || 0) + 1;
    }
    return counts;
  };
  document.addEventListener('click', e => { if (m.clickAt === null) m.clickAt = performance.now(); }, true);
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      if (m.clickAt === null || e.startTime < m.clickAt) continue;
      if (e.hadRecentInput) { m.shiftAfterInput += e.value; continue; }
      m.shift += e.value;
      m.shifts.push([Math.round(e.startTime - m.clickAt), Number(e.value.toFixed(4))]);
    }
  }).observe({type: 'layout-shift', buffered: false});
  const tick = () => {
    const now = performance.now();
    const block = document.querySelector('[data-testid="stMainBlockContainer"]');
    const height = block ? Math.round(block.getBoundingClientRect().height) : -1;
    const since = m.clickAt === null ? null : Math.round(now - m.clickAt);
    const last = m.heights[m.heights.length - 1];
    if (!last || last[1] !== height) m.heights.push([since, height]);
    if (block && since === null) m.partsBefore = parts(block);
    if (block && since !== null && m.shrunk === null && height < m.heights[0][1] - 8) m.shrunk = parts(block);
    const bar = document.querySelector('[data-testid="stProgress"]');
    if (m.clickAt !== null && m.progressAt === null && bar && bar.innerText.trim() && bar.getBoundingClientRect().height > 0) {
      m.progressAt = now - m.clickAt;
      m.progressText = bar.innerText.trim();
    }
    if (m.clickAt === null || now - m.clickAt < WATCH_MS) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}""".replace("WATCH_MS", str(round(WATCH_SECONDS * 1000)))


def changed_parts(watch: dict) -> dict[str, tuple[int, int]]:
    """The kinds of element (data-testid) whose visible count differs between the page before the
    click and the page as it first shrank."""
    before, shrunk = watch["partsBefore"] or {}, watch["shrunk"] or {}
    return {
        kind: (before.get(kind, 0), shrunk.get(kind, 0))
        for kind in sorted(set(before) | set(shrunk))
        if before.get(kind, 0) != shrunk.get(kind, 0)
    }


def page_ready(page) -> None:
    """The Train page fully drawn: its button, its three charts, and no script running."""
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    page.locator('[data-testid="stVegaLiteChart"]').nth(2).wait_for(timeout=60_000)
    wait_for_app(page)


def click_train(page, label: str) -> dict:
    page.evaluate(WATCH)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => window.__watch.progressAt !== null", timeout=30_000)
    time.sleep(WATCH_SECONDS)
    watch = page.evaluate("() => window.__watch")
    heights = [height for _, height in watch["heights"]]
    watch["before"] = heights[0]
    watch["lowest"] = min(height for since, height in watch["heights"] if since is None or since >= 0)
    print(
        f"{label}: layout shift {watch['shift']:.3f} (within 0.5 s of the click {watch['shiftAfterInput']:.3f}), "
        f"first progress {watch['progressAt'] / 1000:.2f} s ({watch['progressText']!r}), "
        f"page height {heights[0]} -> lowest {watch['lowest']} -> {heights[-1]} px; shifts {watch['shifts']}"
    )
    if watch["shrunk"] is not None:  # kept where CI's artifacts are: an xfail's message is not printed
        ARTIFACTS.mkdir(exist_ok=True)
        shrink = {"click": label, "heights": watch["heights"], "changed_parts": changed_parts(watch)}
        with open(ARTIFACTS / "layout-shrink.jsonl", "a") as out:
            out.write(json.dumps(shrink) + "\n")
    return watch


@pytest.mark.xfail(
    strict=False,
    reason="open fault (2026-12-05): on a server with many runs the page is at times 360-770 px shorter for a "
    "moment after the first click, while the new run scores its untrained model; seen in 4 of 8 runs, cause not "
    "found yet",
)
def test_train_click_keeps_the_page_still_and_shows_progress_soon(page, app_server):
    # The page as a first visit finds it, with no model on show: on the shared server a tab
    # without a run in its link is shown some other test's run, so it names one with no model.
    empty = RunStore(app_server.runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    empty.finish(RunStatus.STOPPED, "stopped while waiting for a training slot")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_server.url}/{RUN}&run={empty.run_id}")
    page_ready(page)
    # A person reads the page before clicking. The server warms torch up once the page is drawn
    # (3-4 s of imports on 2 cores): a click before that is done waits for the rest of it.
    time.sleep(3.0)

    first = click_train(page, "first click")
    page.locator(MAIN).get_by_text("Finished:").wait_for(timeout=90_000)
    page_ready(page)
    time.sleep(1.0)
    second = click_train(page, "second click")
    page.locator(MAIN).get_by_text("Finished:").wait_for(timeout=90_000)

    for name, watch in (("first", first), ("second", second)):
        assert watch["shift"] < MAX_SHIFT, f"{name}: the page moved after the click (layout shift {watch['shift']:.3f})"
        # elements kept in place: nothing is removed and added again, so the page never gets shorter
        assert watch["lowest"] >= watch["before"] - 8, (
            f"{name}: the page shrank from {watch['before']} to {watch['lowest']} px; "
            f"parts that changed (before the click, at the shrink): {changed_parts(watch)}"
        )
    assert page.locator('[data-testid="stException"]').count() == 0
