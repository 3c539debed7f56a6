"""OpenDocument text, spreadsheets and presentations (.odt, .ods, .odp): content.xml read with
defusedxml (no entity expansion, no external references), walked iteratively.

A slide (draw:page) or a sheet (table:table at the top of a spreadsheet) is a section.
A password-protected file keeps an encrypted content.xml, declared in META-INF/manifest.xml.
"""

from __future__ import annotations

from typing import Any

from ..base import ExtractionFailed, SkipFile, join_sections, short
from .zipsafe import open_zip, read_member

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _tag(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


_P, _H = _tag("text", "p"), _tag("text", "h")
_SPACE, _TAB, _BREAK = _tag("text", "s"), _tag("text", "tab"), _tag("text", "line-break")
_ROW, _CELL = _tag("table", "table-row"), _tag("table", "table-cell")
_TABLE, _PAGE = _tag("table", "table"), _tag("draw", "page")
_SKIPPED = frozenset({_tag("text", "tracked-changes"), _tag("office", "forms"), _tag("text", "sequence-decls")})
_KIND_WHAT = {"odt": "OpenDocument text", "ods": "OpenDocument spreadsheet", "odp": "OpenDocument presentation"}


def extract_opendocument(data: bytes, max_chars: int, kind: str, max_bytes: int) -> tuple[str, str | None]:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    what = _KIND_WHAT[kind]
    with open_zip(data, what) as zf:
        names = set(zf.namelist())
        if "content.xml" not in names:
            raise ExtractionFailed(f"not a valid {what} (no content.xml)")
        if "META-INF/manifest.xml" in names and _content_encrypted(zf, max_bytes, what):
            raise ExtractionFailed(f"encrypted {what} (password-protected)")
        content = read_member(zf, "content.xml", max_bytes, what)
        meta = read_member(zf, "meta.xml", max_bytes, what) if "meta.xml" in names else None
    try:
        root = ElementTree.fromstring(content)
    except DefusedXmlException as err:
        raise SkipFile(short(f"{what}: unsafe XML refused ({type(err).__name__})")) from None
    except ElementTree.ParseError as err:
        raise ExtractionFailed(short(f"not a valid {what} (content.xml: {err})")) from None
    body = root.find(f"{_tag('office', 'body')}")
    if body is None:
        raise ExtractionFailed(f"not a valid {what} (no document body)")
    sections = _walk(body, kind, max_chars)
    return join_sections(sections) if kind != "odt" else sections[0], _title(meta)


def _content_encrypted(zf: Any, max_bytes: int, what: str) -> bool:
    from defusedxml import ElementTree

    try:
        manifest = ElementTree.fromstring(read_member(zf, "META-INF/manifest.xml", max_bytes, what))
    except Exception:
        return False  # a damaged manifest: content.xml may still be readable
    for entry in manifest.iter(_tag("manifest", "file-entry")):
        if entry.get(_tag("manifest", "full-path")) == "content.xml":
            return entry.find(_tag("manifest", "encryption-data")) is not None
    return False


def _title(meta: bytes | None) -> str | None:
    if not meta:
        return None
    from defusedxml import ElementTree

    try:
        node = ElementTree.fromstring(meta).find(f".//{_tag('dc', 'title')}")
    except Exception:
        return None
    return (node.text or "").strip() or None if node is not None else None


def _walk(body: Any, kind: str, max_chars: int) -> list[str]:
    """Text of the body in document order; sections at slides (odp) or top-level sheets (ods)."""
    sections: list[str] = []
    parts: list[str] = []
    size = 0
    # (element, closing): the tail of an element follows its closing
    stack: list[tuple[Any, bool]] = [(body, False)]
    sheet_depth = 0
    cell_depth = 0
    while stack:
        elem, closing = stack.pop()
        tag = elem.tag
        if closing:
            if tag in (_P, _H):
                parts.append(" " if cell_depth else "\n")  # paragraphs of a cell stay on its row
            elif tag == _CELL:
                cell_depth -= 1
                while parts and parts[-1] == " ":
                    parts.pop()
                parts.append("\t")
            elif tag == _ROW:
                parts.append("\n")
            elif tag == _TABLE:
                sheet_depth -= 1
            if _is_section(tag, kind, sheet_depth):
                sections.append(_tidy("".join(parts)))
                parts = []
            if elem.tail and elem is not body:
                parts.append(elem.tail)
                size += len(elem.tail)
            continue
        if size > max_chars:
            break
        if tag in _SKIPPED:
            if elem.tail:
                parts.append(elem.tail)
            continue
        if tag == _SPACE:
            count = elem.get(_tag("text", "c"), "1")
            parts.append(" " * (min(100, int(count)) if count.isdigit() else 1))
        elif tag == _TAB:
            parts.append("\t")
        elif tag == _BREAK:
            parts.append("\n")
        elif tag == _CELL:
            cell_depth += 1
        elif tag == _TABLE:
            if kind == "ods" and sheet_depth == 0:
                parts.append((elem.get(_tag("table", "name")) or "") + "\n")
            sheet_depth += 1
        if elem.text:
            parts.append(elem.text)
            size += len(elem.text)
        stack.append((elem, True))
        stack.extend((child, False) for child in reversed(list(elem)))
    rest = _tidy("".join(parts))
    if rest or not sections:
        sections.append(rest)
    return sections


def _is_section(tag: str, kind: str, sheet_depth: int) -> bool:
    return (kind == "odp" and tag == _PAGE) or (kind == "ods" and tag == _TABLE and sheet_depth == 0)


def _tidy(text: str) -> str:
    """Lines without trailing tabs and blanks; runs of empty lines collapsed."""
    lines = [line.rstrip("\t ") for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")
