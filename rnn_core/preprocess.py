"""Any picture of one digit to the 28x28 image an MNIST model expects.

MNIST's digits were made this way: the ink's bounding box was scaled, keeping its aspect ratio
and anti-aliased, so that its longer side is 20 pixels, then placed in a 28x28 field with its
centre of mass at the centre. A model trained on MNIST has only seen digits of that size and
position, so a drawing gets the same treatment before it is classified: drawn small, large or
off-centre, it reaches the model as the same image.

The drawing canvas has one fixed pen, so a digit drawn small has strokes far thicker, for its
size, than MNIST's, and one drawn large far thinner. So before the scaling, the strokes are
measured (on a distance transform, along their centre lines found by thinning) and eroded or
dilated to MNIST's usual thickness for the digit's size: drawn with any pen, a digit reaches
the model with MNIST-like strokes.
"""

from __future__ import annotations

import itertools

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
# Strokes are measured and reshaped with the digit's longer side this many pixels long.
WORK = 64
# Pixels at least this inked are a stroke's body; its centre line is the body's skeleton.
STROKE_BODY = 0.5
# A centre line of fewer pixels than this is a dot, not a stroke to measure.
MIN_LENGTH = 3
# Room around the strokes, in pixels at WORK, for them to grow into (they grow by at most
# half of MNIST's stroke, 3.7 px, plus a pixel of anti-aliasing).
PAD = 6
# MNIST's usual stroke, as a fraction of the longer side of the digit's 20 px box, measured
# with `stroke_width` on 3,000 random training digits: median 0.116 (2.3 px of 20), middle half
# 0.097-0.138, 10th-90th percentile 0.083-0.159. (A round pen of known width measures within
# 4% of it: see tests/test_preprocess.py.) Every drawing's strokes are brought to the median.
MNIST_STROKE = 0.116
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
                field[row + down : row + down + height, col + across : col + across + width] += (
                    row_weight * col_weight * digit
                )
    return field


# ----- strokes: their centre lines and their thickness ---------------------------------------

# The 8 neighbours P2..P9 of a pixel in Zhang and Suen's order: N, NE, E, SE, S, SW, W, NW.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _thinning_tables() -> tuple[torch.Tensor, torch.Tensor]:
    """For each of the 256 neighbourhoods (bit i set = neighbour P(i+2) inked): may the pixel
    be peeled off in Zhang-Suen's first and second sub-iteration?"""
    code = np.arange(256)
    p2, p3, p4, p5, p6, p7, p8, p9 = ((code >> bit) & 1 for bit in range(8))
    ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
    inked = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
    rises = sum((a == 0) & (b == 1) for a, b in itertools.pairwise(ring))
    # an edge pixel (2-6 inked neighbours) whose inked neighbours are one connected run
    edge = (inked >= 2) & (inked <= 6) & (rises == 1)
    first = edge & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)  # south-east side and north-west corner
    second = edge & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)  # north-west side and south-east corner
    return torch.from_numpy(first), torch.from_numpy(second)


_PEEL_TABLES = _thinning_tables()
# A pixel's neighbourhood code, as one convolution: each neighbour weighs its bit.
_NEIGHBOUR_BITS = torch.zeros(1, 1, 3, 3)
for _bit, (_down, _across) in enumerate(_NEIGHBOURS):
    _NEIGHBOUR_BITS[0, 0, 1 + _down, 1 + _across] = 2**_bit


def thin(mask: torch.Tensor) -> torch.Tensor:
    """The centre lines, one pixel wide and 8-connected, of the strokes in a batch of boolean
    masks [N, 1, H, W] (Zhang and Suen's thinning, 1984: peel edge pixels off, alternately
    from the south-east and the north-west, while that keeps every stroke connected), every
    picture at once."""
    centre = mask.clone()
    while True:
        peeled = False
        for peelable in _PEEL_TABLES:
            codes = F.conv2d(centre.float(), _NEIGHBOUR_BITS.to(centre.device), padding=1).long()
            loose = centre & peelable.to(centre.device)[codes]
            if loose.any():
                centre &= ~loose
                peeled = True
        if not peeled:
            return centre


def skeleton(mask: np.ndarray) -> np.ndarray:
    """`thin` of one boolean mask [H, W]."""
    return thin(torch.from_numpy(np.asarray(mask, dtype=bool))[None, None])[0, 0].numpy()


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance, float32 [H, W], from each pixel to the nearest True pixel of `mask`
    (exact, in two passes, down the columns then along the rows; very large if there is none)."""
    height, width = mask.shape
    far = np.float32(height**2 + width**2)
    down, across = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    squared = np.where(mask, np.float32(0), far)
    # nearest in each column, then the nearest of those along each row: [i, k, j] and [i, j, l]
    squared = (squared[None, :, :] + np.square(down[:, None, None] - down[None, :, None])).min(1)
    squared = (squared[:, None, :] + np.square(across[None, :, None] - across[None, None, :])).min(2)
    return np.sqrt(squared)


def stroke_edges(work: np.ndarray) -> np.ndarray:
    """Signed distance, in pixels, from each pixel's centre to the edge of the strokes'
    bodies: positive inside, negative outside. Padded by PAD pixels on every side."""
    body = np.pad(work > STROKE_BODY, PAD)
    return np.where(body, distance_to(~body) - 0.5, 0.5 - distance_to(body))


def stroke_thickness(edges: np.ndarray) -> float | None:
    """The strokes' usual thickness, in pixels, from `stroke_edges`: twice the mean distance
    from their centre lines to their edges, over the three quarters of the centre line nearest
    an edge (so that a blob where strokes meet, or a loop filled in, does not count); None when
    there is no stroke, only a dot."""
    centre = skeleton(edges > 0)
    if centre.sum() < MIN_LENGTH:
        return None
    distances = np.sort(edges[centre])
    # Measured from pixel centres, a stroke comes out about a pixel thinner than it is: round
    # pens of known width measure within 4% of it with that pixel added back.
    return 2 * float(distances[: max(1, len(distances) * 3 // 4)].mean()) + 1


def _crop_to_ink(ink: np.ndarray) -> np.ndarray | None:
    inked = ink > INK_THRESHOLD
    if not inked.any():
        return None
    rows, cols = np.flatnonzero(inked.any(1)), np.flatnonzero(inked.any(0))
    return np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.float32)


def stroke_width(picture: np.ndarray) -> float | None:
    """How thick the strokes of the digit in a picture are, as a fraction of the longer side
    of its ink's bounding box (MNIST's median: 0.116); None without ink or with only a dot."""
    crop = _crop_to_ink(ink_intensity(picture))
    if crop is None:
        return None
    thickness = stroke_thickness(stroke_edges(_scale_longer_side(crop, WORK).clamp(0, 1).numpy()))
    return None if thickness is None else thickness / WORK


def _restroked(crop: np.ndarray) -> np.ndarray:
    """The digit in `crop` with strokes of MNIST's usual thickness for its size: thinned
    (eroded) or thickened (dilated) to it."""
    edges = stroke_edges(_scale_longer_side(crop, WORK).clamp(0, 1).numpy())
    thickness = stroke_thickness(edges)
    if thickness is None:
        return crop
    # each edge moves inwards by half the difference (outwards when it is negative), but
    # never so far that the thickest part goes
    shift = min((thickness - MNIST_STROKE * WORK) / 2, edges.max() - 1)
    return np.clip(edges - shift + 0.5, 0, 1).astype(np.float32)


def mnist_style(picture: np.ndarray, restroke: bool = True) -> torch.Tensor | None:
    """The 28x28 float image in [0, 1] the model should see, or None when there is no ink.

    With `restroke` (the default), the strokes are first made as thick, for the digit's size,
    as MNIST's usually are: a digit drawn with a pen of any width reaches the model alike.
    Without, the picture is only cropped, scaled and centred."""
    crop = _crop_to_ink(ink_intensity(picture))
    if crop is None:
        return None
    # restroking keeps a stroke's inked middle, so ink is left; the check is for the type checker
    if restroke and (restroked := _crop_to_ink(_restroked(crop))) is not None:
        crop = restroked
    placed = _place_by_centre_of_mass(_scale_longer_side(crop, DIGIT_BOX).clamp(0, 1))
    return placed / placed.max()
