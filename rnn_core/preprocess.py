"""Any picture of one digit to the 28x28 image an MNIST model expects.

MNIST's digits were made this way: the ink's bounding box was scaled, keeping its aspect ratio
and anti-aliased, so that its longer side is 20 pixels, then placed in a 28x28 field with its
centre of mass at the centre. A model trained on MNIST has only seen digits of that size and
position, so a drawing gets the same treatment before it is classified: drawn small, large or
off-centre, it reaches the model as the same image.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

SIZE = 28
DIGIT_BOX = 20
# Where MNIST's centres of mass sit, in pixel-index coordinates (the test set's mean is
# 13.99 down, 14.00 across).
CENTRE = 14.0
# Pixels fainter than this, on a 0-1 scale, are background: the canvas's anti-aliased
# speckle should not stretch the bounding box.
INK_THRESHOLD = 0.1
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def ink_intensity(picture: np.ndarray) -> np.ndarray:
    """Ink in [0, 1], float32 [H, W], from gray [H, W], RGB or RGBA [H, W, 3|4] pixels.

    Integer pixels are read as 0-255, floats as 0-1. Light ink on a dark ground is ink, as
    in MNIST. Transparent pixels count as background: on the canvas only the strokes are opaque.
    """
    raw = np.asarray(picture)
    pixels = raw.astype(np.float32) / (255.0 if np.issubdtype(raw.dtype, np.integer) else 1.0)
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected gray [H, W] or RGB(A) [H, W, 3|4] pixels, got shape {raw.shape}")
    gray = pixels[..., :3] @ LUMA
    return gray * pixels[..., 3] if pixels.shape[2] == 4 else gray


def _scale_longer_side(crop: np.ndarray, length: int) -> torch.Tensor:
    height, width = crop.shape
    factor = length / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    scaled = F.interpolate(torch.from_numpy(crop)[None, None], size=size, mode="bilinear", antialias=True)
    return scaled[0, 0]


def _place_by_centre_of_mass(digit: torch.Tensor) -> torch.Tensor:
    height, width = digit.shape
    mass = digit.sum()
    centre_row = (digit.sum(1) * torch.arange(height)).sum().item() / mass.item()
    centre_col = (digit.sum(0) * torch.arange(width)).sum().item() / mass.item()
    # Kept inside the field so that no ink is cut off.
    top = min(max(CENTRE - centre_row, 0.0), SIZE - height)
    left = min(max(CENTRE - centre_col, 0.0), SIZE - width)
    # A fraction of a pixel is shared between two neighbouring pixels, so the centre of mass
    # lands exactly on the centre: with whole-pixel shifts, a digit drawn a little larger or
    # smaller could jump by a pixel.
    row, col = int(top), int(left)
    row_part, col_part = top - row, left - col
    field = torch.zeros(SIZE, SIZE)
    for down, row_weight in ((0, 1 - row_part), (1, row_part)):
        for across, col_weight in ((0, 1 - col_part), (1, col_part)):
            if row_weight * col_weight > 0:
                field[row + down : row + down + height, col + across : col + across + width] += row_weight * col_weight * digit
    return field


def mnist_style(picture: np.ndarray) -> torch.Tensor | None:
    """The 28x28 float image in [0, 1] the model should see, or None when there is no ink."""
    ink = ink_intensity(picture)
    inked = ink > INK_THRESHOLD
    if not inked.any():
        return None
    rows, cols = np.flatnonzero(inked.any(1)), np.flatnonzero(inked.any(0))
    crop = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    placed = _place_by_centre_of_mass(_scale_longer_side(crop, DIGIT_BOX).clamp(0, 1))
    return placed / placed.max()
