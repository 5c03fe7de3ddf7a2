"""Training digits varied the way drawings vary: slant, turn, size, place and stroke width.

MNIST's digits are all written the same way: centred, one pen, one population of writers. A
digit drawn on the canvas is slanted or turned a little more, fills its box differently and,
after `preprocess.mnist_style`, has strokes of one width all along, with even, soft edges,
where MNIST's strokes swell and thin. `augment` varies a batch of training images in those
ways, freshly at every batch, so the model never sees the same image twice.

It works on the whole batch at once. Part of the batch is first redrawn (`redraw`): each
digit's strokes are thinned to their centre lines (`preprocess.thin`, Zhang and Suen's
thinning, every digit of the batch at once) and inked again with a round pen of MNIST's usual
width, as the canvas's path leaves a drawing. Then one affine resampling (`affine_grid` + `grid_sample`) for
turn, slant, scale and shift; the strokes of the images not redrawn are thickened by blending
in a 3x3 max-pool, or thinned by cutting away their grey edges, each image by its own amount.
Every random number comes from the generator it is given (the trainer's own), so the same seed
gives the same training. At strength 0 it returns the batch untouched and draws nothing, so a
run without augmentation shuffles exactly as before.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .preprocess import STROKE_BODY, thin

# The largest change at strength 1, each drawn uniformly within +- this much per image.
MAX_TURN_DEGREES = 12.0
MAX_SLANT = 0.3  # horizontal shear: a pixel moves this many pixels sideways per pixel down
MAX_SCALE = 1.15  # the digit grows or shrinks by up to this factor (log-uniform)
MAX_STRETCH = 1.1  # and its width against its height by up to this factor
MAX_SHIFT_PIXELS = 2.0
# Strokes are thickened by blending in at most this much of the max-pooled image: at most
# half, so a background pixel next to a stroke becomes at most half ink: the hole of a 0, 6,
# 8 or 9 is never filled in, only its edge darkened.
MAX_STROKE_BLEND = 0.5
# and thinned by cutting away the ink of their edges up to this level (MNIST's strokes are
# anti-aliased: their edges are grey, their middles fully inked).
MAX_EDGE_CUT = 0.5
# At strength 1, this share of the images is redrawn (`redraw`) instead of thickened or thinned.
REDRAW_SHARE = 0.5
# random numbers per image: turn, slant, scale, stretch, shift down, shift across, stroke; then
# whether it is redrawn, and the pen's width
_DRAWS = 9


def augment(
    images: torch.Tensor, strength: float, generator: torch.Generator, centres: torch.Tensor | None = None
) -> torch.Tensor:
    """A batch [N, 28, 28] in [0, 1] varied at random, each image its own way; `strength` in
    [0, 1] scales every range above (0: the batch itself, nothing drawn). `centres`, when the
    caller has them, are the images' `centre_lines`: a trainer thins its digits once rather
    than at every batch (the same lines, so the same batch comes out)."""
    if strength == 0 or len(images) == 0:
        return images
    uniform = torch.rand(len(images), _DRAWS, generator=generator).to(images.device)
    turn, slant, scale, stretch, down, across, stroke, _, pen = ((uniform * 2 - 1) * strength).unbind(1)
    pictures = images.unsqueeze(1)
    # redrawn first, as a drawing is: from MNIST's own 28 px digit, as `pen_digits` does
    redrawn = uniform[:, 7] < REDRAW_SHARE * strength
    if redrawn.any():
        pictures = pictures.clone()
        width = REDRAW_WIDTH * torch.exp(pen[redrawn] * math.log(MAX_WIDTH_CHANGE))
        lines = centre_lines(images[redrawn]) if centres is None else centres[redrawn]
        pictures[redrawn] = redraw(lines.unsqueeze(1), width)
    pictures = _reshape(pictures, turn, slant, scale, stretch, down, across)
    # a redrawn stroke keeps its pen's width
    return _restroke(pictures, torch.where(redrawn, 0.0, stroke)).squeeze(1)


def _reshape(
    pictures: torch.Tensor,
    turn: torch.Tensor,
    slant: torch.Tensor,
    scale: torch.Tensor,
    stretch: torch.Tensor,
    down: torch.Tensor,
    across: torch.Tensor,
) -> torch.Tensor:
    """Each picture [N, 1, H, W] resampled through its own affine map. The amounts are in
    [-1, 1]; the map says where each output pixel reads from, so a positive scale zooms in."""
    angle = turn * math.radians(MAX_TURN_DEGREES)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    zeros, ones = torch.zeros_like(slant), torch.ones_like(slant)
    shear = torch.stack([torch.stack([ones, slant * MAX_SLANT], 1), torch.stack([zeros, ones], 1)], 1)
    size = torch.exp(-scale * math.log(MAX_SCALE))
    width = torch.exp(stretch * math.log(MAX_STRETCH))
    sizing = torch.diag_embed(torch.stack([size * width, size / width], 1))
    # affine_grid's coordinates run from -1 to 1 across the picture: a pixel is 2 / side of them
    shift = torch.stack([across, down], 1) * MAX_SHIFT_PIXELS * 2 / pictures.shape[-1]
    theta = torch.cat([rotation @ shear @ sizing, shift.unsqueeze(2)], 2)
    grid = F.affine_grid(theta, list(pictures.shape), align_corners=False)
    return F.grid_sample(pictures, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _restroke(pictures: torch.Tensor, stroke: torch.Tensor) -> torch.Tensor:
    """Strokes thickened (stroke > 0) by blending in part of the picture's 3x3 max-pool, or
    thinned (stroke < 0) by cutting away their faint edges: the ink under the cut goes, the
    rest is stretched back to full. A stroke's fully inked middle stays, so no stroke breaks."""
    thicker = F.max_pool2d(pictures, 3, stride=1, padding=1)
    grow = (stroke.clamp(min=0) * MAX_STROKE_BLEND).view(-1, 1, 1, 1)
    cut = ((-stroke).clamp(min=0) * MAX_EDGE_CUT).view(-1, 1, 1, 1)
    grown = pictures + grow * (thicker - pictures)
    return ((grown - cut) / (1 - cut)).clamp(0, 1)


# ----- redrawn: strokes of one width, rebuilt from their centre lines -------------------------

# The pen's width in pixels: MNIST's usual stroke, 11.6% of the 20 px box, as `mnist_style`
# gives every drawing; varied by up to this factor either way (log-uniform).
REDRAW_WIDTH = 0.116 * 20
MAX_WIDTH_CHANGE = 1.2
# A drawing's edges are softened by its scaling down to 20 px: a [1, 2, 1] / 4 blur each way.
_SOFTEN = torch.tensor([1.0, 2.0, 1.0]) / 4


def centre_lines(images: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """The centre lines [N, H, W] (boolean) of the strokes' bodies in images [N, H, W] in [0, 1],
    as `preprocess.skeleton` finds them, `chunk` images at a time: a chunk is thinned until its
    thickest digit is, and small tensors stay in the CPU's caches (on one thread, 4,096 digits
    took 0.8 s 32 at a time, 11.5 s all at once)."""
    bodies = (images > STROKE_BODY).unsqueeze(1)
    return torch.cat([thin(part) for part in bodies.split(chunk)])[:, 0] if len(images) else bodies[:, 0]


def ink_around(centre: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """Centre lines [N, 1, H, W] drawn with a round pen `width` [N] pixels across: a pixel is
    inked by how far inside the pen's edge its centre lies, up to half a pixel out (anti-aliased)."""
    reach = width.view(-1, 1, 1, 1) / 2 + 0.5
    steps = math.ceil(reach.max().item())
    padded = F.pad(centre.float(), (steps,) * 4)
    height, breadth = centre.shape[-2:]
    ink = torch.zeros(centre.shape, dtype=torch.float32, device=centre.device)
    for down in range(-steps, steps + 1):
        for across in range(-steps, steps + 1):
            cover = (reach - math.hypot(down, across)).clamp(0, 1)
            moved = padded[..., steps + down : steps + down + height, steps + across : steps + across + breadth]
            ink = torch.maximum(ink, moved * cover)
    return ink


def redraw(centres: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """Centre lines [N, 1, H, W] (`centre_lines`) drawn again as the canvas's path leaves a
    drawing: with a round pen of `width` [N] pixels, so every stroke is as thick as every
    other, with soft anti-aliased edges (MNIST's strokes swell and thin), 1 at the darkest."""
    ink = ink_around(centres, width)
    soften = (_SOFTEN[:, None] * _SOFTEN[None, :]).view(1, 1, 3, 3).to(ink.device)
    soft = F.conv2d(ink, soften, padding=1)
    return soft / soft.amax((2, 3), keepdim=True).clamp(min=1e-6)
