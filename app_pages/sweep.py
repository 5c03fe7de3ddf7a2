"""Sweep: the notebook's exercise ("try other hidden sizes, learning rates, ...") in one click.

Pick one or two settings and their values; every other setting comes from the Train page's
sidebar (or the notebook's defaults), with this page's own epochs and training images so a
grid stays quick. Each cell is an ordinary run queued through the server's registry; the sweep
is those runs, and its link (`/sweep?sweep=<id>`) shows it to anyone. While it trains, a
fragment redraws the results table and the charts once a second; Stop stops every run in it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, commands, cost_note, settings, sweep_charts, sweep_tables, train_words, ui
from dashboard.inert import inert
from dashboard.sweep_tables import AXIS_CHOICES, chart_rows, values_from_link
from dashboard.ui import browser_token
from rnn_core import sweep
from rnn_core.config import EXERCISE, SETTING
from rnn_core.registry import JobRegistry
from rnn_core.runs import RunNotFound

SWEEP_PARAM, SWEEP_KEY = "sweep", "sweep_id"
LINK_READ, ACTION_ERROR = "sweep_link_read", "sweep_action_error"
FIRST, FIRST_VALUES, SECOND, SECOND_VALUES = "sweep_first", "sweep_first_values", "sweep_second", "sweep_second_values"
PREFIX = "sweep"  # the per-run settings' controls are keyed sweep_<setting>
NO_SECOND = "none"
POLL_SECONDS = 1.0
TABLE_ROW, TABLE_MAX = 35, 600  # pixels
# The notebook's exercise: its first two settings (hidden size x learning rate) by default, and
# what each run of a sweep fixes so that a grid stays quick, written as a Train page link.
DEFAULT_FIRST, DEFAULT_SECOND = EXERCISE[:2]
PER_RUN = {"epochs": "2", "images": "5000"}
RESULT_NAMES = {
    "status": "Status",
    "test_accuracy": "Test accuracy (%)",
    "test_loss": "Test loss",
    "seconds": "Training seconds",
    "seconds_per_epoch": "Seconds per epoch",
    "epochs_trained": "Epochs trained",
    "reason": "What happened",
    "link": "Run",
}


def default_values(field: str) -> list:
    return list(SETTING[field].sweep)


# ----- the form: which settings, which values -------------------------------------------------


def read_link_once() -> None:
    """The form starts from the page link the first time this tab opens the page
    (`?x=hidden&xv=8,16&y=lr&yv=0.1,1&epochs=1&images=500`: settings by their link keys), then keeps
    its values.
    The per-run settings are read from the link as the Train page reads its own."""
    if st.session_state.get(LINK_READ):
        return
    params = st.query_params
    by_key = {declared.key: declared.name for declared in SETTING.values() if declared.name in AXIS_CHOICES}
    first = by_key.get(params.get("x"), DEFAULT_FIRST)
    second = by_key.get(params.get("y"), NO_SECOND if params.get("y") == NO_SECOND else None)
    second = None if second == first else second
    second = second or (DEFAULT_SECOND if first != DEFAULT_SECOND else NO_SECOND)
    st.session_state[FIRST] = first
    st.session_state[FIRST_VALUES] = values_from_link(first, params.get("xv")) or default_values(first)
    st.session_state[SECOND] = second
    if second != NO_SECOND:
        st.session_state[SECOND_VALUES] = values_from_link(second, params.get("yv")) or default_values(second)
    per_run, _ = settings.from_query({**PER_RUN, **{key: params[key] for key in PER_RUN if key in params}})
    for declared in per_run_settings():
        st.session_state[settings.widget_key(PREFIX, declared.name)] = per_run[declared.name]
    st.session_state[LINK_READ] = True


def first_changed() -> None:
    first = st.session_state[FIRST]
    st.session_state[FIRST_VALUES] = default_values(first)
    if st.session_state[SECOND] == first:
        st.session_state[SECOND] = NO_SECOND


def second_changed() -> None:
    if st.session_state[SECOND] != NO_SECOND:
        st.session_state[SECOND_VALUES] = default_values(st.session_state[SECOND])


def per_run_settings() -> list:
    return [declared for declared in SETTING.values() if declared.key in PER_RUN]


def base_values() -> dict:
    """Every setting but the swept ones: the Train page's settings panel (else the notebook's
    defaults), with this page's per-run settings on top."""
    values = settings.current_values(settings.TRAIN_PANEL)
    return {
        **values,
        **{declared.name: settings.current_values(PREFIX)[declared.name] for declared in per_run_settings()},
    }


def chosen_axes() -> dict[str, list]:
    axes = {st.session_state[FIRST]: st.session_state[FIRST_VALUES]}
    if st.session_state[SECOND] != NO_SECOND:
        axes[st.session_state[SECOND]] = st.session_state[SECOND_VALUES]
    return axes


def label_of(field: str) -> str:
    return "none" if field == NO_SECOND else SETTING[field].label


def sweep_form(runs: JobRegistry) -> None:
    left, right = st.columns(2)
    left.selectbox("Setting to sweep", list(AXIS_CHOICES), key=FIRST, format_func=label_of, on_change=first_changed)
    first = st.session_state[FIRST]
    left.multiselect(
        f"{label_of(first)} values", AXIS_CHOICES[first], key=FIRST_VALUES, format_func=SETTING[first].show
    )
    seconds = [NO_SECOND, *(field for field in AXIS_CHOICES if field != first)]
    right.selectbox(
        "Second setting (one line each)", seconds, key=SECOND, on_change=second_changed, format_func=label_of
    )
    second = st.session_state[SECOND]
    if second != NO_SECOND:
        right.multiselect(
            f"{label_of(second)} values", AXIS_CHOICES[second], key=SECOND_VALUES, format_func=SETTING[second].show
        )
    per_run = [declared for declared in per_run_settings() if declared.name not in (first, second)]
    for column, declared in zip((left, right), per_run):
        with column:
            settings.control(declared, PREFIX, label=f"{declared.label} per run")
    base = base_values()
    fixed = [
        SETTING[name].describe(value)
        for name, value in base.items()
        if name not in chosen_axes() and name not in {declared.name for declared in per_run}
    ]
    st.caption(f"The other settings, from the Train page: {inert(', '.join(fixed))}.")
    cells = sweep.grid(base, chosen_axes())
    count = len(cells)
    long_cells = [settings.configs(cell) for cell in cells if cost_note.is_long(settings.configs(cell)[0])]
    if long_cells:
        cost_note.show(runs.data, *long_cells[0], PREFIX, runs=len(long_cells))
    st.button(
        f"Start sweep ({count} runs)",
        type="primary",
        icon=":material/grid_on:",
        disabled=count == 0,
        on_click=commands.run,
        args=(ACTION_ERROR, "Could not start the sweep", start_sweep, runs),
        help="Each combination is an ordinary run: it is listed, linkable and testable on every page.",
    )


# ----- commands ----------------------------------------------------------------------------


def start_sweep(runs: JobRegistry) -> None:
    axes = chosen_axes()
    cells = [settings.configs(values) for values in sweep.grid(base_values(), axes)]
    st.session_state[SWEEP_KEY] = sweep.start(runs, cells, list(axes), owner=browser_token())


def stop_sweep(runs: JobRegistry, sweep_id: str) -> None:
    sweep.stop(runs, sweep_id, browser_token(), ui.admin_password())


# ----- the sweep on show -------------------------------------------------------------------


def read_sweep_link() -> None:
    linked = st.query_params.get(SWEEP_PARAM)
    if linked and linked != st.session_state.get(SWEEP_KEY):
        st.session_state[SWEEP_KEY] = linked


def shown_sweep(runs: JobRegistry) -> sweep.Sweep | None:
    sweep_id = st.session_state.get(SWEEP_KEY)
    if not sweep_id:
        return None
    try:
        return sweep.find(runs, sweep_id)
    except RunNotFound as err:
        st.warning(f"The link names a sweep that cannot be shown: {inert(err)}", icon=":material/link_off:")
        st.session_state[SWEEP_KEY] = None
        st.query_params.pop(SWEEP_PARAM, None)
        return None


def results_table(found: sweep.Sweep) -> None:
    table = found.table()
    for axis in found.axes:
        table[axis] = table[axis].map(SETTING[axis].show)
    table["link"] = [f"/train?run={run_id}" for run_id in table.run_id]
    table = table[[*found.axes, *RESULT_NAMES]].rename(
        columns={**RESULT_NAMES, **{axis: SETTING[axis].label for axis in found.axes}}
    )
    st.dataframe(
        table,
        hide_index=True,
        height=min(TABLE_ROW * (len(table) + 1) + 3, TABLE_MAX),  # every run in sight, up to a point
        column_config={
            "Test accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
            "Test loss": st.column_config.NumberColumn(format="%.4f"),
            "Training seconds": st.column_config.NumberColumn(format="%.1f"),
            "Seconds per epoch": st.column_config.NumberColumn(format="%.2f"),
            "Run": st.column_config.LinkColumn(display_text=r"run=(.*)"),
        },
    )


def result_charts(found: sweep.Sweep, train_size: int) -> None:
    rows = chart_rows(found)
    note = sweep_tables.left_out(found)
    if rows.empty:
        st.caption(" ".join(filter(None, ["The charts fill in as runs finish.", note])))
        return
    if sweep_tables.all_near_chance(rows, train_words.NEAR_CHANCE):
        st.info(train_words.grid_near_chance_advice(), icon=":material/lightbulb:")
    if found.axes and SETTING[found.axes[0]].optional:
        rows["x"] = rows["x"].fillna(train_size)  # "all" is drawn where all the training images are
    second = SETTING[found.axes[1]].label if len(found.axes) > 1 else None
    swept = SETTING[found.axes[0]].label.lower() if found.axes else "the run"
    ticks = sweep_tables.swept_values(found, train_size)
    specs = sweep_charts.result_specs(*sweep_charts.x_axis(found), second, swept, ticks)
    for column, spec in zip(st.columns(3), specs.values()):
        charts.show(column, spec, {sweep_charts.RESULTS: rows})
    if note:
        st.caption(note)


def sweep_view(runs: JobRegistry, polling: bool, train_size: int) -> None:
    """Redrawn once a second while the sweep trains: progress, the results table, the charts."""
    found = shown_sweep(runs)
    if found is None:
        return
    for view in found.runs:
        if view.busy:
            runs.watch(view.run_id)  # a page that shows a sweep keeps its runs watched
    if polling and not found.busy:
        st.rerun()  # the sweep ended: the Stop button and the form catch up
    done = len(found.ended)
    counts = pd.Series([view.status.value for view in found.ended]).value_counts()
    ended = f" ({', '.join(f'{count} {status}' for status, count in counts.items())})" if done else ""
    st.progress(done / len(found.runs), text=f"{done} of {len(found.runs)} runs done{ended}")
    results_table(found)
    result_charts(found, train_size)


def earlier_sweeps(runs: JobRegistry) -> None:
    ids = sweep.sweeps(runs)
    if not ids:
        return
    shown = st.session_state.get(SWEEP_KEY)
    # not keyed: the picker follows the sweep on show, also when one is started or linked
    picked = st.selectbox(
        "Sweep on show", ids, index=ids.index(shown) if shown in ids else None, placeholder="pick an earlier sweep"
    )
    if picked and picked != shown:
        st.session_state[SWEEP_KEY] = picked
        st.rerun()


# ----- the page ----------------------------------------------------------------------------


def main() -> None:
    st.title("Sweep: the notebook's exercise")
    st.markdown(
        "The notebook ends by asking you to try other hidden sizes, batch sizes, learning rates and epochs, "
        "and to watch how training speed and accuracy change. Here the whole grid trains at once, a run per "
        "combination."
    )
    registry = ui.registry()
    data = ui.get_data()
    if data is None:
        st.stop()
    train_size = len(data.train_labels)
    read_link_once()
    read_sweep_link()
    commands.show_error(st, ACTION_ERROR)

    with st.expander("New sweep", expanded=not st.session_state.get(SWEEP_KEY)):
        sweep_form(registry)
    earlier_sweeps(registry)

    current = shown_sweep(registry)
    if current is not None:
        busy = current.busy
        owner_may = registry.may_change(current.runs[0].run_id, browser_token(), ui.admin_password())
        stopping = busy and all(view.live.stopping for view in current.runs if view.busy and view.live)
        st.subheader(f"Sweep {current.sweep_id}")
        st.button(
            "Stopping..." if stopping else "Stop sweep",
            icon=":material/stop:",
            disabled=not busy or stopping or not owner_may,
            on_click=commands.run,
            args=(ACTION_ERROR, "Could not stop the sweep", stop_sweep, registry, current.sweep_id),
            help=None if owner_may else "This sweep was started in another browser: only that browser can stop it.",
        )
        st.fragment(sweep_view, run_every=POLL_SECONDS if busy else None)(registry, busy, train_size)
        if st.query_params.get(SWEEP_PARAM) != current.sweep_id:
            st.query_params[SWEEP_PARAM] = current.sweep_id


main()
