"""The side panel every page shares: the run picker, the run's model and status (kept up to date
while it trains), and the data's source."""

from __future__ import annotations

import streamlit as st

from dashboard.identity import browser_token, remember_browser
from dashboard.inert import inert
from dashboard.run_choice import RUN_GONE_KEY, RUN_KEY, choose_run, current_run, read_run_link, run_listing
from dashboard.server_state import DATA_ERRORS, load_data, registry, server_settings
from rnn_core.config import describe
from rnn_core.history import RunStatus
from rnn_core.registry import RunView

PICKER_KEY = "sidebar_run"
POLL_SECONDS = 1.0


# ----- the sidebar --------------------------------------------------------------------------


NEWEST = "newest"  # the picker's choice for "no run chosen": a string, as None means "nothing picked"


def _pick_run() -> None:
    picked = st.session_state[PICKER_KEY]
    choose_run(None if picked == NEWEST else picked)


def _run_picker(labels: dict[str, str]) -> None:
    chosen = st.session_state.get(RUN_KEY)
    st.session_state[PICKER_KEY] = chosen if chosen in labels else NEWEST
    st.selectbox(
        "Run",
        [NEWEST, *labels],
        key=PICKER_KEY,
        on_change=_pick_run,
        format_func=lambda run_id: "Newest finished run" if run_id == NEWEST else labels[run_id],
        help="The run every page shows: Explore's running guess, Train's charts, Test's model. "
        "It is also in the page link, so a reload or a shared link shows the same run.",
    )


def _run_status(view: RunView | None, explicit: bool) -> None:
    """The run on show, as one block: a run drawn after another replaces all of it at once,
    so no line of the one before (its "finished", say) stays on while the page reruns."""
    if gone := st.session_state.get(RUN_GONE_KEY):
        st.warning(inert(gone), icon=":material/folder_off:")
    if view is None:
        st.caption("No model yet: train one on the Train page.")
        return
    lines = [f"**Model:** {describe(view.record.model_config)}"]
    if not explicit and (shown := registry().run_to_show(browser_token())):
        lines.append(f"*No run chosen: showing {shown.why}.*")
    if view.history:
        last = view.history[-1]
        lines.append(f"Epochs trained: **{last.epoch:g}** · test accuracy **{last.test_accuracy:.1f}%**")
    live = view.live
    if live and live.status == RunStatus.WAITING:
        lines.append(f":blue[**Waiting**] ({ordinal(live.queue_position)} in line)")
    elif live and live.busy:
        progress = live.progress
        where = f" (epoch {progress.epoch_index}, batch {progress.batch}/{progress.batches})" if progress else ""
        lines.append(f":blue[**{'Stopping' if live.stopping else 'Training'}**]{where}")
    else:
        lines.append(f":gray[{status_words(view.status.value, inert(view.reason))}]")
    st.markdown("  \n".join(lines))


def status_words(status: str, reason: str) -> str:
    """ "Finished: trained to epoch 3." or "Stopped by the user during epoch 2.": the status
    said once, also where the reason begins with it."""
    reason = reason.rstrip(".")
    if not reason:
        text = status
    elif reason.startswith(status):
        text = reason
    else:
        text = f"{status}: {reason}"
    return text[:1].upper() + text[1:] + "."


def ordinal(number: int | None) -> str:
    number = number or 1
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _live_run_status() -> None:
    view = current_run()
    _run_status(view, bool(st.session_state.get(RUN_KEY)))


def render_sidebar() -> None:
    """The block every page shows: where the data came from and the run this tab looks at."""
    with st.sidebar:
        try:
            data = load_data(server_settings())
        except DATA_ERRORS:  # the page itself shows the whole explanation
            st.error("No data: see the message on the page.")
            return
        if data.is_sample:
            st.warning(
                f"Data: {data.description}. Accuracy figures are not comparable to full MNIST.",
                icon=":material/warning:",
            )
        else:
            st.caption(f"Data: MNIST, {len(data.train_labels):,} train / {len(data.test_labels):,} test")
        remember_browser()
        read_run_link()
        labels = run_listing().labels
        if labels:
            _run_picker(labels)
        view = current_run()
        st.fragment(run_every=POLL_SECONDS if view and view.busy else None)(_live_run_status)()
        st.divider()
