"""AppTest checks of the entry page: navigation, the shared sidebar, where the data came from."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import rnn_core.data
from dashboard.server_state import FIX_HINT
from tests.conftest import new_app


@pytest.fixture
def fresh_caches():
    """Each test loads the data its own environment points to, and leaves no cache behind."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def entry() -> AppTest:
    return new_app().run()


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(getattr(element, "value", "")) for element in at.sidebar)


def test_entry_page_opens_on_explore_and_names_the_data_source():
    at = entry()
    assert not at.exception
    assert [player.proto.component_name for player in at.get("bidi_component")] == ["rnn_row_player"]  # Explore's
    text = sidebar_text(at)
    assert "Data: MNIST" in text and "60,000 train" in text and "10,000 test" in text  # the full MNIST, counted
    assert "No model yet" in text


def test_sidebar_flags_the_offline_sample(tmp_path, monkeypatch, fresh_caches):
    def no_network(root):
        raise OSError("no network in this test")

    monkeypatch.setenv("RNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.setattr(rnn_core.data, "_download", no_network)
    at = entry()
    assert not at.exception
    warning = " ".join(element.value for element in at.sidebar.warning)
    assert rnn_core.data.load_sample().description in warning and "not comparable" in warning


def test_entry_page_explains_missing_data_instead_of_failing(tmp_path, monkeypatch, fresh_caches):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_DIR", str(empty))
    at = entry()
    assert not at.exception
    [error] = at.main.error  # what went wrong (the files missing) and how to fix it
    assert all(name in error.value for name in rnn_core.data.ALL_FILES) and FIX_HINT in error.value
    assert "No data" in sidebar_text(at)
