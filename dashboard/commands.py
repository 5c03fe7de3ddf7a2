"""One way to run a command from a button: the page gets a sentence, the server log the details.

A button's callback hands its command to `run`. A refusal from the registry (`Refused`: not
your run, a limit, a run still training), a value the core turns down (ValueError: bad input)
and a run deleted meanwhile are a sentence for the user and nothing more. Any other
error is a fault: its traceback goes to the server's log, where whoever runs the server can see
what broke (inside torch, say), and the page says what failed in one sentence. Either way the
sentence waits in the session state under the page's own key until `show_error` draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.logger import get_logger

from dashboard.inert import inert
from rnn_core.registry import Refused
from rnn_core.runs import RunNotFound
from rnn_core.safe_files import error_words

LOG = get_logger(__name__)


def run(error_key: str, what: str, command: Callable[..., Any], *args: Any) -> bool:
    """`command(*args)`; whether it went through. `what` names it in the page's sentence
    ("Could not start the three runs: ...")."""
    st.session_state.pop(error_key, None)
    try:
        command(*args)
    except (Refused, ValueError, RunNotFound) as refusal:
        st.session_state[error_key] = f"{what}: {refusal}."
        return False
    except Exception as err:  # a fault: the log gets its traceback, the page a sentence
        LOG.exception("%s failed", what)
        st.session_state[error_key] = f"{what}: {error_words(err)}. The details are in the server's log."
        return False
    return True


def show_error(where: Any, error_key: str) -> None:
    """The sentence a failed command left under `error_key`, once, in `where` (`st`, a column)."""
    if sentence := st.session_state.pop(error_key, None):
        where.error(inert(sentence), icon=":material/error:")
