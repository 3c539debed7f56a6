"""Widgets and helpers the Search and Compare tabs share: the query box, the preview split, the debounce timer,
the context menu of a result."""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPoint, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QMenu, QSplitter, QTableView, QWidget

from ..retrievers.types import Hit
from .models import HIT_ROLE, SORT_ROLE
from .preview import PreviewPane


def make_query_edit(placeholder: str) -> QLineEdit:
    """A large query box with a clear button."""
    query = QLineEdit()
    query.setPlaceholderText(placeholder)
    query.setClearButtonEnabled(True)
    f = query.font()
    f.setPointSizeF(f.pointSizeF() * 1.2)
    query.setFont(f)
    query.setMinimumHeight(query.sizeHint().height() + 6)
    return query


def make_preview_split(ctx, top: QWidget, top_stretch: int, preview_stretch: int,
                       sizes: Sequence[int]) -> tuple[PreviewPane, QSplitter]:
    """A preview pane below `top` in a vertical splitter; the preview's open/reveal requests go to `ctx`."""
    preview = PreviewPane()
    preview.open_requested.connect(ctx.open_path)
    preview.reveal_requested.connect(ctx.reveal_path)
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(top)
    split.addWidget(preview)
    split.setStretchFactor(0, top_stretch)
    split.setStretchFactor(1, preview_stretch)
    split.setSizes(list(sizes))
    split.setChildrenCollapsible(False)
    return preview, split


def make_sort_proxy(parent: QObject, source: QAbstractItemModel) -> QSortFilterProxyModel:
    """A proxy over `source` that sorts by the models' SORT_ROLE."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(source)
    proxy.setSortRole(SORT_ROLE)
    return proxy


def select_single_rows(view: QAbstractItemView) -> None:
    """A read-only view where one whole row at a time is selected."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)


def plain_table(model) -> QTableView:
    """A sortable, read-only table of whole rows: the Library and Judgments tabs' lists."""
    v = QTableView()
    v.setModel(model)
    v.setSortingEnabled(True)
    select_single_rows(v)
    v.setAlternatingRowColors(True)
    v.setShowGrid(False)
    v.setWordWrap(False)
    v.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    v.verticalHeader().hide()
    v.verticalHeader().setDefaultSectionSize(v.fontMetrics().lineSpacing() + 8)
    return v


def make_debounce_timer(parent, interval_ms: int, slot: Callable[[], None]) -> QTimer:
    """A single-shot timer that calls `slot` `interval_ms` after its last start."""
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer


class PreviewLoader:
    """Loads previews in the worker pool, newest request wins: a late result of an older one is dropped."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.seq = 0

    def load(self, pane: PreviewPane, hit: Hit, query: str, on_shown: Callable[[Hit], None] | None = None) -> None:
        svc = self.ctx.service
        if svc is None:
            return
        self.seq += 1
        seq = self.seq
        pane.show_loading(hit)

        def done(pv: dict) -> None:
            if seq == self.seq:
                pane.show_preview(hit, pv)
                if on_shown is not None:
                    on_shown(hit)

        self.ctx.submit(svc.preview, hit.doc_id, hit.chunk_id, query, on_result=done)


def hits_context_menu(parent: QWidget, ctx, hit: Hit, pos, marker=None) -> None:
    """Open, reveal, copy; with `marker` (an object with mark_of(doc_id) and mark_hit(hit, grade)) also the marks."""
    menu = QMenu(parent)
    a_open = menu.addAction("Open")
    a_open.setShortcut(QKeySequence(Qt.Key.Key_Return))
    a_reveal = menu.addAction("Open containing folder")
    menu.addSeparator()
    a_copy = menu.addAction("Copy path")
    a_copy.setShortcut(QKeySequence.StandardKey.Copy)
    if marker is not None:
        from .marks import add_mark_entries

        menu.addSeparator()
        add_mark_entries(menu, hit, marker.mark_of(hit.doc_id), marker.mark_hit)
    a_open.triggered.connect(lambda: ctx.open_path(hit.path))
    a_reveal.triggered.connect(lambda: ctx.reveal_path(hit.path))
    a_copy.triggered.connect(lambda: ctx.copy_path(hit.path))
    menu.popup(pos)


def hit_context_menu_at(parent: QWidget, ctx, view: QAbstractItemView, pos: QPoint, marker=None) -> None:
    """The context menu of the result under `pos` in `view` (viewport coordinates), if there is one."""
    idx = view.indexAt(pos)
    hit = idx.data(HIT_ROLE) if idx.isValid() else None
    if hit is not None:
        hits_context_menu(parent, ctx, hit, view.viewport().mapToGlobal(pos), marker)


def open_hit_at(ctx, index: QModelIndex) -> None:
    """Open the file of the result at `index` (a double click)."""
    hit = index.data(HIT_ROLE)
    if hit is not None:
        ctx.open_path(hit.path)
