from dashboard.cost_note import duration, is_long
from rnn_core.config import ModelConfig


def test_only_the_one_pixel_a_step_orders_are_long():
    assert [is_long(ModelConfig(reading_order=order)) for order in ("rows", "columns", "pixels", "permuted")] == [
        False,
        False,
        True,
        True,
    ]


def test_durations_read_in_seconds_minutes_or_hours():
    assert duration(42) == "42 s"
    assert duration(600) == "10 min"
    assert duration(3 * 3600) == "3.0 h"
