"""The Judgments tab: the queries the user marked results for, each query's marks (change or remove them),
and export / import as BEIR files (queries.jsonl + qrels/test.tsv).

Every query, file name and path is shown as plain text (item-model data and PlainText labels), never as HTML.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from .errors import Banner
from .models import (MARK_GLYPHS, ROW_ROLE, SORT_ROLE, Index, TableModel, format_time, mark_color, mark_grade,
                     retriever_label)
from .plain import plain_tip
from .results_common import make_sort_proxy, plain_table
from .training.formatting import short_version

EXPLANATION = ("Results you marked relevant (\u2713) or not relevant (\u2717) in Search and Compare, by query. "
               "They measure how well each retriever and model version does on your own questions (Training tab), "
               "and training learns from them. Export them as BEIR files for a backup, or import a test collection.")


class QueryRow(NamedTuple):
    query: str
    relevant: int
    not_relevant: int
    updated_at: float


def load_judged_queries(svc) -> tuple[QueryRow, ...]:
    """Worker-thread function: one row per judged query, most recently changed first."""
    return tuple(QueryRow(q["query"], int(q["relevant"] or 0), int(q["not_relevant"] or 0),
                          float(q["updated_at"] or 0)) for q in svc.store.judged_queries())


def load_marks(svc, query: str) -> tuple:
    """Worker-thread function: the marks (store Judgment rows) of one query."""
    return tuple(svc.store.judgments(query))


def change_grade(svc, j, grade: int) -> None:
    """Worker-thread function: a new grade for a mark, keeping where it came from (retriever, version, passage)."""
    svc.store.set_judgment(j.query, j.doc_id, grade, chunk_id=j.chunk_id, passage=j.passage, retriever=j.retriever,
                           model_version=j.model_version)


def export_judgments(svc, folder: str) -> dict:
    from ..judgments import export_beir

    return export_beir(svc.store, folder)


def import_judgments(svc, folder: str) -> dict:
    from ..judgments import import_beir

    return import_beir(svc.store, folder)


def export_message(res: dict) -> str:
    q, n = int(res.get("queries", 0)), int(res.get("judgments", 0))
    return (f"Exported {n:,} mark{'s' if n != 1 else ''} for {q:,} quer{'ies' if q != 1 else 'y'} to "
            f"{res.get('folder', '')} (queries.jsonl and qrels/test.tsv).")


def import_message(res: dict, folder: str) -> str:
    n, q = int(res.get("imported", 0)), int(res.get("queries", 0))
    parts = [f"Imported {n:,} mark{'s' if n != 1 else ''} for {q:,} quer{'ies' if q != 1 else 'y'} from {folder}."]
    missing = int(res.get("unmatched_files", 0))
    if missing:
        ex = ", ".join(res.get("unmatched_examples") or ())
        parts.append(f"{missing:,} file{'s' if missing != 1 else ''} not found in the library"
                     + (f" (for example {ex})" if ex else "") + ".")
    unknown = int(res.get("unknown_queries", 0))
    if unknown:
        parts.append(f"{unknown:,} quer{'ies' if unknown != 1 else 'y'} of qrels/test.tsv not in queries.jsonl.")
    return " ".join(parts)


class QueriesModel(TableModel):
    HEADERS = ("Query", "Relevant", "Not relevant", "Last change")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        r: QueryRow = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (r.query, f"{r.relevant:,}", f"{r.not_relevant:,}", format_time(r.updated_at))[c]
        if role == SORT_ROLE:
            return (r.query.casefold(), r.relevant, r.not_relevant, r.updated_at)[c]
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole and c == 0:
            return plain_tip(r.query)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if c in (1, 2) else \
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def row_of(self, query: str) -> int:
        key = " ".join(query.split()).casefold()
        return next((i for i, r in enumerate(self._rows) if r.query.casefold() == key), -1)


def grade_text(grade: int) -> str:
    g = mark_grade(grade)
    text = f"{MARK_GLYPHS[g]} {'relevant' if g else 'not relevant'}"
    return f"{text} (grade {grade})" if grade > 1 else text


class MarksModel(TableModel):
    """The marks of one query: store Judgment rows (immutable)."""

    HEADERS = ("File", "Mark", "Retriever", "Version", "When", "Folder")
    FILE, MARK, RETRIEVER, VERSION, WHEN, FOLDER = range(6)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        j = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (os.path.basename(j.path), grade_text(j.grade), retriever_label(j.retriever) if j.retriever else "",
                    short_version(j.model_version), format_time(j.updated_at), os.path.dirname(j.path))[c]
        if role == SORT_ROLE:
            return (os.path.basename(j.path).lower(), j.grade, j.retriever, j.model_version, j.updated_at,
                    j.path.lower())[c]
        if role == ROW_ROLE:
            return j
        if role == Qt.ItemDataRole.ForegroundRole and c == self.MARK:
            return mark_color(mark_grade(j.grade))
        if role == Qt.ItemDataRole.ToolTipRole:
            if c == self.VERSION:
                return j.model_version or "The retriever needs no model (or the mark was imported)"
            passage = " ".join((j.passage or "").split())
            return plain_tip(j.path + (f"\n\n{passage[:400]}{'…' if len(passage) > 400 else ''}" if passage else ""))
        return None


class JudgmentsTab(QWidget):
    """Judged queries on the left, the selected query's marks on the right; export and import."""

    title = "Judgments"

    queries_loaded = Signal(object)  # tuple[QueryRow, ...]
    marks_loaded = Signal(object)  # tuple[Judgment, ...] of the selected query
    message_shown = Signal(str)  # the result of an export or import

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._stale = True
        self._seq = 0
        self._marks_seq = 0
        self._loading = False
        self._again = False
        self._keep_query: str | None = None

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.explanation = QLabel(EXPLANATION)
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.PlainText)
        self.explanation.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        top.addWidget(self.explanation, 1)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write every mark as BEIR files (queries.jsonl and qrels/test.tsv) in a folder")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add the marks of a BEIR folder (queries.jsonl and qrels/test.tsv); files are "
                                      "matched by path or by name")
        self.refresh_button = QPushButton("Refresh")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.import_button.clicked.connect(self._on_import_button_clicked)
        self.refresh_button.clicked.connect(self.reload)
        for b in (self.export_button, self.import_button, self.refresh_button):
            top.addWidget(b, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        self.message = Banner()
        lay.addWidget(self.message)

        self.queries_model = QueriesModel(self)
        self.queries_proxy = make_sort_proxy(self, self.queries_model)
        self.queries_view = plain_table(self.queries_proxy)
        self.queries_view.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        qh = self.queries_view.horizontalHeader()
        qh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        qh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        qh.setMinimumSectionSize(self.queries_view.fontMetrics().horizontalAdvance("m") * 4)
        self.queries_view.setMinimumWidth(self.queries_view.fontMetrics().horizontalAdvance("m") * 16)
        self.queries_view.selectionModel().currentRowChanged.connect(self._on_queries_current_row_changed)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.marks_title = QLabel("Select a query to see its marks.")
        self.marks_title.setTextFormat(Qt.TextFormat.PlainText)
        f = self.marks_title.font()
        f.setBold(True)
        self.marks_title.setFont(f)
        rl.addWidget(self.marks_title)
        self.marks_model = MarksModel(self)
        self.marks_proxy = make_sort_proxy(self, self.marks_model)
        self.marks_view = plain_table(self.marks_proxy)
        mh = self.marks_view.horizontalHeader()
        mh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        mh.setSectionResizeMode(MarksModel.FOLDER, QHeaderView.ResizeMode.Stretch)
        self.marks_view.selectionModel().currentRowChanged.connect(self._update_buttons)
        rl.addWidget(self.marks_view, 1)
        row = QHBoxLayout()
        self.relevant_button = QPushButton("\u2713 Relevant")
        self.relevant_button.setToolTip("Mark the selected file relevant for this query (+)")
        self.not_relevant_button = QPushButton("\u2717 Not relevant")
        self.not_relevant_button.setToolTip("Mark the selected file not relevant for this query (\u2212)")
        self.remove_button = QPushButton("Remove mark")
        self.remove_button.setToolTip("Forget the mark of the selected file for this query (Delete)")
        self.remove_query_button = QPushButton("Remove query")
        self.remove_query_button.setToolTip("Forget every mark of the selected query")
        self.relevant_button.clicked.connect(lambda: self.set_grade(1))
        self.not_relevant_button.clicked.connect(lambda: self.set_grade(0))
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_query_button.clicked.connect(self.remove_query)
        for b in (self.relevant_button, self.not_relevant_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.remove_query_button)
        rl.addLayout(row)
        for keys, slot in (((Qt.Key.Key_Plus, Qt.Key.Key_Equal), lambda: self.set_grade(1)),
                           ((Qt.Key.Key_Minus,), lambda: self.set_grade(0)),
                           ((Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_0), self.remove_selected)):
            a = QAction(self.marks_view)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            a.triggered.connect(slot)
            self.marks_view.addAction(a)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.queries_view)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([460, 700])
        lay.addWidget(self.splitter, 1)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(200)
        self._reload_timer.timeout.connect(self.reload)
        ctx.marks_changed.connect(self._on_ctx_marks_changed)
        ctx.service_attached.connect(self._on_ctx_service_attached)
        self._update_buttons()

    # -- loading ---------------------------------------------------------------------------------------------
    def _on_ctx_service_attached(self, _svc) -> None:
        self._stale = True
        if self.isVisible():
            self.reload()

    def _on_ctx_marks_changed(self, _query: str, source) -> None:
        if source is self:
            return
        self._stale = True
        if self.isVisible():
            self._reload_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def reload(self) -> None:
        """Load the judged queries (and the selected query's marks) in a worker."""
        svc = self.ctx.service
        if svc is None:
            return
        if self._loading:
            self._again = True
            return
        self._stale = False
        self._loading = True
        self.ctx.submit(load_judged_queries, svc, on_result=self._on_queries_result,
                        on_finished=self._on_queries_finished)

    def _on_queries_finished(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.reload()

    def _on_queries_result(self, rows: tuple[QueryRow, ...]) -> None:
        keep = self._keep_query or self.selected_query()
        self._keep_query = None
        self.queries_model.set_rows(rows)
        r = self.queries_model.row_of(keep) if keep else -1
        if r < 0 and rows:
            r = self.queries_proxy.mapToSource(self.queries_proxy.index(0, 0)).row()
        if r >= 0:
            pr = self.queries_proxy.mapFromSource(self.queries_model.index(r, 0)).row()
            if self.queries_view.currentIndex().row() != pr:
                self.queries_view.selectRow(pr)
            else:
                self.load_marks()
        else:
            self.marks_model.set_rows(())
            self.marks_title.setText("No marks yet: mark results in Search or Compare (+ relevant, \u2212 not "
                                     "relevant)." if not rows else "Select a query to see its marks.")
            self._update_buttons()
            self.marks_loaded.emit(())
        self.queries_loaded.emit(rows)

    def selected_query(self) -> str | None:
        idx = self.queries_view.currentIndex()
        row = idx.data(ROW_ROLE) if idx.isValid() else None
        return row.query if row is not None else None

    def select_query(self, query: str) -> bool:
        r = self.queries_model.row_of(query)
        if r < 0:
            return False
        self.queries_view.selectRow(self.queries_proxy.mapFromSource(self.queries_model.index(r, 0)).row())
        return True

    def _on_queries_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.load_marks()

    def load_marks(self) -> None:
        svc = self.ctx.service
        query = self.selected_query()
        if svc is None or query is None:
            return
        self._marks_seq += 1
        seq = self._marks_seq
        self.ctx.submit(load_marks, svc, query, on_result=lambda rows: self._on_marks_result(seq, query, rows))

    def _on_marks_result(self, seq: int, query: str, rows: tuple) -> None:
        if seq != self._marks_seq:
            return
        keep = self.selected_mark()
        self.marks_model.set_rows(rows)
        n = len(rows)
        self.marks_title.setText(f"{n} mark{'s' if n != 1 else ''} for \u201c{query}\u201d")
        if rows:
            target = next((i for i, j in enumerate(self.marks_model.rows) if keep and j.doc_id == keep.doc_id), 0)
            self.marks_view.selectRow(self.marks_proxy.mapFromSource(self.marks_model.index(target, 0)).row())
        self._update_buttons()
        self.marks_loaded.emit(rows)

    def selected_mark(self):
        idx = self.marks_view.currentIndex()
        return idx.data(ROW_ROLE) if idx.isValid() else None

    # -- changing --------------------------------------------------------------------------------------------
    def _changed(self, query: str) -> None:
        self._keep_query = query
        self.ctx.notify_marks_changed(query, self)  # the result lists showing this query look again
        self.reload()

    def set_grade(self, grade: int) -> None:
        """Mark the selected file relevant (1) or not relevant (0) for the selected query."""
        svc, j = self.ctx.service, self.selected_mark()
        if svc is None or j is None or mark_grade(j.grade) == grade:
            return
        self.ctx.submit(change_grade, svc, j, grade, on_result=lambda _: self._changed(j.query))

    def remove_selected(self) -> None:
        svc, j = self.ctx.service, self.selected_mark()
        if svc is None or j is None:
            return
        self.ctx.submit(svc.unmark, j.query, j.doc_id, on_result=lambda _: self._changed(j.query))

    def remove_query(self) -> None:
        svc, query = self.ctx.service, self.selected_query()
        if svc is None or query is None:
            return
        self.ctx.submit(svc.unmark, query, on_result=lambda _: self._changed(query))

    def _update_buttons(self, *_args) -> None:
        j = self.selected_mark()
        g = mark_grade(j.grade) if j is not None else None
        self.relevant_button.setEnabled(j is not None and g != 1)
        self.not_relevant_button.setEnabled(j is not None and g != 0)
        self.remove_button.setEnabled(j is not None)
        self.remove_query_button.setEnabled(self.selected_query() is not None)

    # -- export and import -----------------------------------------------------------------------------------
    def _on_export_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export marks as BEIR files into a folder",
                                                  os.path.expanduser("~"))
        if folder:
            self.export_to(folder)

    def _on_import_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import marks from a BEIR folder (queries.jsonl, qrels/test.tsv)",
                                                  os.path.expanduser("~"))
        if folder:
            self.import_from(folder)

    def export_to(self, folder: str) -> None:
        svc = self.ctx.service
        if svc is not None:
            self.ctx.submit(export_judgments, svc, folder, on_result=lambda r: self._show(export_message(r)))

    def import_from(self, folder: str) -> None:
        svc = self.ctx.service
        if svc is None:
            return

        def done(res: dict) -> None:
            self._show(import_message(res, folder), "warning" if res.get("unmatched_files") else "info")
            self.ctx.notify_marks_changed("", self)
            self.reload()

        self.ctx.submit(import_judgments, svc, folder, on_result=done)

    def _show(self, text: str, level: str = "info") -> None:
        self.message.show_message(text, level=level)
        self.ctx.post_status(text, 8000)
        self.message_shown.emit(text)
