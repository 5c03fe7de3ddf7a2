"""The dashboard served by `streamlit run` in a subprocess, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """`streamlit run streamlit_app.py` in a subprocess, with its own runs folder and log.

    `AppServer.starts` counts the servers started in this process: the browser tests share
    one and may start at most `MAX_SERVER_STARTS` in a run (tests/conftest.py checks it)."""

    starts = 0

    def __init__(
        self, runs_dir: Path, log_path: Path, env: dict[str, str] | None = None, entry: list[str] | None = None
    ):
        """`entry`: what Python runs instead of `-m streamlit` (a script that wraps Streamlit's CLI)."""
        self.runs_dir, self.log_path, self.extra_env = runs_dir, log_path, env or {}
        self.entry = entry or ["-m", "streamlit"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> AppServer:
        env = {**os.environ, "RNN_RUNS_DIR": str(self.runs_dir), "PYTHONUNBUFFERED": "1", **self.extra_env}
        command = [
            sys.executable,
            *self.entry,
            "run",
            "streamlit_app.py",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 (the server writes to it until it stops)
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        AppServer.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.3)
        raise RuntimeError(f"the app did not answer on {self.url} within {timeout} s:\n{self.log_tail()}")

    def health_seconds(self, timeout: float = 30.0) -> float:
        """How long the health check takes to answer (the timeout if it does not)."""
        start = time.perf_counter()
        self.healthy(timeout)
        return time.perf_counter() - start

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=timeout) as response:
                return response.status == 200
        except OSError:
            return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Ends the server at once, as a crash or a power cut would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
