"""Shared fixtures: tiny synthetic MNIST for unit tests, the real one for integration tests."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# Torch on one thread, here and in every process the tests start: pytest, a served app and
# Chromium share 2 cores, and a torch op on two threads waits for both. With a core busy
# elsewhere that wait made the run-store tests 40 times slower (111 s against 2.6 s).
os.environ["OMP_NUM_THREADS"] = "1"
# Ray starts its workers at nice 15, so that its own processes come first. Beside the other
# pytest workers' servers and browsers (at nice 0) a Ray training then gets a few percent of a
# core: with four busy loops beside it the lost-node test took 277 s, against 21 s at nice 0,
# and in CI the app test's two runs did not start within two minutes. Every cluster the tests
# start inherits this.
os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112  (Ray reads this exact name)

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from rnn_core.data import MnistData  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
# The app under test (AppTest or a server) reads the real MNIST from here, never the network.
os.environ.setdefault("MNIST_DIR", str(SHARED_MNIST))
os.environ.setdefault("RNN_DATA_DIR", str(REPO / "data"))
APP_TIMEOUT = 90  # seconds one AppTest run may take on a loaded 2-core machine


def new_app() -> AppTest:
    """The dashboard under AppTest, not run yet."""
    return AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=APP_TIMEOUT)


@dataclass(frozen=True)
class Chart:
    """A chart as the page sent it: its title text, its spec, and its named tables."""

    title: str
    spec: dict
    tables: dict[str, pd.DataFrame]


def charts(at: AppTest) -> list[Chart]:
    found = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        title = spec.get("title", "")
        tables = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in element.proto.datasets}
        found.append(Chart(title if isinstance(title, str) else title.get("text", ""), spec, tables))
    return found


def chart_titled(at: AppTest, title: str) -> Chart:
    found = [chart for chart in charts(at) if chart.title == title]
    assert len(found) == 1, f"{len(found)} charts titled {title!r}, among {[chart.title for chart in charts(at)]}"
    return found[0]


def charts_with(at: AppTest, name: str) -> list[dict[str, pd.DataFrame]]:
    """The tables of each chart sent with a table of this name."""
    return [chart.tables for chart in charts(at) if name in chart.tables]


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first chart table that has all these columns."""
    found = [table for chart in charts(at) for table in chart.tables.values() if set(columns) <= set(table.columns)]
    assert found, f"no chart has the columns {columns}"
    return found[0]


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Every test saves its runs in its own folder, never in the user's ./runs."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("RNN_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_training_left_behind():
    """A test that opened the app leaves no run training."""
    yield
    if "dashboard.ui" in sys.modules:
        sys.modules["dashboard.ui"]._registry.clear()  # its release hook stops every job


def synthetic_mnist(n_train: int = 120, n_test: int = 40, seed: int = 0) -> MnistData:
    """Random images in which the label is written as a bright row, so a model can learn it."""
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % 10
        images = torch.rand(n, 28, 28, generator=generator) * 0.2
        images[torch.arange(n), 2 * labels + 4] = 1.0
        return images, labels

    train_images, train_labels = split(n_train)
    test_images, test_labels = split(n_test)
    return MnistData(train_images, train_labels, test_images, test_labels, "sample", "synthetic test data")


@pytest.fixture
def tiny_data() -> MnistData:
    return synthetic_mnist()


@pytest.fixture(scope="session")
def real_mnist_dir() -> Path:
    if not all(
        (SHARED_MNIST / f"{name}.gz").exists() or (SHARED_MNIST / name).exists()
        for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    ):
        pytest.fail(f"the real MNIST is expected in {SHARED_MNIST} (or set MNIST_DIR)")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def real_mnist(real_mnist_dir, tmp_path_factory) -> MnistData:
    from rnn_core.data import load_mnist

    return load_mnist(tmp_path_factory.mktemp("data"), real_mnist_dir, allow_download=False, allow_sample=False)


# Tests that must share one pytest worker (`make test` runs pytest-xdist's), the first match
# naming the group: the browser tests share one served app; the Ray tests each start a cluster
# that the others must not meet, and so do the browser's fault tests, which serve the app
# themselves (one server on Ray), in the order collected: before any Ray test of the worker.
# The modules after them share a costly fixture of their own (a trained model, the README's
# commands run), which each worker that ran one of their tests would make again.
BROWSER_TESTS = "tests/browser/"
SHARED_WORKER = {
    "tests/browser/test_browser_faults.py": "ray",
    BROWSER_TESTS: "browser",
    "tests/test_ray_": "ray",
    "tests/test_sweep.py": "ray",
    "tests/test_export.py": "export",
    "tests/test_preprocess.py": "preprocess",
    "tests/test_readme.py": "readme",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Each test is a unit of work of its own, but for those of `SHARED_WORKER`, which go to one
    worker as one unit (pytest 9 ignores xdist's own `--dist loadgroup`)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkerScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for start, group in SHARED_WORKER.items() if nodeid.startswith(start)), nodeid)

    return SharedWorkerScheduling(config, log)


# The browser tests are the suite's longest unit, and its time is mostly their server's and
# Chromium's work: every other worker gives way to them (a lower priority for itself and what it
# starts; a higher one would need root), so that the longest unit ends first and the rest fill
# the gaps it leaves. A worker that later runs browser tests all the same only meets workers as
# low as itself.
NICE_BESIDE_THE_BROWSER = 5


def pytest_runtest_setup(item):
    worker = hasattr(item.config, "workerinput")
    if worker and not item.nodeid.startswith(BROWSER_TESTS) and os.nice(0) < NICE_BESIDE_THE_BROWSER:
        os.nice(NICE_BESIDE_THE_BROWSER - os.nice(0))


# Streamlit servers the browser tests may start in a run: the shared one, and the two a test
# ends (SIGTERM on each executor). Counted in each process, summed from xdist's workers.
MAX_SERVER_STARTS = 3
_server_starts_of_workers: list[int] = []


def _server_starts() -> int:
    from tests.browser.server import AppServer

    return AppServer.starts + sum(_server_starts_of_workers)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # a worker that crashed sends nothing back (xdist reports the crash itself)
    _server_starts_of_workers.append(getattr(node, "workeroutput", {}).get("server_starts", 0))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: its controller adds them up
        session.config.workeroutput["server_starts"] = _server_starts()
    elif _server_starts() > MAX_SERVER_STARTS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if starts := _server_starts():
        terminalreporter.write_line(f"Streamlit servers started: {starts} (at most {MAX_SERVER_STARTS})")
