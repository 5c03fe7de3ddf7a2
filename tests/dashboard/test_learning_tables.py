"""How it learned: guesses per epoch, the strip's picture and words, the epochs shown, the link."""

import numpy as np
import pytest
import torch

from dashboard import charts
from dashboard import learning_tables as learning
from rnn_core.config import ModelConfig
from rnn_core.epochs import EpochWeights
from rnn_core.model import RowClassifier


def test_guesses_are_the_models_answers_with_their_probability(tiny_data):
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=5)).eval()
    images, labels = tiny_data.test_images[:6], tiny_data.test_labels[:6]
    row = learning.guesses_of(model, 2, 51.5, images, labels)
    with torch.no_grad():
        probabilities = model(images).exp()
    assert row.guesses == probabilities.argmax(1).tolist()
    assert row.confidences == pytest.approx(probabilities.max(1).values.tolist())
    assert row.right == [g == y for g, y in zip(row.guesses, labels.tolist())]
    assert row.label == "after epoch 2"
    table = learning.guesses_table([row, row], [10, 11, 12, 13, 14, 15], labels.tolist())
    assert len(table) == 12 and list(table["image"][:6]) == [10, 11, 12, 13, 14, 15]


ROW = learning.EpochGuesses(epoch=0, test_accuracy=9.8, guesses=[3, 7], confidences=[0.12, 0.9], right=[False, True])


def test_the_strip_frames_right_in_green_and_wrong_in_red_with_the_guess_under_each(tiny_data):
    picture = learning.guess_strip(tiny_data.test_images[:2], ROW, scale=2)
    cell = 28 * 2 + 6
    assert picture.shape == (cell + learning.LABEL_PX, 2 * cell, 3)
    assert tuple(picture[0, 0]) == charts.rgb(charts.WRONG)
    assert tuple(picture[0, cell]) == charts.rgb(charts.RIGHT)
    label_band = picture[cell:]
    assert (np.all(label_band[:, :cell] == charts.rgb(charts.WRONG), axis=2)).any()  # red text under the wrong one
    assert (np.all(label_band[:, cell:] == charts.rgb(charts.RIGHT), axis=2)).any()


def test_the_words_say_what_the_picture_shows():
    assert learning.epoch_sentence(ROW) == "**after epoch 0** · 9.8% of the test set · 1 of 2 here right"
    words = learning.guesses_in_words(ROW, [5, 7])
    assert "a 5 read as 3 (12%, wrong)" in words and "a 7 read as 7 (90%, right)" in words
    later = learning.EpochGuesses(3, 90.0, [5, 7], [0.8, 0.95], [True, True])
    assert learning.learning_summary([ROW, later]).startswith(
        "After epoch 0: 1 of 2 right; after epoch 3: 2 of 2. Each epoch"
    )


def test_many_epochs_are_thinned_evenly_keeping_the_first_and_the_last():
    epochs = [EpochWeights(float(k), None) for k in range(31)]
    shown = learning.shown_epochs(epochs, most=11)
    assert [e.epoch for e in shown] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert learning.shown_epochs(epochs[:5]) == epochs[:5]


@pytest.mark.parametrize(
    "text, epoch",
    [("3", "3"), ("3.0", "3"), ("2.5", "2.5"), ("0", "0"), (None, None), ("latest", None), ("x", None)]
    + [("-1", None), ("nan", None), ("inf", None), ("1e9", None)],
)
def test_an_epoch_from_a_link_is_read_as_the_run_writes_it_or_dropped(text, epoch):
    assert learning.parse_epoch(text) == epoch


def test_the_picker_names_its_choices():
    assert learning.epoch_choice_label("latest", 3) == "the latest (epoch 3)"
    assert learning.epoch_choice_label("0", 3) == "after epoch 0 (untrained)"
    assert learning.epoch_choice_label("2.5", 3) == "after epoch 2.5"
