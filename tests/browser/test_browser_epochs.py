"""The notebook's last task in a real browser: a run of three epochs, the same test images read
by its model after each epoch (filling in while it trains), and the Test page's model picked
"after epoch 0", which reads them at chance."""

import re

from rnn_core import RunStore
from tests.browser.conftest import MAIN, wait_for_app
from tests.browser.test_browser_runs import wait_until_saved

# Small and fast, yet a few seconds an epoch, so that the view can fill in while it trains.
THREE_EPOCHS = "train?hidden=16&images=20000&epochs=3&optimizer=Adam&lr=0.01&batch=64"
CHANCE = 20.0  # ten digits: an untrained model reads about one in ten right


def epoch_lines(page) -> dict[str, float]:
    """The How it learned view's lines: "after epoch k" -> its test accuracy."""
    found = {}
    for text in page.locator(MAIN).locator("p", has_text="after epoch").all_inner_texts():
        match = re.match(r"after epoch ([0-9.]+) · ([0-9.]+)% of the test set", text.strip())
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_how_it_learned_shows_epochs_0_to_3_and_epoch_0_reads_at_chance(page, app_server):
    page.goto(f"{app_server.url}/{THREE_EPOCHS}")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_url(re.compile(r"run=\d{8}-\d{6}-[0-9a-f]{6}"), timeout=60_000)
    run_id = re.search(r"run=([0-9a-f-]+)", page.url).group(1)
    # epoch 1 saved, not only trained: the Test page reads the model after it from the run
    wait_until_saved(RunStore(app_server.runs_dir), run_id, lambda record: record.epochs >= 1)

    page.get_by_role("link", name="Test").click()
    wait_for_app(page)
    page.get_by_text(f"Testing run {run_id}").wait_for(timeout=60_000)
    page.get_by_role("tab", name="How it learned").click()
    page.locator(MAIN).get_by_text("after epoch 0").first.wait_for(timeout=60_000)
    print(f"How it learned first showed epochs {sorted(epoch_lines(page))}")
    # filled in while it trained: until its four lines are there (other text names epoch 3 first)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMain"] p')]
            .filter(p => /^after epoch [0-9.]+ · /.test(p.innerText.trim())).length >= 4""",
        timeout=120_000,
    )
    lines = epoch_lines(page)
    assert sorted(lines) == ["0", "1", "2", "3"], lines
    assert lines["0"] < CHANCE < lines["3"], lines
    assert page.locator(MAIN).get_by_role("img").count() >= 4

    page.get_by_role("tab", name="Test set").click()
    page.locator(MAIN).get_by_role("combobox").first.click()  # the model picker
    page.get_by_role("option", name="after epoch 0 (untrained)").click()
    page.wait_for_url(re.compile(r"epoch=0"), timeout=30_000)
    page.locator(MAIN).get_by_text("after epoch 0 (").first.wait_for(timeout=30_000)
    # the metric of the model before stays on show until the page has scored this one
    page.wait_for_function(
        """(expected) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Test accuracy')
                  && Math.abs(parseFloat(m.querySelector('[data-testid="stMetricValue"]').innerText)
                              - expected) <= 0.05)""",
        arg=lines["0"],  # shown to one decimal there, to two in the metric
        timeout=60_000,
    )
    assert lines["0"] < CHANCE
    assert page.locator('[data-testid="stException"]').count() == 0
