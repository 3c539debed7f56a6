"""Highlight tints derived from the palette, and rich-text documents of snippets with matched words marked."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextCursor, QTextDocument, QTextOption


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` towards `b` (opaque)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def match_tint(palette: QPalette, selected: bool = False) -> QColor:
    """Background of a matched word: the highlight colour blended into the row's background."""
    if selected:
        return mix(palette.color(QPalette.ColorRole.Highlight), palette.color(QPalette.ColorRole.HighlightedText), 0.3)
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight),
               0.55 if is_dark(palette) else 0.35)


def passage_tint(palette: QPalette) -> QColor:
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight), 0.12)


def series_colors(palette: QPalette, n: int) -> list[QColor]:
    """`n` distinct colours for chart series, the first being the palette's highlight (hue rotated)."""
    base = palette.color(QPalette.ColorRole.Highlight).toHsl()
    h = base.hslHue() if base.hslHue() >= 0 else 210
    s = max(base.hslSaturation(), 140)
    lightness = 150 if is_dark(palette) else 110
    return [QColor.fromHsl((h + i * 360 // max(n, 1) + (40 if i % 2 else 0)) % 360, s, lightness) for i in range(n)]


def apply_spans(doc: QTextDocument, spans: Sequence[tuple[int, int]], fmt: QTextCharFormat, offset: int = 0) -> None:
    n = doc.characterCount() - 1
    cur = QTextCursor(doc)
    for a, b in spans:
        a, b = max(0, a + offset), min(n, b + offset)
        if b <= a:
            continue
        cur.setPosition(a)
        cur.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
        cur.mergeCharFormat(fmt)


def snippet_document(text: str, spans: Sequence[tuple[int, int]], font: QFont, palette: QPalette, *,
                     selected: bool = False, width: float = -1) -> QTextDocument:
    """The snippet as a QTextDocument: plain text, matched words bold on a palette-derived tint."""
    doc = QTextDocument()
    doc.setDocumentMargin(2)
    doc.setDefaultFont(font)
    opt = QTextOption()
    opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(opt)
    doc.setPlainText(text)
    fg = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
    base_fmt = QTextCharFormat()
    base_fmt.setForeground(fg)
    cur = QTextCursor(doc)
    cur.select(QTextCursor.SelectionType.Document)
    cur.mergeCharFormat(base_fmt)
    fmt = QTextCharFormat()
    fmt.setBackground(match_tint(palette, selected))
    fmt.setFontWeight(QFont.Weight.Bold)
    apply_spans(doc, spans, fmt)
    if width > 0:
        doc.setTextWidth(width)
    return doc
