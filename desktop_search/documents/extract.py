"""Read one file into normalised plain text, classifying every failure: the registry of kinds.

Text kinds (plain text, code, Markdown, reST, Org, CSV, JSON, HTML) are decoded here; the binary
kinds (PDF, Office, OpenDocument, RTF, EPUB, e-mail, notebooks) by their readers in
documents/formats/, dispatched from ``_extract_binary``.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from .base import Extracted, ExtractionFailed, Member, SkipFile
from .base import short as _short

# Bump when the text documents/html.py extracts from the same HTML changes: indexed pages are read
# again. (Here, not there: html.py loads html.parser, which a re-index of text files never needs.)
HTML_EXTRACTION_VERSION = 4

# What the extractor of each kind would make of an unchanged file; a kind whose version differs from the one
# a folder was last scanned with is read again (kinds not named here are at version 1).
EXTRACTION_VERSIONS: dict[str, int] = {
    "html": HTML_EXTRACTION_VERSION,
    "pdf": 2,  # PDFium, a form feed ending each page (pages shown in results)
    # new kinds (issue 17): files of theirs skipped as "unsupported" before are read once
    **dict.fromkeys(("pptx", "xlsx", "odt", "ods", "odp", "rtf", "epub", "email", "mbox", "notebook", "org",
                     "zip", "tar", "image"), 1),
}

DEFAULT_MAX_BYTES = 50_000_000
DEFAULT_MAX_CHARS = 5_000_000

__all__ = [
    "ARCHIVE_KINDS", "ARCHIVE_SEPARATOR", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_CHARS", "MEMBER_KINDS",
    "SUPPORTED_EXTENSIONS", "Extracted", "ExtractionFailed", "Member", "SkipFile", "decode_text", "extract_bytes",
    "extract_text", "html_text", "json_text", "kind_for", "markdown_title",
]


_CODE_EXTENSIONS = (
    ".py .pyw .pyi .ipy .js .mjs .cjs .jsx .ts .tsx .vue .svelte .c .h .cc .cpp .cxx .hh .hpp .hxx"
    " .m .mm .java .kt .kts .scala .groovy .gradle .go .rs .rb .php .pl .pm .lua .r .jl .swift"
    " .cs .fs .vb .dart .hs .ml .mli .ex .exs .erl .clj .el .lisp .scm .zig .nim .sh .bash .zsh"
    " .fish .ps1 .bat .cmd .sql .toml .yaml .yml .ini .cfg .conf .properties .cmake .mk .tex"
    " .bib .sty .css .scss .sass .less .xml .xsd .xsl .svg .proto .graphql .tf .dockerfile"
)
_KIND_BY_EXTENSION: dict[str, str] = {
    **{ext: "code" for ext in _CODE_EXTENSIONS.split()},
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".org": "org",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".odt": "odt",
    ".ods": "ods",
    ".odp": "odp",
    ".rtf": "rtf",
    ".epub": "epub",
    ".eml": "email",
    ".mbox": "mbox",
    ".ipynb": "notebook",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
    ".zip": "zip",
    ".tar": "tar",
    ".tgz": "tar",
    ".tbz2": "tar",
    ".txz": "tar",
}
# Compressed tar files, whose last suffix alone (.gz, .bz2, .xz) is not an archive.
_TAR_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz")
ARCHIVE_KINDS = frozenset({"zip", "tar"})  # their members become documents of their own
MEMBER_KINDS = ARCHIVE_KINDS | {"email"}  # kinds whose Extracted has members (an e-mail: its attachments)
ARCHIVE_SEPARATOR = " › "  # in a member's shown path: archive.zip › folder/member.pdf
# Kinds read from bytes by a reader of their own (the rest are decoded as text).
_BINARY_KINDS = frozenset({"pdf", "docx", "pptx", "xlsx", "odt", "ods", "odp", "rtf", "epub", "email", "mbox",
                           "notebook", "image"})
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_KIND_BY_EXTENSION) | frozenset(_TAR_SUFFIXES)

_SNIFF_BYTES = 8192


def kind_for(path: str | Path) -> str | None:
    """The document kind for a path, from its extension (case-insensitive); None if unsupported."""
    name = os.fspath(path).lower()
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    return _KIND_BY_EXTENSION.get(os.path.splitext(name)[1])


# --------------------------------------------------------------------------- reading


def _read_bytes(path: str, max_bytes: int) -> bytes:
    """The whole file, after checking type and size on the open descriptor (a big file is never read)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)  # O_NONBLOCK: a FIFO named like a document must not block us
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ExtractionFailed("is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise SkipFile("not a regular file")
        if st.st_size > max_bytes:
            raise SkipFile(f"too large ({st.st_size} bytes > limit)")
        if st.st_size == 0:
            raise SkipFile("empty")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew since fstat
        raise SkipFile(f"too large (more than {max_bytes} bytes > limit)")
    return data


def _normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


# Control characters (C0 other than whitespace and ESC, DEL, C1) and the replacement character.
_NON_TEXT = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd]")


def _is_mostly_text(text: str) -> bool:
    sample = text[:_SNIFF_BYTES]
    return len(_NON_TEXT.findall(sample)) <= len(sample) * 0.05


def _utf16_without_bom(data: bytes) -> str | None:
    """Name of the UTF-16 flavour if NUL bytes sit in alternate positions, as in mostly-ASCII UTF-16."""
    sample = data[:_SNIFF_BYTES]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls > half * 0.4 and even_nuls < half * 0.05:
        return "utf-16-le"
    if even_nuls > half * 0.4 and odd_nuls < half * 0.05:
        return "utf-16-be"
    return None


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _declared_html_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


_PREFERRED_ON_TIE = ("cp1252", "latin_1", "iso8859_15", "cp1251")


def decode_text(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes of a text file: BOM, UTF-16 pattern, strict UTF-8, declared charset, then detection.

    Raises SkipFile("binary file") when the bytes do not look like text.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding

    if b"\x00" in data[:_SNIFF_BYTES]:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            text = data.decode(utf16, errors="replace")
            if _is_mostly_text(text):
                return text, utf16
        raise SkipFile("binary file")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _is_mostly_text(text):
            raise SkipFile("binary file")
        return text, "utf-8"

    if declared is not None:
        text = data.decode(declared, errors="replace")
        if _is_mostly_text(text):
            return text, declared

    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None or best.encoding is None:
        raise SkipFile("binary file")
    # On short Western text the detector often ties cp1252 with cp1250/cp1257 and picks
    # the wrong one (è -> č); break such ties towards the most common legacy codepages.
    for preferred in _PREFERRED_ON_TIE:
        tied = [
            m
            for m in results
            if m.encoding == preferred
            and m.chaos <= best.chaos + 0.1
            and m.coherence >= best.coherence - 0.02
        ]
        if tied:
            best = tied[0]
            break
    text = data.decode(best.encoding, errors="replace")
    if not _is_mostly_text(text):
        raise SkipFile("binary file")
    return text, best.encoding


# --------------------------------------------------------------------------- per kind


_MD_HEADING = re.compile(r"^ {0,3}#\s+(.+?)\s*#*\s*$")
_FRONT_MATTER_TITLE = re.compile(r"^title\s*:\s*(.+?)\s*$", re.IGNORECASE)


def markdown_title(text: str) -> str | None:
    """Front-matter ``title:``, else the first level-one heading (ATX or setext) outside code fences."""
    lines = text.split("\n", 2000)[:2000]
    start = 0
    if lines and lines[0].strip() == "---":
        for i, line in enumerate(lines[1:], start=1):
            if line.strip() in ("---", "..."):
                start = i + 1
                break
            match = _FRONT_MATTER_TITLE.match(line)
            if match:
                title = match.group(1).strip("\"'").strip()
                if title:
                    return title
    in_fence = False
    for i in range(start, len(lines)):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _MD_HEADING.match(line)
        if match:
            return match.group(1).strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and nxt.strip() and set(nxt.strip()) == {"="}:
            return line.strip()
    return None


def _json_lines(value: Any) -> list[str]:
    """Readable ``key: value`` lines for every scalar leaf, walked iteratively (deep nesting is fine)."""
    lines: list[str] = []
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed([(str(k), v) for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(key, v) for v in item]))
        elif item is None or isinstance(item, bool):
            continue
        else:
            lines.append(f"{key}: {item}" if key else str(item))
    return lines


def json_text(raw: str) -> str:
    """Readable text of JSON or JSON Lines; invalid JSON (or any line of it) falls back to the raw text."""
    try:
        return "\n".join(_json_lines(json.loads(raw)))
    except (ValueError, RecursionError):
        pass
    out: list[str] = []
    for line in raw.split("\n"):
        if not line.strip():
            continue
        try:
            out.extend(_json_lines(json.loads(line)))
        except (ValueError, RecursionError):
            return raw
        out.append("")
    return "\n".join(out)


def _extract_docx(data: bytes) -> tuple[str, str | None]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as err:  # BadZipFile, KeyError, PackageNotFoundError, XML errors...
        raise ExtractionFailed(_short(f"not a valid DOCX: {str(err) or type(err).__name__}")) from None

    lines: list[str] = []
    heading_title: str | None = None
    # Iterative walk over body paragraphs and (nested) table cells, in document order.
    stack: list[Any] = list(reversed(list(document.iter_inner_content())))
    while stack:
        item = stack.pop()
        if isinstance(item, Table):
            cells: list[Any] = []
            seen: set[int] = set()
            for row in item.rows:
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    cells.extend(cell.iter_inner_content())
            stack.extend(reversed(cells))
        else:
            text = item.text
            if text.strip():
                lines.append(text)
                if heading_title is None:
                    style = getattr(item.style, "name", "") or ""
                    if style == "Title":
                        heading_title = text.strip()
    title = (document.core_properties.title or "").strip() or heading_title
    return "\n".join(lines), title


# --------------------------------------------------------------------------- entry point


def extract_text(
    path: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chars: int = DEFAULT_MAX_CHARS,
    ocr: bool = True,
) -> Extracted:
    """Extract normalised text from one file, read-only.

    ``ocr``: read images and PDF pages without a text layer by OCR (where the OCR package is installed).

    Raises SkipFile for files that are deliberately not indexed and ExtractionFailed for
    files that could not be read; nothing else escapes for a bad file.
    """
    path = os.fspath(path)
    kind = kind_for(path)
    if kind is None:
        ext = os.path.splitext(path)[1].lower()
        raise SkipFile(f"unsupported file type ({ext or 'no extension'})")
    try:
        data = _read_bytes(path, max_bytes)
    except FileNotFoundError:
        raise ExtractionFailed("file vanished before it could be read") from None
    except PermissionError:
        raise ExtractionFailed("permission denied") from None
    except IsADirectoryError:
        raise ExtractionFailed("is a folder, not a file") from None
    except OSError as err:
        raise ExtractionFailed(_short(f"could not read file: {err.strerror or err}")) from None
    return extract_bytes(data, kind, max_bytes=max_bytes, max_chars=max_chars, ocr=ocr)


def extract_bytes(
    data: bytes,
    kind: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chars: int = DEFAULT_MAX_CHARS,
    depth: int = 0,
    ocr: bool = True,
) -> Extracted:
    """Extract normalised text from the bytes of a file of ``kind`` (a file read, or an archive's member).

    ``depth``: how many archives this data sits inside (archives in archives stop at MAX_ARCHIVE_DEPTH).
    Raises SkipFile / ExtractionFailed like ``extract_text``.
    """
    if not data:
        raise SkipFile("empty")
    if kind in ARCHIVE_KINDS:
        from .formats.archives import extract_archive

        return extract_archive(data, kind, depth=depth, max_bytes=max_bytes, max_chars=max_chars,
                               read_member=functools.partial(_read_member, ocr=ocr))
    encoding: str | None = None
    more = False  # text past max_chars that was never extracted (PDF pages not read)
    cost = None  # what OCR took, if it ran
    try:
        if kind in _BINARY_KINDS:
            text, title, more, cost = _extract_binary(data, kind, max_chars, max_bytes, ocr)
        else:
            text, encoding, title = _extract_text_kind(data, kind, max_chars)
    except (SkipFile, ExtractionFailed):
        raise
    except MemoryError:
        raise ExtractionFailed(f"{kind} parser ran out of memory") from None
    except Exception as err:
        raise ExtractionFailed(_short(f"{kind} parser error: {type(err).__name__}: {err}")) from None

    text = _normalise(text)
    if not text.strip():
        raise SkipFile("empty")
    truncated = more or len(text) > max_chars
    extracted = Extracted(text=text[:max_chars], kind=kind, encoding=encoding, title=title, truncated=truncated)
    if kind == "email":
        from .formats.mail import attachment_members

        extracted.members = attachment_members(data, depth=depth, max_bytes=max_bytes, max_chars=max_chars,
                                               read_member=functools.partial(_read_member, ocr=ocr))
    if cost is not None:
        extracted.ocr_pages, extracted.ocr_s = cost.pages, cost.seconds
        extracted.ocr_note = cost.describe() if cost.stopped else None
    return extracted


def _extract_text_kind(data: bytes, kind: str, max_chars: int | None = None) -> tuple[str, str, str | None]:
    declared = _declared_html_charset(data) if kind == "html" else None
    raw, encoding = decode_text(data, declared=declared)
    raw = _normalise(raw)
    if not raw.strip():
        raise SkipFile("empty")
    title: str | None = None
    if kind == "markdown":
        title = markdown_title(raw)
    elif kind == "json":
        raw = json_text(raw)
    elif kind == "html":
        raw, title = html_text(raw, max_chars)
    elif kind == "org":
        title = org_title(raw)
    return raw, encoding, title


def _extract_binary(data: bytes, kind: str, max_chars: int, max_bytes: int,
                    ocr: bool) -> tuple[str, str | None, bool, Any]:
    """(text, title, more, OCR cost or None) by the reader of a binary kind (imported here, in the
    child, only when a file of it comes); ``more``: pages past ``max_chars`` were never read (PDF)."""
    if kind == "pdf":
        from .formats.pdf import extract_pdf

        return extract_pdf(data, max_chars, ocr=ocr)
    if kind == "image":
        if not ocr:
            raise SkipFile("image: OCR is turned off (setting 'ocr')")
        from .formats.ocr import extract_image

        text, title, cost = extract_image(data, max_chars)
        return text, title, False, cost
    return (*_extract_other_binary(data, kind, max_chars, max_bytes), False, None)


def _extract_other_binary(data: bytes, kind: str, max_chars: int, max_bytes: int) -> tuple[str, str | None]:
    if kind in ("docx", "pptx", "xlsx"):  # their libraries inflate every part whole: check sizes first
        from .formats.zipsafe import check_package

        check_package(data, max_bytes, {"docx": "DOCX", "pptx": "PowerPoint file", "xlsx": "Excel file"}[kind])
    if kind == "docx":
        return _extract_docx(data)
    if kind in ("pptx", "xlsx"):
        from .formats import office

        return office.extract_pptx(data, max_chars) if kind == "pptx" else office.extract_xlsx(data, max_chars)
    if kind in ("odt", "ods", "odp"):
        from .formats.opendocument import extract_opendocument

        return extract_opendocument(data, max_chars, kind, max_bytes)
    if kind == "rtf":
        from .formats.rtf import extract_rtf

        return extract_rtf(data, max_chars)
    if kind == "epub":
        from .formats.ebook import extract_epub

        return extract_epub(data, max_chars, max_bytes, html_bytes_text)
    if kind in ("email", "mbox"):
        from .formats import mail

        return (mail.extract_eml if kind == "email" else mail.extract_mbox)(data, max_chars, html_bytes_text)
    if kind == "notebook":
        from .formats.notebook import extract_ipynb

        return extract_ipynb(data, max_chars)
    raise SkipFile(f"no reader for {kind} files")


def _read_member(data: bytes, name: str, *, depth: int, max_bytes: int, max_chars: int, ocr: bool) -> Extracted:
    """An archive member's text, by its name's kind (the archive reader's callback)."""
    kind = kind_for(name)
    if kind is None:
        ext = os.path.splitext(name)[1].lower()
        raise SkipFile(f"unsupported file type ({ext or 'no extension'})")
    try:
        return extract_bytes(data, kind, max_bytes=max_bytes, max_chars=max_chars, depth=depth, ocr=ocr)
    except (SkipFile, ExtractionFailed):
        raise
    except MemoryError:
        raise ExtractionFailed(f"{kind} parser ran out of memory") from None
    except Exception as err:  # an archive reader bug must stay one member's status
        raise ExtractionFailed(_short(f"{kind} parser error: {type(err).__name__}: {err}")) from None


def html_text(raw: str, max_chars: int | None = None) -> tuple[str, str | None]:
    """Text and title of an HTML page (documents/html.py, loaded on first use)."""
    from .html import html_text as read_html

    return read_html(raw, max_chars)


def html_bytes_text(data: bytes) -> tuple[str, str | None]:
    """Text and title of HTML given as bytes (an e-book chapter, a mail body): decoded, then read."""
    raw, _encoding = decode_text(data, declared=_declared_html_charset(data))
    return html_text(_normalise(raw))


_ORG_TITLE = re.compile(r"^#\+title:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def org_title(text: str) -> str | None:
    """An Org file's ``#+TITLE:`` line."""
    match = _ORG_TITLE.search(text[:20_000])
    return match.group(1) if match else None
