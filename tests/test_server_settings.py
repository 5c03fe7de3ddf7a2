"""The server's settings: read from the environment in one place, refused at start when bad."""

import importlib
import subprocess
from pathlib import Path

import pytest

from rnn_core.server_settings import Limits, ServerSettings, SettingsError
from tests.conftest import REPO, new_app


def test_unset_variables_give_the_defaults():
    settings = ServerSettings.from_environment({})
    assert settings == ServerSettings()
    assert settings.runs_dir == Path("runs") and settings.executor == "local" and settings.max_trainings is None
    assert settings.limits == Limits(runs_per_browser=2, runs_per_sweep=25)


def test_every_variable_is_read():
    settings = ServerSettings.from_environment(
        {
            "RNN_RUNS_DIR": "/srv/runs",
            "RNN_DATA_DIR": "/srv/data",
            "MNIST_DIR": "/srv/mnist",
            "RNN_EXECUTOR": "ray",
            "RAY_ADDRESS": "10.0.0.1:6379",
            "RNN_MAX_TRAININGS": "3",
            "RNN_UNWATCHED_MINUTES": "2.5",
            "RNN_ADMIN_PASSWORD": "sesame",
            "RNN_MAX_RUNS_PER_BROWSER": "3",
            "RNN_MAX_RUNS_PER_SWEEP": "9",
        }
    )
    assert settings == ServerSettings(
        Path("/srv/runs"), Path("/srv/data"), Path("/srv/mnist"), "ray", "10.0.0.1:6379", 3, 2.5, "sesame", Limits(3, 9)
    )


@pytest.mark.parametrize(
    ("name", "value", "accepts"),
    [
        ("RNN_MAX_TRAININGS", "0", "whole number from 1"),
        ("RNN_MAX_TRAININGS", "abc", "whole number from 1"),
        ("RNN_MAX_TRAININGS", "2.5", "whole number from 1"),
        ("RNN_UNWATCHED_MINUTES", "abc", "number of minutes above 0"),
        ("RNN_UNWATCHED_MINUTES", "0", "number of minutes above 0"),
        ("RNN_UNWATCHED_MINUTES", "-1", "number of minutes above 0"),
        ("RNN_UNWATCHED_MINUTES", "nan", "number of minutes above 0"),
        ("RNN_EXECUTOR", "Local", '"local" or "ray"'),
        ("RNN_RUNS_DIR", "", "must name a folder"),
        ("RNN_MAX_RUNS_PER_SWEEP", "-3", "whole number from 1"),
    ],
)
def test_a_value_that_cannot_be_used_is_refused_in_one_line_naming_the_variable(name, value, accepts):
    with pytest.raises(SettingsError) as refused:
        ServerSettings.from_environment({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name}=") and accepts in message and "\n" not in message


def test_the_app_refuses_to_start_with_a_bad_setting_and_says_which(monkeypatch):
    monkeypatch.setenv("RNN_MAX_TRAININGS", "abc")
    at = new_app()
    at.switch_page("app_pages/train.py")
    at.run()
    assert not at.exception
    assert any("TRAININGS" in error.value and "abc" in error.value for error in at.error)
    assert not at.button  # nothing can be started


@pytest.mark.parametrize("command", ["rnn_core.train", "rnn_core.sweep"])
def test_a_command_refuses_a_bad_setting_in_one_line(command, monkeypatch, capsys):
    monkeypatch.setenv("RNN_EXECUTOR", "Local")
    with pytest.raises(SystemExit) as exit:  # in this process: `python -m` runs main (test_readme.py)
        importlib.import_module(command).main(["--epochs", "1"])
    assert exit.value.code == 2
    assert "RNN_EXECUTOR='Local' cannot be used" in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_environment_is_read_in_one_module_only():
    listed = subprocess.run(
        ["git", "grep", "-l", "os.environ", "--", "rnn_core", "dashboard", "app_pages", "streamlit_app.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert listed == ["rnn_core/server_settings.py"]
