"""One toolkit for the dashboard's charts and digit pictures: one palette, one way to build and
draw a chart, one digit picture and one digit heatmap.

- Colours have names that say what they mean (the model's answer, a right or a wrong guess, the
  row being read...). Every colour that can carry text meets WCAG's 4.5:1 contrast on white;
  the grey for "other" marks meets the 3:1 asked of graphics.
- A chart is built once per shape (`cached_spec`), never with its data: its tables are named
  (`alt.Data(name=...)`) and sent with each draw (`show`), so a redraw only sends new tables
  and the browser updates the chart in place. Every spec has a title and a description (the
  description is what a screen reader announces instead of "Vega visualization") and axis and
  legend text in the palette's text colour (the default grey fails 4.5:1).
- Rows are numbered 1-28 everywhere: t = 1 is the first row read. Pixel tables have the columns
  row (1-28), column (1-28) and ink (0 = paper, 1 = full ink).

No Streamlit import: `show` takes the container to draw in.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import torch

from rnn_core.model import PIXELS_PER_ROW as COLUMNS
from rnn_core.model import ROWS

# ----- colours ------------------------------------------------------------------------------

TEXT = "#31333f"  # axis labels and titles, legends: Streamlit's body text
ANSWER = "#1971c2"  # the model's answer
RIGHT = "#237a37"  # read right; also the true digit
TRUE_DIGIT = RIGHT
WRONG = "#c92a2a"  # read wrong
BLOW_UP = WRONG  # a training whose loss blew up
HIGHLIGHT = "#c2410c"  # the row being read, the row it is sure from, the chosen cell
SURE_LINE = HIGHLIGHT
OTHER = "#868e96"  # the other digits; a digit not judged yet
UNKNOWN = OTHER
PAPER, INK = "#ffffff", "#000000"
FOG = "#dee2e6"  # behind a digit whose rows to come are dimmed: read rows stand out as paper

PALETTE = {
    "text": TEXT,
    "answer": ANSWER,
    "right": RIGHT,
    "true digit": TRUE_DIGIT,
    "wrong": WRONG,
    "blow-up": BLOW_UP,
    "highlight": HIGHLIGHT,
    "sure line": SURE_LINE,
    "other": OTHER,
    "unknown": UNKNOWN,
}
# may be used for text (a label on a mark, a caption): 4.5:1 on white; the rest 3:1
TEXT_COLOURS = ("text", "answer", "right", "true digit", "wrong", "blow-up", "highlight", "sure line")

INK_SCALE = alt.Scale(domain=[0, 1], range=[PAPER, INK])  # dark ink on white paper
DIMMED = 0.15  # opacity of rows not read yet


def rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' as (r, g, b), 0-255."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def contrast_ratio(foreground: str, background: str = PAPER) -> float:
    """WCAG 2 contrast ratio of two '#rrggbb' colours, 1 to 21."""

    def luminance(colour: str) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb(colour)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# ----- building and drawing a chart ---------------------------------------------------------

READABLE_TEXT = {
    "axis": {"labelColor": TEXT, "titleColor": TEXT},
    "legend": {"labelColor": TEXT, "titleColor": TEXT},
    "header": {"labelColor": TEXT, "titleColor": TEXT},
    "title": {"color": TEXT, "subtitleColor": TEXT},
}


def spec(chart: alt.TopLevelMixin, title: str | alt.Title, description: str) -> dict:
    """The chart as a Vega-Lite spec, with a title, a description for screen readers and
    readable axis text. Its data should be named (alt.Data(name=...)) and given to `show`."""
    if not description or not str(description).strip():
        raise ValueError("a chart needs a description: it is what a screen reader says of it")
    built = chart.properties(title=title, description=description).to_dict()
    config = built.pop("config", {})
    view = {k: v for k, v in config.pop("view", {}).items() if k not in ("continuousWidth", "continuousHeight")}
    if view:  # Altair's default 300 x 300 is left out: Streamlit sizes its charts itself
        config["view"] = view
    for part, settings in READABLE_TEXT.items():
        config[part] = {**config.get(part, {}), **settings}
    built["config"] = config
    return built


def cached_spec(build: Callable[..., dict]) -> Callable[..., dict]:
    """A spec builder whose result is kept per arguments (Altair's validation is slow: tens of
    ms a chart); each call hands out its own copy, free to change."""
    kept = functools.cache(lambda *args, **kwargs: json.dumps(build(*args, **kwargs)))

    @functools.wraps(build)
    def copy_of(*args: Any, **kwargs: Any) -> dict:
        return json.loads(kept(*args, **kwargs))

    copy_of.cache_clear = kept.cache_clear  # type: ignore[attr-defined]
    return copy_of


def show(
    where: Any,
    chart_spec: dict,
    datasets: Mapping[str, pd.DataFrame] | None = None,
    *,
    width: str | int = "stretch",
    key: str | None = None,
    on_select: Any = "ignore",
) -> Any:
    """Draws a spec with its named tables in a Streamlit container (`st`, a column...). The
    spec's description is the chart's accessible name (Streamlit's `alt` would override it, and
    log a warning for the pair)."""
    # tables Altair put in the spec itself (a chart built on a DataFrame) are kept
    full = {**copy.copy(chart_spec), "datasets": {**chart_spec.get("datasets", {}), **(datasets or {})}}
    return where.vega_lite_chart(spec=full, width=width, key=key, on_select=on_select)


# ----- digits ---------------------------------------------------------------------------------


def digit_picture(image: torch.Tensor | np.ndarray, scale: int) -> np.ndarray:
    """A 28x28 digit (ink 0-1) as dark ink on white paper, enlarged by repeating pixels so it
    stays sharp: uint8 greyscale [28 * scale, 28 * scale], ready for st.image or a PNG."""
    ink = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    paper = (255 - np.round(np.clip(ink, 0, 1) * 255)).astype(np.uint8)
    return np.repeat(np.repeat(paper, scale, axis=0), scale, axis=1)


def digit_grid(
    images: Sequence[torch.Tensor] | torch.Tensor,
    columns: int,
    scale: int,
    frames: Sequence[str] | None = None,
    border: int = 3,
) -> np.ndarray:
    """Digits in a grid, one picture (RGB uint8), left to right and top to bottom, each in a
    border of `border` px: white, or the colour `frames` gives it."""
    side = ROWS * scale
    cell = side + 2 * border
    rows = -(-len(images) // columns)
    grid = np.full((rows * cell, columns * cell, 3), 255, dtype=np.uint8)
    for number, image in enumerate(images):
        top, left = number // columns * cell, number % columns * cell
        if frames is not None:
            grid[top : top + cell, left : left + cell] = rgb(frames[number])
        grid[top + border : top + border + side, left + border : left + border + side] = digit_picture(image, scale)[
            ..., None
        ]
    return grid


def pixel_table(image: torch.Tensor) -> pd.DataFrame:
    """One line per pixel: row (1-28), column (1-28), ink (0-1)."""
    rows, columns = np.indices((ROWS, COLUMNS))
    return pd.DataFrame(
        {"row": rows.ravel() + 1, "column": columns.ravel() + 1, "ink": image.reshape(-1).numpy().astype(float)}
    )


ROW_TICKS = [1, 7, 14, 21, 28]


def row_axis(title: str | None = "row t (read from the top)", labels: bool = True) -> alt.Y:
    """The rows of a digit, 1 at the top, as the y of a heatmap: charts side by side with it
    stay level row for row."""
    axis = alt.Axis(values=ROW_TICKS, labelAngle=0) if labels else None
    return alt.Y("row:O", scale=alt.Scale(domain=list(range(1, ROWS + 1))), title=title, axis=axis)


def digit_heatmap(
    data_name: str,
    pixel_px: int | None,
    opacity: Any = alt.Undefined,
    row_title: str | None = "row t (read from the top)",
) -> alt.Chart:
    """A digit drawn from a named pixel table (see pixel_table): dark ink on paper, row 1 at
    the top, `pixel_px` a side per pixel (None: as wide as the chart is drawn); `opacity` dims
    the rows not read yet (an encoding, or a condition)."""
    chart = (
        alt.Chart(alt.Data(name=data_name))
        .mark_rect()
        .encode(
            x=alt.X(
                "column:O",
                scale=alt.Scale(domain=list(range(1, COLUMNS + 1))),
                title="pixel column",
                axis=alt.Axis(values=ROW_TICKS, labelAngle=0),
            ),
            y=row_axis(row_title),
            color=alt.Color("ink:Q", scale=INK_SCALE, legend=None),
            opacity=opacity,
            tooltip=[alt.Tooltip("row:O"), alt.Tooltip("column:O"), alt.Tooltip("ink:Q", format=".2f")],
        )
    )
    return chart if pixel_px is None else chart.properties(width=COLUMNS * pixel_px, height=ROWS * pixel_px)


def row_frame(data_name: str, colour: str = HIGHLIGHT) -> alt.Chart:
    """A frame around one row across a heatmap, from a named table with a `row` column (1-28)."""
    return (
        alt.Chart(alt.Data(name=data_name))
        .mark_rect(fillOpacity=0, stroke=colour, strokeWidth=2, aria=False)  # decoration: the chart says it
        .encode(y=row_axis(None))
    )


# ----- a digit's probabilities ----------------------------------------------------------------

ANSWER_ROLE, TRUE_ROLE, OTHER_ROLE = "answer", "true digit", "other digits"
ROLE_SCALE = alt.Scale(domain=[ANSWER_ROLE, TRUE_ROLE, OTHER_ROLE], range=[ANSWER, TRUE_DIGIT, OTHER])
ROLE_KEY = "Blue: the model's answer. Green: the true digit, when the answer is wrong. Grey: the other digits."


def digit_roles(probabilities: Sequence[float] | np.ndarray | torch.Tensor, true_digit: int | None) -> list[str]:
    """Each digit's part in a probability chart: the answer (the most probable), the true digit
    (when it is not the answer), the other digits."""
    answer = int(np.argmax(np.asarray(probabilities)))
    return [
        ANSWER_ROLE if d == answer else TRUE_ROLE if d == true_digit else OTHER_ROLE for d in range(len(probabilities))
    ]
