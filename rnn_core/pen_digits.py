"""MNIST's test digits redrawn as if with the dashboard's drawing canvas, with any pen.

The canvas draws with one fixed pen, so how thick a drawn digit's strokes are, relative to the
digit, depends on how large it is drawn. To see how the model copes, each test digit is thinned
to its centre lines (`preprocess.skeleton`), which are then drawn again on a canvas-like
picture with a round pen whose width is a chosen fraction of the digit's height, with the
digit's longer side a chosen fraction of the canvas, at a chosen place on it.

The picture is what the canvas hands over: RGBA bytes, transparent where nothing is drawn,
white with the pen's coverage as alpha where it is (`preprocess.ink_intensity` reads it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .preprocess import skeleton

CANVAS = 280  # pixels, as on the Test page
PENS = (0.06, 0.10, 0.14, 0.18, 0.22)  # pen width / digit height
SIZES = (0.25, 0.55, 0.85)  # the digit's longer side / the canvas's side
# An MNIST pixel at least this bright is part of a stroke's body.
STROKE_THRESHOLD = 0.5
# Rounds of smoothing of the centre lines: a hand moves in curves, not in pixel stairs.
SMOOTHING = 2


def skeleton_segments(centre: np.ndarray) -> np.ndarray:
    """The skeleton as straight segments [N, 2 ends, (row, column)] between neighbouring
    pixels: a pixel with no neighbour is a segment of length 0. A diagonal step is left out
    where two orthogonal steps already join the same pixels."""
    padded = np.pad(centre, 1)
    height, width = centre.shape

    def at(down: int, across: int) -> np.ndarray:
        return padded[1 + down : 1 + down + height, 1 + across : 1 + across + width]

    steps = {
        (0, 1): centre & at(0, 1),
        (1, 0): centre & at(1, 0),
        (1, 1): centre & at(1, 1) & ~at(0, 1) & ~at(1, 0),
        (1, -1): centre & at(1, -1) & ~at(0, -1) & ~at(1, 0),
    }
    neighbours = sum(at(down, across).astype(int) for down in (-1, 0, 1) for across in (-1, 0, 1)) - centre
    alone = centre & (neighbours == 0)
    segments = [np.zeros((0, 2, 2), np.float32)]
    for (down, across), starts in {**steps, (0, 0): alone}.items():
        start = np.argwhere(starts).astype(np.float32)
        segments.append(np.stack([start, start + np.array([down, across], np.float32)], axis=1))
    return np.concatenate(segments)


def draw_segments(segments: np.ndarray, width: float, shape: tuple[int, int]) -> np.ndarray:
    """Ink in [0, 1], float32 [H, W]: the segments [N, 2, (row, column)] drawn with a round pen
    `width` pixels across, anti-aliased (a pixel whose centre lies within half a pixel of the
    pen's edge is partly inked)."""
    ink = np.zeros(shape, np.float32)
    reach = width / 2 + 0.5
    for start, end in np.asarray(segments, dtype=np.float32):
        # only the pixels near this segment: its bounding box widened by the pen's reach
        top, left = np.maximum(np.floor(np.minimum(start, end) - reach), 0).astype(int)
        bottom, right = np.minimum(np.ceil(np.maximum(start, end) + reach) + 1, shape).astype(int)
        if top >= bottom or left >= right:
            continue
        rows, cols = np.ogrid[top:bottom, left:right]
        along = end - start
        where = ((rows - start[0]) * along[0] + (cols - start[1]) * along[1]) / max(along @ along, 1e-12)
        where = np.clip(where, 0, 1)
        distance = np.hypot(rows - start[0] - where * along[0], cols - start[1] - where * along[1])
        patch = ink[top:bottom, left:right]
        np.maximum(patch, np.clip(reach - distance, 0, 1), out=patch)
    return ink


def smooth(segments: np.ndarray, rounds: int = SMOOTHING) -> np.ndarray:
    """The segments with each point moved to the mean of itself and the points it is joined
    to, `rounds` times; the ends of strokes stay where they are."""
    points, pairs = np.unique(segments.reshape(-1, 2), axis=0, return_inverse=True)
    pairs = pairs.reshape(-1, 2)
    links = pairs[pairs[:, 0] != pairs[:, 1]]  # a lone dot has nothing to be averaged with
    degree = np.bincount(links.ravel(), minlength=len(points))[:, None]
    for _ in range(rounds):
        total = points.copy()
        np.add.at(total, links[:, 0], points[links[:, 1]])
        np.add.at(total, links[:, 1], points[links[:, 0]])
        points = np.where(degree >= 2, total / (1 + degree), points)
    return points[pairs]


def redraw(
    image: torch.Tensor | np.ndarray,
    pen: float,
    size: float,
    where: tuple[float, float] = (0.5, 0.5),
    canvas: int = CANVAS,
) -> np.ndarray:
    """One digit (28x28 in [0, 1]) redrawn on a `canvas`-pixel square: RGBA uint8 [canvas, canvas, 4].

    `pen`: the pen's width as a fraction of the drawn digit's height (strokes included).
    `size`: the drawn digit's longer side as a fraction of the canvas.
    `where`: (down, across) in [0, 1]: 0 puts the digit against the top (left) edge, 1 against
    the bottom (right) edge, 0.5 in the middle.
    """
    if not 0 < pen < 1 or not 0 < size <= 1:
        raise ValueError(f"pen must be in (0, 1) and size in (0, 1], got pen {pen}, size {size}")
    centre = skeleton(np.asarray(image) > STROKE_THRESHOLD)
    if not centre.any():
        raise ValueError("the image has no stroke to redraw")
    segments = smooth(skeleton_segments(centre))
    points = segments.reshape(-1, 2)
    low = points.min(0)
    span_down, span_across = np.maximum(points.max(0) - low, 1.0)  # at least a pixel: a dot has a height
    # The drawn digit is (span x scale + width) high and wide, and width = pen x its height:
    # so width = pen / (1 - pen) x span_down x scale, and the longer side fixes the scale.
    widening = pen / (1 - pen) * span_down
    scale = size * canvas / (max(span_down, span_across) + widening)
    width = widening * scale
    drawn = np.array([span_down, span_across]) * scale + width
    corner = np.array(where) * (canvas - drawn)
    ink = draw_segments((segments - low) * scale + corner + width / 2 - 0.5, width, (canvas, canvas))
    picture = np.zeros((canvas, canvas, 4), np.uint8)
    alpha = np.round(ink * 255).astype(np.uint8)
    picture[..., :3] = np.where(alpha[..., None] > 0, 255, 0)
    picture[..., 3] = alpha
    return picture


@dataclass(frozen=True)
class PenDigit:
    index: int  # of the digit in the images given
    label: int
    pen: float
    size: float
    where: tuple[float, float]
    picture: np.ndarray  # RGBA uint8 [CANVAS, CANVAS, 4]


def pen_digits(
    images: torch.Tensor,
    labels: torch.Tensor,
    pens: Sequence[float] = PENS,
    sizes: Sequence[float] = SIZES,
    seed: int = 0,
) -> Iterator[PenDigit]:
    """Every digit redrawn once with each pen, one at a time (a picture is 300 KB). The sizes
    take turns, so each pen sees every size equally often and each size every pen; the place
    on the canvas is random, drawn from `seed`."""
    generator = np.random.default_rng(seed)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        for turn, pen in enumerate(pens):
            size = sizes[(index + turn) % len(sizes)]
            where = (float(generator.random()), float(generator.random()))
            yield PenDigit(index, int(label), pen, size, where, redraw(image, pen, size, where))
