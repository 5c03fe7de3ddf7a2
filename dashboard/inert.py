"""The one way untrusted text reaches a page: `inert(text)`, Markdown that shows the text as it
is and nothing else.

Labels, reasons, file names, run and sweep ids, values from a link and error messages can come
from anyone (a link, an upload, a run folder, a CLI flag). Streamlit renders Markdown (GFM),
so such text could draw links, images, headings, lists, rules, colours or icons in the app's
own messages. Three things make it inert:

- whitespace, control and bidirectional-override characters become single spaces (or go), so
  the text stays on one line: no heading, list, rule, table or quote can begin after a line
  break;
- every character that opens an inline construct (`` \\ ` * _ [ ] < > ! | ~ $ & # ``) is
  backslash-escaped wherever it stands, and so is a block marker at the very start (`-`, `+`,
  `=`, and the `.` or `)` after leading digits), where the text may begin a page element:
  no emphasis, code, link, image, HTML, entity, math or list can come out of it;
- GFM's autolink literals (`www.x`, `http://x`, `me@x.y`) and Streamlit's `:red[...]`,
  `:material/...:` and `:emoji:` are found in the parsed text, after escapes are undone, so
  escaping cannot stop them: a WORD JOINER (U+2060, invisible and of no width) goes after a
  `www` before a dot, after a `:` before a letter or a slash, and after every `@`.

Never put the result inside a code span: backslashes are shown literally there.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_INLINE_OPENERS = re.compile(r"([\\`*_\[\]<>!|~$&#])")
_BLOCK_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_AUTOLINK_STARTS = re.compile(r"(www(?=\.)|:(?=[/A-Za-z])|@)", re.IGNORECASE)


def inert(text: object) -> str:
    """`text` (anything; it is turned into a string) as Markdown that renders it as plain
    text on one line: no link, image, heading, list, code, HTML or icon can come out of it."""
    plain = _BIDI_AND_INVISIBLE.sub("", _SPACES.sub(" ", str(text))).strip()
    escaped = _INLINE_OPENERS.sub(r"\\\1", _AUTOLINK_STARTS.sub(rf"\1{WORD_JOINER}", plain))
    return _BLOCK_START.sub(_escape_block_start, escaped)


def _escape_block_start(match: re.Match) -> str:
    marker = match.group(1)
    return marker + "\\" if marker[0].isdigit() else "\\" + marker
