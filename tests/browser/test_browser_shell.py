"""The app starts from the README's command and every page opens without an error."""

import pytest

from tests.browser.conftest import wait_for_app


@pytest.mark.parametrize("path", ["", "train", "test"])
def test_every_page_opens_without_an_exception(page, app_server, path):
    page.goto(f"{app_server.url}/{path}")
    wait_for_app(page)
    page.get_by_text("Data: MNIST, 60,000 train").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_health_endpoint_answers(app_server):
    assert app_server.healthy()
