"""What every extractor shares: the result type, the two failure kinds, and section marks.

Sections (PDF pages, slides, sheets, chapters, messages of a mailbox) are kept in the text
itself: every section of a sectioned kind ends with a form feed (``\\f``), as pdftotext
writes pages. The section of a character offset is the number of form feeds before it plus
one, so a passage's page needs no separate table and survives every path the text takes
(store, chunks, snippets). A text without any form feed (indexed before sections were kept)
has no section labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SECTION_END = "\f"

# What a section of each sectioned kind is called in results and the preview.
SECTION_NAMES: dict[str, str] = {
    "pdf": "page",
    "pptx": "slide",
    "odp": "slide",
    "xlsx": "sheet",
    "ods": "sheet",
    "epub": "chapter",
    "mbox": "message",
}
# Kinds whose sections start with their own name on the first line (a sheet's name).
_NAMED_SECTIONS = frozenset({"xlsx", "ods"})
_MAX_NAME_CHARS = 60


class SkipFile(Exception):
    """The file is deliberately not indexed (unsupported, too large, empty, binary, no text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExtractionFailed(Exception):
    """The file should have had text but could not be read (corrupt, encrypted, vanished...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Member:
    """One file inside an archive, read like a file of its own (see documents/archives.py)."""

    name: str  # the member's path inside the archive, '/'-separated ('inner.zip/a/b.pdf' when nested)
    size: int  # inflated size in bytes
    status: str  # "ok", "skipped" or "failed"
    reason: str | None
    extracted: "Extracted | None"


@dataclass
class Extracted:
    """Normalised text of one file plus what was learnt while reading it.

    ``members``: for an archive, the files inside it (each becomes its own document); the
    archive's own ``text`` is then the list of their names.
    """

    text: str
    kind: str
    encoding: str | None
    title: str | None
    truncated: bool = False  # the file has more text than max_chars: the rest is not indexed
    ocr_pages: int = 0  # pages (or images) read by OCR, and the seconds it took
    ocr_s: float = 0.0
    ocr_note: str | None = None  # set when OCR stopped before the end (its time limit): the file's reason
    members: list[Member] = field(default_factory=list)


def short(reason: str, limit: int = 200) -> str:
    """A one-line reason of at most ``limit`` characters."""
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def join_sections(sections: list[str]) -> str:
    """The text of a sectioned document: each section ends with a form feed."""
    return "".join(s.replace(SECTION_END, "\n") + SECTION_END for s in sections)


def section_label(kind: str | None, text: str, offset: int) -> str | None:
    """'page 12', 'slide 3', 'sheet "Budget"' for the character at ``offset``; None if not sectioned."""
    name = SECTION_NAMES.get(kind or "")
    if name is None or SECTION_END not in text:
        return None
    offset = max(0, min(offset, len(text)))
    limit = min(len(text), offset + 200)
    while offset < limit and text[offset].isspace():  # a passage that starts at a page break is on the next page
        offset += 1
    number = text.count(SECTION_END, 0, offset) + 1
    if kind in _NAMED_SECTIONS:
        begin = text.rfind(SECTION_END, 0, offset) + 1
        eol = text.find("\n", begin, begin + _MAX_NAME_CHARS + 1)
        first = text[begin:eol].strip() if eol > 0 else ""
        if first:
            return f'{name} "{first}"'
    return f"{name} {number}"


def section_number(text: str, offset: int) -> int | None:
    """The 1-based section (page) of the character at ``offset``; None for a text without sections."""
    if SECTION_END not in text:
        return None
    return text.count(SECTION_END, 0, max(0, min(offset, len(text)))) + 1


def on_disk_path(path: str, separator: str = " › ") -> str:
    """The file on disk that a shown path stands for: an archive member's (``a.zip › x/y.pdf``) is
    its archive's, which Open and Show in folder then use; any other path is itself."""
    if separator not in path or os.path.exists(path):
        return path
    at = path.find(separator)
    while at >= 0:  # the first prefix that is a file (a name may hold the separator itself)
        if os.path.isfile(path[:at]):
            return path[:at]
        at = path.find(separator, at + 1)
    return path
