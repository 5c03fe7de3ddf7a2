"""Which run a tab looks at: chosen in the side panel or by the page link (`?run=<id>`, read
once and written back), the run on show, and the listing of every run with its labels."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.identity import browser_token
from dashboard.inert import inert
from dashboard.server_state import registry, runs_root
from rnn_core.config import SETTINGS, describe
from rnn_core.registry import RunView
from rnn_core.runs import RunNotFound, summary_table
from rnn_core.safe_files import error_words

RUN_KEY, RUN_PARAM = "run_id", "run"
LINK_SEEN_KEY = "run_link_seen"  # the `?run=` value this tab last read or wrote
RUN_GONE_KEY = "run_gone"  # why the run this tab chose is no longer on show


# ----- which run this tab looks at ----------------------------------------------------------


def choose_run(run_id: str | None) -> None:
    """Look at this run from now on, on every page; None: the one a tab with no link shows."""
    st.session_state[RUN_KEY] = run_id
    st.session_state.pop(RUN_GONE_KEY, None)


def sync_run_link() -> None:
    """Puts the chosen run in the page link. Called once at the end of every full run (never
    from a fragment), and only when it changed, so the browser's history is not flooded."""
    chosen = st.session_state.get(RUN_KEY)
    if st.query_params.get(RUN_PARAM) != chosen:
        if chosen:
            st.query_params[RUN_PARAM] = chosen
        else:
            st.query_params.pop(RUN_PARAM, None)
    st.session_state[LINK_SEEN_KEY] = chosen


def read_run_link() -> None:
    """A new `?run=` in the page link (a shared link, a reload, the Back button) wins over what
    the tab looked at before. The link the tab wrote itself is not new: a click that chose
    another run reaches the server before the browser's address has caught up."""
    linked = st.query_params.get(RUN_PARAM)
    if linked == st.session_state.get(LINK_SEEN_KEY):
        return
    st.session_state[LINK_SEEN_KEY] = linked
    if linked and linked != st.session_state.get(RUN_KEY):
        runs = registry()
        try:
            runs.view(linked)
        except (RunNotFound, ValueError, OSError) as err:
            st.warning(f"The link names a run that cannot be shown: {inert(err)}", icon=":material/link_off:")
            st.query_params.pop(RUN_PARAM, None)
            return
        choose_run(linked)


def current_run() -> RunView | None:
    """The run this tab looks at: the one chosen, else the one the registry shows a tab whose
    link names none (`JobRegistry.run_to_show`), else None."""
    runs = registry()
    chosen = st.session_state.get(RUN_KEY)
    if chosen:
        try:
            view = runs.view(chosen)
            runs.watch(chosen)
            return view
        except (RunNotFound, ValueError, OSError) as err:
            # deleted, or damaged, since it was chosen: say so (in the side panel) and draw the
            # whole page again, since a fragment may be the first to notice
            st.session_state[RUN_KEY] = None
            st.session_state[RUN_GONE_KEY] = (
                f"Run {chosen} can no longer be shown ({error_words(err)}): its folder was deleted or damaged "
                "since this tab chose it. The tab shows another run instead."
            )
            st.rerun()
    shown = runs.run_to_show(browser_token())
    return runs.view(shown.run_id) if shown else None


@dataclass(frozen=True)
class RunListing:
    """Every run as the pages list it. The parts made from the records alone (labels, the
    summary table) are made once per change of the registry's index, not per script run, so a
    page costs about the same with ten runs or a thousand."""

    views: list[RunView]
    problems: list[str]
    labels: dict[str, str]  # run id -> its picker label
    table: pd.DataFrame  # rnn_core.runs.summary_table of the records, newest first, for people


@st.cache_resource(max_entries=4, show_spinner=False)
def _labels_and_table(root: str, version: int, _views: list[RunView]) -> tuple[dict[str, str], pd.DataFrame]:
    # keyed by the index's version: the records behind the views are those of that version
    table = summary_table([view.record for view in _views])
    for declared in SETTINGS:
        if declared.optional:  # None reads "all"
            table[declared.name] = table[declared.name].map(declared.show)
    return {view.run_id: run_label(view) for view in _views}, table


def run_listing() -> RunListing:
    runs = registry()
    views, problems = runs.runs()
    labels, table = _labels_and_table(runs_root(), runs.index.version, views)
    return RunListing(views, problems, labels, table)


def run_label(view: RunView) -> str:
    """One line naming a run in pickers: id, label and model, nothing that changes while it
    trains. Streamlit keeps a picker's choice by the text of its option, so a label that
    changed with the run's state would silently drop the choice."""
    parts = [view.run_id, view.record.label, describe(view.record.model_config)]
    return " · ".join(part for part in parts if part)
