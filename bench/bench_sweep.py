"""Time a 12-run sweep on this machine: the local pool of threads vs a local Ray cluster.

    python bench/bench_sweep.py [--epochs 2] [--images 10000] [--rounds 3] [--mnist-dir DIR]

The grid is hidden 8, 16, 32 x learning rate 0.03, 0.1, 0.3, 1 (notebook model otherwise),
queued through the registry as the app and the CLI queue it. Each figure is the wall time from
queuing the first run to the end of the last. Starting the Ray cluster and warming a worker
per slot is a once-per-server cost, reported apart, and so is each executor's first sweep;
then the two alternate for `--rounds` rounds and the ratio of medians is the result. Last,
both run the grid with 1 and with 2 workers, for how throughput grows with workers.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import load_mnist, sweep  # noqa: E402
from rnn_core.jobs import Executor  # noqa: E402
from rnn_core.local_executor import LocalExecutor  # noqa: E402
from rnn_core.registry import JobRegistry  # noqa: E402
from rnn_core.runs import RunStore  # noqa: E402

# The grid, as the sweep CLI's flags: hidden 8, 16, 32 x learning rate 0.03, 0.1, 0.3, 1.
GRID = ["--hidden-size", "8,16,32", "--learning-rate", "0.03,0.1,0.3,1", "--device", "cpu"]


def time_sweep(data, executor: Executor, grid: list[sweep.Cell], runs_dir: Path) -> float:
    registry = JobRegistry(data, RunStore(runs_dir), executor, unwatched_minutes=math.inf)
    start = time.perf_counter()
    sweep_id = sweep.start(registry, grid, sweep.varying(grid), owner=None)
    while sweep.find(registry, sweep_id).busy:
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    statuses = {view.status.value for view in sweep.find(registry, sweep_id).runs}
    assert statuses <= {"finished", "diverged"}, statuses
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="2")
    parser.add_argument("--images", default="10000", help="training images per run")
    parser.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import ray

    from rnn_core.ray_executor import RayExecutor

    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    data = load_mnist(root / "data", args.mnist_dir, allow_download=False)
    flags = [*GRID, "--epochs", args.epochs, "--train-limit", args.images]
    grid = sweep.cells_from_args(sweep.build_sweep_parser().parse_args(flags))
    print(f"{len(grid)} runs: {' '.join(flags)}, on {os.cpu_count()} cores ({data.description})")

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    remote, local = RayExecutor(data, cpus_per_job=1, slots=2), LocalExecutor(data, slots=2)
    print(f"Ray start and warm-up (once):     {time.perf_counter() - started:5.1f} s")
    # The first sweep on each also pays for torch's first use (oneDNN primitives, caches).
    first_local, first_ray = (
        time_sweep(data, local, grid, root / "local-0"),
        time_sweep(data, remote, grid, root / "ray-0"),
    )
    print(f"first sweep: local pool {first_local:5.1f} s, Ray {first_ray:5.1f} s")
    times: dict[str, list[float]] = {"local": [], "ray": []}
    for round_number in range(1, args.rounds + 1):  # alternated, so both see the same machine
        times["local"].append(time_sweep(data, local, grid, root / f"local-{round_number}"))
        times["ray"].append(time_sweep(data, remote, grid, root / f"ray-{round_number}"))
    for name, label in (("local", "local pool, 2 workers"), ("ray", "local Ray, 2 workers ")):
        print(
            f"{label}: median {statistics.median(times[name]):5.1f} s  ({', '.join(f'{t:.1f}' for t in times[name])})"
        )
    ratio = statistics.median(times["ray"]) / statistics.median(times["local"])
    print(f"Ray / local pool: {ratio:.2f}x (goal: within 1.3x)")

    print("throughput with workers (runs per minute):")
    for workers in (1, 2):
        here = time_sweep(data, LocalExecutor(data, slots=workers), grid, root / f"local-{workers}")
        there = time_sweep(data, RayExecutor(data, cpus_per_job=1, slots=workers), grid, root / f"ray-{workers}")
        print(
            f"  {workers} worker(s): local {len(grid) * 60 / here:5.1f} ({here:5.1f} s)   "
            f"Ray {len(grid) * 60 / there:5.1f} ({there:5.1f} s)"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
