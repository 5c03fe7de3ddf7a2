"""The app's Streamlit settings, checked with Streamlit's own code."""

import tomllib
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.elements.exception import marshall
from streamlit.proto.Exception_pb2 import Exception as ExceptionProto

from tests.conftest import REPO

SETTINGS = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())


@pytest.fixture
def repo_error_details():
    """Streamlit's option set to the repo's value for one test, then put back."""
    before = streamlit_config.get_option("client.showErrorDetails")
    streamlit_config.set_option("client.showErrorDetails", SETTINGS["client"]["showErrorDetails"])
    yield
    streamlit_config.set_option("client.showErrorDetails", before)


def test_visitors_see_no_traceback_and_no_message_of_an_uncaught_error(repo_error_details):
    try:
        Path("/srv/app/secret-folder/missing.json").read_text()
    except OSError as err:
        error = err
    shown = ExceptionProto()
    marshall(shown, error, apply_show_error_details=True)  # as Streamlit sends an uncaught error
    assert list(shown.stack_trace) == []
    assert "secret-folder" not in shown.message and "redacted" in shown.message


def test_the_other_settings_stay():
    assert SETTINGS["browser"]["gatherUsageStats"] is False
    assert SETTINGS["server"]["maxUploadSize"] > 0 and SETTINGS["runner"]["fastReruns"] is False
