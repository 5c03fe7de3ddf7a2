"""Runs: every saved run in one table, the selected runs overlaid, delete, and the teacher's
admin password. Linkable: /runs, and /runs?run=<id> starts the actions on that run."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, commands, compare_tables, runs_table, ui
from dashboard.inert import inert
from dashboard.ui import browser_token
from rnn_core.registry import JobRegistry, RunView
from rnn_core.runs import owner_digest

ACTION_ERROR, CONFIRM_DELETE = "runs_action_error", "runs_confirm_delete"
ACTION_RUN, ADMIN_INPUT = "runs_action_run", "runs_admin_input"
ADMIN_ATTEMPT = "runs_admin_attempt"  # what the gate said of the last typed password
NEWEST_DRAWN = 5


def delete_run(runs: JobRegistry, run_id: str) -> None:
    st.session_state.pop(CONFIRM_DELETE, None)
    runs.delete(run_id, browser_token(), ui.admin_password())
    if st.session_state.get(ui.RUN_KEY) == run_id:
        ui.choose_run(None)


def run_actions(runs: JobRegistry, listing: ui.RunListing, shown: RunView | None) -> None:
    by_id, labels = {view.run_id: view for view in listing.views}, listing.labels
    if shown is not None and shown.run_id in by_id and ACTION_RUN not in st.session_state:
        st.session_state[ACTION_RUN] = shown.run_id  # the actions start on the run on show
    choose, use, delete = st.columns([3, 1, 1], vertical_alignment="bottom")
    run_id = choose.selectbox("Run", list(by_id), format_func=labels.__getitem__, key=ACTION_RUN)
    view = by_id[run_id]
    use.button(
        "Show this run",
        icon=":material/visibility:",
        width="stretch",
        on_click=ui.choose_run,
        args=(run_id,),
        help="Every page shows this run: its charts on Train, its model on Explore and Test. Continue trains it "
        "further.",
    )
    refusal = None
    if not ui.may_change(run_id):
        refusal = "Only the browser that started this run, or the admin password, can delete it."
    if view.busy:
        refusal = "This run is training: stop it before deleting it."
    if delete.button(
        "Delete run", icon=":material/delete:", width="stretch", disabled=refusal is not None, help=refusal
    ):
        st.session_state[CONFIRM_DELETE] = run_id
    if refusal:
        st.caption(refusal)
    pending = st.session_state.get(CONFIRM_DELETE)
    if pending and pending in by_id:
        ask, yes, no = st.columns([4, 1, 1], vertical_alignment="center")
        ask.warning(f"Delete run `{pending}`? Its model and history are removed from disk.")
        yes.button(
            "Yes, delete",
            type="primary",
            on_click=commands.run,
            args=(ACTION_ERROR, "Could not delete the run", delete_run, runs, pending),
        )
        no.button("Cancel", on_click=st.session_state.pop, args=(CONFIRM_DELETE, None))
    if runs.is_admin(ui.admin_password()):
        feature_button(runs, run_id)
    commands.show_error(st, ACTION_ERROR)


def feature_button(runs: JobRegistry, run_id: str) -> None:
    """The teacher's: the run a browser with no run of its own is shown first, on every page."""
    featured = runs.featured() == run_id
    st.button(
        "Stop featuring this run" if featured else "Feature this run for the class",
        icon=":material/star:",
        on_click=commands.run,
        args=(
            ACTION_ERROR,
            "Could not feature the run",
            runs.feature,
            None if featured else run_id,
            ui.admin_password(),
        ),
        help="A browser that has no run of its own sees the featured run on every page, with a line saying so; "
        "without one it sees the newest finished run that is not part of a sweep.",
    )


def try_admin_password(runs: JobRegistry) -> None:
    """A typed password counts only once the registry's gate accepts it (a wrong one makes the
    next try wait, for every tab); the tab keeps it for later checks only then."""
    attempt = runs.admin_gate.attempt(st.session_state[ADMIN_INPUT], who=owner_digest(browser_token())[:8])
    st.session_state[ui.ADMIN_KEY] = st.session_state[ADMIN_INPUT] if attempt.accepted else None
    st.session_state[ADMIN_ATTEMPT] = attempt.message


def admin_box(runs: JobRegistry) -> None:
    if not ui.server_settings().admin_password:
        return
    with st.expander("Teacher: admin password"):
        st.text_input(
            "Admin password",
            type="password",
            key=ADMIN_INPUT,
            on_change=try_admin_password,
            args=(runs,),
            help="With the password set in RNN_ADMIN_PASSWORD this tab may stop or delete any run, and feature "
            "one for the class.",
        )
        if message := st.session_state.get(ADMIN_ATTEMPT):
            st.caption(message)


def compare_runs(listing: ui.RunListing) -> None:
    """The table of runs; the rows selected (or the newest few) overlaid."""
    views = listing.views
    table = listing.table.copy()
    table["status"] = [view.status.value for view in views]
    st.caption(f"Select rows to compare them; without a selection the {NEWEST_DRAWN} newest runs are drawn.")
    selection = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        column_order=runs_table.RUN_COLUMNS,
        key="runs_table",
        height=min(35 * (len(table) + 1) + 3, 320),
        column_config=runs_table.RUN_COLUMN_CONFIG,
    )
    rows = selection.selection.rows or list(range(min(NEWEST_DRAWN, len(views))))
    history = compare_tables.overlay_history([views[row].record for row in rows])
    charts.show(st, runs_table.overlay_spec(), {runs_table.OVERLAY: history})


def main() -> None:
    st.title("Runs")
    st.caption(
        "Every training is saved as a run: they survive reloads and restarts (a run whose server died is "
        "listed as interrupted). Compare them, show one on every page, or delete one you started."
    )
    registry = ui.registry()
    listing = ui.run_listing()
    for problem in listing.problems:
        st.warning(f"A run folder was skipped: {inert(problem)}", icon=":material/folder_off:")
    if featured := registry.featured():
        st.caption(f"Featured by the teacher: run `{featured}`, shown to every browser that has no run of its own.")
    if listing.views:
        compare_runs(listing)
        st.header("One run")
        run_actions(registry, listing, ui.current_run())
    else:
        st.caption("None yet: the Train page trains one.")
    admin_box(registry)


main()
