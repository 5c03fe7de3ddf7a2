"""Play and Pause over the 28 rows of a digit: a slider for row t, and a fragment that steps it.

Explore and Inside the LSTM both walk through a digit row by row. A `Player` keeps its place in
the session state under its own prefix, so each page has its own, and draws the same controls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from rnn_core.model import ROWS


class Player:
    """Rows 1-28 on a slider keyed `slider_key`, stepped every `interval` seconds while playing."""

    def __init__(self, prefix: str, slider_key: str, interval: float, start: int):
        self.prefix, self.slider_key, self.interval, self.start = prefix, slider_key, interval, start
        self.step_key, self.playing_key = f"{prefix}_step", f"{prefix}_playing"

    def _begin(self) -> None:
        state = st.session_state
        state.setdefault(self.slider_key, self.start)
        state.setdefault(self.step_key, self.start)  # where Play is; the slider follows it while playing
        state.setdefault(self.playing_key, False)

    @property
    def playing(self) -> bool:
        return st.session_state.get(self.playing_key, False)

    def _play(self) -> None:
        state = st.session_state
        if not state[self.playing_key]:  # at the last row it starts over at row 1
            state[self.step_key] = 0 if state[self.slider_key] == ROWS else state[self.slider_key]
        state[self.playing_key] = True

    def _pause(self) -> None:
        st.session_state[self.playing_key] = False

    def _step_forward(self) -> None:
        # On a busy machine queued timer runs arrive back to back; stepping on each of them would
        # skip rows on screen, so a run that comes too soon after the last step does not step.
        state, now = st.session_state, time.monotonic()
        if now - state.get(f"{self.prefix}_stepped_at", 0.0) < 0.7 * self.interval:
            return
        state[f"{self.prefix}_stepped_at"] = now
        state[self.step_key] = min(state[self.step_key] + 1, ROWS)
        if state[self.step_key] == ROWS:
            state[self.playing_key] = False

    def controls(self, ticking: bool, label: str, widths: tuple[int, int] = (1, 6)) -> int:
        """Play or Pause and the row slider; the row t to show. Call it in the fragment `run`
        starts, with the `ticking` it was given."""
        state = st.session_state
        if ticking:
            # Each queued timer run carries the slider value the browser showed when it was
            # queued: the play position overrides it.
            state[self.slider_key] = state[self.step_key]
        if self.playing != ticking:
            st.rerun()  # the whole page, so that the fragment is set up again with or without its timer
        if self.playing:
            self._step_forward()
            state[self.slider_key] = state[self.step_key]
        play_col, slider_col = st.columns(list(widths), vertical_alignment="bottom")
        # Two buttons, each doing one thing: on a busy server a click can reach the callbacks
        # twice, and a toggle would then undo itself (Pause, then Play again).
        if self.playing:
            play_col.button(
                "Pause", icon=":material/pause:", on_click=self._pause, key=f"{self.prefix}_pause", width="stretch"
            )
        else:
            play_col.button(
                "Play", icon=":material/play_arrow:", on_click=self._play, key=f"{self.prefix}_play", width="stretch"
            )
        slider_col.slider(label, 1, ROWS, key=self.slider_key, persist_state="session")
        t = state[self.step_key] = state[self.slider_key]
        return t

    def run(self, view: Callable[..., None], *args: Any) -> None:
        """`view(*args, ticking)` as a fragment, rerun every `interval` seconds while playing."""
        self._begin()
        ticking = self.playing
        st.fragment(run_every=self.interval if ticking else None)(view)(*args, ticking)
