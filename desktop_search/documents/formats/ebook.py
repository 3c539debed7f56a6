"""EPUB e-books: the OPF package's spine gives the chapters in reading order, each an XHTML
document read like HTML; a chapter is a section. Zip members are read with the zip-bomb checks.

DRM-protected books list their encrypted content in META-INF/encryption.xml (fonts obfuscated
the same way are fine and are not read anyway).
"""

from __future__ import annotations

import posixpath
from typing import Any, Callable
from urllib.parse import unquote

from ..base import ExtractionFailed, SkipFile, join_sections, short
from .zipsafe import open_zip, read_member

_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_OPF_NS = "http://www.idpf.org/2007/opf"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_ENC_NS = "http://www.w3.org/2001/04/xmlenc#"
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")
WHAT = "EPUB e-book"


def extract_epub(data: bytes, max_chars: int, max_bytes: int,
                 html_to_text: Callable[[bytes], tuple[str, str | None]]) -> tuple[str, str | None]:
    """Chapters in spine order (``html_to_text`` reads each XHTML document) and the book's title."""
    from defusedxml import ElementTree

    with open_zip(data, WHAT) as zf:
        names = set(zf.namelist())
        opf_path = _package_path(zf, names, max_bytes)
        try:
            opf = ElementTree.fromstring(read_member(zf, opf_path, max_bytes, WHAT))
        except ElementTree.ParseError as err:
            raise ExtractionFailed(short(f"not a valid {WHAT} (package file: {err})")) from None
        chapters = _spine(opf, posixpath.dirname(opf_path))
        encrypted = _encrypted(zf, names, max_bytes)
        texts: list[str] = []
        total = 0
        for href in chapters:
            if href in encrypted:
                raise ExtractionFailed(f"encrypted {WHAT} (DRM-protected)")
            if href not in names:
                continue  # a broken spine entry: the other chapters still count
            raw = read_member(zf, href, max_bytes, WHAT)
            text, _title = html_to_text(raw)
            texts.append(text)
            total += len(text) + 1
            if total > max_chars:
                break
    node = opf.find(f".//{{{_DC_NS}}}title")
    title = (node.text or "").strip() or None if node is not None else None
    if not any(t.strip() for t in texts):
        raise SkipFile(f"{WHAT} has no readable chapters")
    return join_sections(texts), title


def _package_path(zf: Any, names: set[str], max_bytes: int) -> str:
    from defusedxml import ElementTree

    if "META-INF/container.xml" not in names:
        raise ExtractionFailed(f"not a valid {WHAT} (no META-INF/container.xml)")
    try:
        container = ElementTree.fromstring(read_member(zf, "META-INF/container.xml", max_bytes, WHAT))
    except ElementTree.ParseError as err:
        raise ExtractionFailed(short(f"not a valid {WHAT} (container.xml: {err})")) from None
    node = container.find(f".//{{{_CONTAINER_NS}}}rootfile")
    path = node.get("full-path") if node is not None else None
    if not path or path not in names:
        raise ExtractionFailed(f"not a valid {WHAT} (package file missing)")
    return path


def _spine(opf: Any, base: str) -> list[str]:
    """Zip paths of the spine's chapters, in reading order."""
    manifest = {}
    for item in opf.iter(f"{{{_OPF_NS}}}item"):
        if item.get("media-type") in _CHAPTER_TYPES and item.get("id") and item.get("href"):
            manifest[item.get("id")] = posixpath.normpath(posixpath.join(base, unquote(item.get("href"))))
    order = [manifest[ref.get("idref")] for ref in opf.iter(f"{{{_OPF_NS}}}itemref") if ref.get("idref") in manifest]
    return order or list(manifest.values())


def _encrypted(zf: Any, names: set[str], max_bytes: int) -> set[str]:
    from defusedxml import ElementTree

    if "META-INF/encryption.xml" not in names:
        return set()
    try:
        root = ElementTree.fromstring(read_member(zf, "META-INF/encryption.xml", max_bytes, WHAT))
    except Exception:
        return set()
    return {unquote(ref.get("URI") or "") for ref in root.iter(f"{{{_ENC_NS}}}CipherReference")}
