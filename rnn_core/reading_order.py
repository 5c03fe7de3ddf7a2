"""The order in which the network reads a digit's 784 pixels, and how many it reads per step.

The notebook splits each 28x28 image into 28 steps of one row each. The same image can be
split otherwise: rows from the bottom up, columns from left to right (28 steps of 28 pixels),
or one pixel per step (784 steps of 1), in the natural order ("sequential MNIST") or in a
fixed random one ("permuted MNIST"), the classic long-memory tests for recurrent networks.

An order is a permutation of the 784 pixel positions (row-major, as `reshape(-1)` lays them
out), cut into steps of equal size. Batches are put in order on the fly, one gather per batch,
so MNIST is held once whatever the order. `pixels_at_step` and `step_of_pixel` map back from
the sequence to the picture, for the pages that show what has been read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

SIDE = 28
PIXELS = SIDE * SIDE
# The link and command-line names of the orders, the notebook's first.
ROWS, ROWS_UPWARD, COLUMNS, PIXEL_BY_PIXEL, PERMUTED = "rows", "rows-upward", "columns", "pixels", "permuted"
ORDERS = (ROWS, ROWS_UPWARD, COLUMNS, PIXEL_BY_PIXEL, PERMUTED)
ORDER_WORDS = {
    ROWS: "rows from top to bottom",
    ROWS_UPWARD: "rows from bottom to top",
    COLUMNS: "columns from left to right",
    PIXEL_BY_PIXEL: "pixel by pixel (784 steps)",
    PERMUTED: "pixels in a fixed random order (784 steps)",
}


@dataclass(frozen=True)
class ReadingOrder:
    """One way of reading a digit: `name` (one of ORDERS) and, for the permuted order, the seed
    its permutation is drawn from (the others ignore it)."""

    name: str = ROWS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in ORDERS:
            raise ValueError(f"reading order must be one of {', '.join(ORDERS)}, got {self.name!r}")

    @property
    def features(self) -> int:
        """Pixels read per step: the recurrent layer's input size."""
        return SIDE if self.name in (ROWS, ROWS_UPWARD, COLUMNS) else 1

    @property
    def steps(self) -> int:
        return PIXELS // self.features

    @property
    def is_identity(self) -> bool:
        """The notebook's order: the image's own row-major layout, nothing to gather."""
        return self.name == ROWS

    @property
    def pixel_order(self) -> torch.Tensor:
        """int64 [784]: the flat position (row * 28 + column) of each pixel in reading order."""
        return _pixel_order(self.name, self.seed).clone()  # the cached one stays as drawn

    def sequences(self, images: torch.Tensor) -> torch.Tensor:
        """A batch of images [B, 28, 28] (or [B, 1, 28, 28]) as sequences [B, steps, features]."""
        flat = images.reshape(images.shape[0], PIXELS)
        if not self.is_identity:  # rows as they lie need no copy: exactly the notebook's input
            flat = flat[:, self.pixel_order.to(flat.device)]
        return flat.reshape(images.shape[0], self.steps, self.features)

    def pixels_at_step(self, step: int) -> torch.Tensor:
        """int64 [features]: the flat positions read at `step` (0-based), in the order read."""
        if not 0 <= step < self.steps:
            raise ValueError(f"step must be in 0..{self.steps - 1}, got {step}")
        return self.pixel_order[step * self.features : (step + 1) * self.features]

    def step_of_pixel(self) -> torch.Tensor:
        """int64 [28, 28]: the step (0-based) at which each pixel is read."""
        steps = torch.empty(PIXELS, dtype=torch.int64, device="cpu")
        steps[self.pixel_order] = torch.arange(PIXELS, device="cpu") // self.features
        return steps.reshape(SIDE, SIDE)

    def describe(self) -> str:
        words = ORDER_WORDS[self.name]
        return f"{words}, permutation seed {self.seed}" if self.name == PERMUTED else words


@functools.cache
def _pixel_order(name: str, seed: int) -> torch.Tensor:
    # on the CPU whatever device is the default where it is first asked for: it is cached
    grid = torch.arange(PIXELS, device="cpu").reshape(SIDE, SIDE)
    if name == ROWS_UPWARD:
        return grid.flip(0).reshape(-1)
    if name == COLUMNS:
        return grid.T.reshape(-1)
    if name == PERMUTED:
        # drawn on the CPU from a generator of its own: the same seed, the same permutation
        return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(seed), device="cpu")
    return grid.reshape(-1)  # rows and pixel by pixel: the image's own layout
