"""An app server's process without the pages, for the cluster tests: the registry built from the
environment as `dashboard.ui` builds it (RNN_EXECUTOR, RAY_ADDRESS, RNN_RUNS_DIR), closed on
SIGTERM through `close_on_exit` as a served app is, training a sweep on synthetic data.

    python -m tests.cluster_app <owner> <n_train> <epochs> <hidden,hidden,...>

It prints the sweep's id, then waits to be ended.
"""

from __future__ import annotations

import math
import signal
import sys
import threading

from rnn_core import sweep
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.executors import make_executor
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunStore
from rnn_core.server_settings import ServerSettings
from rnn_core.shutdown import close_on_exit
from tests.conftest import synthetic_mnist


def cells(epochs: int, hidden_sizes: list[int]) -> list[sweep.Cell]:
    """The grid both this process and the tests train: one run per hidden size."""
    train = TrainConfig(epochs=epochs, batch_size=10, device="cpu")
    return [(ModelConfig(hidden_size=hidden), train) for hidden in hidden_sizes]


def main() -> None:
    owner, n_train, epochs, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    settings = ServerSettings.from_environment()
    data = synthetic_mnist(n_train=n_train)
    executor = make_executor(settings.executor, data, settings.max_trainings, ray_address=settings.ray_address)
    registry = JobRegistry(data, RunStore(settings.runs_dir), executor, unwatched_minutes=math.inf)
    close_on_exit(registry, end_at_once=True)
    grid = cells(epochs, [int(size) for size in hidden.split(",")])
    print(sweep.start(registry, grid, sweep.varying(grid), owner=owner), flush=True)
    # Streamlit turns SIGTERM into the end of its main thread; so does this
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Event().wait()


if __name__ == "__main__":
    main()
