"""Every Python command the README gives runs as written from the repo root (with --help, so
that none of them trains)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

# `.venv/bin/python bench/bench_epoch.py ...` or `.venv/bin/python -m rnn_core.train ...`
COMMAND = re.compile(r"\.venv/bin/python (-m [\w.]+|[\w/]+\.py)")

# One Python process imports torch and pandas, then forks one child a command, which runs it
# as `python <command> --help` would from the repo root: sys.path as Python sets it for that
# command (the script's folder, or the working folder for -m), none of the project's modules
# imported. A process of its own a command cost 2-3.6 CPU-seconds, most of them torch's import.
AS_IF_RUN_ALONE = """
import json, os, runpy, sys, tempfile
import pandas, torch
repo, commands, rest_of_path = os.getcwd(), sys.argv[1:], sys.path[1:]
results = {}
with tempfile.TemporaryDirectory() as out:
    for number, command in enumerate(commands):
        stdout, stderr = (os.path.join(out, f"{number}.{stream}") for stream in ("out", "err"))
        if os.fork() == 0:
            for path, fd in ((stdout, 1), (stderr, 2)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT), fd)
            module = command.removeprefix("-m ") if command.startswith("-m ") else None
            sys.path[:] = [repo if module else os.path.dirname(os.path.join(repo, command)), *rest_of_path]
            sys.argv = [module or command, "--help"]
            code = 0
            try:
                if module:
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
                else:
                    runpy.run_path(command, run_name="__main__")
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
            except BaseException as error:
                print(repr(error), file=sys.stderr)
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        code = os.waitstatus_to_exitcode(os.wait()[1])
        with open(stdout) as printed, open(stderr) as complained:
            results[command] = {"code": code, "stdout": printed.read(), "stderr": complained.read()}
print(json.dumps(results))
"""


def readme_commands() -> list[str]:
    return sorted(set(COMMAND.findall((REPO / "README.md").read_text())))


@pytest.fixture(scope="module")
def helped() -> dict[str, dict]:
    """Each README command's exit code, stdout and stderr with --help."""
    done = subprocess.run(
        [sys.executable, "-c", AS_IF_RUN_ALONE, *readme_commands()],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_readme_gives_the_cli_and_bench_commands():
    commands = readme_commands()
    assert "-m rnn_core.train" in commands and "-m rnn_core.sweep" in commands
    assert any(command.startswith("bench/") for command in commands)


@pytest.mark.parametrize("command", readme_commands())
def test_a_readme_command_runs_from_the_repo_root(command, helped):
    result = helped[command]
    assert result["code"] == 0, result["stderr"][-2000:]
    assert "usage:" in result["stdout"]
