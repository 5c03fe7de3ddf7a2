"""AppTest checks of the Test page: model choice, test-set figures, one image at a time, upload errors."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard import evaluation_tables, ui
from dashboard.step_lines import StepLines
from rnn_core import Checkpoint, RunStore, Trainer, guess, load_mnist
from rnn_core.config import ModelConfig
from rnn_core.evaluate import confusion_matrix, evaluate, predict_log_probs
from rnn_core.history import RunStatus
from rnn_core.inspection import read_image
from rnn_core.reading_order import COLUMNS, PIXEL_BY_PIXEL
from tests.conftest import new_app, table_with
from tests.kit import open_page, trained_run


@pytest.fixture(scope="module")
def app_test_set() -> tuple[torch.Tensor, torch.Tensor]:
    """The test split the app under test reads (conftest points RNN_DATA_DIR and MNIST_DIR at it)."""
    data = load_mnist(os.environ["RNN_DATA_DIR"], allow_download=False, allow_sample=False)
    return data.test_images, data.test_labels


@pytest.fixture
def saved_run(runs_dir, tiny_data) -> tuple[str, Checkpoint]:
    """A small model trained one epoch and recorded in the runs folder the app reads."""
    run_id = trained_run(runs_dir, tiny_data, "for the test page", seed=3)
    return run_id, RunStore(runs_dir).checkpoint(run_id)


def open_test_page(**params) -> AppTest:
    return open_page("test", **params)


def model_under_test(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Testing "))


def gallery(at: AppTest, number: int) -> list[tuple[int, str]]:
    """(index, caption) of each test image in a gallery, one picture whose caption names them."""
    (caption,) = at.get("image")[number].captions
    return [(int(index), text) for index, text in re.findall(r"#(\d+) ([^,;]+)", caption)]


def shown_index(at: AppTest) -> int:
    captions = [caption for image in at.get("image") for caption in image.captions if "test image #" in caption]
    assert len(captions) == 1, captions
    return int(re.search(r"#(\d+)", captions[0]).group(1))


def test_with_no_model_at_all_the_page_says_so_and_links_to_train():
    at = open_test_page()
    assert not at.exception
    assert any("no model yet" in info.value.lower() for info in at.info)
    assert any("Train page" in link.value and "train" in link.proto.page for link in at.get("page_link"))
    assert not at.get("vega_lite_chart") and not at.metric


def test_the_test_set_figures_are_those_of_evaluate(saved_run, app_test_set):
    run_id, checkpoint = saved_run
    images, labels = app_test_set
    at = open_test_page()
    assert not at.exception
    assert model_under_test(at).startswith(f"**Testing run {run_id} (for the test page)**")
    model = checkpoint.build_model()
    expected = evaluate(model, images, labels)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Test accuracy"] == f"{expected.accuracy:.2f}%"
    assert metrics["Test loss (mean NLL)"] == f"{expected.loss:.4f}"
    predictions = predict_log_probs(model, images).argmax(1)
    wrong = int((predictions != labels).sum())
    assert metrics["Misclassified"] == f"{wrong:,} of {len(labels):,}"

    confusion = confusion_matrix(labels, predictions)
    cells = table_with(at, "true", "predicted", "count").set_index(["true", "predicted"])["count"]
    assert all(cells[t, p] == confusion[t, p] for t in range(10) for p in range(10))
    per_digit = table_with(at, "digit", "accuracy", "images")
    assert per_digit["images"].tolist() == torch.bincount(labels, minlength=10).tolist()


def test_choosing_a_confusion_cell_shows_those_images(saved_run, app_test_set):
    images, labels = app_test_set
    predictions = predict_log_probs(saved_run[1].build_model(), images).argmax(1)
    confusion = confusion_matrix(labels, predictions).fill_diagonal_(0)
    second = int(confusion.flatten().argsort(descending=True)[1])  # not the cell shown first
    true, predicted = divmod(second, 10)
    at = open_test_page()
    at.selectbox(key="test_cell_true").set_value(true).run()
    at.selectbox(key="test_cell_predicted").set_value(predicted).run()
    expected = int(confusion[true, predicted])
    assert any(
        header.value.startswith(f"True {true}, predicted {predicted}: {expected:,} image") for header in at.header
    )
    shown = gallery(at, 0)
    assert len(shown) == min(expected, 32)
    assert expected > 0 and all(caption.endswith("% sure") for _, caption in shown)
    assert at.get("image")[0].proto.imgs[0].alt.startswith(f"{len(shown)} test images of a {true}")


def test_next_shows_another_test_image_with_the_models_answer(saved_run, app_test_set):
    images, labels = app_test_set
    model = saved_run[1].build_model()
    at = open_test_page()
    at.session_state["test_view"] = "One image at a time"
    at.run()
    assert not at.exception
    seen = [shown_index(at)]
    for _ in range(2):
        at.button(key="test_next").click().run()
        seen.append(shown_index(at))
    assert seen[0] != seen[1] and seen[1] != seen[2]
    index = seen[-1]
    answer = int(model(images[index][None]).argmax())
    assert any(markdown.value.startswith(f"## Prediction: {answer} (") for markdown in at.markdown)
    assert any(f"true digit {int(labels[index])}" in caption for image in at.get("image") for caption in image.captions)
    assert any(header.value == evaluation_tables.READING_TITLE for header in at.header)
    steps = table_with(at, "row", "digit", "probability")
    assert sorted(steps["row"].unique()) == list(range(1, 29))


def test_look_inside_opens_that_image_one_at_a_time(saved_run):
    at = open_test_page()
    chosen = at.selectbox(key="test_mistakes_pick").value
    at.button(key="test_mistakes_open").click().run()
    assert at.session_state["test_view"] == "One image at a time"
    assert shown_index(at) == chosen


def test_the_draw_tab_asks_for_a_digit_while_the_canvas_is_empty(saved_run):
    at = open_test_page()
    at.session_state["test_view"] = "Draw a digit"
    at.run()
    assert not at.exception
    assert any("Draw a digit" in info.value for info in at.info)
    assert not any(markdown.value.startswith("## Prediction") for markdown in at.markdown)


@pytest.fixture
def augmented_run(runs_dir, tiny_data) -> str:
    """A small model trained one epoch with augmentation, as the drawing preset is."""
    return trained_run(runs_dir, tiny_data, "augmented", augment=0.5)


def open_draw_tab(run_id: str | None = None) -> AppTest:
    at = open_test_page(**({"run": run_id} if run_id else {}))
    at.session_state["test_view"] = "Draw a digit"
    return at.run()


def drawing_preset_links(at: AppTest) -> list:
    return [link for link in at.get("page_link") if link.proto.query_string == "preset=drawing"]


def test_the_draw_tab_suggests_the_drawing_preset_for_a_model_trained_without_augmentation(saved_run, augmented_run):
    plain = open_draw_tab(saved_run[0])
    assert not plain.exception
    (link,) = drawing_preset_links(plain)
    assert "train" in link.proto.page
    assert any("**drawing** preset" in caption.value for caption in plain.caption)
    augmented = open_draw_tab(augmented_run)
    assert not augmented.exception
    assert not drawing_preset_links(augmented)


def predictions(at: AppTest) -> list[str]:
    return [markdown.value for markdown in at.markdown if markdown.value.startswith("## Prediction")]


def test_an_unsure_prediction_on_a_drawing_says_so_and_gives_the_second_guess(saved_run, monkeypatch):
    # the canvas is an unknown element under AppTest: the drawing is handed over in its place
    from dashboard import ui

    drawing = torch.zeros(28, 28)
    drawing[6:22, 12:15] = 1.0
    monkeypatch.setattr(ui, "drawn_digit", lambda key: drawing)
    model = saved_run[1].build_model()
    top2 = torch.topk(predict_log_probs(model, drawing[None]).exp()[0], 2)
    # the tiny model is nowhere near sure: its answer is under the threshold
    assert top2.values[0] < guess.UNSURE_BELOW
    (unsure,) = predictions(open_draw_tab())
    first, second = top2.indices.tolist()
    assert unsure.startswith(f"## Prediction: {first}, unsure ({top2.values[0]:.1%})")
    assert f"Second guess: **{second}** ({top2.values[1]:.1%})" in unsure
    monkeypatch.setattr(guess, "UNSURE_BELOW", 0.0)
    assert predictions(open_draw_tab()) == [f"## Prediction: {first} ({top2.values[0]:.1%})"]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-upload",))


def crafted_pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": "rnn-mnist-row-classifier", "payload": RunsCode()}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, message",
    [(b"just some text, named like a checkpoint\n", "not a PyTorch checkpoint"), (crafted_pickle(), "refused")],
    ids=["text file", "crafted pickle"],
)
def test_a_bad_upload_is_refused_and_the_model_in_use_stays(saved_run, tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    _, checkpoint = saved_run
    at = open_test_page()
    at.file_uploader(key="test_upload").set_value(("good.pt", checkpoint.to_bytes(), "application/octet-stream")).run()
    uploaded = model_under_test(at)
    assert "(uploaded good.pt)" in uploaded
    accuracy = at.metric[0].value

    at.file_uploader(key="test_upload").set_value(("bad.pt", content, "application/octet-stream")).run()
    assert not at.exception
    errors = " ".join(error.value for error in at.error)
    assert "bad.pt was not loaded" in errors and message in errors and "unchanged" in errors
    assert model_under_test(at) == uploaded and at.metric[0].value == accuracy
    assert not (tmp_path / "pwned-by-upload").exists()


def test_an_uploaded_model_becomes_a_run_every_page_can_use(saved_run, runs_dir):
    _, checkpoint = saved_run
    at = open_test_page()
    at.file_uploader(key="test_upload").set_value(("mine.pt", checkpoint.to_bytes(), "application/octet-stream")).run()
    run_id = at.query_params["run"]
    record = RunStore(runs_dir).read(run_id)
    assert record.status == RunStatus.UPLOADED and record.label == "uploaded mine.pt"
    at.switch_page("app_pages/explore.py").run()
    assert any(f"run {run_id}" in caption.value for caption in at.caption)
    at.switch_page("app_pages/train.py").run()
    assert any(f"run `{run_id}`" in markdown.value for markdown in at.markdown)


@pytest.mark.parametrize("status", [RunStatus.STOPPED, RunStatus.INTERRUPTED])
def test_a_link_to_a_stopped_or_interrupted_run_tests_that_run(saved_run, runs_dir, status):
    run_id, _ = saved_run
    info_path = RunStore(runs_dir).folder(run_id) / "run.json"
    info = json.loads(info_path.read_text())
    dead = {"pid": 2**22 + 1, "process": "an-earlier-server"} if status == RunStatus.INTERRUPTED else {}
    info.update(status="running" if dead else status.value, **dead)
    info_path.write_text(json.dumps(info))
    at = open_test_page(run=run_id)
    assert not at.exception and model_under_test(at).startswith(f"**Testing run {run_id}")
    assert RunStore(runs_dir).read(run_id).status == status
    assert at.metric[0].label == "Test accuracy"


def test_while_a_run_trains_the_page_tests_the_model_saved_at_its_latest_epoch(runs_dir):
    at = new_app()
    at.switch_page("app_pages/train.py")
    at.query_params.update(hidden="4", images="500", epochs="200")
    at.run()
    next(button for button in at.button if button.label == "Train").click().run()
    run_id = at.query_params["run"]
    deadline = time.monotonic() + 60
    while RunStore(runs_dir).read(run_id).epochs < 1:
        assert time.monotonic() < deadline, "no epoch was trained"
        time.sleep(0.1)
    at.switch_page("app_pages/test.py").run()
    assert not at.exception
    assert any(
        re.match(rf"Run {run_id} is training: this is its model as saved after epoch \d+\.", c.value)
        for c in at.caption
    )
    assert at.metric[0].label == "Test accuracy"


def test_copied_and_damaged_run_folders_do_not_take_the_page_down(saved_run, runs_dir):
    import shutil

    run_id, _ = saved_run
    shutil.copytree(runs_dir / run_id, runs_dir / f"{run_id} (copy)")
    broken = runs_dir / "20200101-000000-0000aa"
    shutil.copytree(runs_dir / run_id, broken)
    (broken / "metrics.json").write_text('[{"epoch": 0}]')
    at = open_test_page()
    assert not at.exception
    assert model_under_test(at).startswith(f"**Testing run {run_id}")
    assert at.metric[0].label == "Test accuracy"


def test_another_model_starts_with_fresh_picks(saved_run, runs_dir):
    """Picks made for one model (a test image, a confusion cell) are dropped when another model
    is chosen: the mistakes picker once kept an image from the model before, and 'Show how
    the RNN reads it' opened it for the new one."""
    run_a, checkpoint = saved_run
    # the same model, nudged: nearly the same mistakes, but another model
    nudged = {name: value + 1e-4 if name.endswith("bias") else value for name, value in checkpoint.state_dict.items()}
    run_b = RunStore(runs_dir).add_checkpoint(dataclasses.replace(checkpoint, state_dict=nudged), "nudged.pt").run_id
    at = open_test_page(run=run_b)
    mistakes_b = [index for index, _ in gallery(at, 1)]
    at.selectbox(key="sidebar_run").set_value(run_a).run()
    assert model_under_test(at).startswith(f"**Testing run {run_a}")
    picked = next(index for index, _ in gallery(at, 1) if index in mistakes_b[1:])  # a mistake of both models
    at.selectbox(key="test_mistakes_pick").set_value(picked).run()
    at.selectbox(key="test_cell_true").set_value(at.session_state["test_cell_predicted"]).run()  # a diagonal cell
    at.button(key="test_mistakes_open").click().run()
    assert shown_index(at) == picked

    at.selectbox(key="sidebar_run").set_value(run_b).run()
    assert model_under_test(at).startswith(f"**Testing run {run_b}")
    assert at.session_state["test_image_index"] != picked  # 1 chance in 10,000 to draw it again
    at.session_state["test_view"] = "Test set"
    at.run()
    assert at.selectbox(key="test_mistakes_pick").value == mistakes_b[0]  # the new model's first
    assert at.session_state["test_cell_true"] != at.session_state["test_cell_predicted"]  # its top confusion


# ----- the model after epoch k, How it learned, notebook models in and out ---------------------


@pytest.fixture
def two_epoch_run(runs_dir, tiny_data) -> str:
    """A run of two epochs whose folder kept the model after each (0, 1, 2)."""
    return trained_run(runs_dir, tiny_data, "two epochs", epochs=2, seed=1)


def test_the_link_picks_the_model_after_an_epoch_and_the_picker_goes_back_to_the_latest(
    two_epoch_run, runs_dir, app_test_set
):
    from rnn_core.epochs import load_epoch_weights, saved_epochs

    at = open_test_page(run=two_epoch_run, epoch="0")
    assert not at.exception
    assert "after epoch 0" in model_under_test(at)
    untrained = load_epoch_weights(saved_epochs(runs_dir / two_epoch_run)[0], ModelConfig(hidden_size=6))
    expected = evaluate(untrained.build_model(), *app_test_set).accuracy
    assert at.metric[0].value == f"{expected:.2f}%"

    at.selectbox(key="test_epoch_picker").set_value("latest").run()
    assert "epoch" not in at.query_params
    assert "after 2 epochs" in model_under_test(at)
    at.selectbox(key="test_epoch_picker").set_value("1").run()
    assert at.query_params["epoch"] == "1" and "after epoch 1" in model_under_test(at)


def test_an_epoch_the_run_did_not_keep_says_so_and_shows_the_latest(two_epoch_run):
    at = open_test_page(run=two_epoch_run, epoch="7")
    assert not at.exception
    assert any("kept no model after epoch 7" in warning.value for warning in at.warning)
    assert "after 2 epochs" in model_under_test(at)


def test_how_it_learned_reads_the_same_images_after_every_epoch(two_epoch_run, runs_dir):
    at = open_test_page(run=two_epoch_run)
    at.session_state["test_view"] = "How it learned"
    at.run()
    assert not at.exception
    lines = [m.value for m in at.markdown if m.value.startswith("**after epoch")]
    assert [line.split("**")[1] for line in lines] == ["after epoch 0", "after epoch 1", "after epoch 2"]
    pictures = [image for image in at.get("image")]
    assert len(pictures) == 3
    before = at.session_state["learned_images"]
    at.button(key="learned_shuffle").click().run()
    assert at.session_state["learned_images"] != before and len(at.session_state["learned_images"]) == 8


def test_a_run_from_before_per_epoch_models_says_so_and_shows_its_latest(saved_run, runs_dir):
    import shutil

    run_id, _ = saved_run
    shutil.rmtree(runs_dir / run_id / "epochs")
    at = open_test_page(run=run_id, epoch="0")
    assert not at.exception and "after 1 epochs" in model_under_test(at)
    at.session_state["test_view"] = "How it learned"
    at.run()
    assert any("kept no model per epoch" in info.value for info in at.info)
    assert [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**after epoch")] == ["after epoch 1"]
    at.session_state["test_view"] = "Test set"
    at.run()
    assert any("latest model only" in caption.value for caption in at.caption)


def test_a_notebook_state_dict_upload_becomes_a_scored_run(saved_run, runs_dir, app_test_set):
    from tests.test_notebook_models import NotebookStyle, accuracy_in_class

    torch.manual_seed(0)
    notebook_model = NotebookStyle("GRU", 12, attribute="gru").eval()
    buffer = io.BytesIO()
    torch.save(notebook_model.state_dict(), buffer)
    at = open_test_page()
    at.file_uploader(key="test_upload").set_value(("mine.pt", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert any("a model from the notebook's class, GRU, hidden 12" in s.value for s in at.success)
    record = RunStore(runs_dir).read(at.query_params["run"])
    assert record.status == RunStatus.UPLOADED and record.model_config.cell_type == "GRU"
    expected = accuracy_in_class(notebook_model, *app_test_set)
    assert record.history[-1].test_accuracy == pytest.approx(expected)
    assert at.metric[0].value == f"{record.history[-1].test_accuracy:.2f}%"


def test_a_whole_pickled_model_upload_is_refused_with_the_line_that_saves_a_state_dict(saved_run):
    from dashboard.inert import inert
    from rnn_core.checkpoint import SAVE_A_STATE_DICT
    from tests.test_notebook_models import NotebookStyle

    buffer = io.BytesIO()
    torch.save(NotebookStyle("LSTM", 20), buffer)
    at = open_test_page()
    at.file_uploader(key="test_upload").set_value(("whole.pt", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    errors = [error.value for error in at.error]
    # once under the uploader, where the user is looking, and once on the page
    assert len(errors) == 2 and all(inert(SAVE_A_STATE_DICT) in error for error in errors)


def test_the_notebook_downloads_are_offered_for_the_model_on_test(saved_run):
    at = open_test_page()
    labels = [button.proto.label for button in at.get("download_button")]
    assert {"Checkpoint of this app", "Weights for the notebook", "Python script", "Jupyter notebook"} <= set(labels)


def test_a_run_that_continues_another_shows_the_epochs_it_took_over(two_epoch_run, runs_dir, tiny_data):
    from rnn_core.epochs import saved_epochs

    store = RunStore(runs_dir)
    parent = store.checkpoint(two_epoch_run)
    child = store.create(parent.model_config, parent.train_config, parent={"run_id": two_epoch_run, "epoch": 2})
    trainer = Trainer.from_checkpoint(tiny_data, parent)
    trainer.run(epochs=1, on_event=child.record(trainer))
    assert [epoch.name for epoch in saved_epochs(child.folder)] == ["3"]
    at = open_test_page(run=child.run_id)
    at.session_state["test_view"] = "How it learned"
    at.run()
    shown = [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**after epoch")]
    assert shown == ["after epoch 0", "after epoch 1", "after epoch 2", "after epoch 3"]


def test_a_tab_whose_run_is_deleted_elsewhere_says_so_in_the_side_panel(saved_run, runs_dir):
    """Issue 25, item 12: the Test page does not switch to another model without a word."""
    run_id, _ = saved_run
    at = open_test_page(run=run_id)
    assert run_id in model_under_test(at)
    shutil.rmtree(runs_dir / run_id)
    ui.registry().index.refresh(force=True)  # the look at the disk the index takes once a second
    at.run()
    assert not at.exception
    gone = [w.value.replace("\\", "") for w in at.sidebar.warning if "can no longer be shown" in w.value]
    assert len(gone) == 1 and run_id in gone[0] and "deleted" in gone[0]


@pytest.mark.parametrize("order", [COLUMNS, PIXEL_BY_PIXEL])
def test_one_image_is_read_in_the_runs_order_and_counted_in_steps(runs_dir, tiny_data, app_test_set, order):
    run_id = trained_run(runs_dir, tiny_data, f"read in {order}", reading_order=order)
    model = RunStore(runs_dir).checkpoint(run_id).build_model().eval()
    at = open_test_page(run=run_id)
    at.session_state["test_view"] = "One image at a time"
    at.run()
    assert not at.exception
    index = shown_index(at)
    reading = read_image(model, app_test_set[0][index])
    lines = StepLines.whole(model.order)
    guesses = table_with(at, "row", "digit", "probability", "answer")
    after_2 = guesses[guesses["row"] == 2].sort_values("digit")["probability"].to_numpy()
    assert after_2 == pytest.approx(reading.probabilities[lines.last_step(2) - 1].numpy(), abs=1e-6)
    pixels = table_with(at, "row", "column", "ink", "line")
    if order == COLUMNS:
        assert (pixels["line"] == pixels["column"]).all()
    else:
        assert (pixels["line"] == pixels["row"]).all()  # pixel by pixel: 28 steps a line, a row of the image
    spec = json.dumps([json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")])
    assert "steps read" in spec and "rows read" not in spec
    words = " ".join(markdown.value for markdown in at.markdown)
    assert "row 1" not in words and ("of 28" if order == COLUMNS else "of 784") in words or "never gets" in words
