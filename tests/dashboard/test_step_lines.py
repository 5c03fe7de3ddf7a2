import numpy as np
import pytest
import torch

from dashboard.step_lines import StepLines
from rnn_core.reading_order import COLUMNS, PERMUTED, PIXEL_BY_PIXEL, ROWS, ROWS_UPWARD, ReadingOrder


def test_a_28_step_order_has_one_step_a_line_and_rows_keep_their_words():
    rows = StepLines.whole(ReadingOrder(ROWS))
    assert rows.per_line == 1 and rows.is_rows
    assert rows.line_words(5) == "row 5" and rows.after_line(5) == "5 of 28 rows"
    columns = StepLines.whole(ReadingOrder(COLUMNS))
    assert columns.line_words(5) == "step 5 (column 5)" and columns.after_line(5) == "5 of 28 columns"
    assert StepLines.whole(ReadingOrder(ROWS_UPWARD)).line_words(1) == "step 1 (row 28)"


def test_columns_are_read_at_the_line_of_their_column():
    lines = StepLines.whole(ReadingOrder(COLUMNS)).line_of_pixel()
    assert (lines == np.arange(1, 29)[None, :]).all()
    upward = StepLines.whole(ReadingOrder(ROWS_UPWARD)).line_of_pixel()
    assert upward[27, 0] == 1 and upward[0, 0] == 28


def test_a_784_step_order_shows_28_steps_a_line_and_samples_the_last_of_each():
    lines = StepLines.whole(ReadingOrder(PIXEL_BY_PIXEL))
    assert lines.per_line == 28 and lines.last_step(2) == 56
    values = torch.arange(784)
    assert lines.sample(values).tolist() == list(range(27, 784, 28))
    assert lines.line_words(2) == "steps 29-56" and lines.after_line(2) == "step 56 of 784"
    assert lines.line_of_step(1) == 1 and lines.line_of_step(784) == 28


def test_a_window_shows_28_steps_one_a_line_and_places_the_rest_before_or_after():
    lines = StepLines.window(ReadingOrder(PIXEL_BY_PIXEL), 2)  # steps 57-84: image row 3
    assert lines.line_words(1) == "step 57" and lines.last_steps()[0] == 56
    by_pixel = lines.line_of_pixel()
    assert (by_pixel[:2] == 0).all() and (by_pixel[2] == np.arange(1, 29)).all() and (by_pixel[3:] == 29).all()
    with pytest.raises(ValueError):
        StepLines.window(ReadingOrder(PIXEL_BY_PIXEL), 28)


def test_line_inputs_are_the_pixels_read_in_each_line_in_order():
    image = torch.arange(784, dtype=torch.float32).reshape(28, 28) / 784
    inputs = StepLines.whole(ReadingOrder(COLUMNS)).line_inputs(image)
    second = inputs[inputs["row"] == 2].sort_values("position")["ink"].to_numpy()
    assert np.allclose(second, image[:, 1].numpy())
    permuted = ReadingOrder(PERMUTED, seed=3)
    first = StepLines.whole(permuted).line_inputs(image)
    first = first[first["row"] == 1].sort_values("position")["ink"].to_numpy()
    assert np.allclose(first, image.reshape(-1)[permuted.pixel_order[:28]].numpy())
