"""The Train page's overhead: one epoch trained through the page vs the same epoch headless.

    python bench/bench_page_overhead.py [--rounds 5] [--preset notebook|strong] [--images 60000]

Through the page: the app is served by `streamlit run`, headless Chromium opens the Train
page, presses Train for two epochs and shows the live view (progress bar and batch losses
redrawn twice a second, scores, charts and table once a second) until they are done;
each epoch's training time is read from the run record the worker saved. Headless:
rnn_core's Trainer trains the same two epochs (same settings, same seed) in this process.
The first epoch through the page also carries the browser's full redraw after the click.

Both measure the same thing, the trainer's own clock around an epoch's batches, and both run
with the torch thread count the app gives its workers (LocalExecutor: cores // simultaneous
trainings). The two alternate so that both see the same machine state; the ratio of the
medians and the median of each round's ratio are the result (the goal is at most 1.15).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import torch
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dashboard import settings  # noqa: E402
from rnn_core import PRESETS, RunStore, Trainer, load_mnist  # noqa: E402
from rnn_core.config import configs  # noqa: E402
from rnn_core.local_executor import threads_per_slot  # noqa: E402
from rnn_core.server_settings import ServerSettings  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.server import AppServer  # noqa: E402

EPOCHS = 2  # the first includes the page's full redraw after the click; the second does not
# Counts the distinct texts the progress bar shows, from inside the page, so that watching
# costs the browser next to nothing.
COUNT_PROGRESS_TEXTS = """() => {
    window.progressTexts = new Set();
    new MutationObserver(() => {
        const bar = document.querySelector('[data-testid="stProgress"]');
        if (bar) window.progressTexts.add(bar.innerText);
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


QUIET = 0.25  # cores the rest of the machine may keep busy for a round to count as quiet
TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    user, nice, system, idle, iowait, *rest = map(int, Path("/proc/stat").read_text().split("\n")[0].split()[1:])
    return (user + nice + system + sum(rest)) / TICKS


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """CPU time used so far by a process and each of its descendants (the app, the browser)."""
    parents, seconds = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process just ended
            continue
        pid = int(stat.parent.name)
        parents[pid], seconds[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS

    def in_tree(pid: int) -> bool:
        while pid not in (root, 0, 1) and pid in parents:
            pid = parents[pid]
        return pid == root

    return {pid: cpu for pid, cpu in seconds.items() if in_tree(pid)}


class OtherLoad:
    """How many cores the rest of the machine kept busy meanwhile: all but this benchmark,
    its app server and its browser. Other work on a shared machine slows either side of the
    comparison, so every measurement says how busy the machine was."""

    def __enter__(self) -> OtherLoad:
        self.start = time.perf_counter(), busy_cpu_seconds(), tree_cpu_seconds(os.getpid())
        return self

    def __exit__(self, *exc) -> None:
        ours = tree_cpu_seconds(os.getpid())
        wall, busy = time.perf_counter() - self.start[0], busy_cpu_seconds() - self.start[1]
        # a process of ours that ended meanwhile is left out (its share counts as other work)
        ours_used = sum(cpu - self.start[2].get(pid, 0.0) for pid, cpu in ours.items())
        self.cores = max(0.0, busy - ours_used) / wall


def page_epochs(browser, url: str, query: str, store: RunStore) -> tuple[list[float], float, int, float]:
    """(each epoch's training seconds, click-to-finished seconds, progress texts shown,
    cores kept busy by other work meanwhile)."""
    before = set(store.list_runs()["run_id"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # the entry page first, as a visitor arriving at the app
    page.goto(url)
    page.get_by_text("Data: MNIST").wait_for(timeout=120_000)
    page.goto(f"{url}/train?{query}")
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for(timeout=60_000)
    page.evaluate(COUNT_PROGRESS_TEXTS)
    with OtherLoad() as other:
        start = time.perf_counter()
        train.click()
        page.get_by_text(f"Finished: trained to epoch {EPOCHS}").wait_for(timeout=1_800_000)
        wall = time.perf_counter() - start
    updates = page.evaluate("() => window.progressTexts.size")
    page.close()
    [run_id] = set(store.list_runs()["run_id"]) - before
    history = store.read(run_id).history
    return [row.train_seconds for row in history[1:]], wall, updates, other.cores


def headless_epochs(data, model_config, train_config) -> tuple[list[float], float]:
    """(each epoch's training seconds, cores kept busy by other work meanwhile)."""
    trainer = Trainer(data, model_config, train_config)
    with OtherLoad() as other:
        trainer.run()
    return [row.train_seconds for row in trainer.history[1:]], other.cores


def report(name: str, through_page: list[float], headless: list[float]) -> None:
    ratio = statistics.median(through_page) / statistics.median(headless)
    # each round's two trainings ran back to back, so their ratio is the least disturbed by
    # whatever else the machine was doing at the time
    paired = statistics.median(page / alone for page, alone in zip(through_page, headless))
    print(
        f"{name}: median through the page {statistics.median(through_page):.2f} s, headless "
        f"{statistics.median(headless):.2f} s, ratio {ratio:.2f}x; median of the rounds' ratios {paired:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", default="notebook", choices=sorted(PRESETS))
    parser.add_argument("--images", default="all", help="training images: a number, or all (default)")
    args = parser.parse_args()

    # Both sides train with what the page makes of the same link.
    link = {"preset": args.preset, "epochs": str(EPOCHS), "device": "cpu", "images": args.images}
    values, problems = settings.from_query(link)
    if problems:
        parser.error(" ".join(problems))
    model_config, train_config = configs(values)
    query = urllib.parse.urlencode(link)

    server = ServerSettings.from_environment()
    # as the app's executor sizes each worker
    torch.set_num_threads(threads_per_slot(server.max_trainings or os.cpu_count() or 1))
    data = load_mnist(server.data_dir, server.mnist_dir, allow_download=False, allow_sample=False)
    workdir = Path(tempfile.mkdtemp(prefix="bench-page-"))
    store = RunStore(workdir / "runs")
    server = AppServer(store.root, workdir / "server.log").start()
    print(
        f"{os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} thread(s) in both, "
        f"data: {data.description}; preset {args.preset}, {args.images} images"
    )
    through_page, headless, quiet = [], [], []  # per round: each epoch's seconds; was it quiet
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # one round left out: the first training in a process also pays torch's start-up
            page_epochs(browser, server.url, query, store)
            headless_epochs(data, model_config, train_config)
            for round_index in range(1, args.rounds + 1):
                seconds, wall, updates, page_load = page_epochs(browser, server.url, query, store)
                alone, alone_load = headless_epochs(data, model_config, train_config)
                through_page.append(seconds)
                headless.append(alone)
                quiet.append(max(page_load, alone_load) <= QUIET)
                print(
                    f"round {round_index}: page {' + '.join(f'{s:.2f}' for s in seconds)} s ({updates} progress "
                    f"texts shown, {wall:.1f} s click to finished, other work {page_load:.2f} cores), headless "
                    f"{' + '.join(f'{s:.2f}' for s in alone)} s (other work {alone_load:.2f} cores)"
                )
            browser.close()
    finally:
        server.stop()
    for epoch in range(EPOCHS):
        report(f"epoch {epoch + 1}, all rounds", [r[epoch] for r in through_page], [r[epoch] for r in headless])
        if 0 < sum(quiet) < len(quiet):
            quiet_page = [r[epoch] for r, calm in zip(through_page, quiet) if calm]
            quiet_alone = [r[epoch] for r, calm in zip(headless, quiet) if calm]
            report(f"epoch {epoch + 1}, {sum(quiet)} quiet rounds", quiet_page, quiet_alone)
    print(f"goal: at most 1.15x; a quiet round is one where other work kept at most {QUIET} cores busy")


if __name__ == "__main__":
    main()
