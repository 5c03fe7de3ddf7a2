"""The Train page under AppTest: settings, training on the server, live view, saved runs.

AppTest runs the script to the end each time, so a test presses a button and then reruns
the page until the run has ended, as the page's own polling would.
"""

import json
import math
import re
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import cost_note, train_words, ui
from dashboard.inert import WORD_JOINER
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.jobs import USER_STOP
from rnn_core.registry import NEWEST_RUN
from rnn_core.runs import RunStore
from tests.conftest import chart_titled
from tests.gfm import live_constructs
from tests.kit import busy, messages, open_page, press, record, rerun_until_idle, shown_run, trained_run

TINY = {"hidden": "8", "images": "500", "epochs": "2"}
LONG = {"hidden": "8", "images": "2000", "epochs": "200"}


def open_train_page(token: str | None = None, **params) -> AppTest:
    """A fresh tab on the Train page; `token` stands for the browser's cookie."""
    at = open_page("train", token, **params)
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def stop_button(at: AppTest):
    return next(b for b in at.button if b.label in ("Stop", "Stopping..."))


def plain(markdown: str) -> str:
    """Markdown text as it reads on the page, without the escapes and the invisible word
    joiners that break autolinks (dashboard/inert.py)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def slider(at: AppTest, label: str):
    return next(s for s in at.select_slider if s.label == label)


def current_model(at: AppTest) -> str:
    return next(m.value for m in at.main.markdown if m.value.startswith("**Current model:**"))


def epoch_column(at: AppTest) -> list:
    return list(at.dataframe[0].value["Epoch"])


def train_past_epoch_0(at: AppTest, timeout: float = 60.0) -> AppTest:
    """Train pressed, and the page run again until the untrained model is scored: a stop
    before that ends the run with no epoch to show or continue (tests/test_registry.py)."""
    press(at, "Train")
    deadline = time.monotonic() + timeout
    while not epoch_column(at):
        assert time.monotonic() < deadline, "the untrained model was not scored"
        time.sleep(0.2)
        at.run()
    return at


def assert_stopped_by_the_user(at: AppTest, runs_dir) -> None:
    """The run on show is saved as stopped by the user, and the page's message gives the reason."""
    saved = record(runs_dir, shown_run(at))
    assert saved.status == RunStatus.STOPPED and saved.reason.startswith(USER_STOP)
    assert USER_STOP.removeprefix("stopped ") in at.info[0].value


def finished_message(at: AppTest) -> str:
    """The message of a finished run: a success, or a warning when it learned next to nothing."""
    return plain((at.success or at.warning)[0].value)


def test_train_runs_to_the_end_and_the_charts_carry_every_epoch(runs_dir):
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    saved = record(runs_dir, shown_run(at))
    assert saved.status == RunStatus.FINISHED and saved.epochs == 2
    assert {message.kind for message in messages(at)} & {"success", "warning"}  # warning: it learned next to nothing
    assert epoch_column(at) == [0, 1, 2]
    accuracy = chart_titled(at, "Test accuracy").tables["history"]
    assert list(accuracy["epoch"]) == [0, 1, 2]
    assert list(accuracy["test_accuracy"]) == list(at.dataframe[0].value["Test accuracy (%)"])
    assert accuracy["test_accuracy"].between(0, 100).all()
    assert chart_titled(at, "Test accuracy").spec["encoding"]["tooltip"]
    [losses] = chart_titled(at, "Training loss").tables.values()
    batch_losses, epoch_means = (losses[losses["series"] == name] for name in ("batch", "epoch mean"))
    assert batch_losses["epoch"].max() == pytest.approx(2.0) and list(epoch_means["epoch"]) == [1, 2]
    assert list(epoch_means["loss"]) == list(at.dataframe[0].value["Train loss"][1:])
    assert list(chart_titled(at, "Test loss").tables["history"]["test_loss"]) == list(
        at.dataframe[0].value["Test loss"]
    )
    history = at.dataframe[0].value
    shown = [m.value for m in at.metric]  # the latest epoch's scores, as the table has them
    assert shown[:3] == [f"{history['Test accuracy (%)'].iloc[-1]:.2f}%", f"{history['Test loss'].iloc[-1]:.4f}", "2"]
    csv = at.get("download_button")[0]
    assert not csv.proto.disabled


STATUS_KINDS = {"progress", "alert", "info", "success", "warning", "error"}


def shape(node) -> str | list:
    """An element's kind, or a block's kind and its children's shapes; the status slot's
    progress bar and its messages count as one kind."""
    kind = getattr(node, "type", type(node).__name__)
    if kind in STATUS_KINDS:
        return "status"
    children = getattr(node, "children", None)
    return kind if children is None else [kind, [shape(child) for child in children.values()]]


def page_shape(at: AppTest) -> list:
    """The page as a tree of kinds (the runs' table and chart, which grow with each run, are on
    the Runs page): a change in it is an element the browser removes and adds again, and the
    page jumps."""
    return [shape(node) for node in at.main.children.values()]


def test_the_page_keeps_its_shape_when_a_run_starts_and_ends():
    at = open_train_page(**TINY)
    idle = page_shape(at)
    press(at, "Train")
    assert busy(at) and page_shape(at) == idle
    rerun_until_idle(at)
    assert page_shape(at) == idle
    assert current_model(at).startswith("**Current model:** LSTM")


def test_a_run_that_ends_near_chance_says_so_and_what_to_change():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))  # SGD on 500 images: too little to learn
    accuracy = at.dataframe[0].value["Test accuracy (%)"].iloc[-1]
    assert accuracy <= 20 and not at.success
    [warning] = [plain(w.value) for w in at.warning]
    assert "trained to epoch 2" in warning and f"{accuracy:.1f}%" in warning
    assert "500 images" in warning and "Adam" in warning and "quick" in warning


def test_stop_is_felt_at_once_and_ends_the_run_early(runs_dir):
    at = train_past_epoch_0(open_train_page(**LONG))
    assert busy(at) and button(at, "Continue").disabled
    press(at, "Stop")
    stopping = stop_button(at)
    if stopping.label == "Stopping...":  # the partial epoch can be scored before this rerun
        assert stopping.disabled and at.get("progress")[0].proto.text.startswith("Stopping...")
    rerun_until_idle(at)
    assert_stopped_by_the_user(at, runs_dir)
    assert epoch_column(at)[-1] < 200
    assert not button(at, "Continue").disabled and not button(at, "Train").disabled
    assert len(RunStore(runs_dir).scan()[0]) == 1


def test_a_run_stopped_before_it_had_a_model_says_train_starts_anew_and_cannot_continue(runs_dir):
    unscored = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    unscored.finish(RunStatus.STOPPED, f"{USER_STOP} before its untrained model was scored")
    at = open_train_page(run=unscored.run_id)
    assert train_words.NO_MODEL_TO_CONTINUE in at.info[0].value
    assert button(at, "Continue").disabled and not button(at, "Train").disabled


def test_the_progress_bar_tells_epoch_batch_speed_and_time_left():
    at = press(open_train_page(**LONG), "Train")
    deadline = time.monotonic() + 60
    while "left" not in (text := at.get("progress")[0].proto.text):
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
        at.run()
    assert text.startswith("Epoch ") and " of 200 · batch " in text and "images/s" in text
    rerun_until_idle(press(at, "Stop"))


def test_training_goes_on_while_another_page_is_shown(runs_dir):
    at = press(open_train_page(**LONG), "Train")
    at.switch_page("app_pages/explore.py").run()
    deadline = time.monotonic() + 60
    while len(saved := RunStore(runs_dir).scan()[0]) == 0 or len(saved[0].history) < 3:
        assert time.monotonic() < deadline, "no epoch was trained while the Explore page was shown"
        time.sleep(0.2)
    at.switch_page("app_pages/train.py").run()
    assert busy(at) and len(epoch_column(at)) >= 3
    rerun_until_idle(press(at, "Stop"))


def test_a_second_tab_on_the_run_link_sees_the_same_live_run_and_the_tab_going_away_does_not_stop_it(runs_dir):
    first = press(open_train_page(token="a" * 32, **LONG), "Train")
    run_id = first.query_params["run"]
    del first  # the tab is gone: nothing stops its run
    second = open_train_page(token="a" * 32, run=run_id)
    assert busy(second) and f"run `{run_id}`" in current_model(second)
    assert not stop_button(second).disabled  # the same browser may stop it
    rerun_until_idle(press(second, "Stop"))
    assert RunStore(runs_dir).read(run_id).status == RunStatus.STOPPED


def test_another_browser_sees_the_run_but_cannot_stop_it_or_delete_it_on_the_runs_page(runs_dir):
    owner = press(open_train_page(token="a" * 32, **LONG), "Train")
    run_id = owner.query_params["run"]
    other = open_train_page(token="b" * 32, run=run_id)
    assert busy(other) and stop_button(other).disabled
    other.switch_page("app_pages/runs.py").run()
    other.selectbox(key="runs_action_run").set_value(run_id).run()
    assert button(other, "Delete run").disabled
    rerun_until_idle(press(owner, "Stop"))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_continue_on_your_own_stopped_run_finishes_the_cut_epoch_then_trains_more_in_the_same_run(runs_dir):
    at = train_past_epoch_0(open_train_page(**LONG))
    rerun_until_idle(press(at, "Stop"))
    run_id = at.query_params["run"]
    stopped_at = epoch_column(at)[-1]
    cut = stopped_at != math.ceil(stopped_at)  # almost always: the stop came part-way through an epoch
    if cut:
        assert f"finishes epoch {math.ceil(stopped_at)}" in at.info[0].value
    at.number_input(key="train_more_epochs").set_value(1)
    rerun_until_idle(press(at, "Continue"))
    assert at.query_params["run"] == run_id
    finished_epochs = [math.ceil(stopped_at), math.ceil(stopped_at) + 1] if cut else [stopped_at + 1]
    assert epoch_column(at)[-len(finished_epochs) :] == finished_epochs
    assert metric(at, "Epochs trained") == str(finished_epochs[-1])
    [run] = RunStore(runs_dir).scan()[0]
    # the speed is over whole epochs: the cut pass and the rest of it are not counted
    whole = [row.seconds_per_epoch for row in run.history if row.seconds_per_epoch]
    not_counted = [row.epoch for row in run.history[1:] if row.seconds_per_epoch is None]
    assert not_counted == ([stopped_at, finished_epochs[0]] if cut else [])
    assert metric(at, "Seconds per epoch") == f"{sum(whole) / len(whole):.2f}"
    at.switch_page("app_pages/runs.py").run()  # the table of runs
    assert at.dataframe[0].value["seconds_per_epoch"].item() == pytest.approx(sum(whole) / len(whole))


def test_continue_on_a_finished_run_forks_a_new_run_that_names_its_parent(runs_dir):
    at = rerun_until_idle(press(open_train_page(hidden="8", images="500", epochs="1"), "Train"))
    parent = at.query_params["run"]
    assert epoch_column(at) == [0, 1]
    at.number_input(key="train_more_epochs").set_value(2)
    rerun_until_idle(press(at, "Continue"))
    child = at.query_params["run"]
    assert child != parent and epoch_column(at) == [0, 1, 2, 3]
    assert "trained to epoch 3" in finished_message(at)
    assert f"`{parent}` from epoch 1" in current_model(at)  # the parent, and where the child began
    store = RunStore(runs_dir)
    assert store.read(child).parent == {"run_id": parent, "epoch": 1}
    assert [row.epoch for row in store.read(parent).history] == [0, 1]


def test_buttons_that_make_no_sense_are_disabled():
    at = open_train_page(**TINY)
    assert not button(at, "Train").disabled
    assert stop_button(at).disabled and button(at, "Continue").disabled
    rerun_until_idle(press(at, "Train"))
    assert stop_button(at).disabled
    assert not any(button(at, label).disabled for label in ("Train", "Continue"))


def test_a_tab_with_no_run_chosen_shows_the_newest_finished_run_and_says_so(runs_dir):
    finished = rerun_until_idle(press(open_train_page(**TINY), "Train")).query_params["run"]
    stopped = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    stopped.finish(RunStatus.STOPPED, "stopped while waiting for a training slot")
    at = open_train_page()
    assert f"run `{finished}`" in current_model(at)
    assert any(NEWEST_RUN in m.value for m in at.sidebar.markdown)


def sidebar_status(at: AppTest) -> str:
    [block] = [m.value for m in at.sidebar.markdown if m.value.startswith("**Model:**")]
    return block


def test_while_the_next_run_trains_the_sidebar_shows_its_state_not_the_last_runs():
    at = rerun_until_idle(press(open_train_page(**TINY), "Train"))
    # the side panel reads the run before the page does, so in the script run that found it
    # ended it may still have shown its last batch (in a browser its poll catches up)
    at.run()
    assert "Finished:" in sidebar_status(at) and "1 layer" in sidebar_status(at)
    at.number_input(key="train_epochs").set_value(200).run()
    press(at, "Train")
    assert busy(at)
    status = sidebar_status(at)  # one block, so nothing of the finished run is left beside it
    assert ("Training" in status or "Waiting" in status) and "finished" not in status
    picked = at.selectbox(key="sidebar_run")
    assert picked.value == at.query_params["run"]
    rerun_until_idle(press(at, "Stop"))
    assert at.selectbox(key="sidebar_run").format_func(picked.value) == picked.format_func(
        picked.value
    )  # the label holds


def test_a_preset_fills_the_sidebar_and_a_change_makes_it_custom():
    at = open_train_page()
    assert at.selectbox(key="train_preset").value == "notebook"
    at.selectbox(key="train_preset").set_value("strong").run()
    assert slider(at, "Hidden size").value == 128 and slider(at, "Batch size").value == 64
    assert slider(at, "Learning rate").value == 0.001
    assert at.radio(key="train_optimizer").value == "Adam" and at.radio(key="train_num_layers").value == 2
    assert at.query_params["preset"] == "strong"
    at.selectbox(key="train_preset").set_value("quick").run()
    assert slider(at, "Training images").value == 10_000 and slider(at, "Learning rate").value == 0.01
    assert dict(at.query_params) == {"preset": "quick"}
    at.selectbox(key="train_preset").set_value("strong").run()
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
    assert (
        len(at.warning) == 1 and "lr=abc" in plain(at.warning[0].value) and "using 0.001" in plain(at.warning[0].value)
    )
    assert not at.exception


def test_settings_survive_a_page_switch():
    at = open_train_page()
    slider(at, "Hidden size").set_value(64).run()
    at.number_input(key="train_epochs").set_value(4).run()
    at.switch_page("app_pages/explore.py").run()
    at.switch_page("app_pages/train.py").run()
    assert slider(at, "Hidden size").value == 64 and at.number_input(key="train_epochs").value == 4
    assert at.query_params["hidden"] == "64" and at.query_params["epochs"] == "4"


def test_a_diverging_setting_shows_its_message_and_the_losses_up_to_the_blow_up(runs_dir):
    at = rerun_until_idle(press(open_train_page(hidden="8", images="5000", epochs="2", lr="100"), "Train"))
    assert record(runs_dir, shown_run(at)).status == RunStatus.DIVERGED
    [message] = [message.text for message in messages(at) if message.kind == "error"]
    assert "diverged" in message and "learning rate 100" in message  # what happened, and its cause
    assert epoch_column(at) == [0]
    assert list(chart_titled(at, "Test accuracy").tables["history"]["epoch"]) == [0]
    loss_chart = chart_titled(at, "Training loss")
    [points] = loss_chart.tables.values()
    batches, blown = points[points["series"] == "batch"], points[points["series"] == "blew up"]
    assert len(batches) >= 2 and len(blown) == 1  # the losses before it and the one that blew up, marked
    assert blown["epoch"].item() == batches["epoch"].max() and blown["loss"].item() == batches["loss"].iloc[-1]
    assert blown["loss"].item() > 10 * batches["loss"].iloc[0]  # what made it stop, on the chart
    assert loss_chart.spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    assert loss_chart.spec["layer"][0]["encoding"]["x"]["scale"]["domain"][1] == blown["epoch"].item()


def test_a_run_without_a_model_can_be_shown_but_not_continued(runs_dir):
    run = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    run.finish(RunStatus.STOPPED, "stopped while waiting for a training slot")
    at = open_train_page(run=run.run_id)
    assert f"run `{run.run_id}`" in current_model(at)
    assert button(at, "Continue").disabled and epoch_column(at) == []


@pytest.mark.parametrize("link", ["../victim", "20990101-000000-abcdef", "x`](http://evil)"])
def test_a_link_to_a_run_that_is_not_there_is_refused_in_plain_words(link):
    at = open_train_page(run=link)
    assert any("cannot be shown" in w.value for w in at.warning)
    assert all(live_constructs(w.value) == set() for w in at.warning)
    assert "run" not in at.query_params


def image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def test_a_strip_of_fixed_test_digits_shows_the_guesses_after_the_latest_epoch():
    at = open_train_page(**TINY)
    assert train_words.STRIP_UNTRAINED in image_captions(at)
    rerun_until_idle(press(at, "Train"))
    [caption] = [
        caption for caption in image_captions(at) if caption.startswith("Twenty fixed test digits after epoch 2")
    ]
    guesses = [int(digit) for digit in caption.rsplit("Guesses: ", 1)[1].rstrip(".").split()]
    right = int(re.search(r"(\d+) read right", caption).group(1))
    assert len(guesses) == 20 and all(0 <= guess <= 9 for guess in guesses)
    labels = [digit for digit in range(10) for _ in range(2)]  # two of each digit, in order
    assert right == sum(guess == label for guess, label in zip(guesses, labels))


def test_a_markdown_link_or_image_in_the_page_link_stays_plain_text():
    hostile = "1`](http://evil.example/login) ![x](http://evil.example/x.png) <b>hi</b>"
    at = open_train_page(hidden=hostile)
    [warning] = at.warning
    assert hostile[:40] in plain(warning.value)  # the reader sees what the link said...
    assert live_constructs(warning.value) == set()  # ...inert: no link, image or HTML


def finished_run(runs_dir, tiny_data, status: RunStatus):
    """A run trained to the end, then given `status` as a server that died would leave it."""
    run_id = trained_run(runs_dir, tiny_data, "notebook")
    if status == RunStatus.INTERRUPTED:
        info_path = RunStore(runs_dir).folder(run_id) / "run.json"
        info = json.loads(info_path.read_text())
        info.update(status="running", pid=2**22 + 1, process="an-earlier-server")
        info_path.write_text(json.dumps(info))
    return run_id


@pytest.mark.parametrize("status", [RunStatus.FINISHED, RunStatus.INTERRUPTED])
def test_a_link_to_a_finished_or_interrupted_run_shows_its_charts_and_offers_continue(runs_dir, tiny_data, status):
    run_id = finished_run(runs_dir, tiny_data, status)
    at = open_train_page(run=run_id)
    assert f"run `{run_id}`" in current_model(at) and epoch_column(at) == [0, 1]
    assert list(chart_titled(at, "Test accuracy").tables["history"]["epoch"]) == [0, 1]
    assert not busy(at) and not button(at, "Continue").disabled
    message = (at.success or at.warning or at.error)[0].value
    assert status.value in message or "trained to epoch 1" in message
    assert at.selectbox(key="sidebar_run").value == run_id


def test_the_page_draws_and_stops_a_run_whose_batch_is_under_way(monkeypatch, runs_dir):
    from tests.test_registry import HeldStep

    step = HeldStep(monkeypatch)
    at = press(open_train_page(**LONG), "Train")
    assert step.started.wait(60)
    try:
        at.run()  # a whole script run while the batch is held
        assert not at.exception and busy(at)
        press(at, "Stop")
        assert stop_button(at).label == "Stopping..." and step.inside.is_set()
    finally:
        step.release.set()
    rerun_until_idle(at)
    assert_stopped_by_the_user(at, runs_dir)


def test_a_tab_whose_run_is_deleted_elsewhere_says_so_and_shows_another(runs_dir):
    """Issue 25, item 12: not a silent switch to another run."""
    run = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    run.finish(RunStatus.STOPPED, "stopped by hand")
    at = open_train_page(run=run.run_id)
    assert run.run_id in current_model(at)
    shutil.rmtree(run.folder)
    ui.registry().index.refresh(force=True)  # the look at the disk the index takes once a second
    at.run()
    assert not at.exception
    gone = [plain(w.value) for w in at.sidebar.warning if "can no longer be shown" in plain(w.value)]
    assert len(gone) == 1 and run.run_id in gone[0] and "deleted" in gone[0]


def test_while_its_run_trains_train_offers_a_second_run_alongside_until_the_limit(runs_dir):
    at = press(open_train_page(**LONG), "Train")
    assert busy(at)
    assert "Train" not in [b.label for b in at.button]  # a click meant for Train starts nothing more
    assert not button(at, train_words.ALONGSIDE).disabled
    press(at, train_words.ALONGSIDE)
    assert busy(at) and len(RunStore(runs_dir).folder_names()) == 2
    at_limit = button(at, train_words.ALONGSIDE)
    limit = ui.registry().limits.runs_per_browser
    assert at_limit.disabled and at_limit.help == train_words.train_help(alongside=True, at_limit=True, limit=limit)


def test_a_784_step_order_says_what_an_epoch_costs_before_training_and_offers_fewer_images(monkeypatch):
    import streamlit as st

    st.cache_resource.clear()
    timings = []
    real = cost_note.estimate_epoch_cost

    def counted(*args, **kwargs):
        timings.append(args[1].order.name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cost_note, "estimate_epoch_cost", counted)
    assert not [w for w in open_train_page(hidden="8").warning if cost_note.HEADLINE in w.value]  # rows: no note
    at = open_train_page(hidden="8", order="pixels", images="10000")
    (note,) = [w.value for w in at.warning if cost_note.HEADLINE in w.value]
    assert ModelConfig(reading_order="pixels").order.describe() in note and "10,000" in note
    offer = button(at, next(b.label for b in at.button if b.label.startswith("Use 2,000 images")))
    offer.click().run()
    assert at.session_state["train_train_limit"] == 2000
    (note,) = [w.value for w in at.warning if cost_note.HEADLINE in w.value]
    assert "2,000 training" in note
    assert timings == ["pixels"]  # timed once: the image count only scales it
    st.cache_resource.clear()
