"""Helpers that create bad and odd files at test time, plus test-only extractors for the worker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from desktop_search.documents.extract import Extracted, extract_text

# --------------------------------------------------------------------------- PDFs


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def minimal_pdf_bytes(pages: list[str], *, title: str | None = None) -> bytes:
    """A valid PDF written by hand: one Helvetica text line per page, correct xref offsets."""
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1
    page_ids = [3 + 2 * i for i in range(n_pages)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d >>" % n_pages,
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for pid, text in zip(page_ids, pages, strict=True):
        content = b"BT /F1 12 Tf 72 720 Td " + _pdf_string(text) + b" Tj ET" if text else b""
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (pid + 1, font_id)
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    if title is not None:
        objects[info_id] = b"<< /Title " + _pdf_string(title) + b" >>"

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for obj_id in sorted(objects):
        offsets[obj_id] = len(out)
        out += b"%d 0 obj\n" % obj_id + objects[obj_id] + b"\nendobj\n"
    size = max(objects) + 1
    xref_at = len(out)
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f \n"
    for obj_id in range(1, size):
        out += b"%010d 00000 n \n" % offsets[obj_id]  # every entry is exactly 20 bytes
    trailer = b"<< /Size %d /Root 1 0 R" % size
    if title is not None:
        trailer += b" /Info %d 0 R" % info_id
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def make_text_pdf(path: Path, pages: list[str] | None = None, *, title: str | None = None) -> Path:
    path.write_bytes(minimal_pdf_bytes(pages or ["Hello world"], title=title))
    return path


def make_blank_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def make_encrypted_pdf(path: Path, *, user_password: str, text: str = "Hello secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    source = path.with_suffix(".plain.pdf")
    make_text_pdf(source, [text])
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-pw", algorithm="RC4-128")
    with open(path, "wb") as f:
        writer.write(f)
    source.unlink()
    return path


def make_corrupt_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R\nthis is not a pdf at all\n")
    return path


# --------------------------------------------------------------------------- other files


def make_docx(path: Path, *, title: str | None = None) -> Path:
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_paragraph("First paragraph about gardening.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "tomato"
    table.cell(0, 1).text = "cucumber"
    table.cell(1, 0).text = "basil"
    table.cell(1, 1).text = "parsley"
    document.add_paragraph("Closing paragraph.")
    document.save(str(path))
    return path


def make_binary_file(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 64)
    return path


def make_sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes created instantly (mostly a hole, last byte 'a')."""
    with open(path, "wb") as f:
        f.seek(size - 1)
        f.write(b"a")
    return path


def make_bytes_named_file(folder: Path, name: bytes, content: bytes) -> str:
    """Create a file whose name is raw bytes (e.g. not UTF-8); return its str path (surrogate-escaped)."""
    raw_path = os.path.join(os.fsencode(folder), name)
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    return os.fsdecode(raw_path)


# --------------------------------------------------------------------------- worker test extractors


def misbehaving_extract(path: str, **limits: Any) -> Extracted:
    """Hangs for names containing HANG, exits for CRASH, exhausts memory for OOM, raises for BUG."""
    name = os.path.basename(path)
    if "HANG" in name:
        Path(path + ".started").touch()  # lets a test see that the child is stuck now
        time.sleep(3600)
    if "CRASH" in name:
        os._exit(1)
    if "OOM" in name:
        hog = bytearray(16 * 1024**3)  # over the child's 4 GB address-space limit
        del hog
    if "BUG" in name:
        raise RuntimeError("simulated extractor bug")
    return extract_text(path, **limits)
