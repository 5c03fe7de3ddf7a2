"""Untrusted text on every page (issue 25, item 3): values from links, uploads, run folders and
CLI flags reach the page as text, never as links, images, headings, lists or code. Each case
plants `evil.example` and checks every text on the page that carries it with tests/gfm.py."""

import json

import pytest

from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import RunStatus
from rnn_core.runs import RunStore
from tests.conftest import new_app
from tests.gfm import assert_inert_on_page, live_constructs, page_texts

ALICE = "a" * 32


def open_page(page: str, **params):
    at = new_app()
    at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(params)
    at.session_state["browser_token"] = ALICE
    at.run()
    assert not at.exception
    return at


@pytest.mark.parametrize(
    "page, params",
    [
        ("train", {"hidden": "www.evil.example/x"}),
        ("train", {"hidden": "me@evil.example"}),
        ("train", {"run": "www.evil.example"}),
        ("test", {"run": "https://evil.example/x"}),
        ("sweep", {"sweep": "www.evil.example"}),
    ],
    ids=["train-hidden-www", "train-hidden-email", "run-www", "run-url", "sweep-www"],
)
def test_a_value_from_a_link_is_shown_as_text(page, params):
    assert_inert_on_page(open_page(page, **params), "evil.example")


HOSTILE_LABEL = "see https://evil.example/a\n# heading\n- item\n\n---\nme@evil.example"


def test_a_label_and_a_reason_from_a_run_folder_are_shown_as_text(runs_dir):
    """What a CLI `--label` or a planted run.json can hold: a URL, an address, newlines."""
    run = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1), label=HOSTILE_LABEL)
    run.finish(RunStatus.STOPPED, "stopped by www.evil.example/reason")
    at = open_page("train", run=run.run_id)
    assert_inert_on_page(at, "evil.example/a")
    assert_inert_on_page(at, "evil.example/reason")


def test_a_parent_id_that_breaks_out_of_its_code_span_draws_nothing(runs_dir):
    run = RunStore(runs_dir).create(ModelConfig(hidden_size=8), TrainConfig(epochs=1))
    info = json.loads((run.folder / "run.json").read_text())
    info["parent"] = {"run_id": "20261128-093000-a1b2c3` ![x](http://evil.example/i.png) `", "epoch": 1}
    (run.folder / "run.json").write_text(json.dumps(info))
    at = open_page("train", run=run.run_id)
    assert all(live_constructs(text) == set() for text in page_texts(at) if "evil" in text)
    assert any(run.run_id in text.replace("\\", "") and "malformed parent" in text for text in page_texts(at))


def test_an_upload_named_like_an_address_is_shown_as_text():
    at = open_page("test")
    at.file_uploader(key="test_upload").set_value(("www.evil-example.com.pt", b"not a model", "application/x")).run()
    assert_inert_on_page(at, "evil-example.com")
