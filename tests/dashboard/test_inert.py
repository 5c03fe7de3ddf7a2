import pytest
from markdown_it import MarkdownIt

from dashboard.inert import WORD_JOINER, inert
from tests.gfm import live_constructs

HOSTILE = {
    "www address": "www.evil.example/x",
    "e-mail address": "me@evil.example",
    "url": "see https://evil.example/login",
    "upload name": "www.evil-example.com.pt",
    "link, image and code": "a `code` [x](http://e.example) ![i](http://e.example/i.png)",
    "backtick breaking out of a code span": "20261128-093000-a1b2c3` ![i](http://e.example/i.png) `",
    "newlines drawing heading, list and rule": "label\n# heading\n- item\n\n---\n1. one",
    "html": "<img src=x onerror=alert(1)>",
    "streamlit colour, icon and emoji": ":red[alarm] :material/home: :smile:",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "math and strikethrough": "$x^2$ ~~gone~~",
    "list at the start": "- item",
    "numbered list at the start": "1. one",
    "quote at the start": "> said",
    "rule at the start": "---",
    "heading at the start": "## big",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_draws_nothing_but_itself(text):
    assert live_constructs(text), "the case must be live without inert(), or it proves nothing"
    made_inert = inert(text)
    assert live_constructs(made_inert) == set()
    shown = made_inert.replace("\\", "").replace(WORD_JOINER, "")
    assert shown == " ".join(text.split())  # the same words, on one line


def test_bidi_overrides_and_invisible_characters_are_dropped():
    assert inert("abc\u202eexe.txt\u200b") == "abcexe.txt"


def test_an_entity_shows_as_typed_not_as_the_character_it_names():
    rendered = MarkdownIt("commonmark").renderInline(inert("&lt;b&gt; &#x41;"))
    assert rendered == "&amp;lt;b&amp;gt; &amp;#x41;"  # the browser shows "&lt;b&gt; &#x41;"
