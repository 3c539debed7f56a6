"""The preview pane: a result's passage in its surrounding text, matched words highlighted."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer, Qt, Signal
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ..retrievers.types import Hit
from .highlight import apply_spans, match_tint, passage_tint
from .models import format_time, retriever_label
from .plain import make_plain, plain_tip


class PreviewPane(QWidget):
    """Title, path, Open / Show in folder buttons, and the text around the passage."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.hit: Hit | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        self.title = QLabel()
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # file names are never markup
        self.path = QLabel()
        self.path.setTextFormat(Qt.TextFormat.PlainText)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setForegroundRole(self.path.foregroundRole().PlaceholderText)
        self.path.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        titles.addWidget(self.title)
        titles.addWidget(self.path)
        head.addLayout(titles, 1)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the file (Enter)")
        self.reveal_button = QPushButton("Show in folder")
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.reveal_button.clicked.connect(self._on_reveal_button_clicked)
        head.addWidget(self.open_button)
        head.addWidget(self.reveal_button)
        lay.addLayout(head)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        lay.addWidget(self.text, 1)
        self.info = QLabel()
        make_plain(self.info)  # a section's label can come from the file (a sheet's name)
        self.info.setForegroundRole(self.info.foregroundRole().PlaceholderText)
        lay.addWidget(self.info)
        self.clear()

    def clear(self, message: str = "Select a result to preview it here.") -> None:
        self.hit = None
        self.title.setText("Preview")
        self.path.setText("")
        self.text.setPlainText("")
        self.text.setPlaceholderText(message)
        self.info.setText("")
        self.open_button.setEnabled(False)
        self.reveal_button.setEnabled(False)

    def show_loading(self, hit: Hit) -> None:
        self.hit = hit
        self.title.setText(hit.label)  # the document's title where it has one; the path below names the file
        self.path.setText(hit.path)
        self.path.setToolTip(plain_tip(hit.path))
        self.open_button.setEnabled(True)
        self.reveal_button.setEnabled(True)

    def show_preview(self, hit: Hit, pv: dict) -> None:
        """Render SearchService.preview(): {"text", "offset", "passage": (a, b), "spans"}."""
        self.show_loading(hit)
        text = pv.get("text", "")
        self.text.setPlainText(text)
        doc = self.text.document()
        pal = self.text.palette()
        doc.setUndoRedoEnabled(False)  # a viewer: no undo history for the highlights
        a, b = pv.get("passage", (0, 0))
        pfmt = QTextCharFormat()
        pfmt.setBackground(passage_tint(pal))
        mfmt = QTextCharFormat()
        mfmt.setBackground(match_tint(pal))
        mfmt.setFontWeight(QFont.Weight.Bold)
        # one edit block: the document is laid out once, not once per highlighted word
        block = QTextCursor(doc)
        block.beginEditBlock()
        apply_spans(doc, [(a, b)], pfmt)
        apply_spans(doc, pv.get("spans", ()), mfmt)
        block.endEditBlock()
        n = len(pv.get("spans", ()))
        where = retriever_label(hit.retriever) if hit.retriever else ""
        where_in_file = f"passage on {hit.section}" if hit.section else \
            f"passage at characters {hit.start:,}–{hit.end:,}"
        self.info.setText(f"{n} matched word{'s' if n != 1 else ''} shown · {where_in_file}"
                          f" · modified {format_time(hit.mtime)}"
                          + (f" · found by {where}, score {hit.score:.3f}" if where else ""))
        QTimer.singleShot(0, lambda: self._scroll_to(a, b))

    def _scroll_to(self, a: int, b: int) -> None:
        """Bring the passage into view: its end first, then its start (so the start wins)."""
        last = max(0, self.text.document().characterCount() - 1)
        cur = self.text.textCursor()
        for pos in (min(b, last), min(a, last)):
            cur.setPosition(pos)
            self.text.setTextCursor(cur)
            self.text.ensureCursorVisible()

    def _on_open_button_clicked(self) -> None:
        if self.hit is not None:
            self.open_requested.emit(self.hit.path)

    def _on_reveal_button_clicked(self) -> None:
        if self.hit is not None:
            self.reveal_requested.emit(self.hit.path)

    def show_error(self, message: str) -> None:
        self.text.setPlainText("")
        self.text.setPlaceholderText(message)


def reveal_in_file_manager(path: str) -> None:
    """Open the containing folder, selecting the file where the platform allows."""
    import sys

    from PySide6.QtCore import QProcess, QUrl
    from PySide6.QtGui import QDesktopServices

    if sys.platform == "win32":
        QProcess.startDetached("explorer.exe", ["/select,", os.path.normpath(path)])
    elif sys.platform == "darwin":
        QProcess.startDetached("open", ["-R", path])
    else:
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))
