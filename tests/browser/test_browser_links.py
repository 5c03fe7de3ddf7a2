"""A shared link opened first on a freshly started server (its own server: this module's)."""

from tests.browser.conftest import wait_for_app


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app_shell(page, app_server):
    page.goto(f"{app_server.url}/train?hidden=16&lr=0.03")
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Data: MNIST, 60,000 train").wait_for(timeout=60_000)
    assert sidebar.get_by_role("link", name="Explore").count() == 1
    # the link's settings reach the controls
    page.locator('[data-testid="stSliderThumbValue"]', has_text="16").wait_for(timeout=30_000)
    page.locator('[data-testid="stSliderThumbValue"]', has_text="0.03").wait_for(timeout=30_000)
