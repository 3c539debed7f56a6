"""The Search tab: query box (search as you type), retriever toggle, filters, results table and preview."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from PySide6.QtCore import QDate, QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDateEdit, QHBoxLayout, QHeaderView,
                               QLabel, QTableView, QToolButton, QVBoxLayout, QWidget)

from ..retrievers.types import RETRIEVERS, Hit
from ..search_info import result_counts
from .delegates import SnippetDelegate, TitleDelegate
from .help import RETRIEVER_HELP
from .marks import MarkActions, query_key
from .models import HIT_ROLE, ResultsModel, next_mark, retriever_label
from .results_common import (PreviewLoader, hit_context_menu_at, make_debounce_timer, make_preview_split,
                             make_query_edit, make_sort_proxy, open_hit_at, select_single_rows)

DEBOUNCE_MS = 250
RESULTS_K = 50
DATE_PRESETS = (("Any time", 0), ("Past 24 hours", 1), ("Past week", 7), ("Past month", 31),
                ("Past year", 365), ("Custom range…", "custom"))


def count_text(retriever: str, shown: int, counts: dict) -> str:
    """"137 files", "137 files, top 50 shown", "50 nearest of 580 files", "50 files · 137 contain the words".

    BM25 finds every file with the words, so it can say how many there are; Dense ranks every
    embedded file by meaning, so it says how many it chose from; Hybrid mixes both."""
    def files(n: int) -> str:
        return f"{n:,} file{'s' if n != 1 else ''}"

    matching = max(int(counts.get("matching") or 0), 0)
    kind = retriever.partition(":")[0]
    if kind == "bm25":
        matching = max(matching, shown)
        return files(matching) if matching <= shown else f"{files(matching)}, top {shown:,} shown"
    pool = counts.get("embedded_files")
    if kind == "dense":
        return f"{shown:,} nearest of {files(pool)}" if pool else files(shown)
    return f"{files(shown)} · {matching:,} contain the words" if matching else files(shown)


class PlaceholderTableView(QTableView):
    """A table that paints a hint in its empty viewport."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.placeholder = ""

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.viewport().update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        model = self.model()
        if self.placeholder and (model is None or model.rowCount() == 0):
            p = QPainter(self.viewport())
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            r = self.viewport().rect().adjusted(24, 24, -24, -24)
            p.drawText(r, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.placeholder)


class SearchTab(QWidget):
    """Search as you type (debounced); results arrive from a worker thread, newest query wins."""

    results_shown = Signal(int)  # number of hits now in the table
    retriever_changed = Signal(str)
    preview_shown = Signal(object)  # the Hit
    marks_shown = Signal(object)  # dict: {doc_id: grade} of the shown query, once they are in the table

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._seq = 0
        self._pending = None  # the queued search worker, dropped if a newer query arrives first
        self._previews = PreviewLoader(ctx)
        self._last_query = ""
        self._last_retriever = "bm25"  # the retriever that found the shown results (its marks name it)
        self._marks_seq = 0
        self.last_hits: tuple[Hit, ...] = ()

        lay = QVBoxLayout(self)
        # query row
        row = QHBoxLayout()
        self.query = make_query_edit('Search your files: words, "exact phrases", +required, -excluded')
        self.query.textChanged.connect(self._on_query_text_changed)
        self.query.returnPressed.connect(self._on_query_return_pressed)
        self.query.installEventFilter(self)
        row.addWidget(self.query, 1)
        self.retriever_group = QButtonGroup(self)
        self.retriever_group.setExclusive(True)
        self.retriever_buttons: dict[str, QToolButton] = {}
        for i, name in enumerate(RETRIEVERS):
            b = QToolButton()
            b.setText(retriever_label(name))
            b.setCheckable(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setMinimumHeight(self.query.minimumHeight())
            b.setMinimumWidth(64)
            b.setToolTip(RETRIEVER_HELP[name] + "\nF1: query syntax and more.")
            self.retriever_group.addButton(b, i)
            self.retriever_buttons[name] = b
            row.addWidget(b)
        self.retriever_buttons["bm25"].setChecked(True)
        bold = self.retriever_buttons["bm25"].font()
        bold.setBold(True)
        self.retriever_buttons["bm25"].setFont(bold)
        self.retriever_group.idToggled.connect(self._on_retriever_group_id_toggled)
        lay.addLayout(row)

        # filters row
        frow = QHBoxLayout()
        self.folder_combo = QComboBox()
        self.folder_combo.setMinimumContentsLength(18)
        self.folder_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.folder_combo.addItem("All folders", "")
        self.type_combo = QComboBox()
        self.type_combo.addItem("All types", "")
        self.type_combo.setMinimumContentsLength(10)
        self.date_combo = QComboBox()
        for label, val in DATE_PRESETS:
            self.date_combo.addItem(label, val)
        self.date_from = QDateEdit(QDate.currentDate().addMonths(-1))
        self.date_to = QDateEdit(QDate.currentDate())
        for d in (self.date_from, self.date_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.hide()
            d.dateChanged.connect(self._on_filter_changed)
        self.date_dash = QLabel("to")
        self.date_dash.hide()
        for label, w in (("Folder", self.folder_combo), ("Type", self.type_combo), ("Modified", self.date_combo)):
            lab = QLabel(label)
            lab.setBuddy(w)
            frow.addWidget(lab)
            frow.addWidget(w)
        frow.addWidget(self.date_from)
        frow.addWidget(self.date_dash)
        frow.addWidget(self.date_to)
        frow.addStretch(1)
        self.summary = QLabel()
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        frow.addWidget(self.summary)
        self.coverage_label = QLabel()  # "Dense: 2,816 of 14,851 passages embedded (19 %)" while incomplete
        self.coverage_label.setTextFormat(Qt.TextFormat.PlainText)
        self.coverage_label.setWordWrap(True)
        self.coverage_label.hide()
        self.folder_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.type_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.date_combo.currentIndexChanged.connect(self._on_date_combo_changed)
        lay.addLayout(frow)
        # how the query was read, when its operators filtered every file away (query_plan.py)
        self.notice_label = QLabel()
        self.notice_label.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the query: never markup
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        lay.addWidget(self.notice_label)
        lay.addWidget(self.coverage_label)

        # results and preview
        self.model = ResultsModel(self)
        self.proxy = make_sort_proxy(self, self.model)
        self.table = PlaceholderTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ResultsModel.RANK, Qt.SortOrder.AscendingOrder)
        select_single_rows(self.table)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        self.snippet_delegate = SnippetDelegate(self.table)
        self.table.setItemDelegateForColumn(ResultsModel.SNIPPET, self.snippet_delegate)
        self.title_delegate = TitleDelegate(self.table)  # the title, the file name beneath
        self.table.setItemDelegateForColumn(ResultsModel.NAME, self.title_delegate)
        fm = self.table.fontMetrics()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(fm.lineSpacing() * 2 + 10)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(ResultsModel.SNIPPET, QHeaderView.ResizeMode.Stretch)
        hh.resizeSection(ResultsModel.RANK, fm.horizontalAdvance("0000") + 8)
        hh.resizeSection(ResultsModel.MARK, max(fm.horizontalAdvance("Mark") + 16, fm.horizontalAdvance("\u2713") + 16))
        hh.setSectionResizeMode(ResultsModel.MARK, QHeaderView.ResizeMode.Fixed)
        hh.resizeSection(ResultsModel.NAME, fm.horizontalAdvance("m") * 20)
        hh.resizeSection(ResultsModel.FOLDER, fm.horizontalAdvance("m") * 14)
        hh.resizeSection(ResultsModel.SCORE, fm.horizontalAdvance("0.0000") + 16)
        hh.resizeSection(ResultsModel.MODIFIED, fm.horizontalAdvance("2000-00-00 00:00") + 16)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu_requested)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.clicked.connect(self._on_table_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_row_changed)
        self.table.installEventFilter(self)
        self.table.set_placeholder("Type to search.\n\nDrop folders or files onto this window (or use File › Add "
                                   "folder…) to add them to your library.")
        self.preview, self.splitter = make_preview_split(ctx, self.table, 3, 2, [480, 300])
        lay.addWidget(self.splitter, 1)

        self.timer = make_debounce_timer(self, DEBOUNCE_MS, self.search_now)
        ctx.library_updated.connect(self._on_ctx_library_updated)

        self.copy_action = QAction("Copy path", self.table)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self._on_copy_action_triggered)
        self.table.addAction(self.copy_action)
        self.mark_actions = MarkActions(self.table, self.current_hit, self.mark_hit)
        ctx.marks_changed.connect(self._on_ctx_marks_changed)

    # -- retriever -------------------------------------------------------------------------
    @property
    def retriever(self) -> str:
        return RETRIEVERS[max(0, self.retriever_group.checkedId())]

    def set_retriever(self, name: str) -> None:
        if name in self.retriever_buttons:
            self.retriever_buttons[name].setChecked(True)

    def _on_retriever_group_id_toggled(self, button_id: int, checked: bool) -> None:
        b = self.retriever_group.button(button_id)
        f = b.font()
        f.setBold(checked)  # the checked state alone is faint in some styles and palettes
        b.setFont(f)
        if checked:
            self.retriever_changed.emit(RETRIEVERS[button_id])
            if self.query.text().strip():
                self.search_now()
            else:
                self._update_placeholder()
                if self.ctx.needs_model([RETRIEVERS[button_id]]):
                    self.ctx.warm_model()  # load while the user types

    # -- filters -----------------------------------------------------------------------------
    def filters(self):
        from ..retrievers.base import Filters

        # (item data is never None: PySide6 6.12 mishandles None coming back from Qt)
        folder = self.folder_combo.currentData() or None
        ext = self.type_combo.currentData() or None
        after = before = None
        preset = self.date_combo.currentData()
        if preset == "custom":
            d0, d1 = self.date_from.date(), self.date_to.date()
            after = datetime(d0.year(), d0.month(), d0.day()).timestamp()
            before = (datetime(d1.year(), d1.month(), d1.day()) + timedelta(days=1)).timestamp() - 1e-3
        elif preset:
            after = time.time() - float(preset) * 86400
        return Filters(folder=folder, exts=(ext,) if ext else (), modified_after=after, modified_before=before)

    def _on_date_combo_changed(self) -> None:
        custom = self.date_combo.currentData() == "custom"
        for w in (self.date_from, self.date_dash, self.date_to):
            w.setVisible(custom)
        self._on_filter_changed()

    def _on_filter_changed(self, *_args) -> None:
        if self.query.text().strip():
            self.search_now()

    def _on_ctx_library_updated(self, snap) -> None:
        """Refill the folder and type filters, keeping the current choices."""
        self._refill(self.folder_combo, "All folders", [(f.path, f.path) for f in snap.folders])
        self._refill(self.type_combo, "All types", [(f"{e} ({n:,})", e) for e, n in snap.exts])
        self._update_placeholder()

    @staticmethod
    def _refill(combo: QComboBox, all_label: str, items: list[tuple[str, str]]) -> None:
        cur = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(all_label, "")
        for label, data in items:
            combo.addItem(label, data)
        i = combo.findData(cur) if cur else 0
        combo.setCurrentIndex(max(0, i))
        combo.blockSignals(False)
        if cur and i < 0:  # the chosen folder or type is gone: search without it
            combo.currentIndexChanged.emit(0)

    # -- searching ---------------------------------------------------------------------------
    def _on_query_text_changed(self, text: str) -> None:
        if not text.strip():
            self.timer.stop()
            self._seq += 1  # late results of older queries are ignored
            self.model.set_hits(())
            self.last_hits = ()
            self.summary.setText("")
            self.notice_label.hide()
            self.coverage_label.hide()
            self.preview.clear()
            self._update_placeholder()
            return
        self.timer.start()

    def _on_query_return_pressed(self) -> None:
        self.timer.stop()
        self.search_now()

    def refresh(self) -> None:
        """Run the current query again (the library changed)."""
        if self.query.text().strip():
            self.search_now(keep_selection=True)

    def search_now(self, keep_selection: bool = False) -> None:
        self.timer.stop()
        svc = self.ctx.service
        query = self.query.text().strip()
        if not query or svc is None:
            return
        self._seq += 1
        seq = self._seq
        self.ctx.pool.take(self._pending)  # a queued older search never needs to run
        retriever = self.retriever
        filters = self.filters()
        self.ctx.model_use_started([retriever])
        selected = self.current_hit().doc_id if keep_selection and self.current_hit() else None
        if not self.model.rowCount():
            self.table.set_placeholder("Loading the embedding model…" if self.ctx.model_state == "loading"
                                       and self.ctx.needs_model([retriever]) else "Searching…")

        def run():
            t = time.perf_counter()
            hits = svc.search(query, retriever, RESULTS_K, filters)
            ms = (time.perf_counter() - t) * 1000.0
            ranked = getattr(hits, "query", "") or query  # the words, when the operators filtered everything away
            return hits, ms, svc.marks_for(query), result_counts(svc, ranked, retriever, filters)

        self._pending = self.ctx.submit(
            run,
            on_result=lambda r: self._on_search_result(seq, query, retriever, r, selected),
            on_error=lambda e: self._on_search_error(seq, retriever, e),
        )

    def _on_search_result(self, seq: int, query: str, retriever: str, result, selected_doc) -> None:
        self.ctx.model_use_finished([retriever], True)
        if seq != self._seq:
            return  # a newer query superseded this one
        hits, ms, marks, counts = result
        self._last_query = query
        self._last_retriever = retriever
        self._marks_seq += 1  # a marks fetch for an older result must not overwrite these
        self.last_hits = tuple(hits)
        self.model.set_hits(hits, marks)
        notice = getattr(hits, "notice", "")
        self.notice_label.setText(notice)
        self.notice_label.setVisible(bool(notice))
        label = retriever_label(retriever)
        n = len(hits)
        found = count_text(retriever, n, counts)
        self.summary.setText(f"{found} · {ms:.0f} ms · {label}")
        cov = counts.get("coverage")
        line = cov.line() if cov is not None else ""
        self.coverage_label.setText(f"{line}: {label} ranks only those; the rest join as indexing embeds them."
                                    if line else "")
        self.coverage_label.setVisible(bool(line))
        self.ctx.post_status(f"{found} for “{query}” in {ms:.0f} ms ({label})" + (f" · {line}" if line else ""),
                             5000)
        self._update_placeholder(query)
        row = 0
        if selected_doc is not None:
            row = next((i for i, h in enumerate(hits) if h.doc_id == selected_doc), 0)
        if hits:
            src = self.model.index(row, 0)
            self.table.selectRow(self.proxy.mapFromSource(src).row())
        else:
            self.preview.clear("No results.")
        self.results_shown.emit(n)
        self.marks_shown.emit(self.model.marks)

    def _on_search_error(self, seq: int, retriever: str, exc: BaseException) -> None:
        self.ctx.model_use_finished([retriever], False)
        if seq == self._seq:
            self.summary.setText("Search failed")
            self.table.set_placeholder("The search failed; see the message above.")
        self.ctx.handle_error(exc)

    def _update_placeholder(self, query: str = "") -> None:
        snap = self.ctx.library
        if not snap.folders:
            text = ("Your library is empty.\n\nDrop folders or files onto this window, or use File › Add folder…, "
                    "to index them. Searching works while indexing runs.")
        elif not query:
            text = "Type to search.\n\nEnter searches at once; Ctrl+1, Ctrl+2, Ctrl+3 switch between BM25, Dense and Hybrid."
        elif self.retriever in ("dense", "hybrid") and snap.counts.get("chunks", 0) and snap.model_vectors == 0:
            text = (f"No results for “{query}”.\n\nNo passages are embedded for this model yet; Dense search works "
                    "once indexing has embedded them. BM25 (Ctrl+1) works already.")
        else:
            text = f"No results for “{query}”.\n\nTry other words, another retriever, or fewer filters."
        self.table.set_placeholder(text)

    # -- results -------------------------------------------------------------------------------
    def current_hit(self) -> Hit | None:
        idx = self.table.currentIndex()
        return idx.data(HIT_ROLE) if idx.isValid() else None

    def _on_table_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        hit = current.data(HIT_ROLE) if current.isValid() else None
        if hit is None:
            return
        self.show_preview(hit)

    def show_preview(self, hit: Hit) -> None:
        self._previews.load(self.preview, hit, self._last_query or self.query.text(), self.preview_shown.emit)

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        open_hit_at(self.ctx, index)

    def _on_table_context_menu_requested(self, pos) -> None:
        hit_context_menu_at(self, self.ctx, self.table, pos, marker=self)

    # -- marks ---------------------------------------------------------------------------------
    @property
    def shown_query(self) -> str:
        """The query the shown results (and their marks) belong to."""
        return self._last_query if self.model.rowCount() else ""

    def mark_of(self, doc_id: int) -> int | None:
        return self.model.mark_of(doc_id)

    def mark_hit(self, hit: Hit, grade: int | None) -> None:
        """Mark `hit` relevant (1), not relevant (0) or clear (None) for the shown query; saved in a worker."""
        query = self.shown_query
        if not query or self.model.mark_of(hit.doc_id) == grade:
            return
        self.model.set_mark(hit.doc_id, grade)
        self._marks_seq += 1
        self.ctx.mark(query, hit, grade, self._last_retriever, source=self)
        what = {1: "relevant", 0: "not relevant"}.get(grade)
        self.ctx.post_status(f"Marked {hit.name} {what} for “{query}”" if what else
                             f"Cleared the mark of {hit.name} for “{query}”", 4000)

    def _on_table_clicked(self, index: QModelIndex) -> None:
        if index.column() == ResultsModel.MARK:
            hit = index.data(HIT_ROLE)
            if hit is not None:
                self.mark_hit(hit, next_mark(self.model.mark_of(hit.doc_id)))

    def _on_ctx_marks_changed(self, query: str, source) -> None:
        shown = self.shown_query
        if source is self or not shown or (query and query_key(query) != query_key(shown)):
            return
        svc = self.ctx.service
        if svc is None:
            return
        self._marks_seq += 1
        seq = self._marks_seq

        def done(marks: dict) -> None:
            if seq == self._marks_seq and self.shown_query == shown:
                self.model.set_marks(marks)
                self.marks_shown.emit(self.model.marks)

        self.ctx.submit(svc.marks_for, shown, on_result=done)

    def _on_copy_action_triggered(self) -> None:
        hit = self.current_hit()
        if hit is not None:
            self.ctx.copy_path(hit.path)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if obj is self.table and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                hit = self.current_hit()
                if hit is not None:
                    self.ctx.open_path(hit.path)
                    return True
            if obj is self.query and key == Qt.Key.Key_Down and self.model.rowCount():
                self.table.setFocus()
                if not self.table.currentIndex().isValid():
                    self.table.selectRow(0)
                return True
        return super().eventFilter(obj, event)

    def focus_query(self) -> None:
        self.query.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query.selectAll()
