import dataclasses

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.evaluate import predict_log_probs
from rnn_core.preprocess import CENTRE, DIGIT_BOX, ink_intensity, mnist_style
from rnn_core.trainer import Trainer


def digit() -> torch.Tensor:
    """A hand-made '7' in the middle of a 28x28 field: a bar and a slanted stroke."""
    image = torch.zeros(28, 28)
    image[5:8, 7:21] = 1.0
    for row in range(8, 24):
        column = 19 - (row - 8) // 2
        image[row, column : column + 3] = 1.0
    return image


def on_canvas(image: torch.Tensor, size: int, top: int, left: int, canvas: int = 280) -> np.ndarray:
    """The image enlarged to `size` pixels (smoothly, as a brush would draw it) on a black canvas."""
    enlarged = F.interpolate(image[None, None], size=(size, size), mode="bilinear")[0, 0]
    field = torch.zeros(canvas, canvas)
    field[top : top + size, left : left + size] = enlarged
    return field.numpy()


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    index = torch.arange(28, dtype=torch.float32)
    mass = image.sum()
    return ((image.sum(1) * index).sum() / mass).item(), ((image.sum(0) * index).sum() / mass).item()


def test_the_result_is_a_28x28_digit_20_pixels_high_centred_by_mass():
    image = mnist_style(on_canvas(digit(), 200, 40, 40))
    assert image.shape == (28, 28) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() == pytest.approx(1.0)
    inked_rows = torch.nonzero((image > 0.1).any(1)).flatten()
    # 20 pixels, or 21 when the centring shares a fraction of a pixel between two rows
    assert DIGIT_BOX <= inked_rows[-1] - inked_rows[0] + 1 <= DIGIT_BOX + 1
    row, column = centre_of_mass(image)
    assert row == pytest.approx(CENTRE, abs=0.01) and column == pytest.approx(CENTRE, abs=0.01)


def test_a_digit_moved_elsewhere_on_the_canvas_gives_the_same_image():
    centred = mnist_style(on_canvas(digit(), 200, 40, 40))
    for top, left in [(0, 0), (80, 5), (3, 79)]:
        assert torch.allclose(mnist_style(on_canvas(digit(), 200, top, left)), centred, atol=1e-5)


def test_a_digit_drawn_small_or_large_gives_nearly_the_same_image():
    reference = mnist_style(on_canvas(digit(), 200, 40, 40))
    one_pixel_off = (torch.roll(reference, 1, dims=1) - reference).abs().mean()
    for size, top, left in [(60, 10, 200), (120, 150, 20), (280, 0, 0)]:
        difference = (mnist_style(on_canvas(digit(), size, top, left)) - reference).abs().mean()
        assert difference < one_pixel_off / 5, f"drawn {size} px: differs by {difference:.3f}"


def test_an_empty_or_nearly_empty_picture_gives_none():
    assert mnist_style(np.zeros((280, 280), dtype=np.uint8)) is None
    assert mnist_style(np.full((280, 280), 0.05, dtype=np.float32)) is None  # faint noise, no ink
    transparent = np.zeros((280, 280, 4), dtype=np.uint8)
    transparent[..., :3] = 255  # white, but fully transparent: nothing drawn
    assert mnist_style(transparent) is None


def test_canvas_rgba_pixels_read_as_their_gray_ink():
    gray = on_canvas(digit(), 200, 40, 40)
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white strokes; the alpha channel says where they are
    rgba[..., 3] = np.round(gray * 255).astype(np.uint8)
    assert np.allclose(ink_intensity(rgba), gray, atol=1 / 255)
    opaque = np.repeat(np.round(gray * 255).astype(np.uint8)[..., None], 3, axis=2)  # RGB, black ground
    assert torch.allclose(mnist_style(opaque), mnist_style(rgba), atol=1e-5)


def test_pixels_of_an_unknown_shape_are_refused():
    with pytest.raises(ValueError, match="RGB"):
        ink_intensity(np.zeros((28, 28, 2)))


def test_mnist_test_images_keep_their_predictions(real_mnist):
    images, labels = real_mnist.test_images[:2000], real_mnist.test_labels[:2000]
    quick = dataclasses.replace(real_mnist, test_images=images, test_labels=labels)
    trainer = Trainer(quick, ModelConfig(hidden_size=32), TrainConfig(
        epochs=1, batch_size=64, learning_rate=3e-3, optimizer="Adam", train_limit=20_000, device="cpu"))  # fmt: skip
    trainer.run()
    processed = torch.stack([mnist_style(image.numpy()) for image in images])
    before = (predict_log_probs(trainer.model, images).argmax(1) == labels).float().mean().item() * 100
    after = (predict_log_probs(trainer.model, processed).argmax(1) == labels).float().mean().item() * 100
    assert before > 75, f"the quick model should have learned something ({before:.1f}%)"
    assert after >= before - 1, f"preprocessing cost {before - after:.1f} points ({before:.1f}% -> {after:.1f}%)"
