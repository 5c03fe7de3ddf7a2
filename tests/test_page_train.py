"""The Train page under AppTest: settings, training in the tab's worker, live view, saved runs.

AppTest runs the script to the end each time, so a test presses a button and then reruns
the page until the worker has finished, as the page's own polling would.
"""

import json
import time

import pyarrow as pa
import pytest
import torch
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.runs import RunStore
from tests.conftest import REPO

TINY = {"hidden": "8", "images": "500", "epochs": "2"}
# Every AppTest runs under this one session id, so the tab's training session would carry
# over from one test to the next.
APPTEST_SESSION_ID = "test session id"


@pytest.fixture(autouse=True, scope="module")
def torch_threads():
    """The app's training slots size torch's process-wide thread count; later tests get theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def close_the_tab():
    """After each test the tab closes: its training session is released, as a server does."""
    yield
    clear_session_resource_cache(APPTEST_SESSION_ID)


def open_train_page(**params) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    at.switch_page("app_pages/train.py")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def training(at: AppTest) -> bool:
    return not button(at, "Stop").disabled


def rerun_until_idle(at: AppTest, timeout: float = 120.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while training(at):
        assert time.monotonic() < deadline, "the training did not end"
        time.sleep(0.2)
        at.run()
        assert not at.exception
    return at


def press(at: AppTest, label: str) -> AppTest:
    button(at, label).click().run()
    assert not at.exception
    return at


def slider(at: AppTest, label: str):
    return next(s for s in at.select_slider if s.label == label)


def charts(at: AppTest) -> dict[str, dict]:
    """The page's Altair charts by title: their spec and their data sets as DataFrames."""
    found = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        title = spec.get("title", {}).get("text") or spec["vconcat"][0]["title"]
        data = [pa.ipc.open_stream(d.data.data).read_pandas() for d in element.proto.datasets]
        found[title] = {"spec": spec, "data": data}
    return found


def current_model(at: AppTest) -> str:
    return next(m.value for m in at.main.markdown if m.value.startswith("**Current model:**"))


def epoch_column(at: AppTest) -> list:
    return list(at.dataframe[0].value["Epoch"])


def test_train_runs_to_the_end_and_the_charts_carry_every_epoch():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    assert "Finished: trained to epoch 2" in at.success[0].value
    assert epoch_column(at) == [0, 1, 2]
    shown = charts(at)
    accuracy = shown["Test accuracy"]["data"][0]
    assert list(accuracy["epoch"]) == [0, 1, 2]
    assert list(accuracy["test_accuracy"]) == list(at.dataframe[0].value["Test accuracy (%)"])
    assert accuracy["test_accuracy"].between(0, 100).all()
    assert shown["Test accuracy"]["spec"]["encoding"]["tooltip"]
    [losses] = shown["Training loss"]["data"]
    batch_losses, epoch_means = (losses[losses["series"] == name] for name in ("batch", "epoch mean"))
    assert batch_losses["epoch"].max() == pytest.approx(2.0) and list(epoch_means["epoch"]) == [1, 2]
    assert list(epoch_means["loss"]) == list(at.dataframe[0].value["Train loss"][1:])
    assert list(shown["Test loss"]["data"][0]["test_loss"]) == list(at.dataframe[0].value["Test loss"])
    assert [m.label for m in at.metric] == ["Test accuracy", "Test loss", "Epochs trained", "Seconds per epoch"]
    csv = at.get("download_button")[0]
    assert not csv.proto.disabled


def test_stop_ends_a_run_early():
    at = press(open_train_page(hidden="8", images="2000", epochs="200"), "Train")
    assert training(at) and button(at, "Train").disabled
    rerun_until_idle(press(at, "Stop"))
    assert "Stopped: by the user during epoch" in at.info[0].value
    assert epoch_column(at)[-1] < 200
    assert not button(at, "Continue").disabled and not button(at, "Train").disabled


def test_the_progress_bar_tells_epoch_batch_speed_and_time_left():
    at = press(open_train_page(hidden="8", images="2000", epochs="200"), "Train")
    deadline = time.monotonic() + 60
    while "left" not in (text := at.get("progress")[0].proto.text):
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
        at.run()
    assert text.startswith("Epoch ") and " of 200 · batch " in text and "images/s" in text
    rerun_until_idle(press(at, "Stop"))


def test_training_goes_on_while_another_page_is_shown(runs_dir):
    at = press(open_train_page(hidden="8", images="2000", epochs="200"), "Train")
    at.switch_page("app_pages/explore.py").run()
    deadline = time.monotonic() + 60
    while len(saved := RunStore(runs_dir).scan()[0]) == 0 or len(saved[0][1]) < 3:
        assert time.monotonic() < deadline, "no epoch was trained while the Explore page was shown"
        time.sleep(0.2)
    at.switch_page("app_pages/train.py").run()
    assert training(at) and len(epoch_column(at)) >= 3
    rerun_until_idle(press(at, "Stop"))


def test_closing_the_tab_stops_the_training_and_saves_the_run_as_stopped(runs_dir):
    at = press(open_train_page(hidden="8", images="2000", epochs="200"), "Train")
    clear_session_resource_cache(APPTEST_SESSION_ID)
    [run] = RunStore(runs_dir).scan()[0]
    assert run[0]["status"] == "stopped"


def test_continue_adds_epochs_to_the_current_model(runs_dir):
    at = rerun_until_idle(press(open_train_page(hidden="8", images="500", epochs="1"), "Train"))
    assert epoch_column(at) == [0, 1]
    at.number_input(key="train_more_epochs").set_value(2)
    rerun_until_idle(press(at, "Continue"))
    assert epoch_column(at) == [0, 1, 2, 3]
    assert "trained to epoch 3" in at.success[0].value
    runs = RunStore(runs_dir).list_runs()
    assert len(runs) == 1 and runs["epochs"][0] == 3


def test_buttons_that_make_no_sense_are_disabled():
    at = open_train_page(**TINY)
    assert not button(at, "Train").disabled
    assert button(at, "Stop").disabled and button(at, "Continue").disabled and button(at, "Reset").disabled
    rerun_until_idle(press(at, "Train"))
    assert button(at, "Stop").disabled
    assert not any(button(at, label).disabled for label in ("Train", "Continue", "Reset"))


def test_reset_forgets_the_model():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    press(at, "Reset")
    assert button(at, "Continue").disabled and epoch_column(at) == []
    assert "press **Train**" in at.info[0].value


def test_a_preset_fills_the_sidebar_and_a_change_makes_it_custom():
    at = open_train_page()
    assert at.selectbox(key="train_preset").value == "notebook"
    at.selectbox(key="train_preset").set_value("strong").run()
    assert slider(at, "Hidden size").value == 128 and slider(at, "Batch size").value == 64
    assert slider(at, "Learning rate").value == 0.001
    assert at.radio(key="train_optimizer").value == "Adam" and at.radio(key="train_num_layers").value == 2
    assert at.query_params["preset"] == "strong"
    slider(at, "Hidden size").set_value(64).run()
    assert at.selectbox(key="train_preset").value == "custom"
    assert at.query_params["hidden"] == "64" and "preset" not in at.query_params
    assert not at.exception


def test_moving_a_control_does_not_train(runs_dir):
    at = open_train_page()
    slider(at, "Hidden size").set_value(64).run()
    at.number_input(key="train_epochs").set_value(3).run()
    assert button(at, "Stop").disabled and button(at, "Continue").disabled
    assert RunStore(runs_dir).list_runs().empty


def test_a_link_fills_the_sidebar_and_a_bad_value_falls_back_with_a_message():
    at = open_train_page(preset="strong", lr="abc", images="1000", seed="5")
    assert slider(at, "Hidden size").value == 128 and slider(at, "Learning rate").value == 0.001
    assert slider(at, "Training images").value == 1000 and at.number_input(key="train_seed").value == 5
    assert len(at.warning) == 1 and "`lr=abc`" in at.warning[0].value and "using 0.001" in at.warning[0].value
    assert not at.exception


def test_settings_survive_a_page_switch():
    at = open_train_page()
    slider(at, "Hidden size").set_value(64).run()
    at.number_input(key="train_epochs").set_value(4).run()
    at.switch_page("app_pages/explore.py").run()
    at.switch_page("app_pages/train.py").run()
    assert slider(at, "Hidden size").value == 64 and at.number_input(key="train_epochs").value == 4
    assert at.query_params["hidden"] == "64" and at.query_params["epochs"] == "4"


def test_a_diverging_setting_shows_its_message_and_keeps_the_charts():
    at = rerun_until_idle(press(open_train_page(hidden="8", images="1000", epochs="3", lr="100"), "Train"))
    message = at.error[0].value
    assert "diverged" in message and "learning rate 100 is too high" in message
    assert epoch_column(at) == [0]
    assert list(charts(at)["Test accuracy"]["data"][0]["epoch"]) == [0]


def test_compare_runs_names_what_differs_and_a_run_can_become_the_current_model():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    slider(at, "Learning rate").set_value(1.0).run()
    rerun_until_idle(press(at, "Train"))
    overlay = charts(at)["Test accuracy by epoch"]
    assert set(overlay["data"][0]["run"]) == {"lr 0.1", "lr 1"}
    assert overlay["spec"]["vconcat"][1]["encoding"]["x"]["field"] == "seconds"
    runs = at.dataframe[1].value
    assert len(runs) == 2 and set(runs["learning_rate"]) == {0.1, 1.0}
    first = runs.loc[runs["learning_rate"] == 0.1, "run_id"].item()
    at.selectbox(key="train_action_run").set_value(first).run()
    press(at, "Make current model")
    assert f"run `{first}`" in current_model(at) and "lr 0.1" in current_model(at)
    assert epoch_column(at) == [0, 1, 2]


def test_deleting_a_run_asks_first_and_refuses_the_current_model():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    rerun_until_idle(press(at, "Train"))
    current = current_model(at).split("`")[1]
    other = next(run_id for run_id in at.dataframe[1].value["run_id"] if run_id != current)
    at.selectbox(key="train_action_run").set_value(current).run()
    press(at, "Delete run")
    assert any("press **Reset** first" in w.value for w in at.warning)
    at.selectbox(key="train_action_run").set_value(other).run()
    press(at, "Delete run")
    assert any(f"Delete run `{other}`?" in w.value for w in at.warning)
    press(at, "Cancel")
    assert len(at.dataframe[1].value) == 2
    press(at, "Delete run")
    press(at, "Yes, delete")
    assert list(at.dataframe[1].value["run_id"]) == [current]


def test_a_damaged_run_folder_is_shown_as_a_warning(runs_dir):
    (runs_dir / "broken-run").mkdir(parents=True)
    (runs_dir / "broken-run" / "run.json").write_text("{ not json")
    at = open_train_page()
    assert any("broken-run" in w.value for w in at.warning)
    assert not at.exception


def test_a_run_without_a_model_cannot_become_the_current_one_and_says_why(runs_dir):
    run = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    run.finish("stopped", "stopped while waiting for a training slot")
    at = open_train_page()
    at.selectbox(key="train_action_run").set_value(run.run_id).run()
    press(at, "Make current model")
    assert run.run_id in at.error[0].value and "no such file" in at.error[0].value
    assert button(at, "Continue").disabled
