"""AppTest checks of the Runs page: the table of runs, the overlay, showing a run on every page,
delete (asked first, only by whoever started the run), a damaged folder, the admin password."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import ui
from rnn_core.admin_gate import Attempt
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.registry import FEATURED_RUN
from rnn_core.runs import RunStore
from tests.conftest import chart_titled, new_app
from tests.test_page_train import (
    TINY,
    current_model,
    epoch_column,
    open_train_page,
    plain,
    press,
    rerun_until_idle,
    slider,
)


def open_runs_page(at: AppTest | None = None, **params) -> AppTest:
    """The Runs page, in the tab `at` (a fresh one by default)."""
    if at is None:
        at = new_app()
        at.query_params.update(params)
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception
    return at


def runs_table(at: AppTest):
    return at.dataframe[0].value


@pytest.fixture
def two_runs() -> AppTest:
    """A tab that trained two runs, lr 0.1 and lr 1, on the Train page."""
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    slider(at, "Learning rate").set_value(1.0).run()
    return rerun_until_idle(press(at, "Train"))


def test_the_runs_page_names_what_differs_and_any_run_can_be_shown(two_runs):
    at = open_runs_page(two_runs)
    overlay = chart_titled(at, "Test accuracy of the runs")
    history = overlay.tables["overlay"]
    assert set(history["run"]) == {"lr 0.1", "lr 1"}
    assert overlay.spec["vconcat"][1]["encoding"]["x"]["field"] == "seconds"
    runs = runs_table(at)
    assert len(runs) == 2 and set(runs["learning_rate"]) == {0.1, 1.0}
    first = runs.loc[runs["learning_rate"] == 0.1, "run_id"].item()
    at.selectbox(key="runs_action_run").set_value(first).run()
    press(at, "Show this run")
    assert at.query_params["run"] == first
    at.switch_page("app_pages/train.py").run()
    assert f"run `{first}`" in current_model(at) and "lr 0.1" in current_model(at)
    assert epoch_column(at) == [0, 1, 2]


def test_deleting_a_run_asks_first_and_the_tab_then_shows_another(two_runs):
    current = current_model(two_runs).split("`")[1]
    at = open_runs_page(two_runs)
    other = next(run_id for run_id in runs_table(at)["run_id"] if run_id != current)
    at.selectbox(key="runs_action_run").set_value(other).run()
    press(at, "Delete run")
    assert any(f"Delete run `{other}`?" in w.value for w in at.warning)
    press(at, "Cancel")
    assert len(runs_table(at)) == 2
    press(at, "Delete run")
    press(at, "Yes, delete")
    assert list(runs_table(at)["run_id"]) == [current]
    at.selectbox(key="runs_action_run").set_value(current).run()
    press(at, "Delete run")
    press(at, "Yes, delete")
    assert not at.dataframe and "run" not in at.query_params
    assert any("None yet" in caption.value for caption in at.caption)


def test_the_runs_page_link_starts_the_actions_on_the_linked_run(runs_dir):
    store = RunStore(runs_dir)
    first, second = (store.create(ModelConfig(hidden_size=8), TrainConfig(epochs=1)) for _ in range(2))
    for run in (first, second):
        run.finish(RunStatus.STOPPED, "stopped by hand")
    at = open_runs_page(run=first.run_id)
    assert at.selectbox(key="runs_action_run").value == first.run_id


def test_a_damaged_run_folder_is_shown_as_a_warning(runs_dir):
    broken = runs_dir / "20260101-000000-0000bb"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{ not json")
    at = open_runs_page()
    assert any(broken.name in plain(w.value) for w in at.warning)


def test_a_wrong_admin_password_makes_even_the_right_one_wait(runs_dir, monkeypatch):
    """Issue 25, item 5: no run of quick guesses from one tab."""
    monkeypatch.setenv("RNN_ADMIN_PASSWORD", "sesame")
    RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1)).finish(RunStatus.STOPPED, "")
    at = open_runs_page()
    at.text_input(key="runs_admin_input").set_value("guess").run()
    assert any("try again in 1 s" in c.value for c in at.caption)
    at.text_input(key="runs_admin_input").set_value("sesame").run()
    assert not any(Attempt(accepted=True).message in c.value for c in at.caption)
    assert at.session_state[ui.ADMIN_KEY] is None


def test_the_teacher_features_a_run_and_a_new_browser_is_shown_it_with_the_reason(runs_dir, monkeypatch):
    monkeypatch.setenv("RNN_ADMIN_PASSWORD", "sesame")
    featured = rerun_until_idle(press(open_train_page(**TINY), "Train")).query_params["run"]
    rerun_until_idle(press(open_train_page(**TINY), "Train"))  # a newer run, by another browser
    teacher = open_runs_page()
    assert not [b for b in teacher.button if "Feature" in b.label]  # only with the password
    teacher.text_input(key="runs_admin_input").set_value("sesame").run()
    teacher.selectbox(key="runs_action_run").set_value(featured).run()
    press(teacher, "Feature this run for the class")
    assert any(featured in c.value for c in teacher.caption)
    student = open_train_page()
    assert f"run `{featured}`" in current_model(student)
    assert any(FEATURED_RUN in m.value for m in student.sidebar.markdown)
    press(open_runs_page(teacher), "Stop featuring this run")
    assert f"run `{featured}`" not in current_model(open_train_page())
