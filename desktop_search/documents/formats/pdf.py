"""PDF text through PDFium (pypdfium2), a page a section; pypdf where PDFium cannot open a file.

PDFium is the engine of Chrome's viewer: faster than pypdf (benchmarks/pdf_extract.py) and its
text keeps reading order and word spacing better. pypdf stays as the fallback for files PDFium
rejects as damaged, since the two repair different kinds of breakage.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

from ..base import ExtractionFailed, SkipFile, join_sections, short

# pypdf logs a warning for every small spec violation; the per-file status says enough.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def extract_pdf(data: bytes, max_chars: int, *, ocr: bool = True) -> tuple[str, str | None, bool, Any]:
    """Text of every page (each ending with a form feed), the metadata title, whether pages past
    ``max_chars`` were left unread, and what OCR cost (None if it did not run).

    Pages without a text layer are read by OCR when ``ocr`` and the OCR package is installed."""
    try:
        pages, title, count = pdfium_pages(data, max_chars)
    except _PdfiumCannotOpen as err:
        try:
            pages, title, count = pypdf_pages(data, max_chars)
        except ExtractionFailed as fallback:
            raise ExtractionFailed(short(f"{fallback.reason} (PDFium: {err})")) from None
    cost = None
    blank = [i for i, p in enumerate(pages) if not p.strip()]
    if blank and ocr:
        from . import ocr as ocr_module

        if ocr_module.available():
            found, cost = ocr_module.ocr_pdf_pages(data, blank)
            for index, text in found.items():
                pages[index] = text
    if not any(p.strip() for p in pages):
        if not ocr:
            raise SkipFile("PDF has no text layer (scanned?); OCR is turned off (setting 'ocr')")
        if cost is None:
            raise SkipFile("PDF has no text layer (scanned?)")
        raise SkipFile(f"PDF has no text layer, and OCR found no text ({cost.seconds:.1f} s)")
    return join_sections(pages), title, len(pages) < count, cost


class _PdfiumCannotOpen(Exception):
    pass


def pdfium_pages(data: bytes, max_chars: int) -> tuple[list[str], str | None, int]:
    """Page texts by PDFium; raises _PdfiumCannotOpen for a file it cannot load (not a password)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise ExtractionFailed("encrypted PDF (needs a password)") from None
        raise _PdfiumCannotOpen(str(err)) from None
    try:
        texts: list[str] = []
        total = 0
        count = len(pdf)
        for index in range(count):
            text = _pdfium_page_text(pdf, index, pdfium.PdfiumError)
            texts.append(text)
            total += len(text) + 1
            if total > max_chars:
                break
        try:
            title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
        except (pdfium.PdfiumError, ValueError, UnicodeDecodeError):
            title = None
    finally:
        pdf.close()
    return texts, title, count


def _pdfium_page_text(pdf, index: int, error: type[Exception]) -> str:
    """One page's text; a page PDFium cannot load is empty (one broken page must not lose the others)."""
    try:
        page = pdf[index]
    except error:
        return ""
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_range()
        finally:
            textpage.close()
    except error:
        return ""
    finally:
        page.close()


def pypdf_pages(data: bytes, max_chars: int) -> tuple[list[str], str | None, int]:
    """Page texts by pypdf (the fallback, and the benchmark's baseline)."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
        except Exception as err:  # pypdf raises many types for broken structure
            raise ExtractionFailed(short(f"corrupt PDF: {err}")) from None
        if reader.is_encrypted:
            try:
                decrypted = bool(reader.decrypt(""))
            except (DependencyError, NotImplementedError) as err:
                raise ExtractionFailed(short(f"encrypted PDF ({err})")) from None
            except Exception:
                decrypted = False
            if not decrypted:
                raise ExtractionFailed("encrypted PDF (needs a password)")
        try:
            pages = reader.pages
            page_count = len(pages)
        except FileNotDecryptedError:
            raise ExtractionFailed("encrypted PDF (needs a password)") from None
        except Exception as err:
            raise ExtractionFailed(short(f"corrupt PDF: {err}")) from None
        texts: list[str] = []
        errors: list[str] = []
        total = 0
        for index in range(page_count):
            try:
                page_text = pages[index].extract_text() or ""
            except Exception as err:  # one broken page must not lose the others
                errors.append(f"{type(err).__name__}: {err}")
                page_text = ""
            texts.append(page_text)
            total += len(page_text) + 1
            if total > max_chars:
                break
        try:
            meta = reader.metadata
            title = str(meta.title).strip() or None if meta is not None and meta.title else None
        except Exception:
            title = None
    if errors and not any(t.strip() for t in texts):
        raise ExtractionFailed(short(f"corrupt PDF: {errors[0]}"))
    return texts, title, page_count
