"""The strip that says another desktop-search process is writing to this library, for as long as it does.

It follows the store's lock (`indexing.StoreLockWatch`): it appears when another process takes the
lock and goes away when the lock is free. Details names the process (pid, command), what it does and
how far it is (from the store), and offers to wait (the window's own requests run when it is done)
or to stop it (SIGTERM: `desktop-search index` stops between steps and resumes next time).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSizePolicy, QStyle, QWidget

from ..activity import LockHolder, describe_progress


class StoreBusyBanner(QFrame):
    """"Another desktop-search process (pid 4242) is indexing this library. …" with Details… and Stop it…"""

    stop_requested = Signal(object)  # LockHolder
    details_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("store_busy")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # names commands and folders: never markup
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Which process, what it is doing and how far it is")
        self.details_button.clicked.connect(self.details_requested)
        self.stop_button = QPushButton("Stop it…")
        self.stop_button.setToolTip("Ask the other process to stop; it resumes where it stopped when run again")
        self.stop_button.clicked.connect(self._on_stop_clicked)
        lay.addWidget(icon)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.details_button)
        lay.addWidget(self.stop_button)
        self.holder: LockHolder | None = None
        self.waiting = ""  # what of ours waits for it ("Adding notes"), or ""
        self.progress: dict = {}
        self._box: QMessageBox | None = None
        self.hide()

    @property
    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""

    @property
    def details_box(self) -> QMessageBox | None:
        """The open Details box, if any."""
        return self._box

    def set_holder(self, holder: LockHolder | None) -> None:
        """Show (a live holder) or hide (None) the strip."""
        self.holder = holder
        if holder is None:
            self.waiting = ""
            self.progress = {}
            if self._box is not None:
                self._box.done(0)
            self.hide()
            return
        self._update_text()
        self.show()

    def set_waiting(self, what: str) -> None:
        self.waiting = what
        self._update_text()

    def set_progress(self, progress: dict) -> None:
        self.progress = dict(progress)
        self._update_text()
        if self._box is not None and self.holder is not None:
            self._box.setText(self.details_text())

    def _update_text(self) -> None:
        h = self.holder
        if h is None:
            return
        text = f"{h.describe()}{_how_far(self.progress)}."
        text += (f" {self.waiting} waits and starts as soon as it finishes." if self.waiting
                 else " Folders you add now wait until it finishes.")
        self.text.setText(text)

    def details_text(self) -> str:
        if self.holder is None:
            return "No other process is using this library now."
        lines = describe_progress(self.holder, self.progress)
        lines.append("")
        lines.append(f"{self.waiting} waits and starts as soon as it finishes." if self.waiting
                     else "Anything you add now waits until it finishes.")
        return "\n".join(lines)

    def show_details(self) -> QMessageBox:
        """The details box: Wait (close it) or Stop that process."""
        box = QMessageBox(QMessageBox.Icon.Information, "Another process is using this library", "",
                          QMessageBox.StandardButton.NoButton, self.window())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(self.details_text())
        wait = box.addButton("Wait", QMessageBox.ButtonRole.RejectRole)
        stop = box.addButton("Stop that process", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(wait)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._box = box

        def done(_result: int) -> None:
            self._box = None
            if box.clickedButton() is stop and self.holder is not None:
                self.stop_requested.emit(self.holder)

        box.finished.connect(done)
        box.open()
        return box

    def _on_stop_clicked(self) -> None:
        h = self.holder
        if h is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Stop the other process?",
                          f"Stop process {h.pid} ({h.what})?\n\n{h.command}\n\nIt stops between two steps; running "
                          "the same command again resumes where it stopped.",
                          QMessageBox.StandardButton.Cancel, self.window())
        box.setTextFormat(Qt.TextFormat.PlainText)
        stop = box.addButton("Stop it", QMessageBox.ButtonRole.DestructiveRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: self.stop_requested.emit(h) if box.clickedButton() is stop else None)
        box.open()


def _how_far(progress: dict) -> str:
    """" (1,234 files so far; 2,816 of 14,851 passages embedded, 19 %)" from the store, or ""."""
    files, passages, embedded = progress.get("files", 0), progress.get("passages", 0), progress.get("embedded", 0)
    if not files:
        return ""
    if passages and embedded < passages:
        return (f" ({files:,} files so far; {embedded:,} of {passages:,} passages embedded, "
                f"{100 * embedded // passages} %)")
    return f" ({files:,} files so far)"
