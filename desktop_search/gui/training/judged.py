"""How search does on the user's own marks (judged_eval.evaluate_judgments), shown in the Training tab.

The figures are computed in a worker (they run searches) when the tab is shown after marks changed or a training
run finished, and on Refresh.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QVBoxLayout

from ..models import ROW_ROLE, Index, TableModel, retriever_label
from .formatting import short_version
from .widgets import CompactTable

FALLBACK = ("Until then, training chooses how much of a new version to keep with questions made from your files "
            "(the pseudo-query check).")
HELD_OUT_NOTE = "Versions trained on marks are scored only on judged queries they did not train on."
METRICS = ("ndcg@10", "mrr@10", "recall@10")


class EvalRow(NamedTuple):
    name: str  # "bm25", "dense:base", "hybrid:<version id>"
    label: str
    ndcg: float
    mrr: float
    recall: float
    n_queries: int
    held_out: bool
    versus: dict | None  # versus_base entry: delta, low, high, n, held_out, base_on_same


def column_label(name: str) -> str:
    kind, _, vid = name.partition(":")
    return retriever_label(f"{kind}:{short_version(vid)}" if vid else kind)


def _points(x: float) -> str:
    return f"{x * 100:+.1f}".replace("-", "\u2212")


def versus_text(v: dict | None) -> str:
    """"+2.1 (−0.4 to +4.6) on 12 queries it did not train on": nDCG@10 points against the base model."""
    if not v:
        return ""
    n = int(v.get("n", 0))
    text = f"{_points(v['delta'])} ({_points(v['low'])} to {_points(v['high'])}) on {n} quer{'ies' if n != 1 else 'y'}"
    return text + (" it did not train on" if v.get("held_out") else "")


def eval_rows(res: dict) -> tuple[EvalRow, ...]:
    vs = res.get("versus_base") or {}
    return tuple(EvalRow(name, column_label(name), float(c["ndcg@10"]), float(c["mrr@10"]), float(c["recall@10"]),
                         int(c["n_queries"]), bool(c.get("held_out")), vs.get(name))
                 for name, c in (res.get("columns") or {}).items())


def summary_text(res: dict) -> str:
    """The line above the table: how many queries, the rules of the count, or what is missing."""
    if not res.get("enough"):
        return f"{res.get('message', '')} {FALLBACK}".strip()
    n = int(res.get("n_queries", 0))
    parts = [f"Scored on {n} judged quer{'ies' if n != 1 else 'y'} with a relevant mark.", res.get("note") or ""]
    if any(c.get("held_out") for c in (res.get("columns") or {}).values()):
        parts.append(HELD_OUT_NOTE)
    if res.get("versus_base"):
        parts.append("\u201cvs base\u201d: the difference in nDCG@10 points from the base model on the same queries, "
                     "with its 95% interval.")
    for vid, why in (res.get("skipped") or {}).items():
        parts.append(f"{short_version(vid)} not scored: {why}.")
    for vid, v in (res.get("verdict") or {}).items():
        if vid not in (res.get("skipped") or {}):
            parts.append(f"Did {short_version(vid)} help? {v['text']}.")
    return " ".join(p for p in parts if p)


class EvalModel(TableModel):
    HEADERS = ("Retriever", "nDCG@10", "MRR@10", "Recall@10", "Queries", "nDCG@10 vs base")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        r: EvalRow = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (r.label, f"{r.ndcg:.3f}", f"{r.mrr:.3f}", f"{r.recall:.3f}",
                    f"{r.n_queries}" + (" held out" if r.held_out else ""), versus_text(r.versus))[c]
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole:
            if c == 0:
                return r.name
            if c == 4 and r.held_out:
                return "Judged queries this version did not train on"
            if c == 5 and r.versus:
                deep = r.versus.get("deep") or {}
                deeper = (f" Deeper in the list (nDCG@100, which also counts marked files moving up below the "
                          f"top ten): {versus_text({**deep, 'held_out': False})}." if deep else "")
                return (f"Base model on the same queries: nDCG@10 {r.versus.get('base_on_same', 0):.3f}; this version "
                        f"{r.ndcg:.3f}. The interval is a paired bootstrap over the queries.{deeper}")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int((Qt.AlignmentFlag.AlignLeft if c in (0, 5) else Qt.AlignmentFlag.AlignRight)
                       | Qt.AlignmentFlag.AlignVCenter)
        return None


class JudgedEvalPanel(QGroupBox):
    """nDCG@10, MRR@10 and Recall@10 of each retriever and version on the user's marks."""

    evaluated = Signal(object)  # dict: evaluate_judgments()'s result, once shown

    def __init__(self, ctx, parent=None):
        super().__init__("How search does on your marks", parent)
        self.ctx = ctx
        self.result: dict | None = None
        self._stale = True
        self._running = False
        self._again = False
        v = QVBoxLayout(self)
        head = QHBoxLayout()
        self.summary = QLabel("Mark results relevant or not relevant in Search and Compare to see how each "
                              "retriever and model version does on your own questions.")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        head.addWidget(self.summary, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Score every retriever and model version on your marks again")
        self.refresh_button.clicked.connect(self.refresh)
        head.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)
        v.addLayout(head)
        self.model = EvalModel(self)
        self.view = CompactTable()
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().lineSpacing() + 8)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.view.hide()
        v.addWidget(self.view, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.refresh)
        if ctx is not None:
            ctx.marks_changed.connect(self.invalidate)
            ctx.service_attached.connect(self.invalidate)

    def invalidate(self, *_args) -> None:
        """Marks, versions or the library changed: compute again now if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start(0)

    def refresh(self) -> None:
        svc = self.ctx.service if self.ctx is not None else None
        if svc is None:
            return
        if self._running:
            self._again = True
            return
        from ...judged_eval import evaluate_judgments

        self._timer.stop()
        self._stale = False
        self._running = True
        self.refresh_button.setEnabled(False)
        if self.result is None:
            self.summary.setText("Scoring search on your marks\u2026")
        self.ctx.submit(evaluate_judgments, svc, on_result=self.show_result, on_finished=self._on_finished)

    def _on_finished(self) -> None:
        self._running = False
        self.refresh_button.setEnabled(True)
        if self._again:
            self._again = False
            self.refresh()

    def show_result(self, res: dict) -> None:
        self.result = res
        self.summary.setText(summary_text(res))
        rows = eval_rows(res) if res.get("enough") else ()
        self.model.set_rows(rows)
        self.view.setVisible(bool(rows))
        if rows:  # every row in sight: bm25, the base model's two and two per version (a few versions at most)
            n = min(len(rows), 9)
            self.view.setMinimumHeight(self.view.horizontalHeader().sizeHint().height() + 2 * self.view.frameWidth()
                                       + n * self.view.verticalHeader().defaultSectionSize() + 2)
        self.evaluated.emit(res)
