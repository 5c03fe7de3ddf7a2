"""How the pages scale with the number of saved runs, and what they read from the runs folder.

    python bench/bench_runs_scale.py [--counts 10,300,1000] [--repeats 3] [--watch-seconds 10]

1. For each count, a runs folder with that many runs (one trained here, the rest copies of it
   under other ids). In one process, under AppTest, a tab opens Train, Test and Inside the LSTM
   with the trained run chosen (`?run=<id>`); after two warm-up runs, each page's full script
   run is timed `--repeats` times (median), and every file opened for reading under the runs
   folder is counted (a Python audit hook sees each open). Goal: the largest count's time at
   most 1.2x the smallest's for each page, and no file read when nothing changed.
2. The app served to headless Chromium, its tab on the Train page while a run trains there:
   the files the server opens for reading under the runs folder, per second, over
   `--watch-seconds` (the server runs with the same audit hook). Goal: 0.

Prints one line per figure against its goal; exits non-zero when one falls short.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from bench.read_counter import count_reads_under  # noqa: E402
from rnn_core import RunStore, load_mnist  # noqa: E402
from rnn_core.config import ModelConfig, TrainConfig  # noqa: E402
from rnn_core.server_settings import ServerSettings  # noqa: E402
from rnn_core.trainer import Trainer  # noqa: E402

PAGES = {"Train": "app_pages/train.py", "Test": "app_pages/test.py", "Inside": "app_pages/inside.py"}
SCALE_GOAL = 1.2


def fill_runs_folder(root: Path, count: int, data) -> str:
    """`count` runs under `root`: one trained now, the others copies of it; returns its id."""
    store = RunStore(root)
    model, train = ModelConfig(hidden_size=8), TrainConfig(epochs=1, train_limit=500, device="cpu")
    run = store.create(model, train, label="trained for the bench")
    trainer = Trainer(data, model, train)
    trainer.run(on_event=run.record(trainer))
    for number in range(count - 1):
        copy = root / f"20250101-000000-{number:06x}"
        shutil.copytree(run.folder, copy)
        info = json.loads((copy / "run.json").read_text())
        (copy / "run.json").write_text(json.dumps({**info, "id": copy.name, "label": f"copy {number}"}))
    return run.run_id


def time_pages(folders: dict[int, tuple[Path, str]], repeats: int) -> dict[tuple[int, str], tuple[float, int]]:
    """Each (count, page)'s median script run in seconds and the files it read, each tab
    warmed by two runs first; the counts take turns in every round, so a machine that gets
    busier or quieter meanwhile weighs on all of them alike."""
    from streamlit.testing.v1 import AppTest

    tabs = {}
    for count, (root, run_id) in folders.items():
        os.environ["RNN_RUNS_DIR"] = str(root)
        for name, page in PAGES.items():
            at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
            at.switch_page(page)
            at.query_params["run"] = run_id
            for _ in range(2):  # the first runs fill the caches of the process and of the tab
                at.run()
            if at.exception:
                raise RuntimeError(f"{name}: {at.exception[0].message}")
            tabs[count, name] = at
    times: dict[tuple[int, str], list[float]] = {key: [] for key in tabs}
    reads = {key: 0 for key in tabs}
    for _ in range(repeats):
        for (count, name), at in tabs.items():
            root = folders[count][0]
            os.environ["RNN_RUNS_DIR"] = str(root)
            with count_reads_under(root) as counted:
                start = time.perf_counter()
                at.run()
                times[count, name].append(time.perf_counter() - start)
            reads[count, name] += counted.count
    return {key: (statistics.median(times[key]), reads[key]) for key in tabs}


def watch_training(root: Path, seconds: float) -> float:
    """Files read per second by a served app while its Train tab shows a training run."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.server import AppServer

    root.parent.mkdir(parents=True, exist_ok=True)
    counts = root.parent / "reads.json"
    env = {"RNN_BENCH_READS_UNDER": str(root), "RNN_BENCH_READS_FILE": str(counts)}
    server = AppServer(root, root.parent / "server.log", env=env, entry=[str(REPO / "bench" / "read_counter.py")])
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{server.url}/train?hidden=16&images=20000&epochs=200")
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text(" of 200 · batch").wait_for(timeout=120_000)
            time.sleep(2)  # the tab's first look at the run is over
            before = json.loads(counts.read_text())["reads"]
            time.sleep(seconds)
            after = json.loads(counts.read_text())["reads"]
            page.get_by_role("button", name="Stop").click()
            browser.close()
    finally:
        server.stop()
    return (after - before) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,300,1000", help="numbers of saved runs, smallest first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--watch-seconds", type=float, default=10.0)
    args = parser.parse_args()
    counts = [int(count) for count in args.counts.split(",")]
    settings = ServerSettings.from_environment()
    data = load_mnist(settings.data_dir, settings.mnist_dir, allow_download=False, allow_sample=False)
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    short = []
    try:
        folders = {}
        for count in counts:
            root = work / f"runs-{count}"
            folders[count] = root, fill_runs_folder(root, count, data)
        timings = time_pages(folders, args.repeats)
        for (count, name), (seconds, reads) in timings.items():
            print(f"{count:>5} runs  {name:<7} script run {seconds:.3f} s, files read {reads} (goal 0)")
            if reads:
                short.append(f"{name} read {reads} files with {count} runs")
        smallest, largest = counts[0], counts[-1]
        for name in PAGES:
            ratio = timings[largest, name][0] / timings[smallest, name][0]
            print(f"{name:<7} {largest} runs vs {smallest}: {ratio:.2f}x (goal <= {SCALE_GOAL}x)")
            if ratio > SCALE_GOAL:
                short.append(f"{name} {ratio:.2f}x")
        per_second = watch_training(work / "watched" / "runs", args.watch_seconds)
        print(f"files read per second while a tab watches a training run: {per_second:.2f} (goal 0)")
        if per_second:
            short.append(f"{per_second:.2f} files read per second while watching")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if short:
        print("short of the goal: " + "; ".join(short))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
