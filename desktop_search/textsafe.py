"""Text from outside (argv, the query box, imported files) made safe to process and to print.

Two dangers, two helpers:

* `clean_text`: Python carries undecodable bytes of argv and file names as lone surrogates
  (U+DC80..U+DCFF, "surrogateescape"); JSON can carry any lone surrogate ("\\ud800"). The
  tokenizer, SQLite and UTF-8 output refuse them, so each undecodable byte becomes U+FFFD
  before the text is searched, stored or shown.
* `terminal_safe`: a file name or snippet printed raw to a terminal can move the cursor, clear
  the screen (ESC sequences), break a line, or reverse what follows (bidi overrides such as
  U+202E). Those characters are printed as visible escapes instead (`\\n`, `\\x1b`, `\\u202e`).

`is_blank` says whether a query has nothing to search for.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")

# bidirectional embeddings, overrides and isolates, and the marks that steer them
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def clean_text(text: str) -> str:
    """`text` with every undecodable byte (a lone surrogate) replaced by U+FFFD.

    Bytes that were escaped from argv or a file name are first put back together, so a valid
    UTF-8 sequence split by the escaping is recovered and each invalid byte gives one U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes (from JSON, say)
        return _SURROGATE.sub(REPLACEMENT, text)


def is_blank(query: str | None) -> bool:
    """Whether a query holds nothing to search for (empty, spaces, or invisible characters only)."""
    if not query:
        return True
    return not any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in query)


def _escape(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # an undecodable byte of a file name: show the byte
        return f"\\x{cp - 0xDC00:02x}"
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _needs_escape(ch: str) -> bool:
    if ch in BIDI_CONTROLS or ch in "\n\r\t":
        return True
    cat = unicodedata.category(ch)
    # control (C0, DEL, C1), line and paragraph separators, lone surrogates
    return cat in ("Cc", "Zl", "Zp", "Cs")


def terminal_safe(text: str) -> str:
    """`text` for one line of a terminal: control characters, line breaks and bidi controls escaped.

    A backslash is doubled only when something in the text was escaped, so ordinary Windows
    paths print as they are while an escaped text stays unambiguous."""
    if not any(_needs_escape(ch) for ch in text):
        return text
    return "".join(_escape(ch) if ch == "\\" or _needs_escape(ch) else ch for ch in text)


def terminal_lines(text: str) -> str:
    """`terminal_safe` for a message of several lines: its own line breaks kept, all else escaped."""
    return "\n".join(terminal_safe(line) for line in text.split("\n"))
