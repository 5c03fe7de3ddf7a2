import numpy as np
import pytest

from rnn_core.font_digits import font_digits, font_files, place, typeset
from rnn_core.pen_digits import CANVAS, SIZES
from rnn_core.preprocess import ink_intensity, mnist_style

FONTS = font_files()
needs_fonts = pytest.mark.skipif(not FONTS, reason="fontconfig lists no fonts on this machine")


def square_ink() -> np.ndarray:
    ink = np.zeros((40, 20), np.float32)
    ink[:, :3] = ink[:, -3:] = ink[:3] = ink[-3:] = 1
    return ink


@pytest.mark.parametrize("size", SIZES)
def test_placed_ink_has_its_longer_side_the_asked_share_of_the_canvas(size):
    picture = place(square_ink(), size, (0.5, 0.5))
    assert picture.shape == (CANVAS, CANVAS, 4) and picture.dtype == np.uint8
    rows, cols = np.nonzero(ink_intensity(picture) >= 0.5)
    assert abs((rows.max() - rows.min() + 1) - size * CANVAS) <= 2
    assert abs((cols.max() - cols.min() + 1) - size * CANVAS / 2) <= 2


def test_where_puts_the_ink_against_the_asked_edges():
    rows, cols = np.nonzero(place(square_ink(), 0.25, (0.0, 1.0))[..., 3])
    assert rows.min() == 0 and cols.max() == CANVAS - 1


@needs_fonts
def test_every_font_typesets_every_digit_as_ink_cropped_to_itself():
    for font in FONTS:
        for digit in range(10):
            ink = typeset(digit, font)
            assert ink.max() > 0.9, (font.name, digit)
            assert ink[0].any() and ink[-1].any() and ink[:, 0].any() and ink[:, -1].any()


@needs_fonts
def test_the_set_holds_each_digit_in_each_font_at_each_size_the_same_for_the_same_seed():
    fonts = FONTS[:2]
    drawn = list(font_digits(fonts, seed=1))
    assert len(drawn) == len(fonts) * 10 * len(SIZES)
    assert sorted({(d.font, d.label, d.size) for d in drawn}) == sorted(
        (font.name, digit, size) for font in fonts for digit in range(10) for size in SIZES
    )
    again = list(font_digits(fonts, seed=1))
    assert all(a.where == b.where and np.array_equal(a.picture, b.picture) for a, b in zip(drawn, again))
    assert [d.where for d in font_digits(fonts, seed=2)] != [d.where for d in drawn]


@needs_fonts
def test_a_typeset_digit_reaches_the_model_as_an_mnist_style_digit():
    one = next(font_digits(FONTS[:1]))
    image = mnist_style(one.picture)
    assert image.shape == (28, 28)
    rows, cols = np.nonzero(image.numpy() > 0.1)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in range(19, 23)
