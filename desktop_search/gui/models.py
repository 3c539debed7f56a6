"""Item models over immutable rows: search hits, compare columns, agreement pairs, folders and files."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, NamedTuple, Sequence

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont, QIcon

from ..retrievers.types import Hit
from .plain import plain_tip
from .help import METRIC_HELP

HIT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
TWINS_ROLE = Qt.ItemDataRole.UserRole + 3  # {column name: rank} of the same file in the other columns
ONLY_ROLE = Qt.ItemDataRole.UserRole + 4  # True when no other column found this file
ROW_ROLE = Qt.ItemDataRole.UserRole + 5  # the immutable row object behind a table row
MARK_ROLE = Qt.ItemDataRole.UserRole + 6  # the user's mark of the file for the shown query: 1, 0 or None

MARK_GLYPHS = {1: "\u2713", 0: "\u2717"}  # ✓ relevant, ✗ not relevant
MARK_NAMES = {1: "relevant", 0: "not relevant"}
MARK_KEYS = "+ relevant, \u2212 not relevant, 0 clear"


def mark_grade(grade: int | None) -> int | None:
    """A stored grade as the lists show it: 1 (any grade above 0), 0, or None (not marked)."""
    return None if grade is None else (1 if grade > 0 else 0)


def next_mark(grade: int | None) -> int | None:
    """What a click on the mark does: not marked -> relevant -> not relevant -> not marked."""
    return {None: 1, 1: 0, 0: None}[mark_grade(grade)]


def mark_tooltip(grade: int | None) -> str:
    g = mark_grade(grade)
    now = f"Marked {MARK_NAMES[g]} for this query" if g is not None else "Not marked"
    return f"{now}. Click to change; keys on a selected result: {MARK_KEYS} (or use the context menu)."

RETRIEVER_LABELS = {"bm25": "BM25", "dense": "Dense", "hybrid": "Hybrid"}

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

Index = QModelIndex | QPersistentModelIndex


def retriever_label(name: str) -> str:
    base, _, version = name.partition(":")
    label = RETRIEVER_LABELS.get(base, base)
    return f"{label} ({version})" if version else label


def format_time(ts: float) -> str:
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def format_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


_icon_cache: dict[str, QIcon] = {}


def file_icon(path: str) -> QIcon:
    """A themed icon for the file's type (cached per extension)."""
    ext = os.path.splitext(path)[1].lower()
    icon = _icon_cache.get(ext)
    if icon is None:
        from PySide6.QtCore import QMimeDatabase

        mime = QMimeDatabase().mimeTypeForFile(path, QMimeDatabase.MatchMode.MatchExtension)
        icon = QIcon.fromTheme(mime.iconName())
        if icon.isNull():
            icon = QIcon.fromTheme(mime.genericIconName())
        if icon.isNull():
            from PySide6.QtWidgets import QApplication, QStyle

            icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        _icon_cache[ext] = icon
    return icon


class TableModel(QAbstractTableModel):
    """Rows of immutable objects; subclasses describe columns."""

    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: tuple = ()
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: Sequence) -> None:
        rows = tuple(rows)
        if self._sort is not None:
            rows = self._sorted(rows, *self._sort)
        if rows == self._rows:
            return  # an unchanged refresh keeps selection and scroll position
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def sort_key(self, row, column: int):
        """The value `row` sorts by in `column`; models whose views sort the source override this."""
        return None

    def _sorted(self, rows: tuple, column: int, order: Qt.SortOrder) -> tuple:
        sort_key = self.sort_key
        return tuple(sorted(rows, key=lambda r: sort_key(r, column), reverse=order == Qt.SortOrder.DescendingOrder))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in Python over the immutable rows (fast for 100k files, unlike a proxy calling data())."""
        if type(self).sort_key is TableModel.sort_key or not 0 <= column < len(self.HEADERS):
            return  # this model is sorted by a proxy
        self._sort = (column, order)
        rows = self._sorted(self._rows, column, order)
        if rows != self._rows:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()

    @property
    def rows(self) -> tuple:
        return self._rows

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def row_at(self, row: int):
        return self._rows[row] if 0 <= row < len(self._rows) else None


class ResultsModel(TableModel):
    """Search results: one immutable Hit per row, and the user's marks for the query ({doc_id: grade})."""

    HEADERS = ("#", "Mark", "Name", "Snippet", "Folder", "Score", "Modified")
    RANK, MARK, NAME, SNIPPET, FOLDER, SCORE, MODIFIED = range(7)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._marks: dict[int, int] = {}

    def set_hits(self, hits: Sequence[Hit], marks: dict[int, int] | None = None) -> None:
        if marks is not None:
            self._marks = dict(marks)
        self.set_rows(hits)
        if marks is not None and self._rows:
            self._marks_changed()

    def set_marks(self, marks: dict[int, int]) -> None:
        self._marks = dict(marks)
        self._marks_changed()

    def set_mark(self, doc_id: int, grade: int | None) -> None:
        if grade is None:
            self._marks.pop(doc_id, None)
        else:
            self._marks[doc_id] = grade
        self._marks_changed()

    @property
    def marks(self) -> dict[int, int]:
        return dict(self._marks)

    def mark_of(self, doc_id: int) -> int | None:
        return mark_grade(self._marks.get(doc_id))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == self.MARK:
            return (f"Your mark for this query: \u2713 relevant, \u2717 not relevant. Click a mark to change it; keys "
                    f"on a selected result: {MARK_KEYS}.")
        return super().headerData(section, orientation, role)

    def _marks_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, self.MARK), self.index(len(self._rows) - 1, self.MARK))

    @property
    def hits(self) -> tuple[Hit, ...]:
        return self._rows

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        h: Hit = self._rows[index.row()]
        c = index.column()
        mark = mark_grade(self._marks.get(h.doc_id))
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(h.rank), MARK_GLYPHS.get(mark, ""), h.label, h.snippet, h.folder, f"{h.score:.3f}",
                    format_time(h.mtime))[c]
        if role == SORT_ROLE:
            return (h.rank, -1 if mark is None else mark, h.label.lower(), h.snippet, h.folder.lower(), h.score,
                    h.mtime)[c]
        if role in (HIT_ROLE, ROW_ROLE):
            return h
        if role == MARK_ROLE:
            return mark
        if role == Qt.ItemDataRole.ToolTipRole:
            if c == self.MARK:
                return mark_tooltip(mark)
            return plain_tip(h.path if c != self.SNIPPET else h.marked_snippet("«", "»"))
        if role == Qt.ItemDataRole.DecorationRole and c == self.NAME:
            return file_icon(h.path)
        if role == Qt.ItemDataRole.ForegroundRole and c == self.MARK and mark is not None:
            return mark_color(mark)
        if role == Qt.ItemDataRole.FontRole and c == self.MARK and mark is not None:
            return _bold_font()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if c == self.MARK:
                return int(Qt.AlignmentFlag.AlignCenter)
            return _RIGHT if c in (self.RANK, self.SCORE) else _LEFT
        return None


def mark_color(grade: int) -> QColor:
    """Green for relevant, red for not relevant: dark enough on a light base, light enough on a dark one."""
    from PySide6.QtGui import QGuiApplication, QPalette

    dark = QGuiApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    if grade > 0:
        return QColor("#5fd068") if dark else QColor("#1f8a2e")
    return QColor("#ff7b72") if dark else QColor("#c62828")


def _bold_font() -> QFont:
    from PySide6.QtGui import QGuiApplication

    f = QFont(QGuiApplication.font())
    f.setBold(True)
    return f


class CompareColumnModel(QAbstractListModel):
    """One retriever's ranking in the compare view, knowing where each file sits in the other columns."""

    def __init__(self, name: str, parent=None) -> None:
        super().__init__(parent)
        self.name = name
        self._hits: tuple[Hit, ...] = ()
        self._twins: tuple[dict[str, int], ...] = ()
        self._marks: dict[int, int] = {}

    def set_marks(self, marks: dict[int, int]) -> None:
        """The user's marks for the compared query ({doc_id: grade}), shared by every column."""
        self._marks = dict(marks)
        if self._hits:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._hits) - 1, 0), [MARK_ROLE])

    def mark_of(self, doc_id: int) -> int | None:
        return mark_grade(self._marks.get(doc_id))

    def set_hits(self, hits: Sequence[Hit], others: dict[str, Sequence[Hit]]) -> None:
        self.beginResetModel()
        self._hits = tuple(hits)
        ranks = {n: {h.doc_id: h.rank for h in hs} for n, hs in others.items() if n != self.name}
        self._twins = tuple({n: r[h.doc_id] for n, r in ranks.items() if h.doc_id in r} for h in self._hits)
        self.endResetModel()

    @property
    def hits(self) -> tuple[Hit, ...]:
        return self._hits

    def only_here(self) -> list[Hit]:
        return [h for h, t in zip(self._hits, self._twins) if not t]

    def row_of(self, doc_id: int) -> int:
        return next((i for i, h in enumerate(self._hits) if h.doc_id == doc_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._hits)) or index.column() != 0:
            return None
        h = self._hits[index.row()]
        twins = self._twins[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{h.rank}. {h.label}"
        if role in (HIT_ROLE, ROW_ROLE):
            return h
        if role == TWINS_ROLE:
            return dict(twins)
        if role == ONLY_ROLE:
            return not twins
        if role == MARK_ROLE:
            return mark_grade(self._marks.get(h.doc_id))
        if role == Qt.ItemDataRole.ToolTipRole:
            where = ", ".join(f"#{r} in {retriever_label(n)}" for n, r in twins.items())
            return plain_tip(f"{h.path}\n" + (f"Also {where}" if where else f"Only {retriever_label(self.name)} found this")
                             + "\n" + mark_tooltip(self._marks.get(h.doc_id)))
        if role == Qt.ItemDataRole.DecorationRole:
            return file_icon(h.path)
        return None


class PairRow(NamedTuple):
    first: str
    second: str
    overlap: float
    jaccard: float
    tau: float | None
    only_first: int
    only_second: int
    shared_ranks: tuple[tuple[int, int], ...]  # (rank in first, rank in second) of shared files


class PairsModel(TableModel):
    """Agreement figures of each pair of compared retrievers."""

    HEADERS = ("Pair", "Overlap@k", "Jaccard", "Kendall τ", "Only 1st", "Only 2nd")

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {1: METRIC_HELP["overlap"], 2: METRIC_HELP["jaccard"], 3: METRIC_HELP["tau"],
                    4: "Files only the first retriever of the pair found in its top k",
                    5: "Files only the second retriever of the pair found in its top k"}.get(section)
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        p: PairRow = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            tau = "n/a" if p.tau is None else f"{p.tau:+.2f}"
            return (f"{retriever_label(p.first)} / {retriever_label(p.second)}", f"{p.overlap:.2f}",
                    f"{p.jaccard:.2f}", tau, str(p.only_first), str(p.only_second))[c]
        if role == SORT_ROLE:
            return (p.first + p.second, p.overlap, p.jaccard, -2.0 if p.tau is None else p.tau, p.only_first,
                    p.only_second)[c]
        if role == ROW_ROLE:
            return p
        if role == Qt.ItemDataRole.ToolTipRole:
            return ("Which pair of retrievers", METRIC_HELP["overlap"], METRIC_HELP["jaccard"], METRIC_HELP["tau"],
                    f"Files only {retriever_label(p.first)} found", f"Files only {retriever_label(p.second)} found")[c]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT if c == 0 else _RIGHT
        return None


class FolderRow(NamedTuple):
    id: int
    path: str
    files: int
    indexed: int
    skipped: int
    failed: int
    chunks: int
    exists: bool
    index_bytes: int = 0  # its share of the library's size on disk (estimated by passages)


class FoldersModel(TableModel):
    HEADERS = ("Folder", "Files", "Indexed", "Skipped", "Failed", "Passages", "Index size", "State")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        f: FolderRow = self._rows[index.row()]
        c = index.column()
        state = "found" if f.exists else "not found"
        if role == Qt.ItemDataRole.DisplayRole:
            return (f.path, f"{f.files:,}", f"{f.indexed:,}", f"{f.skipped:,}", f"{f.failed:,}", f"{f.chunks:,}",
                    f"≈ {format_size(f.index_bytes)}", state)[c]
        if role == SORT_ROLE:
            return (f.path.lower(), f.files, f.indexed, f.skipped, f.failed, f.chunks, f.index_bytes, state)[c]
        if role == ROW_ROLE:
            return f
        if role == Qt.ItemDataRole.ToolTipRole and c == 0:
            return plain_tip(f.path if f.exists else f"{f.path}\nNot found (unplugged or removed?); its entries are kept.")
        if role == Qt.ItemDataRole.ToolTipRole and c == 6:
            return "This folder's share of the index on disk, estimated from its number of passages"
        if role == Qt.ItemDataRole.DecorationRole and c == 0:
            from PySide6.QtWidgets import QApplication, QStyle

            pm = QStyle.StandardPixmap.SP_DirIcon if f.exists else QStyle.StandardPixmap.SP_MessageBoxWarning
            return QApplication.style().standardIcon(pm)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT if c in (0, 7) else _RIGHT
        return None


class FileRow(NamedTuple):
    path: str
    name: str
    ext: str
    size: int
    mtime: float
    status: str  # indexed / skipped / failed / pending
    reason: str
    doc_id: int | None


class FilesModel(TableModel):
    """Every file of the library (possibly 100k rows): sorted by the model itself, filtered by FilesFilter."""

    HEADERS = ("Name", "Status", "Reason", "Type", "Size", "Modified", "Folder")
    NAME, STATUS, REASON, TYPE, SIZE, MODIFIED, FOLDER = range(7)

    def sort_key(self, f: "FileRow", column: int):
        if column == self.NAME:
            return f.name.lower()
        if column == self.FOLDER:
            return f.path.lower()
        return (f.name.lower(), f.status, f.reason, f.ext, f.size, f.mtime, f.path.lower())[column]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        f: FileRow = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (f.name, f.status, f.reason, f.ext, format_size(f.size) if f.doc_id is not None else "",
                    format_time(f.mtime), os.path.dirname(f.path))[c]
        if role == SORT_ROLE:
            return (f.name.lower(), f.status, f.reason, f.ext, f.size, f.mtime, f.path.lower())[c]
        if role == ROW_ROLE:
            return f
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(f"{f.path}\n{f.reason}" if f.reason else f.path)
        if role == Qt.ItemDataRole.DecorationRole and c == self.NAME:
            return file_icon(f.path)
        if role == Qt.ItemDataRole.DecorationRole and c == self.STATUS and f.status in ("failed", "skipped"):
            from PySide6.QtWidgets import QApplication, QStyle

            pm = (QStyle.StandardPixmap.SP_MessageBoxWarning if f.status == "failed"
                  else QStyle.StandardPixmap.SP_MessageBoxInformation)
            return QApplication.style().standardIcon(pm)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if c == self.SIZE else _LEFT
        return None


class FilesFilter(QSortFilterProxyModel):
    """Files by status (indexed / skipped / failed / everything) and a name filter."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._status: str | None = None
        self._text = ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        # the source sorts (fast); this proxy only filters, keeping the source's order
        self.sourceModel().sort(column, order)

    def set_status(self, status: str | None) -> None:
        self._change("_status", status or None)

    def set_text(self, text: str) -> None:
        self._change("_text", text.strip().lower())

    def _change(self, attr: str, value) -> None:
        begin = getattr(self, "beginFilterChange", None)  # Qt >= 6.9
        if begin is not None:
            begin()
        setattr(self, attr, value)
        if begin is not None:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._status and not self._text:
            return True
        f = self.sourceModel().row_at(source_row)
        if f is None:
            return False
        if self._status and f.status != self._status:
            return False
        if self._text and self._text not in f.path.lower() and self._text not in (f.reason or "").lower():
            return False
        return True
