"""The training loss per step and its moving average, drawn like the compare charts (on `charts.Chart`)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from ..charts import Chart
from ..highlight import is_dark, mix, series_colors


class LossChart(Chart):
    """The training loss per step (thin) and its moving average (thick), in the style of the compare charts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.total = 0
        self.setMinimumSize(240, 150)
        self.setToolTip("Contrastive loss per training step; it should drift down as the model learns your files")

    def sizeHint(self) -> QSize:
        return QSize(420, 170)

    def clear(self) -> None:
        self.points = []
        self.total = 0
        self.update()

    def set_total(self, total: int) -> None:
        self.total = max(int(total), 0)
        self.update()

    def add_point(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            return
        if self.points and step <= self.points[-1][0]:  # a resumed run restarts from its checkpoint
            self.points = [p for p in self.points if p[0] < step]
        self.points.append((int(step), float(loss)))
        self.update()

    def smoothed(self) -> list[float]:
        """Exponential moving average over about a tenth of the run (at least 5 steps)."""
        if not self.points:
            return []
        span = max(5, (self.total or len(self.points)) // 10)
        a = 2.0 / (span + 1)
        out, m = [], self.points[0][1]
        for _, v in self.points:
            m = a * v + (1 - a) * m
            out.append(m)
        return out

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        base, text, dim, grid = self.colors()
        p.fillRect(self.rect(), base)
        if not self.points:
            self.draw_empty(p, "The training loss appears here, step by step, while a run is going.")
            return
        fm = QFontMetrics(self.font())
        lh = fm.height()
        line_col = series_colors(self.palette(), 1)[0]
        raw_col = mix(line_col, base, 0.4 if is_dark(self.palette()) else 0.55)
        # legend
        x = 8.0
        for label, col, width in (("loss per step", raw_col, 1.5), ("moving average", line_col, 2.5)):
            p.setPen(QPen(col, width))
            y = 6 + lh / 2
            p.drawLine(QPointF(x, y), QPointF(x + 16, y))
            p.setPen(text)
            p.drawText(QPointF(x + 20, 6 + fm.ascent()), label)
            x += 20 + fm.horizontalAdvance(label) + 16
        losses = [v for _, v in self.points]
        ticks, decimals = nice_ticks(min(losses), max(losses))
        lo, hi = ticks[0], ticks[-1]
        labels = [f"{v:.{decimals}f}" for v in ticks]
        left = 8 + max(fm.horizontalAdvance(s) for s in labels) + 6
        top = 6 + lh + 10
        bottom = self.height() - lh - 8
        right = self.width() - 12
        h = max(10.0, bottom - top)
        w = max(10.0, right - left)
        last = self.points[-1][0]
        x_max = max(self.total, last, 1)
        x_min = 0

        def pos(step: float, v: float) -> QPointF:
            return QPointF(left + (step - x_min) / (x_max - x_min) * w, bottom - (v - lo) / (hi - lo) * h)

        for i, v in enumerate(ticks):
            y = bottom - (v - lo) / (hi - lo) * h
            p.setPen(QPen(dim if i == 0 else grid, 1))
            p.drawLine(QPointF(left, y), QPointF(right, y))
            p.setPen(dim)
            p.drawText(QRectF(0, y - lh / 2, left - 4, lh),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), labels[i])
        p.setPen(dim)
        p.drawText(QRectF(left - 20, bottom + 2, 40, lh), int(Qt.AlignmentFlag.AlignCenter), "0")
        end_label = f"step {x_max:,}"
        ew = fm.horizontalAdvance(end_label)
        p.drawText(QRectF(right - ew - 2, bottom + 2, ew + 4, lh), int(Qt.AlignmentFlag.AlignRight), end_label)
        # the raw loss, then its moving average on top
        p.setClipRect(QRectF(left, top - 4, w + 4, h + 8))
        if len(self.points) > 1:
            path = QPainterPath(pos(*self.points[0]))
            for s, v in self.points[1:]:
                path.lineTo(pos(s, v))
            p.setPen(QPen(raw_col, 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        if len(self.points) <= 40:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(raw_col if len(self.points) > 1 else line_col)
            r = 2.5 if len(self.points) > 1 else 4.0
            for s, v in self.points:
                p.drawEllipse(pos(s, v), r, r)
        sm = self.smoothed()
        if len(sm) > 1:
            path = QPainterPath(pos(self.points[0][0], sm[0]))
            for (s, _), v in zip(self.points[1:], sm[1:]):
                path.lineTo(pos(s, v))
            p.setPen(QPen(line_col, 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        p.setClipping(False)
        # the latest value next to the last point
        s, v = self.points[-1]
        pt = pos(s, v)
        label = f"{v:.3f}"
        tw = fm.horizontalAdvance(label)
        lx = min(pt.x() + 6, right - tw)
        ly = max(top + lh, min(pt.y() - 6, bottom - 4))
        p.setPen(text)
        p.drawText(QPointF(lx, ly), label)


def nice_ticks(lo: float, hi: float, n: int = 4) -> tuple[list[float], int]:
    """About `n` round tick values covering [lo, hi], and the decimals to print them with."""
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks = [start]
    while ticks[-1] < hi - 1e-9:
        ticks.append(ticks[-1] + step)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if step / mag == 2.5 else 0))
    return [round(t, 10) for t in ticks], decimals
