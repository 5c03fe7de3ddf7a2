"""The chart and picture toolkit: readable colours, titled and described charts, sharp digits."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
import torch

from dashboard import charts


@pytest.mark.parametrize("name", charts.TEXT_COLOURS)
def test_colours_that_may_carry_text_meet_4_5_to_1_on_white(name):
    assert charts.contrast_ratio(charts.PALETTE[name]) >= 4.5


@pytest.mark.parametrize("name", sorted(charts.PALETTE))
def test_every_named_colour_meets_3_to_1_on_white_as_a_mark(name):
    assert charts.contrast_ratio(charts.PALETTE[name]) >= 3.0


def test_the_contrast_ratio_is_wcags():
    assert charts.contrast_ratio("#000000") == pytest.approx(21.0)
    assert charts.contrast_ratio("#ffffff") == pytest.approx(1.0)
    assert charts.contrast_ratio("#888888") == pytest.approx(3.54, abs=0.01)  # Altair's grey: too faint for text
    assert charts.contrast_ratio("#808495") < 4.5  # Streamlit's chart text grey, which the specs replace


def test_right_wrong_and_answer_are_three_different_colours():
    assert len({charts.RIGHT, charts.WRONG, charts.ANSWER, charts.HIGHLIGHT, charts.OTHER}) == 5
    assert charts.TRUE_DIGIT == charts.RIGHT and charts.SURE_LINE == charts.HIGHLIGHT


def small_chart() -> alt.Chart:
    return alt.Chart(alt.Data(name="table")).mark_bar().encode(x="digit:O", y="probability:Q")


def test_a_spec_has_a_title_a_description_and_readable_axis_text():
    spec = charts.spec(small_chart(), "Probabilities", "Bar chart: the probability of each digit.")
    assert spec["title"] == "Probabilities"
    assert spec["description"] == "Bar chart: the probability of each digit."
    for part in ("axis", "legend", "title"):
        colours = [value for key, value in spec["config"][part].items() if key.lower().endswith("color")]
        assert colours and all(charts.contrast_ratio(colour) >= 4.5 for colour in colours)
    assert "view" not in spec["config"]  # Streamlit sizes the chart
    assert spec["data"] == {"name": "table"} and "datasets" not in spec  # the data comes with each draw


def test_a_spec_without_a_description_is_refused():
    with pytest.raises(ValueError, match="description"):
        charts.spec(small_chart(), "Probabilities", " ")


def test_a_cached_spec_is_built_once_and_each_caller_gets_its_own_copy():
    calls = []

    @charts.cached_spec
    def build(height: int) -> dict:
        calls.append(height)
        return charts.spec(small_chart().properties(height=height), "t", "d")

    first = build(100)
    first["datasets"] = {"table": "changed by the caller"}
    second = build(100)
    assert calls == [100] and "datasets" not in second
    build(200)
    assert calls == [100, 200]


class FakeContainer:
    def vega_lite_chart(self, **kwargs):
        self.kwargs = kwargs


def test_show_sends_the_named_tables_with_the_spec_and_its_description():
    spec = charts.spec(small_chart(), "Probabilities", "Bar chart of ten digits.")
    table = pd.DataFrame({"digit": range(10), "probability": np.full(10, 0.1)})
    where = FakeContainer()
    charts.show(where, spec, {"table": table}, width="content", key="k")
    assert where.kwargs["spec"]["datasets"]["table"] is table
    assert where.kwargs["spec"]["description"] == "Bar chart of ten digits." and where.kwargs["key"] == "k"
    assert "alt" not in where.kwargs  # it would override the description, with a warning in the log
    assert "datasets" not in spec  # the spec itself is left as it was


def test_digit_picture_is_a_sharp_enlargement_with_dark_ink_on_paper():
    image = torch.zeros(28, 28)
    image[3, 7] = 1.0
    image[0, 0] = 0.5
    picture = charts.digit_picture(image, scale=4)
    assert picture.shape == (112, 112) and picture.dtype == np.uint8
    assert (picture[12:16, 28:32] == 0).all()  # the inked pixel became a solid 4x4 black block
    assert (picture[16:] == 255).all() and (picture[4:12] == 255).all()  # no blur around it
    assert (picture[:4, :4] == 127).all()  # half ink, mid grey


def test_digit_grid_puts_digits_left_to_right_in_coloured_frames():
    images = torch.zeros(3, 28, 28)
    images[2] = 1.0
    grid = charts.digit_grid(images, columns=2, scale=1, frames=[charts.RIGHT, charts.WRONG, charts.OTHER], border=2)
    cell = 28 + 4
    assert grid.shape == (2 * cell, 2 * cell, 3)
    assert tuple(grid[0, 0]) == charts.rgb(charts.RIGHT) and tuple(grid[0, cell]) == charts.rgb(charts.WRONG)
    assert tuple(grid[cell + 2, 2]) == (0, 0, 0)  # the third digit, all ink, starts the second line
    assert tuple(grid[cell, cell]) == (255, 255, 255)  # no fourth digit
    plain = charts.digit_grid(images[:1], columns=1, scale=2)
    assert tuple(plain[0, 0]) == (255, 255, 255) and plain.shape == (56 + 6, 56 + 6, 3)


def test_the_pixel_table_numbers_rows_and_columns_from_1():
    image = torch.rand(28, 28)
    table = charts.pixel_table(image)
    assert len(table) == 784 and table["row"].min() == 1 and table["row"].max() == 28
    assert table["column"].min() == 1 and table["column"].max() == 28
    first = table[(table["row"] == 1) & (table["column"] == 1)]
    assert first["ink"].item() == pytest.approx(image[0, 0].item())


def test_the_digit_heatmap_reads_rows_1_to_28_from_the_top():
    chart = charts.digit_heatmap("pixels", pixel_px=5) + charts.row_frame("now")
    spec = charts.spec(chart, "The image", "Heatmap of a digit, 28 rows of 28 pixels.")
    heat, frame = spec["layer"]
    assert heat["encoding"]["y"]["scale"]["domain"] == list(range(1, 29))
    assert heat["encoding"]["color"]["scale"]["range"] == [charts.PAPER, charts.INK]
    assert spec["width"] == spec["height"] == 140
    assert frame["mark"]["stroke"] == charts.HIGHLIGHT and frame["data"] == {"name": "now"}


def test_show_keeps_the_tables_a_chart_built_on_a_dataframe_carries():
    frame = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    built = charts.spec(alt.Chart(frame).mark_line().encode(x="x:Q", y="y:Q"), "line", "a line through two points")
    where = FakeContainer()
    charts.show(where, built)
    [table] = where.kwargs["spec"]["datasets"].values()
    assert [row["y"] for row in table] == [3, 4]
