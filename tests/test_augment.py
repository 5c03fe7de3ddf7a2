import dataclasses

import pytest
import torch

from rnn_core import augment as augment_module
from rnn_core.augment import (
    MAX_STROKE_BLEND,
    MAX_WIDTH_CHANGE,
    REDRAW_SHARE,
    REDRAW_WIDTH,
    _restroke,
    augment,
    centre_lines,
    redraw,
)
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.preprocess import skeleton, thin
from rnn_core.trainer import Trainer


def ring() -> torch.Tensor:
    """An '0' as MNIST draws one: a ring with a fully inked middle line and grey edges, about
    2.5 pixels thick, around a hole 6 pixels across."""
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    radius = ((rows - 13.5) ** 2 + (cols - 13.5) ** 2).sqrt()
    return (1.5 - (radius - 4.5).abs()).clamp(0, 1)


def digits(count: int = 8) -> torch.Tensor:
    return torch.stack([ring().roll(shift, dims=1) for shift in range(-count // 2, count // 2)])


def test_a_batch_keeps_its_shape_and_range_and_comes_back_changed():
    batch = digits()
    varied = augment(batch, 1.0, torch.Generator().manual_seed(0))
    assert varied.shape == batch.shape and varied.dtype == batch.dtype
    assert varied.min() >= 0 and varied.max() <= 1
    # every image is changed, each its own way
    assert all((varied[i] - batch[i]).abs().max() > 0.1 for i in range(len(batch)))
    assert not torch.allclose(varied[0], varied[1].roll(-1, dims=1), atol=0.05)


def test_the_same_generator_state_gives_the_same_batch_and_another_seed_another():
    batch = digits()
    first = augment(batch, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(first, augment(batch, 1.0, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, augment(batch, 1.0, torch.Generator().manual_seed(4)))


def test_strength_zero_gives_the_batch_itself_and_draws_nothing():
    batch, generator = digits(), torch.Generator().manual_seed(0)
    assert augment(batch, 0.0, generator) is batch
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(0).get_state())


def test_a_weaker_strength_changes_the_images_less():
    batch = digits()
    change = {
        strength: (augment(batch, strength, torch.Generator().manual_seed(0)) - batch).abs().sum()
        for strength in (0.1, 1.0)
    }
    assert 0 < change[0.1] < change[1.0] / 2


@pytest.mark.parametrize("stroke", [1.0, -1.0], ids=["thickest", "thinnest"])
def test_a_ring_stays_a_ring_at_the_thickest_and_thinnest_strokes(stroke):
    picture = ring()[None, None]
    changed = _restroke(picture, torch.tensor([stroke]))[0, 0]
    # the hole stays open: no pixel of it becomes more than half ink
    assert changed[12:16, 12:16].max() <= MAX_STROKE_BLEND
    # and the ring stays whole: at every angle, some pixel across it keeps at least half its ink
    angles, radii = torch.linspace(0, 2 * torch.pi, 72)[:, None], torch.linspace(3, 6, 13)
    rows = (13.5 + radii * torch.sin(angles)).round().long()
    cols = (13.5 + radii * torch.cos(angles)).round().long()
    assert changed[rows, cols].amax(1).min() >= 0.5


def test_thickening_adds_ink_and_thinning_takes_it_away():
    picture = ring()[None, None]
    thicker, thinner = _restroke(picture.expand(2, -1, -1, -1), torch.tensor([1.0, -1.0]))
    assert thicker.sum() > 1.3 * picture.sum() and thinner.sum() < 0.8 * picture.sum()


def test_training_with_augmentation_repeats_with_the_same_seed_and_differs_from_training_without(tiny_data):
    model = ModelConfig(hidden_size=8)
    train = TrainConfig(epochs=1, batch_size=20, optimizer="Adam", learning_rate=0.01, device="cpu", augment=1.0)

    def weights(config: TrainConfig) -> torch.Tensor:
        trainer = Trainer(tiny_data, model, config)
        trainer.run()
        return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])

    augmented = weights(train)
    assert torch.equal(augmented, weights(train))
    assert not torch.equal(augmented, weights(dataclasses.replace(train, augment=0.0)))


def wedge() -> torch.Tensor:
    """A horizontal stroke growing from 1.5 pixels thick at its left end to 6 at its right."""
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    half = 0.75 + (cols - 4) / 20 * 2.25
    inside = (half + 0.5 - (rows - 13.5).abs()).clamp(0, 1)
    return torch.where((cols >= 4) & (cols <= 24), inside, torch.zeros(()))


def test_thinning_a_batch_finds_the_same_centre_lines_as_the_canvas_preprocessing():
    masks = torch.stack([ring() > 0.5, wedge() > 0.5, digits(3)[0] > 0.5, torch.ones(28, 28, dtype=torch.bool)])
    centres = thin(masks.unsqueeze(1))[:, 0]
    for mask, centre in zip(masks, centres, strict=True):
        assert torch.equal(centre, torch.from_numpy(skeleton(mask.numpy())))
    assert 0 < centres[1].sum() < masks[1].sum() / 3  # the wedge's centre is a thin line


def test_redrawing_gives_a_stroke_of_one_width_along_its_length():
    before = wedge()
    after = redraw(centre_lines(before[None]).unsqueeze(1), torch.tensor([REDRAW_WIDTH]))[0, 0]
    # ink across the stroke at its thin and its thick end: 1.5 against 6 pixels before
    thin_end, thick_end = before[:, 6].sum(), before[:, 22].sum()
    assert thick_end > 2.5 * thin_end
    across = after[:, 6:23].sum(0)
    assert across.max() < 1.2 * across.min()
    assert REDRAW_WIDTH < across.mean() < REDRAW_WIDTH + 1  # the pen's width, and its soft edges
    assert after.max() == 1


def test_a_redrawn_ring_stays_a_ring_even_with_the_widest_pen():
    after = redraw(centre_lines(ring()[None]).unsqueeze(1), torch.tensor([REDRAW_WIDTH * MAX_WIDTH_CHANGE]))[0, 0]
    assert after[13:15, 13:15].max() == 0  # the hole stays open
    angles, radii = torch.linspace(0, 2 * torch.pi, 72)[:, None], torch.linspace(3, 6, 13)
    rows = (13.5 + radii * torch.sin(angles)).round().long()
    cols = (13.5 + radii * torch.cos(angles)).round().long()
    assert after[rows, cols].amax(1).min() >= 0.5  # and unbroken all the way round


def test_about_the_redrawn_share_of_a_batch_is_redrawn_and_the_rest_varied_as_without(monkeypatch):
    batch = wedge().expand(200, 28, 28)
    redrawn = augment(batch, 1.0, torch.Generator().manual_seed(0))
    monkeypatch.setattr(augment_module, "REDRAW_SHARE", 0.0)
    varied = augment(batch, 1.0, torch.Generator().manual_seed(0))
    changed = (redrawn - varied).abs().amax((1, 2)) > 0
    assert abs(int(changed.sum()) - 200 * REDRAW_SHARE) < 25


def test_centre_lines_found_beforehand_give_the_same_batch():
    batch = torch.cat([digits(), wedge()[None]])
    found_here = augment(batch, 1.0, torch.Generator().manual_seed(2))
    given = augment(batch, 1.0, torch.Generator().manual_seed(2), centre_lines(batch, chunk=3))
    assert torch.equal(found_here, given)
