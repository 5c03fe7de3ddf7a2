"""Ray on a cluster of three nodes on this machine (a head with no CPU for training, two workers
with one CPU each, `ray.cluster_utils.Cluster`): a sweep spreads over both workers; a node lost
mid-sweep moves its runs to the other, or saves them as interrupted with no node left; an app
process that ends mid-sweep saves its runs as stopped and leaves nothing running. Every run
ends with the history of the unbroken run."""

import gc
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnn_core import sweep
from rnn_core.executors import make_executor
from rnn_core.history import RunStatus
from rnn_core.local_executor import LocalExecutor
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunStore
from tests.cluster_app import cells
from tests.conftest import synthetic_mnist

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402  (needs ray)

ROOT = Path(__file__).resolve().parents[1]
ALICE = "alice-token"
N_TRAIN, EPOCHS = 3000, 4  # 300 batches of ten an epoch: time enough to lose a node in one
HIDDEN = (4, 5, 6, 7, 8, 9)
GRID = cells(EPOCHS, list(HIDDEN))


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster
    gc.collect()  # executors' handles first: see tests/test_ray_executor.py
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def two_workers(cluster):
    """The cluster with its two worker nodes, whatever a test before took away."""
    while len(cluster.worker_nodes) < 2:
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


@pytest.fixture(scope="module")
def data():
    return synthetic_mnist(n_train=N_TRAIN)


@pytest.fixture(scope="module")
def unbroken(data, tmp_path_factory):
    """Each cell's history trained without a break, on the local pool (one torch thread per run,
    as on Ray), by hidden size."""
    registry = new_registry(data, tmp_path_factory.mktemp("unbroken"), LocalExecutor(data, slots=2))
    try:
        run_ids = [registry.start(*cell, owner=None) for cell in GRID]
        return {hidden: without_times(ended(registry, run_id).history) for hidden, run_id in zip(HIDDEN, run_ids)}
    finally:
        registry.close()


def new_registry(data, folder, executor) -> JobRegistry:
    return JobRegistry(data, RunStore(folder), executor, unwatched_minutes=math.inf)


def wait_until(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def ended(registry, run_id):
    wait_until(lambda: not registry.view(run_id).busy)
    return registry.view(run_id)


def without_times(history):
    return [(row.epoch, row.train_loss, row.test_loss, row.test_accuracy) for row in history if not row.partial]


def node_of(registry, run_id) -> str | None:
    return json.loads((registry.store.folder(run_id) / "run.json").read_text()).get("node")


def worker(cluster, node_id):
    return next(node for node in cluster.worker_nodes if node.node_id == node_id)


def scored_on_a_node(registry, run_ids, at_least=1):
    """A run that trains on a known node, past `at_least` scored epochs and not near its end."""
    for run_id in run_ids:
        view = registry.view(run_id)
        if view.status == RunStatus.RUNNING and view.history and at_least <= view.history[-1].epoch < EPOCHS - 1:
            if node := node_of(registry, run_id):
                return run_id, node
    return None


def test_a_lost_node_moves_its_runs_to_the_other_and_every_run_ends_as_if_unbroken(
    two_workers, data, unbroken, tmp_path
):
    cluster = two_workers
    workers = {node.node_id for node in cluster.worker_nodes}
    registry = new_registry(data, tmp_path, make_executor("ray", data))
    try:
        sweep_id = sweep.start(registry, GRID, ("hidden_size",), owner=ALICE)
        run_ids = [view.run_id for view in sweep.find(registry, sweep_id).runs]

        def training_on_both():  # two slots of one CPU each: one run on each worker
            nodes = {node_of(registry, run_id) for run_id in run_ids if registry.view(run_id).status.live}
            return workers <= nodes

        wait_until(training_on_both)
        moved, lost = wait_until(lambda: scored_on_a_node(registry, run_ids))
        cluster.remove_node(worker(cluster, lost))
        wait_until(lambda: not sweep.find(registry, sweep_id).busy)
        found = sweep.find(registry, sweep_id)
        runs, table = {view.run_id: view for view in found.runs}, found.table()
    finally:
        registry.close()
    survivor = (workers - {lost}).pop()
    assert all(view.status == RunStatus.FINISHED for view in runs.values())
    for view in runs.values():  # the same losses and accuracies as the unbroken runs, to the bit
        assert without_times(view.history) == unbroken[view.record.model_config.hidden_size], view.record.label
    assert runs[moved].reason.startswith(
        f"trained to epoch {EPOCHS}; moved to another node after its node was lost at epoch "
    )
    assert node_of(registry, moved) == survivor
    assert {node_of(registry, run_id) for run_id in run_ids} <= workers
    assert "moved to another node" in table.set_index("run_id").loc[moved, "reason"]
