"""AppTest checks of the Explore page: gallery, row-by-row view and its player, running guess, no data.

Play itself runs in the browser (tests/browser/test_browser_play.py); here: what is sent for it."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from dashboard import explore_charts, explore_words
from dashboard.explore_tables import running_guess, step_sentences
from dashboard.player import bold_html
from dashboard.step_lines import StepLines
from rnn_core import Checkpoint, EpochRecord, MnistData, ModelConfig, RunStore, TrainConfig, load_mnist
from rnn_core.model import RowClassifier
from rnn_core.reading_order import COLUMNS, PERMUTED, ReadingOrder
from tests.conftest import APP_TIMEOUT, REPO, charts, charts_with, new_app


def app_data() -> MnistData:
    """The data the app under test reads (conftest points RNN_DATA_DIR and MNIST_DIR at it)."""
    return load_mnist(os.environ["RNN_DATA_DIR"], allow_download=False, allow_sample=False)


def gallery(at: AppTest) -> list[tuple[int, int]]:
    """(label, index) of each digit in the gallery, one picture whose caption names them."""
    (picture,) = [image for image in at.get("image") if any("Label and index" in c for c in image.captions)]
    return [(int(label), int(index)) for label, index in re.findall(r"(\d) #(\d+)", picture.captions[0])]


def player_data(at: AppTest) -> dict:
    """What the page hands its row player: the parameter it moves, a sentence per row..."""
    (player,) = at.get("bidi_component")
    return json.loads(player.proto.json)


def row_params(spec: dict) -> list[dict]:
    return [param for param in spec.get("params", []) if "bind" in param]


@pytest.fixture
def fresh_caches():
    """Each test loads the data its own environment points to, and leaves no cache behind."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def explore() -> AppTest:
    at = new_app().run()
    return at.switch_page("app_pages/explore.py").run()


def test_explore_page_shows_gallery_row_view_and_classes(explore):
    assert not explore.exception
    assert len(gallery(explore)) == 24
    assert len(explore.get("image")) == 2, "the gallery and the mean images, one picture each"
    assert all(image.proto.imgs[0].alt for image in explore.get("image")), "each picture says what it shows"
    assert [header.value for header in explore.header] == [
        "The digits",
        "Row by row: what the RNN sees",
        "Classes",
    ]
    assert any("Many-to-one" in markdown.value for markdown in explore.markdown)
    specs = [json.loads(element.proto.spec) for element in explore.get("vega_lite_chart")]
    assert all(_has_tooltips(spec) for spec in specs), "every chart shows values on mouse-over"
    assert all(spec.get("title") and spec.get("description") for spec in specs), "every chart is named"


def _has_tooltips(spec: dict) -> bool:
    if "tooltip" in spec.get("encoding", {}):
        return True
    parts = [spec.get("spec", {})] + spec.get("layer", []) + spec.get("hconcat", [])
    return any(_has_tooltips(part) for part in parts if part)


def test_label_filter_shows_only_that_label(explore):
    explore.selectbox(key="explore_gallery_digit").set_value(3).run()
    shown = gallery(explore)
    assert len(shown) == 24
    assert all(label == 3 for label, _ in shown), shown
    assert "images of a 3" in explore.caption[0].value


def test_gallery_shows_the_chosen_split_and_shuffle_picks_other_images(explore):
    first = gallery(explore)
    explore.button[0].click().run()  # Shuffle
    assert gallery(explore) != first
    explore.button_group(key="explore_gallery_split").set_value("test").run()
    indices = [index for _, index in gallery(explore)]
    assert max(indices) < 10_000 and "test images" in explore.caption[0].value


def test_the_row_view_is_sent_once_with_every_row_and_a_row_t_its_player_moves(explore):
    player = player_data(explore)
    assert player["param"] == "explore_t" and player["start"] == 1  # t = 1: the first row read
    assert len(player["texts"]) == 28 and player["texts"][5].startswith("<b>t = 6</b>")
    row_charts = [chart for chart in charts(explore) if row_params(chart.spec)]
    assert {chart.title for chart in row_charts} == {"The image, row by row", "Input at step t: row t, 28 numbers"}
    for chart in row_charts:
        (param,) = row_params(chart.spec)
        assert param["name"] == "explore_t" and param["value"] == 1
        assert param["bind"]["input"] == "range" and (param["bind"]["min"], param["bind"]["max"]) == (1, 28)
    (datasets,) = charts_with(explore, "pixels")[:1]
    pixels = datasets["pixels"].pivot(index="row", columns="column", values="ink")
    assert np.allclose(pixels.to_numpy(), app_data().test_images[0].numpy())  # all 28 rows, row 1 first


def test_random_image_and_split_choose_the_image_read(explore):
    explore.button_group(key="explore_split").set_value("train").run()
    explore.number_input(key="explore_index").set_value(59_999).run()
    assert not explore.exception
    explore.button_group(key="explore_split").set_value("test").run()
    assert explore.number_input(key="explore_index").value == 9_999  # kept inside the smaller split
    random_button = next(button for button in explore.button if button.label == "Random image")
    random_button.click().run()
    assert not explore.exception
    assert explore.session_state["explore_index"] != 9_999  # 1 chance in 10,000 to pick the same


def test_no_model_invites_training(explore):
    assert any("Train" in info.value for info in explore.info)
    assert not charts_with(explore, "guesses")


def test_missing_data_is_explained_and_the_page_stops(tmp_path, monkeypatch, fresh_caches):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_DIR", str(empty))
    at = AppTest.from_file(str(REPO / "app_pages" / "explore.py"), default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    message = " ".join(error.value for error in at.error)
    assert "MNIST could not be loaded" in message and "MNIST_DIR" in message
    assert not at.get("vega_lite_chart") and not at.get("image")


def order_picker(at: AppTest):
    (picker,) = [box for box in at.selectbox if box.label == "Reading order"]
    return picker


def test_the_order_picker_animates_columns_with_a_frame_of_pixels_and_a_mini_map(explore):
    assert order_picker(explore).value == "rows"  # no run: the notebook's order
    at = order_picker(explore).set_value(COLUMNS).run()
    assert not at.exception
    lines = StepLines.whole(ReadingOrder(COLUMNS))
    words = explore_words.Words(lines)
    expected = [
        explore_charts.order_reveal_spec(words.order),
        explore_charts.read_map_spec(),
        explore_charts.input_spec(*words.input_chart),
    ]
    assert {chart.title for chart in charts(at)} >= {spec["title"] for spec in expected}
    pictures = charts_with(at, "pixels")[0]["pixels"]
    assert (pictures["line"] == pictures["column"]).all()  # column t is read at step t
    inputs = charts_with(at, "inputs")[0]["inputs"]
    second = inputs[inputs["row"] == 2].sort_values("position")["ink"].to_numpy()
    assert np.allclose(second, app_data().test_images[0][:, 1].numpy(), atol=1e-6)
    assert player_data(at)["texts"] == [bold_html(text) for text in step_sentences(None, 7, lines)]  # image 0: a 7


@pytest.fixture
def small_checkpoint(tmp_path, request) -> tuple[Checkpoint, str]:
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, reading_order=getattr(request, "param", "rows"))
    history = (EpochRecord(1, 2.0, 1.9, 42.0, 1.0, 1000.0),)
    checkpoint = Checkpoint(config, TrainConfig(epochs=1), RowClassifier(config).state_dict(), history)
    path = tmp_path / "model.pt"
    checkpoint.save(path)
    return checkpoint, str(path)


def open_with(checkpoint: Checkpoint, runs_dir) -> AppTest:
    """Explore, opened on the link to a run of this checkpoint."""
    run_id = RunStore(runs_dir).add_checkpoint(checkpoint, "uploaded model.pt").run_id
    at = new_app()
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    return at


def test_running_guess_follows_the_run_named_in_the_link(small_checkpoint, fresh_caches, runs_dir):
    checkpoint, _ = small_checkpoint
    at = open_with(checkpoint, runs_dir)
    assert any("after 1 epochs (42.0% on the test set)" in caption.value for caption in at.caption)
    pictures, bars = charts_with(at, "guesses")
    expected = running_guess(checkpoint.build_model(), app_data().test_images[0], StepLines.whole(ReadingOrder()))
    guesses = pictures["guesses"]
    assert len(guesses) == 28 * 10 and guesses.equals(bars["guesses"])  # the bars show row t's lines
    after_10 = guesses[guesses["row"] == 10].sort_values("digit")
    assert np.allclose(after_10["probability"], expected[9], atol=1e-6)  # after rows 1-10
    assert after_10["role"].tolist()[int(expected[9].argmax())] == "answer"
    assert all("True label: <b>7</b>" in text for text in player_data(at)["texts"])  # test image 0 is a 7


@pytest.mark.parametrize("small_checkpoint", [PERMUTED], indirect=True)
def test_a_permuted_run_sets_the_order_and_its_guess_is_taken_every_28_steps(small_checkpoint, fresh_caches, runs_dir):
    checkpoint, _ = small_checkpoint
    at = open_with(checkpoint, runs_dir)
    assert order_picker(at).value == PERMUTED
    model = checkpoint.build_model()
    expected = running_guess(model, app_data().test_images[0], StepLines.whole(model.order))
    guesses = charts_with(at, "guesses")[0]["guesses"]
    after_2 = guesses[guesses["row"] == 2].sort_values("digit")
    assert np.allclose(after_2["probability"], expected[1], atol=1e-6)  # after step 56
    pictures = charts_with(at, "pixels")[0]["pixels"]
    assert sorted(pictures["line"].value_counts().unique()) == [28]  # 28 scattered pixels a frame
    assert "After step 56 of 784" in player_data(at)["texts"][1]
    at = order_picker(at).set_value(COLUMNS).run()
    assert not charts_with(at, "guesses") and any("pick that order" in c.value for c in at.caption)
