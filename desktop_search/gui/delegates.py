"""Item delegates: snippets with highlighted matches, and compare rows with twin markers."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .highlight import SnippetPainter, mix
from .models import HIT_ROLE, MARK_GLYPHS, MARK_ROLE, TWINS_ROLE, mark_color, retriever_label

SNIPPET_LINES = 2
COMPARE_SNIPPET_LINES = 3  # a compare row: the name, then this many wrapped lines of the snippet


class SnippetDelegate(QStyledItemDelegate):
    """Paints Hit.snippet as rich text: matched words (Hit.spans) bold on a palette-derived tint."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.snippets = SnippetPainter()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        if hit is None:
            return super().paint(painter, option, index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        rect = opt.rect.adjusted(5, 3, -5, -1)
        # whole lines only: a half-cut third line looks broken
        lines = max(1, int(rect.height() // QFontMetrics(opt.font).lineSpacing()))
        painter.save()
        painter.setClipRect(opt.rect)
        self.snippets.draw(painter, QPointF(rect.topLeft()), hit.snippet, hit.spans, opt.font, opt.palette,
                           selected=selected, width=rect.width(), max_lines=lines)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(320, fm.lineSpacing() * SNIPPET_LINES + 8)


class CompareDelegate(QStyledItemDelegate):
    """A compare row: rank, name, twin chips ("D 3": also #3 in Dense) or "only here", and the snippet.

    `context` supplies `hover_doc_id` (the file under the mouse in any column) and `column_color(name)`.
    """

    def __init__(self, context, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.snippets = SnippetPainter()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(120, fm.lineSpacing() * (1 + COMPARE_SNIPPET_LINES) + 12)

    @staticmethod
    def snippet_indent(fm: QFontMetrics) -> int:
        """Where the name and the snippet start in a row: after the rank and the mark."""
        return 6 + fm.horizontalAdvance("100.") + 4 + fm.horizontalAdvance("\u2713") + 8 + 4

    @classmethod
    def snippet_chars(cls, row_width: int, fm: QFontMetrics) -> int:
        """About how many characters of a snippet a row `row_width` wide shows (all its lines)."""
        width = row_width - cls.snippet_indent(fm) - 4
        return max(0, COMPARE_SNIPPET_LINES * width // max(1, fm.averageCharWidth()))

    @staticmethod
    def mark_rect(rect: QRect, fm: QFontMetrics) -> QRect:
        """Where a row (at `rect`) shows its mark, after the rank: a click there changes the mark."""
        x = rect.left() + 6 + fm.horizontalAdvance("100.") + 4
        w = fm.horizontalAdvance("\u2713") + 8
        return QRect(x, rect.top() + 3, w, fm.lineSpacing() + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        if hit is None:
            return super().paint(painter, option, index)
        twins: dict = index.data(TWINS_ROLE) or {}
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        pal = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        hovered_twin = getattr(self.context, "hover_doc_id", None) == hit.doc_id
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = opt.rect
        if selected:
            painter.fillRect(r, pal.color(QPalette.ColorRole.Highlight))
        elif hovered_twin:
            painter.fillRect(r, mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Highlight), 0.35))
        elif opt.features & QStyleOptionViewItem.ViewItemFeature.Alternate:
            painter.fillRect(r, pal.color(QPalette.ColorRole.AlternateBase))
        fg = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = mix(fg, pal.color(QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base), 0.4)
        fm = QFontMetrics(opt.font)
        line = fm.lineSpacing()
        x, y = r.left() + 6, r.top() + 5
        # a stripe in the column's colour marks files other columns found too
        if twins:
            painter.fillRect(QRect(r.left(), r.top() + 2, 3, r.height() - 4), self.context.column_color(index.model().name))
        # rank
        painter.setPen(dim)
        rank_w = fm.horizontalAdvance("100.")
        painter.drawText(QRect(x, y, rank_w, line), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         f"{hit.rank}.")
        # the user's mark: ✓ / ✗, or a faint box on the row under the mouse or selected
        mark = index.data(MARK_ROLE)
        mr = self.mark_rect(r, fm)
        if mark is not None:
            f = QFont(opt.font)
            f.setBold(True)
            painter.setFont(f)
            painter.setPen(fg if selected else mark_color(mark))
            painter.drawText(mr, int(Qt.AlignmentFlag.AlignCenter), MARK_GLYPHS[mark])
            painter.setFont(opt.font)
        elif selected or hovered_twin:
            painter.setPen(QPen(dim, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(mr).adjusted(2.5, 3.5, -2.5, -3.5), 2, 2)
        x = mr.right() + 4
        # chips on the right
        small = QFont(opt.font)
        small.setPointSizeF(max(6.0, opt.font.pointSizeF() * 0.85))
        sfm = QFontMetrics(small)
        chips = []
        for name, rank in twins.items():
            chips.append((f"{retriever_label(name)[:1]} {rank}", self.context.column_color(name), True,
                          f"#{rank} in {retriever_label(name)}"))
        if not twins:
            chips.append(("only here", pal.color(QPalette.ColorRole.Mid), False, ""))
        cx = r.right() - 4
        painter.setFont(small)
        for text, color, filled, _ in reversed(chips):
            w = sfm.horizontalAdvance(text) + 10
            chip = QRectF(cx - w, y + (line - sfm.height()) / 2 - 1, w, sfm.height() + 2)
            if filled:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(color)
                painter.drawRoundedRect(chip, 4, 4)
                painter.setPen(_contrast(color, pal))
            else:
                painter.setPen(QPen(dim, 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(chip, 4, 4)
                painter.setPen(dim)
            painter.drawText(chip, int(Qt.AlignmentFlag.AlignCenter), text)
            cx -= w + 4
        # name
        bold = QFont(opt.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(fg)
        bfm = QFontMetrics(bold)
        name_w = max(10, int(cx - x - 4))
        painter.drawText(QRect(x, y, name_w, line), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         bfm.elidedText(hit.label, Qt.TextElideMode.ElideMiddle, name_w))
        # the snippet below the name, wrapped over a few lines, highlighted, clipped
        width = r.right() - x - 4
        painter.setClipRect(QRectF(x, y + line + 1, width, line * COMPARE_SNIPPET_LINES + 2))
        self.snippets.draw(painter, QPointF(x, y + line + 1), hit.snippet, hit.spans, opt.font, pal,
                           selected=selected, width=width, max_lines=COMPARE_SNIPPET_LINES, wrap=True)
        painter.restore()


class TitleDelegate(QStyledItemDelegate):
    """The Name column of the results: the document's title (bold), its file name beneath (dimmer).

    Titles say what a page is ("7. Input and Output") where names often do not ("inputoutput.html",
    "3.5.html"); the name stays visible for telling files apart. Both are elided in the middle, so a
    long name keeps its start and its extension. A file without a title shows its name alone."""

    @staticmethod
    def lines(hit, bold: QFontMetrics, plain: QFontMetrics, width: int) -> tuple[str, str]:
        """(first line, second line) as painted in `width` pixels: title and name, or the name and ""."""
        mid = Qt.TextElideMode.ElideMiddle
        if hit.title and hit.title != hit.name:
            return bold.elidedText(hit.title, mid, width), plain.elidedText(hit.name, mid, width)
        return bold.elidedText(hit.name, mid, width), ""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        if hit is None:
            return super().paint(painter, option, index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)  # background, icon
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget).adjusted(2, 0, -2, 0)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        pal = opt.palette
        fg = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = mix(fg, pal.color(QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base), 0.4)
        bold = QFont(opt.font)
        bold.setBold(True)
        bfm, fm = QFontMetrics(bold), QFontMetrics(opt.font)
        first, second = self.lines(hit, bfm, fm, max(10, rect.width()))
        line = fm.lineSpacing()
        top = rect.top() + max(0, (rect.height() - (2 if second else 1) * line) // 2)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        painter.save()
        painter.setClipRect(opt.rect)
        painter.setFont(bold)
        painter.setPen(fg)
        painter.drawText(QRect(rect.left(), top, rect.width(), line), flags, first)
        if second:
            painter.setFont(opt.font)
            painter.setPen(dim)
            painter.drawText(QRect(rect.left(), top + line, rect.width(), line), flags, second)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(fm.horizontalAdvance("m") * 15, fm.lineSpacing() * 2 + 8)


def _contrast(c: QColor, pal: QPalette) -> QColor:
    """The palette's text or base colour, whichever stands out more on `c`."""
    a, b = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
    return a if abs(a.lightness() - c.lightness()) >= abs(b.lightness() - c.lightness()) else b
