"""The Exclusions dialog of the Library tab: gitignore patterns for every folder and for the selected one,
and whether `.gitignore` files inside indexed folders count (service.exclusions does the work)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QPushButton, QVBoxLayout, QWidget)

from ..errors import KnownError
from .plain import plain_tip

HELP = ("Files matching a pattern stay out of the index; indexed ones leave it on the next scan.\n"
        "Gitignore syntax: genindex-*.html (anywhere), /search.html (the folder's top only), _sources/ (a folder), "
        "!\u2060keep.html (take a file back).")  # (a word joiner keeps the ! with its name)


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # folder names and patterns are never markup
    label.setWordWrap(True)
    return label


class PatternList(QGroupBox):
    """One list of patterns (every folder, or one folder) with a box to add and a button to remove."""

    def __init__(self, title: str, folder: str | None, dialog: "ExclusionsDialog"):
        super().__init__(title)
        self.folder = folder
        self.dialog = dialog
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.itemSelectionChanged.connect(self._on_list_selection_changed)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("a pattern, e.g. genindex-*.html")
        self.edit.setClearButtonEnabled(True)
        self.edit.returnPressed.connect(self._on_add_clicked)
        self.edit.textChanged.connect(self._on_list_selection_changed)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        row.addWidget(self.edit, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        lay.addLayout(row)

    def set_patterns(self, patterns: list[str]) -> None:
        self.list.clear()
        self.list.addItems(patterns)
        self._on_list_selection_changed()

    def patterns(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _on_list_selection_changed(self, *_args) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))
        self.add_button.setEnabled(bool(self.edit.text().strip()))

    def _on_add_clicked(self) -> None:
        if self.edit.text().strip() and self.dialog.add(self.edit.text(), self.folder):
            self.edit.clear()

    def _on_remove_clicked(self) -> None:
        for item in self.list.selectedItems():
            self.dialog.remove(item.text(), self.folder)


class ExclusionsDialog(QDialog):
    """Edits the library's exclusion patterns at once (saved on every change); `changed` tells the caller
    to rescan when it closes, so excluded files leave the index."""

    def __init__(self, service, folder: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Exclusions")
        self.rules = service.exclusions
        self.changed = False
        lay = QVBoxLayout(self)
        lay.addWidget(_plain_label(HELP))
        self.global_list = PatternList("Every folder", None, self)
        lay.addWidget(self.global_list, 1)
        self.folder_list: PatternList | None = None
        if folder is not None:
            self.folder_list = PatternList(f"Only in {folder}", folder, self)
            self.folder_list.setToolTip(plain_tip(folder))
            lay.addWidget(self.folder_list, 1)
        self.gitignore = QCheckBox("Honour .gitignore files inside indexed folders")
        self.gitignore.setToolTip("Files a .gitignore file excludes (in its folder and below) are not indexed")
        self.gitignore.toggled.connect(self._on_gitignore_toggled)
        lay.addWidget(self.gitignore)
        self.message = _plain_label()
        self.message.setForegroundRole(self.message.foregroundRole().PlaceholderText)
        lay.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)
        self.resize(560, 480)
        self.reload()

    def reload(self) -> None:
        listing = self.rules.listing()
        self.global_list.set_patterns(listing["global"])
        if self.folder_list is not None:
            self.folder_list.set_patterns(self._folder_patterns(listing))
        self.gitignore.blockSignals(True)
        self.gitignore.setChecked(listing["use_gitignore"])
        self.gitignore.blockSignals(False)

    def _folder_patterns(self, listing: dict) -> list[str]:
        try:
            return listing["folders"].get(self.rules.folder_key(self.folder_list.folder), [])
        except KnownError:
            return []

    def add(self, pattern: str, folder: str | None) -> bool:
        """Add a pattern; a bad one is a message in the dialog. True if the box may be cleared."""
        try:
            added = self.rules.add(pattern, folder)
        except KnownError as e:
            self.message.setText(str(e))
            return False
        self._changed(f"Excluding {pattern.strip()}: matching files leave the index when the dialog closes."
                      if added else f"{pattern.strip()} is already excluded there.")
        return True

    def remove(self, pattern: str, folder: str | None) -> None:
        try:
            self.rules.remove(pattern, folder)
        except KnownError as e:
            self.message.setText(str(e))
            return
        self._changed(f"No longer excluding {pattern}: its files come back when the dialog closes.")

    def _on_gitignore_toggled(self, on: bool) -> None:
        self.rules.set_use_gitignore(on)
        self._changed(".gitignore files count from the next scan." if on else
                      ".gitignore files no longer count from the next scan.")

    def _changed(self, message: str) -> None:
        self.changed = True
        self.message.setText(message)
        self.reload()
