"""What Streamlit's Markdown would draw from a text, closely enough to tell inert text from live.

Streamlit renders Markdown with react-markdown and remark-gfm: CommonMark's constructs (here
from markdown-it-py, with GFM's tables and strikethrough), plus GFM's autolink literals, which
remark-gfm finds in the parsed text, after escapes are undone (the regexes below are those of
mdast-util-gfm-autolink-literal, in Python's dialect), plus Streamlit's own `:name[...]`,
`:material/...:` and `:emoji:` forms, also read from the text.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from rnn_core.runs import RUN_ID_PATTERN

AUTOLINK_LITERAL = re.compile(r"(?:^|(?<=[\s\W]))(https?://|www(?=\.))[-.\w]+", re.IGNORECASE)
EMAIL_LITERAL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")
# `:gray[...]` is the app's own (the side panel's status line)
STREAMLIT_DIRECTIVE = re.compile(r":(?!gray\[)[\w/-]+[:\[]")
LIVE_TOKENS = {
    "link_open",
    "image",
    "heading_open",
    "bullet_list_open",
    "ordered_list_open",
    "hr",
    "code_inline",
    "code_block",
    "fence",
    "html_inline",
    "html_block",
    "table_open",
    "blockquote_open",
    "s_open",
}
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def live_constructs(markdown: str) -> set[str]:
    """The constructs (beyond plain text, emphasis and line breaks) this Markdown would draw."""
    found = set()
    for token in _PARSER.parse(markdown):
        for part in [token, *(token.children or [])]:
            own_run_id = part.type == "code_inline" and RUN_ID_PATTERN.fullmatch(part.content)
            if part.type in LIVE_TOKENS and not own_run_id:  # the app sets run ids in code spans
                found.add(part.type)
            if part.type == "text":
                if AUTOLINK_LITERAL.search(part.content) or EMAIL_LITERAL.search(part.content):
                    found.add("autolink literal")
                if STREAMLIT_DIRECTIVE.search(part.content):
                    found.add("streamlit directive")
    return found


def page_texts(at) -> list[str]:
    """Every Markdown text an AppTest page drew, side panel included."""
    kinds = ("markdown", "caption", "warning", "error", "info", "success")
    return [element.value for kind in kinds for element in getattr(at, kind)]


def assert_inert_on_page(at, needle: str) -> None:
    """Every text on the page that carries `needle` (the planted text) draws nothing but text,
    and there is at least one (the planted text did reach the page)."""
    carrying = [text for text in page_texts(at) if needle in text.replace("\\", "")]
    assert carrying, f"no text on the page carries {needle!r}"
    for text in carrying:
        assert live_constructs(text) == set(), (text, live_constructs(text))
