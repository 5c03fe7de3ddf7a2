"""The side panel's status line says a run's status once."""

import pytest

from dashboard.sidebar import status_words


@pytest.mark.parametrize(
    "status, reason, said",
    [
        ("finished", "trained to epoch 3", "Finished: trained to epoch 3."),
        ("stopped", "stopped by the user during epoch 2.", "Stopped by the user during epoch 2."),
        ("interrupted", "", "Interrupted."),
    ],
)
def test_the_status_is_said_once_even_where_the_reason_begins_with_it(status, reason, said):
    assert status_words(status, reason) == said
