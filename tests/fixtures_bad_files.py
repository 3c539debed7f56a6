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
    """Hangs for names containing HANG, exits for CRASH, exhausts memory for OOM, raises for BUG,
    takes a twentieth of a second for SLOW."""
    name = os.path.basename(path)
    if "SLOW" in name:
        time.sleep(0.05)
    if "HANG" in name:
        Path(path + ".started").touch()  # lets a test see that the child is stuck now
        time.sleep(3600)
    if "CRASH" in name:
        os._exit(1)
    if "OOM" in name:
        hog = bytearray(16 * 1024**3)  # over the child's address-space limit (2 GB by default)
        del hog
    if "BUG" in name:
        raise RuntimeError("simulated extractor bug")
    return extract_text(path, **limits)


# --------------------------------------------------------------------------- hostile files (memory)
# Each is small on disk (or under the size cap) and expensive to parse naively; the bad-input
# benchmark (benchmarks/bad_input_memory.py) indexes them and reports the peak memory.

_DOCX_SKELETON = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="word/document.xml"/></Relationships>'),
}


def make_zip_bomb_docx(path: Path, inflated_bytes: int = 1024**3) -> Path:
    """A DOCX whose word/document.xml inflates to `inflated_bytes` of paragraphs (about 1000:1)."""
    import zipfile

    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
            b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
    para = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"
    block = para * (1024 * 1024 // len(para))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, text in _DOCX_SKELETON.items():
            zf.writestr(name, text)
        with zf.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(head)
            written = len(head)
            while written < inflated_bytes:
                f.write(block)
                written += len(block)
            f.write(b"</w:body></w:document>")
    return path


def make_nested_html(path: Path, size_bytes: int = 45 * 1024**2) -> Path:
    """`size_bytes` of HTML nested as deep as it goes: <div><span><b>… with a word at each level."""
    unit = b"<div><span>deep "
    n = size_bytes // len(unit)
    with open(path, "wb") as f:
        f.write(b"<html><head><title>nested</title></head><body>")
        chunk = unit * 65536
        for _ in range(n // 65536):
            f.write(chunk)
        f.write(unit * (n % 65536))
        f.write(b"</body></html>")
    return path


def _write_pdf(path: Path, objects: dict[int, bytes], root: int = 1) -> Path:
    """A PDF of the given objects with a correct xref table (written straight to disk)."""
    size = max(objects) + 1
    offsets = {}
    with open(path, "wb") as f:
        pos = f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        for obj_id in sorted(objects):
            offsets[obj_id] = pos
            pos += f.write(b"%d 0 obj\n" % obj_id + objects[obj_id] + b"\nendobj\n")
        xref_at = pos
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        f.write(b"".join((b"%010d 00000 n \n" % offsets[i]) if i in offsets else b"0000000000 65535 f \n"
                         for i in range(1, size)))
        f.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref_at))
    return path


def make_many_pages_pdf(path: Path, n_pages: int = 300_000) -> Path:
    """A PDF of `n_pages` pages sharing one content stream and font (about 130 bytes a page)."""
    content = b"BT /F1 12 Tf 72 720 Td (page) Tj ET"
    first = 5
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        4: b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>",
    }
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources 4 0 R >>"
    for i in range(n_pages):
        objects[first + i] = page
    kids = b" ".join(b"%d 0 R" % (first + i) for i in range(n_pages))
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    return _write_pdf(path, objects)


def make_cyclic_pdf(path: Path) -> Path:
    """A PDF whose page tree loops: the Pages node's kid is a Pages node whose kid is the first one."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>",
        3: b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1000000 >>",
    }
    return _write_pdf(path, objects)


def make_single_line_text(path: Path, size_bytes: int = 10 * 1024**2) -> Path:
    """`size_bytes` of words without a single line break."""
    words = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    with open(path, "wb") as f:
        f.write(words * (size_bytes // len(words)))
    return path


HOSTILE_FILES = {
    "zip-bomb.docx": make_zip_bomb_docx,
    "nested.html": make_nested_html,
    "many-pages.pdf": make_many_pages_pdf,
    "cyclic-pages.pdf": make_cyclic_pdf,
    "single-line.txt": make_single_line_text,
}
