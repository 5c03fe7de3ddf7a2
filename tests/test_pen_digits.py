import numpy as np
import pytest
import torch

from rnn_core.pen_digits import (
    CANVAS,
    PENS,
    SIZES,
    pen_digits,
    redraw,
    skeleton_segments,
    smooth,
)
from rnn_core.preprocess import ink_intensity, skeleton


def bar() -> torch.Tensor:
    """A straight vertical stroke, 3 pixels wide and 20 high, as MNIST would have it."""
    image = torch.zeros(28, 28)
    image[4:24, 13:16] = 1.0
    return image


def ring() -> torch.Tensor:
    """An '0': a ring 3 pixels thick, 20 high and 14 wide."""
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    radius = (((rows - 13.5) / 9) ** 2 + ((cols - 13.5) / 6) ** 2).sqrt()
    return ((radius > 0.72) & (radius < 1.08)).float()


def inked_box(picture: np.ndarray) -> tuple[int, int, int, int]:
    """Top, left, bottom, right (inclusive) of the pixels at least half inked."""
    rows, cols = np.nonzero(ink_intensity(picture) >= 0.5)
    return rows.min(), cols.min(), rows.max(), cols.max()


@pytest.mark.parametrize("pen", PENS)
@pytest.mark.parametrize("size", SIZES)
def test_the_pen_is_the_asked_fraction_of_the_digits_height(pen, size):
    picture = redraw(bar(), pen, size)
    ink = ink_intensity(picture)
    # the ink across the bar's middle row is the pen's width; along its middle column, the
    # bar's height from cap to cap (the anti-aliased edge pixels count for their share)
    top, left, bottom, right = inked_box(picture)
    width = ink[(top + bottom) // 2].sum()
    height = ink[:, (left + right) // 2].sum()
    assert width / height == pytest.approx(pen, rel=0.03), f"pen {width:.1f} px on a digit {height:.1f} px high"
    assert height == pytest.approx(size * CANVAS, abs=1.5)


@pytest.mark.parametrize("size", SIZES)
def test_the_digits_longer_side_is_the_asked_fraction_of_the_canvas(size):
    for pen in (0.06, 0.22):
        top, left, bottom, right = inked_box(redraw(ring(), pen, size))
        assert max(bottom - top, right - left) + 1 == pytest.approx(size * CANVAS, abs=2)
        assert right - left < bottom - top  # the ring stays taller than wide


def test_the_digit_is_placed_where_asked():
    picture = redraw(ring(), 0.1, 0.55, where=(0, 0))
    assert inked_box(picture)[:2] == (0, 0)
    picture = redraw(ring(), 0.1, 0.55, where=(1, 1))
    assert inked_box(picture)[2:] == (CANVAS - 1, CANVAS - 1)
    top, left, bottom, right = inked_box(redraw(ring(), 0.1, 0.55, where=(0.5, 0.25)))
    assert abs(top - (CANVAS - 1 - bottom)) <= 1  # centred down the canvas
    assert left == pytest.approx((left + CANVAS - 1 - right) / 4, abs=1)  # a quarter of the room on the left


def test_the_picture_is_what_the_canvas_hands_over():
    picture = redraw(ring(), 0.14, 0.55)
    assert picture.shape == (CANVAS, CANVAS, 4) and picture.dtype == np.uint8
    drawn = picture[..., 3] > 0
    assert (picture[drawn, :3] == 255).all() and (picture[~drawn] == 0).all()  # white strokes, clear elsewhere
    assert np.array_equal(ink_intensity(picture), picture[..., 3] / np.float32(255))
    assert ((picture[..., 3] > 0) & (picture[..., 3] < 255)).any()  # the edges are anti-aliased


def test_the_ring_keeps_its_hole():
    ink = ink_intensity(redraw(ring(), 0.14, 0.85))
    assert ink[CANVAS // 2, CANVAS // 2] == 0 and ink[CANVAS // 2].max() == 1


def test_the_skeleton_is_a_one_pixel_line_and_keeps_loops():
    thick = np.zeros((28, 28), bool)
    thick[4:24, 10:17] = True
    centre = skeleton(thick)
    # the middle column, short of each end by about the half-width
    assert np.array_equal(np.nonzero(centre)[1], [13] * 13) and np.array_equal(np.nonzero(centre)[0], range(7, 20))
    ring_centre = skeleton(ring().numpy() > 0.5)
    assert not ring_centre[13:15, 13:15].any() and ring_centre[13].sum() == 2  # still a closed loop


def test_segments_join_neighbouring_skeleton_pixels_and_smoothing_keeps_the_ends():
    line = np.zeros((10, 10), bool)
    line[2, 2:6] = True  # across, then a diagonal step down
    line[3, 6] = True
    line[7, 7] = True  # a lone dot
    segments = skeleton_segments(line)
    lengths = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    assert sorted(lengths.round(3)) == [0.0, 1.0, 1.0, 1.0, 1.414]
    smoothed = smooth(segments)
    ends = {(2.0, 2.0), (3.0, 6.0), (7.0, 7.0)}
    assert ends <= {tuple(point) for point in smoothed.reshape(-1, 2).tolist()}


def test_the_set_is_the_same_for_the_same_seed_and_covers_every_pen_and_size():
    images, labels = torch.stack([ring(), bar(), ring()]), torch.tensor([0, 1, 0])
    first = list(pen_digits(images, labels, seed=3))
    again = list(pen_digits(images, labels, seed=3))
    other = list(pen_digits(images, labels, seed=4))
    assert len(first) == 3 * len(PENS)
    assert all(np.array_equal(a.picture, b.picture) and a.where == b.where for a, b in zip(first, again, strict=True))
    assert [a.where for a in first] != [b.where for b in other]
    assert {(d.pen, d.size) for d in first} == {(pen, size) for pen in PENS for size in SIZES}
    assert [d.label for d in first[: len(PENS)]] == [0] * len(PENS) and first[len(PENS)].index == 1


def test_nonsense_is_refused():
    with pytest.raises(ValueError, match="pen"):
        redraw(ring(), 0.0, 0.5)
    with pytest.raises(ValueError, match="size"):
        redraw(ring(), 0.1, 1.5)
    with pytest.raises(ValueError, match="no stroke"):
        redraw(torch.zeros(28, 28), 0.1, 0.5)
