"""Reading orders: each a permutation of the 784 pixels cut into steps, with maps back to the picture."""

import pytest
import torch

from rnn_core.reading_order import COLUMNS, ORDERS, PERMUTED, PIXEL_BY_PIXEL, ROWS, ROWS_UPWARD, ReadingOrder

POSITIONS = torch.arange(784, dtype=torch.float32).reshape(1, 28, 28)  # each pixel holds its own position


@pytest.mark.parametrize("name", ORDERS)
def test_every_order_reads_each_of_the_784_pixels_exactly_once(name):
    order = ReadingOrder(name)
    assert torch.equal(order.pixel_order.sort().values, torch.arange(784))
    sequence = order.sequences(POSITIONS)
    assert sequence.shape == (1, order.steps, order.features)
    assert torch.equal(sequence.flatten().long().sort().values, torch.arange(784))


@pytest.mark.parametrize(
    ("name", "steps", "features"),
    [(ROWS, 28, 28), (ROWS_UPWARD, 28, 28), (COLUMNS, 28, 28), (PIXEL_BY_PIXEL, 784, 1), (PERMUTED, 784, 1)],
)
def test_the_input_size_follows_the_order(name, steps, features):
    assert (ReadingOrder(name).steps, ReadingOrder(name).features) == (steps, features)


def test_each_order_reads_what_its_name_says():
    first_step = {name: ReadingOrder(name).sequences(POSITIONS)[0, 0].long().tolist() for name in ORDERS}
    assert first_step[ROWS] == list(range(28))  # the top row
    assert first_step[ROWS_UPWARD] == list(range(27 * 28, 784))  # the bottom row, left to right
    assert first_step[COLUMNS] == list(range(0, 784, 28))  # the left column, top to bottom
    assert ReadingOrder(PIXEL_BY_PIXEL).sequences(POSITIONS)[0, :30, 0].long().tolist() == list(range(30))


def test_rows_are_the_image_itself_with_no_copy():
    images = torch.rand(3, 1, 28, 28)
    sequence = ReadingOrder(ROWS).sequences(images)
    assert torch.equal(sequence, images.reshape(3, 28, 28))
    assert sequence.data_ptr() == images.data_ptr()


@pytest.mark.parametrize("name", ORDERS)
def test_the_maps_back_to_the_picture_agree_with_the_sequence(name):
    order = ReadingOrder(name, seed=5)
    sequence = order.sequences(POSITIONS)[0]
    step_of_pixel = order.step_of_pixel()
    for step in (0, 1, order.steps // 2, order.steps - 1):
        read = order.pixels_at_step(step)
        assert torch.equal(sequence[step].long(), read)  # the pixels the step holds, in its order
        assert (step_of_pixel.flatten()[read] == step).all()
    assert torch.equal(step_of_pixel.flatten().bincount(), torch.full((order.steps,), order.features))


def test_a_step_outside_the_order_is_refused():
    with pytest.raises(ValueError, match=r"0\.\.27"):
        ReadingOrder(COLUMNS).pixels_at_step(28)


def test_the_permutation_is_the_same_for_its_seed_and_another_for_another_seed():
    drawn = ReadingOrder(PERMUTED, seed=3).pixel_order
    assert torch.equal(drawn, ReadingOrder(PERMUTED, seed=3).pixel_order)
    assert not torch.equal(drawn, ReadingOrder(PERMUTED, seed=4).pixel_order)
    # pinned: a checkpoint keeps only the seed, so torch must keep drawing this permutation from it
    assert ReadingOrder(PERMUTED, seed=0).pixel_order[:6].tolist() == [60, 361, 167, 578, 107, 772]


def test_the_seed_matters_only_to_the_permuted_order():
    assert torch.equal(ReadingOrder(COLUMNS, seed=1).pixel_order, ReadingOrder(COLUMNS, seed=2).pixel_order)


def test_the_order_handed_out_cannot_change_the_one_kept():
    order = ReadingOrder(PERMUTED, seed=1)
    order.pixel_order[:] = 0
    assert torch.equal(order.pixel_order.sort().values, torch.arange(784))


def test_an_unknown_order_is_refused_naming_the_orders():
    with pytest.raises(ValueError, match="rows, rows-upward, columns, pixels, permuted"):
        ReadingOrder("diagonal")
