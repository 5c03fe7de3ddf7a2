"""Time a 12-run sweep on this machine: the local pool of threads vs a local Ray cluster.

    python bench/bench_sweep.py [--epochs 2] [--images 10000] [--rounds 3] [--mnist-dir DIR]
                                [--part all|local-ray|cluster]

The grid is hidden 8, 16, 32 x learning rate 0.03, 0.1, 0.3, 1 (notebook model otherwise),
queued through the registry as the app and the CLI queue it. Each figure is the wall time from
queuing the first run to the end of the last. Starting the Ray cluster and warming a worker
per slot is a once-per-server cost, reported apart, and so is each executor's first sweep;
then the two alternate for `--rounds` rounds and the ratio of medians is the result. Last,
both run the grid with 1 and with 2 workers, for how throughput grows with workers.

Then the same grid on a cluster of separate Ray nodes on this machine (`ray.cluster_utils`):
a head that trains nothing and one worker node of one CPU, then a second worker node joined,
in runs per minute, each after a first sweep that warms the nodes' workers.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import load_mnist, sweep  # noqa: E402
from rnn_core.data import MnistData  # noqa: E402
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
    parser.add_argument("--part", choices=("all", "local-ray", "cluster"), default="all")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    data = load_mnist(root / "data", args.mnist_dir, allow_download=False)
    flags = [*GRID, "--epochs", args.epochs, "--train-limit", args.images]
    grid = sweep.cells_from_args(sweep.build_sweep_parser().parse_args(flags))
    print(f"{len(grid)} runs: {' '.join(flags)}, on {os.cpu_count()} cores ({data.description})")
    if args.part in ("all", "local-ray"):
        local_pool_against_local_ray(data, grid, root, args.rounds)
    if args.part in ("all", "cluster"):
        local_pool_against_cluster(data, grid, root)


def local_pool_against_local_ray(data: MnistData, grid: list[sweep.Cell], root: Path, rounds: int) -> None:
    import ray

    from rnn_core.ray_executor import RayExecutor

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
    for round_number in range(1, rounds + 1):  # alternated, so both see the same machine
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
    del remote
    gc.collect()  # the executors' Ray handles go before the shutdown: see tests/test_ray_executor.py
    ray.shutdown()


def local_pool_against_cluster(data: MnistData, grid: list[sweep.Cell], root: Path) -> None:
    """Runs per minute on 1 and 2 worker nodes of one CPU each, and on the local pool with as
    many workers, alternated; each after one warm-up sweep."""
    import ray
    from ray.cluster_utils import Cluster

    from rnn_core.ray_executor import RayExecutor

    started = time.perf_counter()
    # each node's object store holds a copy of MNIST (220 MB as float32) once a training there needs it
    store = {"object_store_memory": 400 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **store})
    ray.init(address=cluster.address, log_to_driver=False)
    print("runs per minute, a head node and 1 or 2 worker nodes of 1 CPU each against the local pool:")
    try:
        for workers in (1, 2):
            cluster.add_node(num_cpus=1, **store)
            cluster.wait_for_nodes()
            if workers == 1:
                print(f"  cluster start (head and a worker node): {time.perf_counter() - started:5.1f} s")
            local, remote = LocalExecutor(data, slots=workers), RayExecutor(data, cpus_per_job=1, slots=workers)
            time_sweep(data, local, grid, root / f"warm-local-{workers}")
            time_sweep(data, remote, grid, root / f"warm-cluster-{workers}")
            here = time_sweep(data, local, grid, root / f"pool-{workers}")
            there = time_sweep(data, remote, grid, root / f"cluster-{workers}")
            print(
                f"  {workers} worker node(s): cluster {len(grid) * 60 / there:5.1f} ({there:5.1f} s)   "
                f"local pool of {workers} {len(grid) * 60 / here:5.1f} ({here:5.1f} s)"
            )
            local.shutdown(), remote.shutdown()
            del local, remote
    finally:
        gc.collect()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
