"""The Compare tab: one query through two or three retrievers, columns aligned by rank, agreement figures."""

from __future__ import annotations

import html
import time
from typing import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel, QListView,
                               QMenu, QPushButton, QSpinBox, QSplitter, QTableView, QToolButton, QToolTip, QVBoxLayout,
                               QWidget)

from ..retrievers.types import RETRIEVERS, Hit
from ..search_info import dense_coverage
from .charts import AgreementChart, RankPlot
from .delegates import CompareDelegate
from .help import METRIC_HELP, RETRIEVER_HELP
from .highlight import series_colors
from .marks import MarkActions, query_key
from .models import HIT_ROLE, MARK_KEYS, ROW_ROLE, CompareColumnModel, PairRow, PairsModel, next_mark, retriever_label
from .results_common import (PreviewLoader, hit_context_menu_at, make_debounce_timer, make_preview_split,
                             make_query_edit, make_sort_proxy, open_hit_at, select_single_rows)
from .search_tab import DEBOUNCE_MS


VERSION_HUE_OFFSETS = (80, 300, 200, 30, 120, 270, 340, 55)  # from the first retriever's hue (which is at 0, 160, 240)


def version_column(version_id: str, kind: str = "dense") -> str:
    """The compare column of a model version's dense or hybrid retriever: "dense:base", "dense:v3"
    (labelled "Dense (v3)"), "hybrid:v3" ("Hybrid (v3)")."""
    head = version_id.split("-", 1)[0]
    return f"{kind}:{head if head[:1] == 'v' and head[1:].isdigit() else version_id}"


def load_version_ids(svc) -> list[str]:
    """Worker-thread function: the trained model versions, newest first."""
    return [v.id for v in reversed(svc.versions.list())]


def pair_rows(result: dict) -> list[PairRow]:
    """PairRows from SearchService.compare()'s "pairs" and "columns"."""
    cols: dict[str, list[Hit]] = result["columns"]
    out = []
    for key, a in result["pairs"].items():
        first, second = key.split("|", 1)
        rb = {h.doc_id: h.rank for h in cols.get(second, [])}
        shared = tuple((h.rank, rb[h.doc_id]) for h in cols.get(first, []) if h.doc_id in rb)
        out.append(PairRow(first, second, float(a["overlap_at_k"]), float(a["jaccard"]), a["kendall_tau"],
                           len(a["only_first"]), len(a["only_second"]), shared))
    return out


class CompareColumn(QFrame):
    """One retriever's ranking: a header, the list, and what only this retriever found."""

    def __init__(self, tab: "CompareTab", name: str):
        super().__init__()
        self.tab = tab
        self.name = name
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.header = QLabel()
        f = self.header.font()
        f.setBold(True)
        self.header.setFont(f)
        lay.addWidget(self.header)
        self.model = CompareColumnModel(name, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(CompareDelegate(tab, self.view))
        self.view.setMouseTracking(True)
        self.view.setUniformItemSizes(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.entered.connect(self._on_view_entered)
        self.view.viewport().installEventFilter(self)
        self.view.clicked.connect(self._on_view_clicked)
        self.view.activated.connect(self._on_view_clicked)
        self.view.doubleClicked.connect(self._on_view_double_clicked)
        self.view.customContextMenuRequested.connect(self._on_view_context_menu_requested)
        self.view.selectionModel().currentChanged.connect(self._on_view_current_changed)
        self.view.setToolTip(f"Mark a result for this query: click the box after its rank, or keys {MARK_KEYS}")
        self.mark_actions = MarkActions(self.view, self.current_hit, self.mark_hit)
        self.model.set_marks(tab.marks)
        lay.addWidget(self.view, 1)
        self.footer = QLabel()
        self.footer.setWordWrap(True)
        self.footer.setTextFormat(Qt.TextFormat.PlainText)
        self.footer.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.footer.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.footer.setMinimumHeight(self.footer.fontMetrics().lineSpacing() * 2 + 2)  # lists end level
        lay.addWidget(self.footer)
        self.set_hits([], {})

    def set_hits(self, hits: list[Hit], columns: dict[str, list[Hit]]) -> None:
        self.model.set_hits(hits, columns)
        label = retriever_label(self.name)
        col = self.tab.column_color(self.name)
        self.header.setText(f"<span style='color:{col.name()}'>&#9632;</span> {html.escape(label)} · {len(hits)} "
                            f"result{'s' if len(hits) != 1 else ''}")
        only = self.model.only_here()
        if not hits:
            self.footer.setText("No results." if columns else "")
        elif len(columns) < 2:
            self.footer.setText("")
        elif not only:
            self.footer.setText(f"Only {label} found: none; every file here is in another column too.")
        else:
            names = ", ".join(h.name for h in only[:4]) + ("…" if len(only) > 4 else "")
            self.footer.setText(f"Only {label} found {len(only)}: {names}")

    def _on_view_entered(self, index: QModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        self.tab.set_hover(hit.doc_id if hit else None)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self.tab.set_hover(None)
        elif event.type() == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            idx = self.view.indexAt(pos)
            hit = idx.data(HIT_ROLE) if idx.isValid() else None
            if hit is not None and CompareDelegate.mark_rect(self.view.visualRect(idx), self.view.fontMetrics()).contains(pos):
                self.mark_hit(hit, next_mark(self.model.mark_of(hit.doc_id)))
        return super().eventFilter(obj, event)

    # -- marks: one per file for the query, shown in every column ------------------------------------------
    def current_hit(self) -> Hit | None:
        idx = self.view.currentIndex()
        return idx.data(HIT_ROLE) if idx.isValid() else None

    def mark_of(self, doc_id: int) -> int | None:
        return self.model.mark_of(doc_id)

    def mark_hit(self, hit: Hit, grade: int | None) -> None:
        self.tab.mark_hit(self.name, hit, grade)

    def _on_view_clicked(self, index: QModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        if hit is not None:
            self.tab.show_preview(hit)

    def _on_view_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid():
            self._on_view_clicked(current)

    def _on_view_double_clicked(self, index: QModelIndex) -> None:
        open_hit_at(self.tab.ctx, index)

    def _on_view_context_menu_requested(self, pos) -> None:
        hit_context_menu_at(self, self.tab.ctx, self.view, pos, marker=self)


def notice_text(notices: dict[str, str]) -> str:
    """The columns' notices (query_plan.py): once when every column says the same, else one line a column."""
    if len(set(notices.values())) == 1:
        return next(iter(notices.values()))
    return "\n".join(f"{retriever_label(name)}: {text}" for name, text in notices.items())


class CompareTab(QWidget):
    """Columns of results per retriever; shared files are marked, and hovering one lights up its twins."""

    compared = Signal(object)  # dict: SearchService.compare()'s result

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._seq = 0
        self._pending = None
        self._previews = PreviewLoader(ctx)
        self.hover_doc_id: int | None = None
        self.result: dict | None = None
        self.columns: dict[str, CompareColumn] = {}
        self.version_actions: dict[str, QAction] = {}  # "dense:base", "dense:v3" -> checkable menu entry
        self._version_ids: dict[str, str] = {}  # column name -> model version id
        self._pending_names: list[str] | None = None  # restored choices naming versions not loaded yet
        self.marks: dict[int, int] = {}  # {doc_id: grade} of the compared query, shown in every column
        self._retriever_names: dict[str, str] = {}  # column -> the retriever that filled it ("dense:<version id>")
        self._marks_seq = 0
        self.user_query = False  # True once the user typed a query here: then it no longer follows Search's

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.query = make_query_edit("Compare retrievers on a query")
        self.query.textChanged.connect(self._on_query_text_changed)
        self.query.textEdited.connect(self._on_query_text_edited)
        self.query.returnPressed.connect(self.compare_now)
        row.addWidget(self.query, 1)
        self.buttons: dict[str, QToolButton] = {}
        for name in RETRIEVERS:
            b = QToolButton()
            b.setText(retriever_label(name))
            b.setCheckable(True)
            b.setChecked(True)
            b.setMinimumHeight(self.query.minimumHeight())
            b.setMinimumWidth(64)
            b.setToolTip(f"{RETRIEVER_HELP[name]}\nInclude {retriever_label(name)} here (pick two or three).")
            b.toggled.connect(self._on_retriever_button_toggled)
            self.buttons[name] = b
            row.addWidget(b)
        self.versions_menu = QMenu(self)
        self.versions_button = QToolButton()
        self.versions_button.setText("Model versions")
        self.versions_button.setMenu(self.versions_menu)
        self.versions_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.versions_button.setMinimumHeight(self.query.minimumHeight())
        self.versions_button.setToolTip("Add Dense columns for trained model versions and the base model")
        self.versions_button.hide()  # until training has made a version
        row.addWidget(self.versions_button)
        row.addWidget(QLabel("Top"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(3, 100)
        self.k_spin.setValue(10)
        self.k_spin.setToolTip("How many results per retriever (the k in overlap@k)")
        self.k_spin.valueChanged.connect(self._on_query_text_changed)
        row.addWidget(self.k_spin)
        self.run_button = QPushButton("Compare")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.compare_now)
        row.addWidget(self.run_button)
        self.metrics_help = QToolButton()  # what the agreement figures mean, one line each
        self.metrics_help.setText("?")
        self.metrics_help.setMinimumHeight(self.query.minimumHeight())
        self.metrics_help.setToolTip("\n".join(METRIC_HELP.values()))
        self.metrics_help.clicked.connect(self._on_metrics_help_clicked)
        row.addWidget(self.metrics_help)
        lay.addLayout(row)

        self.columns_box = QWidget()
        self.columns_layout = QHBoxLayout(self.columns_box)
        self.columns_layout.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("Type a query to see the same search through BM25, Dense and Hybrid side by side. Files "
                           "found by more than one retriever carry chips with their rank elsewhere (\u201cD 3\u201d: "
                           "#3 in Dense); hover one to light up its twins.")
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.coverage_label = QLabel()  # "Dense: 2,816 of 14,851 passages embedded (19 %)" while incomplete
        self.coverage_label.setTextFormat(Qt.TextFormat.PlainText)
        self.coverage_label.setWordWrap(True)
        self.coverage_label.hide()
        self.notice_label = QLabel()  # how the query was read, when its operators filtered every file away
        self.notice_label.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the query: never markup
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.pairs_model = PairsModel(self)
        self.pairs_proxy = make_sort_proxy(self, self.pairs_model)
        self.pairs_view = QTableView()
        self.pairs_view.setModel(self.pairs_proxy)
        self.pairs_view.verticalHeader().hide()
        select_single_rows(self.pairs_view)
        ph = self.pairs_view.horizontalHeader()
        ph.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        ph.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.pairs_view.verticalHeader().setDefaultSectionSize(self.pairs_view.fontMetrics().lineSpacing() + 6)
        self.pairs_view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.pairs_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for col in (4, 5):  # "only 1st / 2nd": each column's footer names those files
            self.pairs_view.setColumnHidden(col, True)
        self.pairs_view.setFixedHeight(ph.sizeHint().height() + 3 * (self.pairs_view.fontMetrics().lineSpacing() + 6) + 4)
        self.pairs_view.selectionModel().currentRowChanged.connect(self._on_pairs_current_row_changed)
        rl.addWidget(self.pairs_view)
        self.chart = AgreementChart()
        self.rank_plot = RankPlot()
        rl.addWidget(self.chart, 1)
        rl.addWidget(self.rank_plot, 1)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.hint)
        tl.addWidget(self.coverage_label)
        tl.addWidget(self.notice_label)
        tl.addWidget(self.columns_box, 1)
        self.h_split = QSplitter(Qt.Orientation.Horizontal)
        self.h_split.addWidget(top)
        self.h_split.addWidget(right)
        self.h_split.setStretchFactor(0, 5)
        self.h_split.setStretchFactor(1, 2)
        self.h_split.setSizes([840, 340])  # the columns get the room: their snippets wrap over three lines
        self.h_split.setChildrenCollapsible(False)
        self.preview, self.v_split = make_preview_split(ctx, self.h_split, 3, 1, [560, 160])
        lay.addWidget(self.v_split, 1)

        self.timer = make_debounce_timer(self, DEBOUNCE_MS * 2, self.compare_now)
        self._set_columns(self.selected_retrievers())
        ctx.service_attached.connect(self._on_ctx_service_attached)
        ctx.marks_changed.connect(self._on_ctx_marks_changed)

    # -- choices --------------------------------------------------------------------------------
    def selected_retrievers(self) -> list[str]:
        return ([n for n, b in self.buttons.items() if b.isChecked()] +
                [n for n, a in self.version_actions.items() if a.isChecked()])

    def set_retrievers(self, names) -> None:
        names = list(names)
        known = [n for n in names if n in self.buttons or n in self.version_actions]
        if any(":" in n and n not in self.version_actions for n in names):
            self._pending_names = names  # model versions load after the window opens
        if len(known) < 2:
            return
        for n, b in list(self.buttons.items()) + list(self.version_actions.items()):
            b.blockSignals(True)
            b.setChecked(n in names)
            b.blockSignals(False)
        self._update_versions_button()
        self._on_retriever_button_toggled(True)

    # -- model versions as extra dense columns ---------------------------------------------------------------
    def set_versions(self, version_ids: Sequence[str]) -> None:
        """Offer a Dense and a Hybrid column per trained version and for the base model (none while
        there is no version): hybrid is what most people search with, so an adapted model is
        shown in both."""
        wanted = {}
        if version_ids:  # newest first, then the base model; the dense ones first
            ids = [*(v for v in version_ids if v != "base"), "base"]
            wanted = {version_column(vid, kind): vid for kind in ("dense", "hybrid") for vid in ids}
        if wanted == self._version_ids:
            return
        was_checked = {n for n, a in self.version_actions.items() if a.isChecked()}
        self.versions_menu.clear()
        for a in self.version_actions.values():
            a.deleteLater()
        self.version_actions = {}
        self._version_ids = wanted
        for name, vid in wanted.items():
            a = QAction(retriever_label(name), self)
            a.setCheckable(True)
            a.setChecked(name in was_checked)
            a.setData(name)
            how = "BM25 fused with the dense ranking of " if name.startswith("hybrid:") else ""
            a.setToolTip(how + ("the original model" if vid == "base" else f"model version {vid}"))
            a.toggled.connect(self._on_retriever_button_toggled)
            self.version_actions[name] = a
            self.versions_menu.addAction(a)
        self.versions_button.setVisible(bool(wanted))
        self._update_versions_button()
        pending = self._pending_names
        if pending and all(n in self.buttons or n in self.version_actions for n in pending):
            self._pending_names = None
            self.set_retrievers(pending)
        elif was_checked - set(wanted):  # a checked version was deleted
            chosen = self.selected_retrievers()
            if len(chosen) < 2:
                self.set_retrievers(list(RETRIEVERS))
            else:
                self._on_retriever_button_toggled(True)

    def compare_versions(self, version_id: str) -> None:
        """Columns for one model version and the base model side by side, dense and hybrid
        (compares the current query)."""
        name = version_column(version_id)
        if name not in self.version_actions:
            others = dict.fromkeys(v for v in self._version_ids.values() if v not in ("base", version_id))
            self.set_versions([version_id, *others])
        self.set_retrievers([name, "dense:base", version_column(version_id, "hybrid"), "hybrid:base"])

    def reload_versions(self) -> None:
        svc = self.ctx.service
        if svc is not None:
            self.ctx.submit(load_version_ids, svc, on_result=self.set_versions)

    def _on_ctx_service_attached(self, svc) -> None:
        self.reload_versions()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.reload_versions()

    def _update_versions_button(self) -> None:
        n = sum(a.isChecked() for a in self.version_actions.values())
        self.versions_button.setText(f"Model versions ({n})" if n else "Model versions")

    def _on_retriever_button_toggled(self, checked: bool) -> None:
        self._update_versions_button()
        chosen = self.selected_retrievers()
        if len(chosen) < 2:  # keep at least two: re-check the one just unchecked
            b = self.sender()
            if isinstance(b, (QToolButton, QAction)):
                b.blockSignals(True)
                b.setChecked(True)
                b.blockSignals(False)
            self.ctx.post_status("Compare needs at least two retrievers.", 3000)
            return
        self._set_columns(chosen)
        if self.query.text().strip():
            self.compare_now()

    def column_color(self, name: str) -> QColor:
        cols = series_colors(self.palette(), 3)
        if name in RETRIEVERS:
            return cols[RETRIEVERS.index(name)]
        # model-version columns: hues between the retrievers' ones, the base model first (stable as versions come)
        extras = ["dense:base"] + [n for n in self._version_ids if n != "dense:base"]
        extras += [n for n in self.columns if n not in RETRIEVERS and n not in extras]
        if name not in extras:
            return cols[0]
        first = cols[0].toHsl()
        offset = VERSION_HUE_OFFSETS[extras.index(name) % len(VERSION_HUE_OFFSETS)]
        return QColor.fromHsl((max(first.hslHue(), 0) + offset) % 360, first.hslSaturation(), first.lightness())

    def _set_columns(self, names: list[str]) -> None:
        if list(self.columns) == names:
            return
        for c in self.columns.values():
            self.columns_layout.removeWidget(c)
            c.deleteLater()
        self.columns = {}
        for n in names:
            c = CompareColumn(self, n)
            self.columns[n] = c
            self.columns_layout.addWidget(c, 1)

    # -- the query: the Search tab's, until the user types one here ----------------------------------
    def follow_query(self, search_query: str) -> None:
        """Take the Search tab's query (and compare it) unless the user typed a query of their own here."""
        q = search_query.strip()
        if self.user_query or not q or q == self.query.text().strip():
            return
        self.query.setText(q)
        self.compare_now()

    def _on_query_text_edited(self, text: str) -> None:
        self.user_query = bool(text.strip())  # emptied by the user: follow the Search tab again

    def _on_metrics_help_clicked(self) -> None:
        QToolTip.showText(self.metrics_help.mapToGlobal(self.metrics_help.rect().bottomLeft()),
                          self.metrics_help.toolTip(), self.metrics_help)

    # -- running ------------------------------------------------------------------------------
    def _on_query_text_changed(self, *_args) -> None:
        if self.query.text().strip():
            self.timer.start()
        else:
            self.timer.stop()

    def compare_now(self) -> None:
        self.timer.stop()
        svc = self.ctx.service
        query = self.query.text().strip()
        if not query or svc is None:
            return
        names = self.selected_retrievers()
        k = self.k_spin.value()
        self._seq += 1
        seq = self._seq
        self.ctx.pool.take(self._pending)
        self.ctx.model_use_started(names)
        plain = [n for n in names if n in RETRIEVERS]
        versions = {n: self._version_ids[n] for n in names if n in self._version_ids}

        def run():
            t = time.perf_counter()
            res = svc.compare(query, plain, k, columns={n: f"dense:{vid}" for n, vid in versions.items()} or None)
            res["ms"] = (time.perf_counter() - t) * 1000.0
            res["marks"] = svc.marks_for(query)
            res["retrievers"] = {**{n: n for n in plain}, **{n: f"dense:{vid}" for n, vid in versions.items()}}
            covs = (dense_coverage(svc, r) for r in res["retrievers"].values())
            res["coverage"] = next((c for c in covs if c is not None and not c.complete), None)
            return res

        self._pending = self.ctx.submit(run, on_result=lambda r: self._on_compare_result(seq, names, r),
                                        on_error=lambda e: self._on_compare_error(names, e))

    def _on_compare_error(self, names, exc) -> None:
        self.ctx.model_use_finished(names, False)
        self.ctx.handle_error(exc)

    def _on_compare_result(self, seq: int, names: list[str], res: dict) -> None:
        self.ctx.model_use_finished(names, True)
        if seq != self._seq:
            return
        self.result = res
        cols = res["columns"]
        self._set_columns(list(cols))
        self._retriever_names = dict(res.get("retrievers") or {})
        self._marks_seq += 1
        self.set_marks(res.get("marks") or {})
        for n, c in self.columns.items():
            c.set_hits(list(cols.get(n, [])), cols)
        self.hint.hide()
        cov = res.get("coverage")
        self.coverage_label.setText(f"{cov.line()}: Dense and Hybrid columns rank only those; the rest join as "
                                    "indexing embeds them." if cov is not None else "")
        self.coverage_label.setVisible(cov is not None)
        self.notice_label.setText(notice_text(res.get("notices") or {}))
        self.notice_label.setVisible(bool(self.notice_label.text()))
        pairs = pair_rows(res)
        self.pairs_model.set_rows(pairs)
        self.chart.set_pairs(pairs, res["k"])
        if pairs:
            self.pairs_view.selectRow(0)
        self.rank_plot.set_pair(pairs[0] if pairs else None, res["k"])
        first = next((hs[0] for hs in cols.values() if hs), None)
        if first is not None and (self.preview.hit is None or self.preview.hit.doc_id not in
                                  {h.doc_id for hs in cols.values() for h in hs}):
            self.show_preview(first)  # something useful below until the user picks a result
        elif first is None:
            self.preview.clear("No results.")
        self.ctx.post_status(f"Compared {len(cols)} retrievers for “{res['query']}” in {res.get('ms', 0):.0f} ms", 5000)
        self.compared.emit(res)

    def _on_pairs_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        pr = current.data(ROW_ROLE) if current.isValid() else None
        if pr is not None:
            self.rank_plot.set_pair(pr, self.result["k"] if self.result else self.k_spin.value())

    # -- hover twins and preview -------------------------------------------------------------
    def set_hover(self, doc_id: int | None) -> None:
        if doc_id == self.hover_doc_id:
            return
        self.hover_doc_id = doc_id
        for c in self.columns.values():
            c.view.viewport().update()

    def twins_of(self, doc_id: int) -> dict[str, int]:
        """Rows of a file in each column (for tests and keyboard users)."""
        return {n: c.model.row_of(doc_id) for n, c in self.columns.items() if c.model.row_of(doc_id) >= 0}

    def show_preview(self, hit: Hit) -> None:
        self._previews.load(self.preview, hit, self.result["query"] if self.result else self.query.text())

    # -- marks ----------------------------------------------------------------------------------
    @property
    def shown_query(self) -> str:
        return self.result["query"] if self.result else ""

    def set_marks(self, marks: dict[int, int]) -> None:
        self.marks = dict(marks)
        for c in self.columns.values():
            c.model.set_marks(self.marks)

    def mark_of(self, doc_id: int) -> int | None:
        return next((c.model.mark_of(doc_id) for c in self.columns.values()), None)

    def mark_hit(self, column: str, hit: Hit, grade: int | None) -> None:
        """Mark a file for the compared query from `column` (its retriever is recorded); every column shows it."""
        query = self.shown_query
        if not query or self.mark_of(hit.doc_id) == grade:
            return
        marks = dict(self.marks)
        if grade is None:
            marks.pop(hit.doc_id, None)
        else:
            marks[hit.doc_id] = grade
        self._marks_seq += 1
        self.set_marks(marks)
        self.ctx.mark(query, hit, grade, self._retriever_names.get(column, column), source=self)

    def _on_ctx_marks_changed(self, query: str, source) -> None:
        shown = self.shown_query
        svc = self.ctx.service
        if source is self or not shown or svc is None or (query and query_key(query) != query_key(shown)):
            return
        self._marks_seq += 1
        seq = self._marks_seq

        def done(marks: dict) -> None:
            if seq == self._marks_seq and self.shown_query == shown:
                self.set_marks(marks)

        self.ctx.submit(svc.marks_for, shown, on_result=done)

    def refresh(self) -> None:
        if self.result is not None and self.query.text().strip():
            self.compare_now()

    def focus_query(self) -> None:
        self.query.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query.selectAll()
