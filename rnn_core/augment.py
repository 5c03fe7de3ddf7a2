"""Training digits varied the way drawings vary: slant, turn, size, place and stroke width.

MNIST's digits are all written the same way: centred, one pen, one population of writers. A
digit drawn on the canvas is slanted or turned a little more, fills its box differently and,
after `preprocess.mnist_style`, still has strokes a little thinner or thicker than MNIST's
usual. `augment` varies a batch of training images in those ways, freshly at every batch, so
the model never sees the same image twice.

It works on the whole batch at once: one affine resampling (`affine_grid` + `grid_sample`)
for turn, slant, scale and shift; strokes are thickened by blending in a 3x3 max-pool, or
thinned by cutting away their grey edges, each image by its own amount. Every random number
comes from the generator it is given (the trainer's own), so the same seed gives the same
training. At strength 0 it returns the
batch untouched and draws nothing, so a run without augmentation shuffles exactly as before.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

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
_DRAWS = 7  # random numbers per image: turn, slant, scale, stretch, shift down, shift across, stroke


def augment(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """A batch [N, 28, 28] in [0, 1] varied at random, each image its own way; `strength` in
    [0, 1] scales every range above (0: the batch itself, nothing drawn)."""
    if strength == 0 or len(images) == 0:
        return images
    draws = (torch.rand(len(images), _DRAWS, generator=generator) * 2 - 1) * strength
    draws = draws.to(images.device)
    turn, slant, scale, stretch, down, across, stroke = draws.unbind(1)
    pictures = _reshape(images.unsqueeze(1), turn, slant, scale, stretch, down, across)
    return _restroke(pictures, stroke).squeeze(1)


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
