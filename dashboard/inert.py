"""The one way untrusted text reaches a page: `inert(text)`, Markdown that shows the text as it
is and nothing else.

Labels, reasons, file names, run and sweep ids, values from a link and error messages can come
from anyone (a link, an upload, a run folder, a CLI flag). Streamlit renders Markdown (GFM),
so such text could draw links, images, headings, lists, rules, colours or icons in the app's
own messages. Three things make it inert:

- whitespace, control and bidirectional-override characters become single spaces (or go), so
  the text stays on one line and cannot start a heading, list, rule or table row;
- every ASCII punctuation character is backslash-escaped (CommonMark allows that for all of
  them), so no emphasis, code span, link, image, HTML, `:icon:` or `$math$` can begin;
- GFM's autolink literals (`www.x`, `http://x`, `me@x.y`) are found after escaping, in the
  parsed text itself, so escapes cannot stop them: a WORD JOINER (U+2060, invisible and of
  no width) is put after `www`, after `:` and after `@`, which breaks each pattern.

Never put the result inside a code span: backslashes are shown literally there.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_AUTOLINK_STARTS = re.compile(r"(www|:|@)", re.IGNORECASE)


def inert(text: object) -> str:
    """`text` (anything; it is turned into a string) as Markdown that renders it as plain
    text on one line: no link, image, heading, list, code, HTML or icon can come out of it."""
    plain = _BIDI_AND_INVISIBLE.sub("", _SPACES.sub(" ", str(text))).strip()
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_STARTS.sub(rf"\1{WORD_JOINER}", plain))
