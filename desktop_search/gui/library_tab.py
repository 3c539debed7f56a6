"""The Library tab: indexed folders with counts and size, every file's status and reason, folder actions."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from ..search_info import Coverage
from .context import LibrarySnapshot
from .exclusions_dialog import ExclusionsDialog
from .models import ROW_ROLE, SORT_ROLE, FilesFilter, FilesModel, FoldersModel, format_size
from .plain import ask, plain_tip
from .results_common import plain_table

STATUSES = (("All files", ""), ("Indexed", "indexed"), ("Skipped", "skipped"), ("Failed", "failed"),
            ("Pending", "pending"))


class LibraryTab(QWidget):
    """Folders (files, passages, state) and a filterable list of every file with its status and reason."""

    add_folder_requested = Signal()
    rescan_requested = Signal()
    retry_failed_requested = Signal()
    remove_folder_requested = Signal(str)  # confirmed by the user

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        self.summary = QLabel("Loading the library…")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add folder…")
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Look for new, changed, moved and deleted files in every folder (F5)")
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.setToolTip("Read the files that failed again")
        self.remove_button = QPushButton("Remove folder")
        self.remove_button.setToolTip("Forget the selected folder: its files leave every index (the files stay on disk)")
        self.add_button.clicked.connect(self.add_folder_requested)
        self.rescan_button.clicked.connect(self.rescan_requested)
        self.retry_button.clicked.connect(self.retry_failed_requested)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.exclusions_button = QPushButton("Exclusions…")
        self.exclusions_button.setToolTip("Patterns of files to leave out of the index (gitignore syntax), for every "
                                          "folder or the selected one; .gitignore files")
        self.exclusions_button.clicked.connect(self._on_exclusions_button_clicked)
        for b in (self.add_button, self.rescan_button, self.retry_button, self.remove_button, self.exclusions_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.models_label = QLabel()
        self.models_label.setTextFormat(Qt.TextFormat.PlainText)  # model names and paths are never markup
        self.models_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        buttons.addWidget(self.models_label)
        lay.addLayout(buttons)

        self.folders_model = FoldersModel(self)
        self.folders_proxy = QSortFilterProxyModel(self)
        self.folders_proxy.setSourceModel(self.folders_model)
        self.folders_proxy.setSortRole(SORT_ROLE)
        self.folders_view = plain_table(self.folders_proxy)
        self.folders_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        hh = self.folders_view.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, FoldersModel.HEADERS.__len__()):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.folders_view.selectionModel().currentRowChanged.connect(self._on_folders_current_row_changed)

        files_box = QWidget()
        fl = QVBoxLayout(files_box)
        fl.setContentsMargins(0, 0, 0, 0)
        frow = QHBoxLayout()
        frow.addWidget(QLabel("Files"))
        self.status_combo = QComboBox()
        self.status_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for label, st in STATUSES:
            self.status_combo.addItem(label, st)
        self.status_combo.currentIndexChanged.connect(self._on_status_combo_changed)
        frow.addWidget(self.status_combo)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by path or reason")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        frow.addWidget(self.filter_edit, 1)
        self.files_count = QLabel()
        self.files_count.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        frow.addWidget(self.files_count)
        fl.addLayout(frow)
        self.files_model = FilesModel(self)
        self.files_proxy = FilesFilter(self)
        self.files_proxy.setSourceModel(self.files_model)
        self.files_view = plain_table(self.files_proxy)
        self.files_view.sortByColumn(FilesModel.NAME, Qt.SortOrder.AscendingOrder)
        fh = self.files_view.horizontalHeader()
        fh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fm = self.files_view.fontMetrics()
        em = fm.horizontalAdvance("m")
        for col, w in ((FilesModel.NAME, 18), (FilesModel.STATUS, 7), (FilesModel.REASON, 24), (FilesModel.TYPE, 4),
                       (FilesModel.SIZE, 6), (FilesModel.MODIFIED, 10)):
            fh.resizeSection(col, em * w)
        fh.setStretchLastSection(True)
        self.files_view.doubleClicked.connect(self._on_files_view_double_clicked)
        self.files_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.files_view.customContextMenuRequested.connect(self._on_files_view_context_menu_requested)
        fl.addWidget(self.files_view, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.folders_view)
        split.addWidget(files_box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.files_proxy.rowsInserted.connect(self._update_files_count)
        self.files_proxy.rowsRemoved.connect(self._update_files_count)
        self.files_proxy.modelReset.connect(self._update_files_count)
        self.files_proxy.layoutChanged.connect(self._update_files_count)
        ctx.library_updated.connect(self.set_snapshot)
        ctx.counts_updated.connect(self.set_counts)
        self._update_buttons()

    # -- data ------------------------------------------------------------------------------------
    def set_snapshot(self, snap: LibrarySnapshot) -> None:
        cur = self.selected_folder()
        self.folders_model.set_rows(snap.folders)
        self.files_model.set_rows(snap.files)
        self.set_counts(snap)
        for i, (label, st) in enumerate(STATUSES):
            n = len(snap.files) if not st else sum(1 for f in snap.files if f.status == st)
            self.status_combo.setItemText(i, f"{label} ({n:,})")
        if cur is not None:
            self.select_folder(cur)
        if self.selected_folder() is None and self.folders_proxy.rowCount():
            self.folders_view.selectRow(0)
        self._update_files_count()
        self._update_buttons()

    def set_counts(self, snap: LibrarySnapshot) -> None:
        """The summary line and the vectors per model: live while a job embeds (the main window re-reads
        the counts every few seconds then)."""
        c = snap.counts
        if not snap.folders:
            self.summary.setText("No folders yet. Drop folders or files onto the window, or use Add folder…, to "
                                 "index them.")
        else:
            sz = snap.size_bytes
            self.summary.setText(
                f"<b>{len(snap.folders)} folder{'s' if len(snap.folders) != 1 else ''}</b> · "
                f"{c.get('indexed', 0):,} files indexed · {c.get('skipped', 0):,} skipped · "
                f"{c.get('failed', 0):,} failed · {c.get('chunks', 0):,} passages · "
                f"<b>{format_size(snap.total_bytes)}</b> on disk (database {format_size(sz.get('database', 0))}, "
                f"vectors {format_size(sz.get('vectors', 0))})")
        passages = c.get("chunks", 0)
        models = []
        for m in snap.models:
            cov = Coverage(min(m["vectors"], passages), passages)
            models.append(f"{m['name']}: {m['vectors']:,} vectors" if cov.complete else
                          f"{m['name']}: {cov.embedded:,} of {passages:,} passages embedded ({cov.percent} %)")
        self.models_label.setText(" · ".join(models) if models else "No embeddings yet")
        self.models_label.setToolTip(plain_tip(f"Index stored in {snap.data_dir}") if snap.data_dir else "")

    def selected_folder(self) -> str | None:
        idx = self.folders_view.currentIndex()
        row = idx.data(ROW_ROLE) if idx.isValid() else None
        return row.path if row else None

    def select_folder(self, path: str) -> None:
        for r in range(self.folders_proxy.rowCount()):
            if self.folders_proxy.index(r, 0).data(ROW_ROLE).path == path:
                self.folders_view.selectRow(r)
                return

    def set_status_filter(self, status: str | None) -> None:
        i = next((i for i, (_, st) in enumerate(STATUSES) if st == (status or "")), 0)
        self.status_combo.setCurrentIndex(i)

    def visible_files(self):
        return [self.files_proxy.index(r, 0).data(ROW_ROLE) for r in range(self.files_proxy.rowCount())]

    def _update_files_count(self, *_args) -> None:
        n, total = self.files_proxy.rowCount(), self.files_model.rowCount()
        self.files_count.setText(f"{n:,} of {total:,} shown" if n != total else f"{total:,} files")

    def _update_buttons(self) -> None:
        has_folder = self.selected_folder() is not None
        self.remove_button.setEnabled(has_folder)
        self.rescan_button.setEnabled(self.folders_model.rowCount() > 0)
        self.retry_button.setEnabled(any(f.status == "failed" and f.doc_id is not None for f in self.files_model.rows))

    # -- actions --------------------------------------------------------------------------------
    def _on_folders_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._update_buttons()

    def _on_status_combo_changed(self, i: int) -> None:
        self.files_proxy.set_status(self.status_combo.itemData(i))
        self._update_files_count()

    def _on_filter_edit_text_changed(self, text: str) -> None:
        self.files_proxy.set_text(text)
        self._update_files_count()

    def _on_remove_button_clicked(self) -> None:
        path = self.selected_folder()
        if path is not None:
            self.remove_folder(path, confirm=True)

    def remove_folder(self, path: str, *, confirm: bool = True) -> None:
        if confirm:
            if not ask(self, "Remove folder", f"Remove {path} from the library?\n\nIts files leave the search "
                       "indexes; the files on disk are not touched."):
                return
        self.remove_folder_requested.emit(path)

    def _on_exclusions_button_clicked(self) -> None:
        self.edit_exclusions(modal=True)

    def edit_exclusions(self, *, modal: bool = True) -> ExclusionsDialog | None:
        """The Exclusions dialog for every folder and the selected one; a change rescans when it closes
        (excluded files leave the index). `modal=False` returns the open dialog (tests)."""
        svc = self.ctx.service
        if svc is None:
            return None
        dialog = ExclusionsDialog(svc, self.selected_folder(), self)
        dialog.finished.connect(lambda _result: self._on_exclusions_dialog_finished(dialog))
        if modal:
            dialog.exec()
            return None
        dialog.show()
        return dialog

    def _on_exclusions_dialog_finished(self, dialog: ExclusionsDialog) -> None:
        if dialog.changed:
            self.rescan_requested.emit()
        dialog.deleteLater()

    def _on_files_view_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is not None:
            self.ctx.open_path(row.path)

    def _on_files_view_context_menu_requested(self, pos) -> None:
        idx = self.files_view.indexAt(pos)
        row = idx.data(ROW_ROLE) if idx.isValid() else None
        if row is None:
            return
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.ctx.open_path(row.path))
        menu.addAction("Open containing folder", lambda: self.ctx.reveal_path(row.path))
        menu.addSeparator()
        menu.addAction("Copy path", lambda: self.ctx.copy_path(row.path))
        if row.reason:
            menu.addAction("Copy reason", lambda: self.ctx.copy_path(row.reason))
        menu.popup(self.files_view.viewport().mapToGlobal(pos))
