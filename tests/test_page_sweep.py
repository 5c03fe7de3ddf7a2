"""The Sweep page under AppTest: the form from a link, a grid that trains and fills its table and
charts, the sweep's own link, Stop for the whole sweep, and someone else's sweep."""

import time

from streamlit.testing.v1 import AppTest

from dashboard import cost_note
from dashboard.sweep_charts import ACCURACY_TITLE, SPEED_TITLE, WORTH_TITLE
from rnn_core.runs import RunStore
from tests.conftest import charts, new_app

TINY = {"x": "hidden_size", "xv": "4,8", "y": "learning_rate", "yv": "0.1,1", "epochs": "1", "images": "500"}
LONG = {"x": "hidden_size", "xv": "4,8", "y": "none", "epochs": "200", "images": "2000"}
ALICE, BOB = "a" * 32, "b" * 32


def open_sweep_page(token: str = ALICE, **params) -> AppTest:
    at = new_app()
    at.switch_page("app_pages/sweep.py")
    at.query_params.update(params)
    at.session_state["browser_token"] = token
    at.run()
    assert not at.exception
    return at


def button(at: AppTest, prefix: str):
    return next(b for b in at.button if b.label.startswith(prefix))


def progress_text(at: AppTest) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def rerun_until_done(at: AppTest, timeout: float = 120.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while True:
        text = progress_text(at)
        done, _, total = text.partition(" of ")
        if text and int(done) == int(total.split()[0]):
            return at
        assert time.monotonic() < deadline, f"the sweep did not end: {text}"
        time.sleep(0.3)
        at.run()
        assert not at.exception


def test_the_form_reads_its_link_and_counts_the_grid():
    at = open_sweep_page(**TINY)
    assert at.selectbox(key="sweep_first").value == "hidden_size" and at.multiselect(
        key="sweep_first_values"
    ).value == [4, 8]
    assert at.multiselect(key="sweep_second_values").value == [0.1, 1.0]
    assert button(at, "Start sweep").label == "Start sweep (4 runs)"
    at.selectbox(key="sweep_second").set_value("none").run()
    assert button(at, "Start sweep").label == "Start sweep (2 runs)"


def test_the_notebooks_exercise_is_the_default_grid():
    at = open_sweep_page()
    assert at.multiselect(key="sweep_first_values").value == [10, 20, 50, 100]
    assert button(at, "Start sweep").label == "Start sweep (12 runs)"


def test_a_sweep_trains_fills_its_table_and_charts_and_has_its_own_link(runs_dir):
    at = open_sweep_page(**TINY)
    button(at, "Start sweep").click().run()
    assert not at.exception
    sweep_id = at.query_params["sweep"][0] if isinstance(at.query_params["sweep"], list) else at.query_params["sweep"]
    rerun_until_done(at)
    table = at.dataframe[0].value
    assert len(table) == 4 and list(table["Status"]) == ["finished"] * 4
    assert list(table["Hidden size"]) == ["4", "4", "8", "8"] and list(table["Learning rate"]) == [
        "0.1",
        "1",
        "0.1",
        "1",
    ]
    assert table["Test accuracy (%)"].notna().all() and table["Run"].str.startswith("/train?run=").all()
    assert {chart.title for chart in charts(at)} == {ACCURACY_TITLE, SPEED_TITLE, WORTH_TITLE}
    accuracy = next(chart for chart in charts(at) if chart.title == ACCURACY_TITLE)
    assert accuracy.spec["encoding"]["x"]["axis"]["values"] == [4, 8]  # ticked at the swept sizes only
    assert accuracy.spec["encoding"]["x"]["scale"]["nice"] is False
    records, _ = RunStore(runs_dir).scan()
    assert sorted(record.label for record in records) == sorted(
        f"sweep {sweep_id}: hidden {h}, lr {lr}" for h in (4, 8) for lr in ("0.1", "1")
    )
    assert all(record.owned_by(ALICE) and record.sweep.axes == ("hidden_size", "learning_rate") for record in records)

    other_tab = open_sweep_page(BOB, sweep=sweep_id)
    assert other_tab.subheader[0].value == f"Sweep {sweep_id}" and len(other_tab.dataframe[0].value) == 4


def test_stop_stops_the_whole_sweep_and_only_its_owner_may(runs_dir):
    at = open_sweep_page(**LONG)
    button(at, "Start sweep").click().run()
    sweep_id = at.query_params["sweep"]
    sweep_id = sweep_id[0] if isinstance(sweep_id, list) else sweep_id
    visitor = open_sweep_page(BOB, sweep=sweep_id)
    assert button(visitor, "Stop sweep").disabled
    button(at, "Stop sweep").click().run()
    assert not at.exception
    rerun_until_done(at)
    table = at.dataframe[0].value
    assert list(table["Status"]) == ["stopped", "stopped"]
    assert button(at, "Stop sweep").disabled
    assert not charts(at)  # a stopped run's accuracy is not a result to draw
    assert any("Not drawn: 2 stopped" in caption.value for caption in at.caption)  # which, and why


def test_a_link_to_an_unknown_or_malformed_sweep_says_so():
    for linked in ("20200101-000000-abcdef", "../../etc/passwd"):
        at = open_sweep_page(sweep=linked)
        assert "cannot be shown" in at.warning[0].value and not at.subheader


def test_a_sweep_with_784_step_orders_says_what_an_epoch_costs_before_it_starts():
    at = open_sweep_page(x="order", xv="columns,pixels,permuted", y="none", epochs="1", images="5000")
    assert at.multiselect(key="sweep_first_values").value == ["columns", "pixels", "permuted"]
    (note,) = [w.value for w in at.warning if cost_note.HEADLINE in w.value]
    assert "2 runs" in note and "5,000" in note
    button(at, "Use 2,000 images").click().run()
    assert at.session_state["sweep_train_limit"] == 2000
    at.multiselect(key="sweep_first_values").set_value(["rows", "columns"]).run()
    assert not [w for w in at.warning if cost_note.HEADLINE in w.value]  # 28 steps: nothing to warn of
