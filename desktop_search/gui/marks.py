"""Marking results relevant or not relevant for the shown query: shortcuts, menu entries and the worker call.

A mark is saved with SearchService.mark (or removed with unmark) in a worker; the tab that made it shows it at
once, and AppContext.marks_changed tells the other tabs and the Judgments view.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from ..retrievers.types import Hit
from ..store.judgments import query_key
from .models import mark_grade

__all__ = ["MarkActions", "add_mark_entries", "query_key", "write_mark"]

# The keys on a focused result (a table or list with keyboard focus; the query box keeps its own keys)
RELEVANT_KEYS = (Qt.Key.Key_Plus, Qt.Key.Key_Equal)
NOT_RELEVANT_KEYS = (Qt.Key.Key_Minus,)
CLEAR_KEYS = (Qt.Key.Key_0,)
ENTRIES = (("Mark relevant", 1, RELEVANT_KEYS), ("Mark not relevant", 0, NOT_RELEVANT_KEYS),
           ("Clear mark", None, CLEAR_KEYS))


def write_mark(svc, query: str, doc_id: int, grade: int | None, retriever: str, chunk_id: int | None) -> int | None:
    """Worker-thread function: store (or, for grade None, remove) the mark of one file for one query."""
    if grade is None:
        svc.unmark(query, doc_id)
        return None
    svc.mark(query, doc_id, grade, retriever=retriever, chunk_id=chunk_id)
    return grade


class MarkActions(QObject):
    """The three mark actions with their keys, active while `view` has the focus; they mark `current()`."""

    def __init__(self, view: QWidget, current: Callable[[], Hit | None], mark: Callable[[Hit, int | None], None]):
        super().__init__(view)
        self._current = current
        self._mark = mark
        self.actions: dict[int | None, QAction] = {}
        for text, grade, keys in ENTRIES:
            a = QAction(text, view)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            a.triggered.connect(lambda _=False, g=grade: self.trigger(g))
            view.addAction(a)
            self.actions[grade] = a

    def trigger(self, grade: int | None) -> None:
        hit = self._current()
        if hit is not None:
            self._mark(hit, grade)


def add_mark_entries(menu: QMenu, hit: Hit, current: int | None, mark: Callable[[Hit, int | None], None]) -> None:
    """"Mark relevant", "Mark not relevant", "Clear mark" for `hit` (the current mark checked)."""
    current = mark_grade(current)
    for text, grade, keys in ENTRIES:
        a = menu.addAction(text)
        a.setShortcut(QKeySequence(keys[0]))  # shown; the view's own actions handle the keys
        if grade is not None:
            a.setCheckable(True)
            a.setChecked(current == grade)
        else:
            a.setEnabled(current is not None)
        a.triggered.connect(lambda _=False, g=grade: mark(hit, g))
