"""Every Python command the README gives runs as written from the repo root (with --help, so
that none of them trains)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

# `.venv/bin/python bench/bench_epoch.py ...` or `.venv/bin/python -m rnn_core.train ...`
COMMAND = re.compile(r"\.venv/bin/python (-m [\w.]+|[\w/]+\.py)")


def readme_commands() -> list[str]:
    return sorted(set(COMMAND.findall((REPO / "README.md").read_text())))


def test_the_readme_gives_the_cli_and_bench_commands():
    commands = readme_commands()
    assert "-m rnn_core.train" in commands and "-m rnn_core.sweep" in commands
    assert any(command.startswith("bench/") for command in commands)


@pytest.mark.parametrize("command", readme_commands())
def test_a_readme_command_runs_from_the_repo_root(command):
    result = subprocess.run(
        [sys.executable, *command.split(), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
