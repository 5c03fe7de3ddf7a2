"""Inside's gradient chart: one legend for one meaning, one number notation on its axis."""

from dashboard.inside_charts import gradient_spec


def legends(spec: dict) -> list[str]:
    encoding = spec["encoding"]
    return [channel for channel in ("color", "strokeDash") if encoding[channel].get("legend", {}) is not None]


def test_trained_against_untrained_has_one_legend_and_the_three_cells_two():
    assert legends(gradient_spec("t", "d", colour_by_cell=False)) == ["color"]
    assert legends(gradient_spec("t", "d", colour_by_cell=True)) == ["color", "strokeDash"]
    assert gradient_spec("t", "d", colour_by_cell=False)["encoding"]["y"]["axis"]["format"] == ".0e"
