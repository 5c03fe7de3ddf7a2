"""Several users at once: N browser sessions each train their own small run on one server.

    python bench/bench_sessions.py [--sessions 6] [--epochs 3] [--images 5000]

Checks that every run finishes, that each session's history is its own (its own run, seed
and epochs), that the health endpoint answers within a second throughout, and reports the
server's memory: resident size after MNIST is loaded by the first session, and the peak
(VmHWM) over the whole benchmark. MNIST held once costs about 220 MB; held per session it
would add that much for every extra session.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnn_core import RunStore  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, wait_for_app  # noqa: E402
from tests.browser.server import AppServer  # noqa: E402


def memory_mb(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1)) / 1024


class HealthWatch(threading.Thread):
    """Asks the health endpoint four times a second and keeps the slowest answer."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.failures, self.checks, self.errors = url, 0, 0, []
        self.phase, self.slowest = "start", {}  # slowest answer in each phase of the benchmark
        self.phase_start = time.perf_counter()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as response:
                    ok = response.status == 200
            except OSError as err:
                ok = False
                self.errors.append(
                    f"{self.phase}, {start - self.phase_start:.1f} s into it: {type(err).__name__}: {err} "
                    f"after {time.perf_counter() - start:.1f} s"
                )
            seconds = time.perf_counter() - start if ok else float("inf")
            self.slowest[self.phase] = max(self.slowest.get(self.phase, 0.0), seconds)
            self.failures += not ok
            self.checks += 1
            self.done.wait(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    runs_dir = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    server = AppServer(runs_dir, runs_dir / "server.log").start()
    watch = HealthWatch(server.url)
    watch.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for seed in range(args.sessions):
                watch.phase = "first page load (torch import, MNIST load)" if seed == 0 else "opening sessions"
                page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
                page.goto(f"{server.url}/train?hidden=16&images={args.images}&epochs={args.epochs}&seed={seed}")
                wait_for_app(page)
                page.get_by_text("Data: MNIST").wait_for(timeout=120_000)
                page.get_by_role("button", name="Train", exact=True).wait_for()
                if seed == 0:
                    one_session_mb = memory_mb(server.process.pid, "VmRSS")
                pages.append(page)
            all_sessions_mb = memory_mb(server.process.pid, "VmRSS")
            watch.phase, watch.phase_start = "training", time.perf_counter()
            start = time.perf_counter()
            for page in pages:
                page.get_by_role("button", name="Train", exact=True).click()
            for page in pages:
                page.get_by_text("Finished:").wait_for(timeout=600_000)
            seconds = time.perf_counter() - start
            shown_runs = [
                re.search(
                    r"run (\d{8}-\d{6}-[0-9a-f]+)",
                    page.locator('[data-testid="stMarkdown"]', has_text="Current model:").inner_text(),
                ).group(1)
                for page in pages
            ]
            browser.close()
        peak_mb = memory_mb(server.process.pid, "VmHWM")
    finally:
        watch.done.set()
        watch.join()
        server.stop()

    runs = {record.run_id: record for record in RunStore(runs_dir).scan()[0]}
    assert len(set(shown_runs)) == args.sessions, f"sessions share runs: {shown_runs}"
    for seed, run_id in enumerate(shown_runs):
        record = runs[run_id]
        assert record.status.value == "finished", (run_id, record.status)
        assert record.train_config.seed == seed, "a session shows another session's run"
        assert [row.epoch for row in record.history] == list(range(args.epochs + 1))
    print(
        f"{args.sessions} sessions, {args.epochs} epochs of {args.images} images each: all finished in "
        f"{seconds:.1f} s, each with its own run and seed"
    )
    print(f"health endpoint: {watch.checks} checks, {watch.failures} unanswered; slowest answer by phase:")
    for phase, seconds in watch.slowest.items():
        print(f"  {phase}: {seconds * 1000:.0f} ms")
    for error in watch.errors:
        print(f"  unanswered in {error}")
    print(
        f"server memory (RSS): {one_session_mb:.0f} MB with one session and MNIST loaded, "
        f"{all_sessions_mb:.0f} MB with {args.sessions} sessions open, peak {peak_mb:.0f} MB while they trained"
    )
    if max(watch.slowest.values()) >= 1.0:
        sys.exit("the health endpoint took a second or more to answer")


if __name__ == "__main__":
    main()
