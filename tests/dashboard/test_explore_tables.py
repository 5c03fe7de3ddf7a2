import numpy as np
import pytest
import torch

from dashboard import explore_tables
from dashboard.explore_tables import (
    class_counts,
    gallery_indices,
    guess_frame,
    mean_image_frame,
    mean_images,
    running_guess,
    step_sentences,
)
from dashboard.step_lines import StepLines
from rnn_core.config import ModelConfig
from rnn_core.model import RowClassifier
from rnn_core.reading_order import PIXEL_BY_PIXEL, ReadingOrder

ROW_LINES = StepLines.whole(ReadingOrder())


def test_class_counts_count_each_digit_in_both_splits(tiny_data):
    counts = class_counts(tiny_data)
    train = counts[counts["split"] == "train"].set_index("digit")
    test = counts[counts["split"] == "test"].set_index("digit")
    assert train["count"].tolist() == [12] * 10  # 120 synthetic images, labels cycle 0..9
    assert test["count"].tolist() == [4] * 10
    assert train["share"].sum() == pytest.approx(100)


def test_class_counts_match_the_real_mnist_training_split(real_mnist):
    train = class_counts(real_mnist).query("split == 'train'")
    assert train["count"].tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mean_image_averages_the_images_of_each_digit():
    images = torch.zeros(3, 28, 28)
    images[0, 0, 0] = 1.0  # two images of digit 4, one of digit 7
    images[1, 0, 0] = 0.5
    images[2, 5, 5] = 1.0
    means = mean_images(images, torch.tensor([4, 4, 7]))
    assert means.shape == (10, 28, 28)
    assert means[4, 0, 0] == pytest.approx(0.75)
    assert means[7, 5, 5] == 1.0
    assert means[0].sum() == 0  # no images of 0: an empty picture, not NaN


def test_gallery_shows_only_the_chosen_digit(tiny_data):
    labels = tiny_data.train_labels
    picked = gallery_indices(labels, digit=3, count=5, seed=0)
    assert len(picked) == 5
    assert all(labels[i] == 3 for i in picked)


def test_gallery_pick_is_repeatable_and_a_new_seed_shuffles(tiny_data):
    labels = tiny_data.train_labels
    assert gallery_indices(labels, None, 24, seed=1) == gallery_indices(labels, None, 24, seed=1)
    assert gallery_indices(labels, None, 24, seed=1) != gallery_indices(labels, None, 24, seed=2)


def test_gallery_shows_all_images_when_fewer_than_asked(tiny_data):
    picked = gallery_indices(tiny_data.test_labels, digit=0, count=24, seed=0)
    assert len(picked) == 4 and len(set(picked)) == 4


def test_mean_image_frame_has_every_pixel_of_every_digit():
    frame = mean_image_frame(torch.rand(10, 28, 28))
    assert len(frame) == 10 * 784
    assert sorted(frame["digit"].unique()) == list(range(10))


def test_each_step_says_what_is_read_and_the_guess_so_far():
    """Rows are numbered 1-28: at t = 1 the first row is read, and the guess is the one after it."""
    probabilities = np.full((28, 10), 0.05)
    probabilities[:, 3] = 0.55
    sentences = step_sentences(probabilities, label=7, lines=ROW_LINES)
    assert len(sentences) == 28
    assert sentences[0].startswith("**t = 1**: row 1 is read now (the first row), rows 2-28 to come.")
    assert "After 1 of 28 rows, its guess" in sentences[0] and "read yet" not in sentences[0]
    assert "(after rows 1-12)" in sentences[12] and "its guess so far: **3** (55%)" in sentences[12]
    assert "none to come" in sentences[27] and "the prediction: **3**" in sentences[27]
    assert all("True label: **7**" in sentence for sentence in sentences)
    assert "guess" not in step_sentences(None, label=7, lines=ROW_LINES)[5]


def test_running_guess_gives_probabilities_after_each_row_ending_with_the_prediction():
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=8))
    model.train()
    image = torch.rand(28, 28)
    probabilities = running_guess(model, image, ROW_LINES)
    assert probabilities.shape == (28, 10)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    with torch.no_grad():
        final = model(image[None]).exp()[0].numpy()
    assert np.allclose(probabilities[-1], final, atol=1e-6)
    assert model.training  # the caller's mode is left alone


def test_a_pixel_order_is_told_in_steps_and_its_guess_taken_every_28_steps():
    torch.manual_seed(0)
    order = ReadingOrder(PIXEL_BY_PIXEL)
    model = RowClassifier(ModelConfig(hidden_size=8, reading_order=PIXEL_BY_PIXEL))
    lines = StepLines.whole(order)
    image = torch.rand(28, 28)
    probabilities = running_guess(model, image, lines)
    assert probabilities.shape == (28, 10)
    with torch.no_grad():
        final = model.eval()(image[None]).exp()[0].numpy()
    assert np.allclose(probabilities[-1], final, atol=1e-6)
    sentences = step_sentences(probabilities, label=7, lines=lines)
    assert sentences[1].startswith("**t = 2**: the input now is steps 29-56, after step 28 of 784.")
    assert "After step 784 of 784, the prediction" in sentences[27]


def test_the_guess_frame_has_a_probability_and_a_role_per_row_and_digit():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(10), size=28)
    frame = guess_frame(probabilities, label=2)
    assert len(frame) == 280
    assert sorted(frame["row"].unique()) == list(range(1, 29))
    cell = frame[(frame["row"] == 4) & (frame["digit"] == 2)]
    assert cell["probability"].item() == pytest.approx(probabilities[3, 2])  # after rows 1-4
    after_row_4 = frame[frame["row"] == 4].set_index("digit")["role"]
    assert after_row_4[int(probabilities[3].argmax())] == "answer"
    assert (after_row_4 == "answer").sum() == 1


def test_the_fixed_examples_are_the_first_of_each_digit_in_order():
    labels = torch.tensor([3, 0, 0, 1, 0, 1, 2, 3, 2, 4, 5, 6, 7, 8, 9, 9])
    picked = explore_tables.fixed_examples(labels, per_digit=2)
    assert picked == [1, 2, 3, 5, 6, 8, 0, 7, 9, 10, 11, 12, 13, 14, 15]
    assert [int(labels[i]) for i in picked] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 9]


def test_the_strip_frames_each_digit_by_whether_it_was_read_right():
    images = torch.zeros(3, 28, 28)
    images[1, 10:18, 10:18] = 1.0  # ink
    strip = explore_tables.framed_strip(images, [True, False, True], columns=2, scale=1)
    cell = 28 + 6
    assert strip.shape == (2 * cell, 2 * cell, 3)
    assert tuple(strip[0, 0]) == explore_tables.RIGHT_RGB and tuple(strip[0, cell]) == explore_tables.WRONG_RGB
    assert tuple(strip[cell, 0]) == explore_tables.RIGHT_RGB and tuple(strip[cell, cell]) == (255, 255, 255)
    assert tuple(strip[3 + 14, cell + 3 + 14]) == (0, 0, 0) and tuple(strip[3 + 2, 3 + 2]) == (255, 255, 255)
    unjudged = explore_tables.framed_strip(images, None, columns=3, scale=1)
    assert tuple(unjudged[0, 0]) == explore_tables.UNKNOWN_RGB
