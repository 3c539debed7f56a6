"""Small QPainter charts: the base `Chart`, and for the compare view agreement bars per pair and a rank-vs-rank
dot plot (the training loss chart is in training/chart.py)."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .highlight import mix, series_colors
from .models import PairRow, retriever_label


class Chart(QWidget):
    """The base of the app's charts: an expanding widget with the palette's colours and an empty-state text."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 110)

    def sizeHint(self) -> QSize:
        return QSize(320, 220)

    def colors(self):
        """(background, text, dimmed text, grid lines) from the palette."""
        pal = self.palette()
        return (pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text),
                mix(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.45),
                mix(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.85))

    def draw_empty(self, p: QPainter, text: str) -> None:
        """The text a chart shows while it has nothing to draw."""
        _, _, dim, _ = self.colors()
        p.setPen(dim)
        p.drawText(QRectF(self.rect()).adjusted(8, 8, -8, -8), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)


class AgreementChart(Chart):
    """For each pair of retrievers: bars of overlap@k and Jaccard (0 to 1), Kendall's tau written below."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pairs: tuple[PairRow, ...] = ()
        self.k = 10
        self.setToolTip("How much each pair of retrievers agrees on the top k files")

    def set_pairs(self, pairs: Sequence[PairRow], k: int) -> None:
        self.pairs = tuple(pairs)
        self.k = k
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        base, text, dim, grid = self.colors()
        p.fillRect(self.rect(), base)
        if not self.pairs:
            self.draw_empty(p, "Compare two or three retrievers to see how much they agree.")
            return
        fm = QFontMetrics(self.font())
        lh = fm.height()
        c_overlap, c_jacc = series_colors(self.palette(), 2)
        # legend
        x = 8.0
        for label, col in ((f"Overlap@{self.k}", c_overlap), ("Jaccard", c_jacc)):
            p.fillRect(QRectF(x, 6 + (lh - 10) / 2, 10, 10), col)
            p.setPen(text)
            p.drawText(QPointF(x + 14, 6 + fm.ascent()), label)
            x += 14 + fm.horizontalAdvance(label) + 16
        left = 8 + fm.horizontalAdvance("1.0") + 6
        top = 6 + lh + 10
        bottom = self.height() - (2 * lh + 10)
        right = self.width() - 8
        h = max(10.0, bottom - top)
        # grid and axis labels
        for v in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = bottom - v * h
            p.setPen(QPen(grid if v else dim, 1))
            p.drawLine(QPointF(left, y), QPointF(right, y))
            if v in (0.0, 0.5, 1.0):
                p.setPen(dim)
                p.drawText(QRectF(0, y - lh / 2, left - 4, lh), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                           f"{v:.1f}")
        n = len(self.pairs)
        group_w = (right - left) / n
        bar_w = min(36.0, group_w * 0.3)
        for i, pr in enumerate(self.pairs):
            cx = left + group_w * (i + 0.5)
            for j, (v, col) in enumerate(((pr.overlap, c_overlap), (pr.jaccard, c_jacc))):
                bx = cx - bar_w - 2 + j * (bar_w + 4)
                bh = max(1.0, v * h)
                p.fillRect(QRectF(bx, bottom - bh, bar_w, bh), col)
                p.setPen(text)
                p.drawText(QRectF(bx - 6, bottom - bh - lh, bar_w + 12, lh), int(Qt.AlignmentFlag.AlignCenter), f"{v:.2f}")
            label = f"{retriever_label(pr.first)} / {retriever_label(pr.second)}"
            p.setPen(text)
            p.drawText(QRectF(cx - group_w / 2, bottom + 4, group_w, lh), int(Qt.AlignmentFlag.AlignCenter),
                       fm.elidedText(label, Qt.TextElideMode.ElideRight, int(group_w)))
            tau = "τ n/a" if pr.tau is None else f"τ {pr.tau:+.2f}"
            p.setPen(dim)
            p.drawText(QRectF(cx - group_w / 2, bottom + 4 + lh, group_w, lh), int(Qt.AlignmentFlag.AlignCenter), tau)


class RankPlot(Chart):
    """Each file both retrievers found, placed at (rank in the first, rank in the second)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pair: PairRow | None = None
        self.k = 10

    def set_pair(self, pair: PairRow | None, k: int) -> None:
        self.pair = pair
        self.k = max(1, k)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        base, text, dim, grid = self.colors()
        p.fillRect(self.rect(), base)
        if self.pair is None:
            self.draw_empty(p, "Pick a pair to plot the ranks of the files both found.")
            return
        fm = QFontMetrics(self.font())
        lh = fm.height()
        a, b = retriever_label(self.pair.first), retriever_label(self.pair.second)
        p.setPen(text)
        p.drawText(QRectF(0, 4, self.width(), lh), int(Qt.AlignmentFlag.AlignCenter),
                   fm.elidedText(f"Rank in {a} (across) vs {b} (down)", Qt.TextElideMode.ElideRight, self.width() - 8))
        top = 4 + lh + 8
        label_w = 8 + fm.horizontalAdvance(str(self.k)) + 6
        size = max(20.0, min(self.width() - label_w - 12, self.height() - top - lh - 10))
        left = max(label_w, (self.width() - size) / 2)
        bottom = top + size
        k = self.k

        def pos(r1: int, r2: int) -> QPointF:
            step = size / k
            return QPointF(left + (r1 - 0.5) * step, top + (r2 - 0.5) * step)

        p.setPen(QPen(grid, 1))
        p.drawRect(QRectF(left, top, size, size))
        pen = QPen(dim, 1, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(pos(1, 1), pos(k, k))
        p.setPen(dim)
        for r in sorted({1, k}):
            pt = pos(r, r)
            p.drawText(QRectF(pt.x() - 20, bottom + 2, 40, lh), int(Qt.AlignmentFlag.AlignCenter), str(r))
            p.drawText(QRectF(left - label_w, pt.y() - lh / 2, label_w - 4, lh),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), str(r))
        dot = series_colors(self.palette(), 1)[0]
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(dot)
        radius = max(3.0, min(7.0, size / k / 3))
        for r1, r2 in self.pair.shared_ranks:
            if r1 <= k and r2 <= k:
                p.drawEllipse(pos(r1, r2), radius, radius)
        if not self.pair.shared_ranks:
            p.setPen(dim)
            p.drawText(QRectF(left, top, size, size), int(Qt.AlignmentFlag.AlignCenter), "No shared files")
