"""Microsoft Office Open XML beyond Word: PowerPoint (.pptx) and Excel (.xlsx, .xlsm).

A password-protected Office file is not a zip at all but an OLE compound file wrapping the
encrypted package; it is recognised by its signature and reported as encrypted.
"""

from __future__ import annotations

import io
from typing import Any

from ..base import ExtractionFailed, join_sections, short
from .zipsafe import OLE_SIGNATURE
MAX_SHEET_ROWS = 20_000  # per sheet: the rest of a huge table adds little to search but time


def check_ooxml(data: bytes, what: str) -> None:
    """Fail clearly for an encrypted (or legacy binary) Office file before the library tries."""
    if data.startswith(OLE_SIGNATURE):
        raise ExtractionFailed(f"encrypted {what} (password-protected), or an old binary Office file renamed")


def extract_pptx(data: bytes, max_chars: int) -> tuple[str, str | None]:
    """Each slide's text (shapes, groups, tables) and its speaker notes, a slide a section."""
    check_ooxml(data, "PowerPoint file")
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as err:  # PackageNotFoundError, BadZipFile, KeyError, XML errors...
        raise ExtractionFailed(short(f"not a valid PowerPoint file: {str(err) or type(err).__name__}")) from None
    slides: list[str] = []
    first_title: str | None = None
    total = 0
    for slide in deck.slides:
        lines = _shape_lines(slide.shapes)
        if first_title is None:
            title_shape = slide.shapes.title
            if title_shape is not None and title_shape.has_text_frame and title_shape.text_frame.text.strip():
                first_title = " ".join(title_shape.text_frame.text.split())
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                lines += ["", "Notes:", notes.text]
        text = "\n".join(lines)
        slides.append(text)
        total += len(text) + 1
        if total > max_chars:
            break
    title = (deck.core_properties.title or "").strip() or first_title
    return join_sections(slides), title


def _shape_lines(shapes: Any) -> list[str]:
    """Text of shapes in order, walking groups iteratively; table cells a row a line."""
    from pptx.shapes.group import GroupShape

    lines: list[str] = []
    stack = list(reversed(list(shapes)))
    while stack:
        shape = stack.pop()
        if isinstance(shape, GroupShape):
            stack.extend(reversed(list(shape.shapes)))
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [c.text.strip() for c in row.cells]
                if any(cells):
                    lines.append("\t".join(cells))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text
            if text.strip():
                lines.append(text)
    return lines


def extract_xlsx(data: bytes, max_chars: int) -> tuple[str, str | None]:
    """Each sheet (its name first, then a line per row, cells by tabs), a sheet a section.

    Read-only mode streams the rows (memory stays flat on big sheets); stored values, not formulas.
    """
    check_ooxml(data, "Excel file")
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # InvalidFileException, BadZipFile, KeyError, XML errors...
        raise ExtractionFailed(short(f"not a valid Excel file: {str(err) or type(err).__name__}")) from None
    try:
        sheets: list[str] = []
        total = 0
        for sheet in book.worksheets:
            lines = [sheet.title]
            for n, row in enumerate(sheet.iter_rows(values_only=True)):
                if n >= MAX_SHEET_ROWS:
                    lines.append(f"(further rows not read: more than {MAX_SHEET_ROWS})")
                    break
                cells = ["" if v is None else str(v).strip() for v in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    line = "\t".join(cells)
                    lines.append(line)
                    total += len(line) + 1
                if total > max_chars:
                    break
            sheets.append("\n".join(lines))
            if total > max_chars:
                break
        title = (book.properties.title or "").strip() or None if book.properties else None
    except ExtractionFailed:
        raise
    except Exception as err:  # a damaged sheet part shows up while streaming
        raise ExtractionFailed(short(f"not a valid Excel file: {str(err) or type(err).__name__}")) from None
    finally:
        book.close()
    if not any(line for s in sheets for line in s.split("\n")[1:]):
        return "", title  # sheet names only: "empty"
    return join_sections(sheets), title
