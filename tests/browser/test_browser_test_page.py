"""The Test page in a real browser: drawing on the canvas, Clear, and a bad upload."""

import time

import pytest

from dashboard.evaluation_tables import DRAW_PROMPT
from rnn_core import RunStore, Trainer
from rnn_core.config import configs
from tests.browser.conftest import draw_stroke, save_trained_run, wait_for_app


@pytest.fixture(scope="module")
def saved_run(app_server, real_mnist):
    return save_trained_run(app_server, real_mnist, "browser test", hidden_size=32, epochs=2, train_limit=5000)


def test_a_drawn_digit_is_previewed_and_predicted_and_clear_asks_again(page, app_server, saved_run):
    page.goto(f"{app_server.url}/test?run={saved_run}")
    wait_for_app(page)
    page.get_by_text(f"Testing run {saved_run}").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("canvas.upper-canvas").wait_for(timeout=30_000)
    prompt = page.get_by_text(DRAW_PROMPT)
    prompt.wait_for(timeout=30_000)

    draw_stroke(page, [(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)])  # a 7
    stroke_end = time.perf_counter()
    page.get_by_text("Prediction:").first.wait_for(timeout=30_000)
    print(f"prediction shown {(time.perf_counter() - stroke_end) * 1000:.0f} ms after the end of the stroke")
    page.get_by_text("what the model sees").wait_for(timeout=10_000)
    assert prompt.count() == 0

    page.get_by_role("button", name="Clear").click()
    prompt.wait_for(timeout=30_000)
    assert page.get_by_text("Prediction:").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_text_file_named_pt_gets_a_clear_error_and_the_page_keeps_working(page, app_server, saved_run, tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_text("this is a text file, not a checkpoint\n")
    page.goto(f"{app_server.url}/test?run={saved_run}")
    wait_for_app(page)
    page.get_by_text(f"Testing run {saved_run}").wait_for(timeout=60_000)
    page.get_by_role("button", name="Upload").click()  # the popover beside the model line
    page.locator('input[type="file"]').set_input_files(str(fake))
    # said in the open popover, under the uploader, where the user is looking
    page.get_by_test_id("stPopoverBody").get_by_text("model.pt was not loaded").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text(f"Testing run {saved_run}").wait_for(timeout=30_000)  # the model in use stays
    page.get_by_role("tab", name="Test set").click()
    page.get_by_text("Confusion matrix").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_canvas_clear_and_the_prediction_fit_the_first_screen(page, app_server, saved_run):
    """On a 1400 x 900 screen, a digit drawn gets its answer without scrolling: the model's
    panel above the tabs is one line."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_server.url}/test?run={saved_run}")
    wait_for_app(page)
    page.get_by_text(f"Testing run {saved_run}").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("canvas.upper-canvas").wait_for(timeout=30_000)
    page.get_by_text(DRAW_PROMPT).wait_for(timeout=30_000)
    draw_stroke(page, [(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)])
    heading = page.get_by_role("heading", name="Prediction:")
    heading.wait_for(timeout=30_000)
    wait_for_app(page)
    bottoms = {
        name: round(box["y"] + box["height"])
        for name, box in (
            ("canvas", page.locator("canvas.upper-canvas").bounding_box()),
            ("Clear", page.get_by_role("button", name="Clear").bounding_box()),
            ("prediction", heading.bounding_box()),
        )
    }
    print(f"bottom edges at 1400 x 900: {bottoms}")
    assert all(bottom <= 900 for bottom in bottoms.values()), bottoms


def test_a_run_with_no_epoch_yet_is_tested_once_its_first_epoch_is_done(page, app_server, real_mnist):
    """A run trained by another process (the command line, another server on the same folder):
    the page says it has no trained epoch, then, with no click, tests its model."""
    model, train = configs({"hidden_size": 8, "epochs": 1, "train_limit": 1000, "device": "cpu"})
    run = RunStore(app_server.runs_dir).create(model, train, label="trained elsewhere")
    page.goto(f"{app_server.url}/test?run={run.run_id}")
    page.get_by_text(f"Run {run.run_id} has no trained epoch yet").wait_for(timeout=60_000)
    trainer = Trainer(real_mnist, model, train)
    trainer.run(on_event=run.record(trainer))
    page.get_by_text(f"Testing run {run.run_id}").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
