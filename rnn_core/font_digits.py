"""Digits from outside MNIST: the ten digits typeset in the fonts installed on this machine.

MNIST's test digits come from the same population of writers as its training digits, so they
cannot say how a model copes with digits shaped by other hands. Typeset digits are shaped by
type designers instead: serifs, the flag and foot of a 1, a closed or open 4, bold, light,
slanted, condensed. Each is drawn on a canvas-like picture, as `pen_digits` does with MNIST's
own digits (RGBA, transparent where nothing is drawn, white with the ink as alpha), with its
longer side a chosen fraction of the canvas, at a random place, for `preprocess.mnist_style`.

The fonts are the ones fontconfig lists (`fc-list`): which ones, and so the set, depend on the
machine; `font_files` names them, so a figure can say which set it was measured on.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .pen_digits import CANVAS, SIZES

FONT_SUFFIXES = (".ttf", ".otf")
# The glyph is typeset this many pixels high, then scaled to its size on the canvas.
TYPESET_PIXELS = 256


def font_files() -> list[Path]:
    """The font files fontconfig knows of, sorted; none when fontconfig is not installed."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    listed = subprocess.run([fc_list, "--format", "%{file}\n"], capture_output=True, text=True, check=False).stdout
    return sorted({Path(line) for line in listed.splitlines() if line.lower().endswith(FONT_SUFFIXES)})


def typeset(digit: int, font: Path) -> np.ndarray:
    """The digit in the font, float32 ink in [0, 1], cropped to its ink."""
    face = ImageFont.truetype(str(font), TYPESET_PIXELS)
    text = str(digit)
    left, top, right, bottom = face.getbbox(text)
    page = Image.new("L", (int(right - left) + 4, int(bottom - top) + 4))
    ImageDraw.Draw(page).text((2 - left, 2 - top), text, fill=255, font=face)
    ink = np.asarray(page, np.float32) / 255
    rows, cols = np.nonzero(ink)
    if len(rows) == 0:
        raise ValueError(f"{font.name} draws no ink for the digit {digit}")
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def place(ink: np.ndarray, size: float, where: tuple[float, float], canvas: int = CANVAS) -> np.ndarray:
    """Ink [h, w] in [0, 1] scaled so its longer side is `size` of a `canvas`-pixel square and
    put at `where` ((down, across) in [0, 1], as in `pen_digits.redraw`): RGBA uint8."""
    if not 0 < size <= 1:
        raise ValueError(f"size must be in (0, 1], got {size}")
    scale = size * canvas / max(ink.shape)
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    glyph = Image.fromarray(np.round(ink * 255).astype(np.uint8)).resize((width, height), Image.Resampling.LANCZOS)
    top, left = (round(fraction * (canvas - side)) for fraction, side in zip(where, (height, width)))
    alpha = np.zeros((canvas, canvas), np.uint8)
    alpha[top : top + height, left : left + width] = np.asarray(glyph)
    picture = np.zeros((canvas, canvas, 4), np.uint8)
    picture[..., :3] = np.where(alpha[..., None] > 0, 255, 0)
    picture[..., 3] = alpha
    return picture


@dataclass(frozen=True)
class FontDigit:
    label: int
    font: str  # the font file's name
    size: float
    where: tuple[float, float]
    picture: np.ndarray  # RGBA uint8 [CANVAS, CANVAS, 4]


def font_digits(
    fonts: Sequence[Path] | None = None, sizes: Sequence[float] = SIZES, seed: int = 0
) -> Iterator[FontDigit]:
    """Every digit in every font (default: `font_files()`), once at each size, at a random
    place on the canvas drawn from `seed`; one picture at a time."""
    generator = np.random.default_rng(seed)
    for font in font_files() if fonts is None else fonts:
        for digit in range(10):
            ink = typeset(digit, font)
            for size in sizes:
                where = (float(generator.random()), float(generator.random()))
                yield FontDigit(digit, font.name, size, where, place(ink, size, where))
