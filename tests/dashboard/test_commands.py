"""A button's command: a refusal is a sentence in the page; a fault inside torch is a sentence in
the page and a traceback in the server's log."""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import commands


def page_with_a_button() -> None:
    """A page whose buttons run a command that fails inside torch, one that is refused, one that works."""
    import streamlit as st
    import torch

    from dashboard import commands
    from rnn_core.registry import NotAllowed

    def multiply_mismatched_shapes() -> None:
        torch.zeros(2, 3) @ torch.zeros(4, 5)

    def refuse() -> None:
        raise NotAllowed("this run was started in another browser: only that browser can stop it")

    def work() -> None:
        st.session_state["worked"] = True

    st.button(
        "Fault", on_click=commands.run, args=("page_error", "Could not read the digit", multiply_mismatched_shapes)
    )
    st.button("Refused", on_click=commands.run, args=("page_error", "Could not stop the run", refuse))
    st.button("Works", on_click=commands.run, args=("page_error", "Could not work", work))
    commands.show_error(st, "page_error")


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_log():
    """What the commands module logs (Streamlit's loggers do not reach pytest's caplog)."""
    kept = Kept()
    commands.LOG.addHandler(kept)
    yield kept.records
    commands.LOG.removeHandler(kept)


def test_a_fault_inside_torch_is_a_sentence_in_the_page_and_a_traceback_in_the_log(server_log):
    at = AppTest.from_function(page_with_a_button).run()
    at.button[0].click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Could not read the digit: mat1 and mat2 shapes cannot be multiplied")
    assert "The details are in the server's log." in error.value
    (record,) = server_log
    assert record.levelno == logging.ERROR and record.getMessage() == "Could not read the digit failed"
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert "multiply_mismatched_shapes" in logging.Formatter().formatException(record.exc_info)


def test_a_refusal_is_its_sentence_and_logs_nothing(server_log):
    at = AppTest.from_function(page_with_a_button).run()
    at.button[1].click().run()
    (error,) = at.error
    assert (
        error.value == "Could not stop the run: this run was started in another browser: only that browser can stop it."
    )
    assert server_log == []
    at.run()
    assert not at.error, "the sentence is shown once"


def test_a_command_that_works_leaves_no_sentence(server_log):
    at = AppTest.from_function(page_with_a_button).run()
    at.button[0].click().run()
    at.button[2].click().run()
    assert at.session_state["worked"] and not at.error
