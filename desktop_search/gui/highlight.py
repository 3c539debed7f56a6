"""Highlight tints derived from the palette, and snippet layouts with matched words marked."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from PySide6.QtCore import QPointF
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPalette, QTextCharFormat, QTextCursor,
                           QTextDocument, QTextLayout, QTextOption)


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


def snippet_layout(text: str, spans: Sequence[tuple[int, int]], font: QFont, palette: QPalette, *,
                   selected: bool = False, width: float, max_lines: int, wrap: bool = True) -> QTextLayout:
    """The first `max_lines` lines of a snippet, laid out for `width` pixels, matched words bold on a tint.

    Only as much text as could fill those lines is laid out, and no QTextDocument is built
    (which laid out the whole snippet and merged formats through cursors on every paint)."""
    fm = QFontMetricsF(font)
    # a generous bound on the characters that fit (narrow glyphs are about half the average)
    per_line = width / max(1.0, fm.averageCharWidth() * 0.5)
    text = text[: int(per_line * max_lines) + 16] if wrap else text[: int(per_line) + 16]
    layout = QTextLayout(text.replace("\n", " "), font)
    opt = QTextOption()
    opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere if wrap else QTextOption.WrapMode.NoWrap)
    layout.setTextOption(opt)
    fmt = QTextCharFormat()
    fmt.setBackground(match_tint(palette, selected))
    fmt.setFontWeight(QFont.Weight.Bold)
    ranges = []
    for a, b in spans:
        a, b = max(0, a), min(len(text), b)
        if b > a:
            r = QTextLayout.FormatRange()
            r.start, r.length, r.format = a, b - a, fmt
            ranges.append(r)
    layout.setFormats(ranges)
    layout.beginLayout()
    y = 0.0
    for _ in range(max(1, max_lines)):
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(1.0, width))
        line.setPosition(QPointF(0.0, y))
        y += line.height()
    layout.endLayout()
    return layout


class SnippetPainter:
    """Draws highlighted snippets for item delegates, keeping the most recent layouts.

    Hovering, selecting and scrolling repaint rows many times; the layouts are reused as long
    as the text, width, font, palette and selection state are the same."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._cache: OrderedDict[tuple, QTextLayout] = OrderedDict()

    def draw(self, painter: QPainter, pos: QPointF, text: str, spans: Sequence[tuple[int, int]], font: QFont,
             palette: QPalette, *, selected: bool, width: float, max_lines: int, wrap: bool = True) -> None:
        key = (text, tuple(spans), font.key(), palette.cacheKey(), selected, int(width), max_lines, wrap)
        layout = self._cache.get(key)
        if layout is None:
            layout = snippet_layout(text, spans, font, palette, selected=selected, width=width,
                                    max_lines=max_lines, wrap=wrap)
            self._cache[key] = layout
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        painter.save()
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        layout.draw(painter, pos)
        painter.restore()
