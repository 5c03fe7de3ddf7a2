"""How soon the pages answer in a real browser: the timings the browser tests wait for, not check.

    .venv/bin/python bench/bench_browser.py [--rounds 3] [--plays 20]

Serves the app on a free port (with its own runs folder) and drives Debian's Chromium:
  - Train: the time from the click to the first progress text, on the server's first click and
    on later ones (goals: 1.5 s and 0.5 s);
  - Stop: the time from the click to the page saying it stops (goal: 0.5 s);
  - the health check while idle, and right after a tab training the largest model closes
    (goal: under 1 s), with their ratio;
  - Play on Explore and on Inside, `--plays` times each, while two trainings run on the same
    server: each play's time over its pace (28 rows x 0.15 s; goal: at most 1.3x), and whether
    every play showed every row in order.
Each figure is the median of `--rounds`, printed against its goal; nothing fails, since the
figures move with the machine's load: compare them within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import load_mnist  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, MAIN, save_trained_run, wait_for_app  # noqa: E402
from tests.browser.play import INTERVAL_S, VIEWS, open_player, play_once, start_training, stop_training  # noqa: E402
from tests.browser.server import REPO, AppServer  # noqa: E402

LONG_RUN = "train?hidden=16&images=all&epochs=200"
LARGEST = "train?hidden=512&layers=3&images=all&epochs=1"
PROGRESS = "[data-testid='stProgress']"
STOPPING = "button:has-text('Stopping...'), [data-testid='stAlert']:has-text('Stopped:')"


def seconds_until(page, selector: str, click) -> float:
    """From the click to the first element that matches `selector`."""
    started = time.perf_counter()
    click()
    page.locator(selector).first.wait_for(timeout=120_000)
    return time.perf_counter() - started


def train_and_stop(page, url: str) -> tuple[float, float]:
    """(first progress after Train, Stopping after Stop), in seconds."""
    page.goto(f"{url}/{LONG_RUN}")
    wait_for_app(page)
    progress = seconds_until(page, PROGRESS, page.get_by_role("button", name="Train", exact=True).click)
    page.get_by_text(" of 200 · batch").wait_for(timeout=120_000)
    stop = seconds_until(page, STOPPING, page.locator(MAIN).get_by_role("button", name="Stop").click)
    page.get_by_text("Stopped:").wait_for(timeout=120_000)
    return progress, stop


def health_after_closing_the_largest(browser, server: AppServer) -> float:
    """The slowest health check in the 6 s after a tab that trains the largest model closes."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/{LARGEST}")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Scoring the untrained model").wait_for(timeout=60_000)
    page.close()
    started, slowest = time.monotonic(), 0.0
    while time.monotonic() - started < 6:
        slowest = max(slowest, server.health_seconds())
        time.sleep(0.2)
    stopper = context.new_page()  # the same browser stops its run
    stopper.goto(page.url)
    wait_for_app(stopper)
    stopper.locator(MAIN).get_by_role("button", name="Stop").click()
    stopper.get_by_text("Stopped:").wait_for(timeout=120_000)
    context.close()
    return slowest


def plays_over_pace(browser, server: AppServer, plays: int) -> dict[str, list[float]]:
    """Each play's seconds over its pace, on each page, with two trainings going; NaN for a
    play that skipped or repeated a row."""
    mnist_dir = os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist"
    data = load_mnist(REPO / "data", mnist_dir, allow_download=False, allow_sample=False)
    run_id = save_trained_run(server, data, "bench")
    trainings = [start_training(browser, server.url) for _ in range(2)]
    page = browser.new_page()
    ratios: dict[str, list[float]] = {}
    try:
        for view in VIEWS:
            open_player(page, server.url, run_id, view)
            for _ in range(plays):
                play = play_once(page)
                whole = play.rows == list(range(1, 29)) and play.in_step
                ratios.setdefault(view.path or "explore", []).append(
                    play.seconds / (28 * INTERVAL_S) if whole else float("nan")
                )
    finally:
        page.close()
        for training in trainings:
            stop_training(training)
    return ratios


def report(what: str, seconds: list[float], goal: float) -> None:
    median = statistics.median(seconds)
    print(f"  {'met  ' if median <= goal else 'short'} {what}: {median:.2f} s (of {len(seconds)}; goal <= {goal:g} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--plays", type=int, default=20, help="plays on each page; 0: skip")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        server = AppServer(Path(folder) / "runs", Path(folder) / "server.log").start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            rounds = [train_and_stop(page, server.url) for _ in range(args.rounds)]
            idle = statistics.median(server.health_seconds() for _ in range(10))
            closing = [health_after_closing_the_largest(browser, server) for _ in range(args.rounds)]
            plays = plays_over_pace(browser, server, args.plays) if args.plays else {}
        finally:
            browser.close()
            server.stop()
    print("Timings (median; the machine's load moves them):")
    report("first progress, the server's first click", [rounds[0][0]], 1.5)
    report("first progress, later clicks", [progress for progress, _ in rounds[1:]] or [rounds[0][0]], 0.5)
    report("Stop shown", [stop for _, stop in rounds], 0.5)
    report("slowest health check after the largest model's tab closed", closing, 1.0)
    print(f"  that health check / one while idle: {statistics.median(closing) / idle:.1f}x ({idle * 1000:.0f} ms idle)")
    for page, ratios in plays.items():
        whole = [ratio for ratio in ratios if ratio == ratio]  # NaN: a play with a row skipped or repeated
        slowest = max(whole, default=float("nan"))
        print(
            f"  {'met  ' if len(whole) == len(ratios) and slowest <= 1.3 else 'short'} Play on {page}, two runs "
            f"training: {len(whole)} of {len(ratios)} plays showed every row in order; time over pace "
            f"{min(whole, default=float('nan')):.2f}-{slowest:.2f}x (goal <= 1.3x)"
        )


if __name__ == "__main__":
    main()
