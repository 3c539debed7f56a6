"""Errors in the window: KnownError becomes a clear banner, anything else a dialog with the traceback."""

from __future__ import annotations

import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (QApplication, QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSizePolicy,
                               QStyle, QToolButton, QWidget)

from ..errors import KnownError


def format_exception(exc: BaseException) -> str:
    tb = getattr(exc, "gui_traceback", None)
    if tb:
        return tb
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def known_message(exc: BaseException) -> str | None:
    """The user-facing message of an environment problem, or None for a bug."""
    if isinstance(exc, KnownError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Not enough memory for this operation."
    if isinstance(exc, OSError) and exc.errno is not None:
        name = getattr(exc, "filename", None)
        where = f" ({name})" if name else ""
        return f"{exc.strerror or exc}{where}"
    return None


class Banner(QFrame):
    """An inline message strip above the tabs: icon, text, optional action and Details buttons, close."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # messages name files and queries: never markup
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.details_button = QPushButton("Details…")
        self.details_button.clicked.connect(self._on_details_clicked)
        self.action_button = QPushButton()  # what to do about the message (Repair…), when there is something
        self.action_button.clicked.connect(self._on_action_button_clicked)
        self.action_button.hide()
        self._action = None
        close = QToolButton()
        close.setAutoRaise(True)
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(self.icon)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.action_button)
        lay.addWidget(self.details_button)
        lay.addWidget(close)
        self._details = ""
        self.hide()

    def show_message(self, text: str, details: str = "", *, level: str = "warning",
                     action: tuple[str, object] | None = None) -> None:
        """Show `text`; `action` = (button label, callable) offers the next step as a button."""
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self._show(text, details, level)

    def _on_action_button_clicked(self) -> None:
        if self._action is not None:
            self._action()

    def _show(self, text: str, details: str, level: str) -> None:
        pm = {"warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
              "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
              "info": QStyle.StandardPixmap.SP_MessageBoxInformation}[level]
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.icon.setPixmap(self.style().standardIcon(pm).pixmap(size, size))
        self.text.setText(text)
        self._details = details
        self.details_button.setVisible(bool(details))
        pal = self.palette()
        base = QApplication.palette().color(pal.ColorRole.Window)
        tint = QApplication.palette().color(pal.ColorRole.Highlight)
        from .highlight import mix

        pal.setColor(pal.ColorRole.Window, mix(base, tint, 0.18))
        self.setPalette(pal)
        self.show()

    @property
    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""

    def _on_details_clicked(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Details", self.text.text(), QMessageBox.StandardButton.Close,
                          self.window())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDetailedText(self._details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


class ErrorReporter(QObject):
    """Routes exceptions from any thread to the GUI thread: banners for known ones, a dialog for bugs."""

    reported = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.reported.connect(self._on_self_reported)
        self.on_known = None  # callable(str) set by the main window
        self._open_dialogs = 0
        self.bugs: list[str] = []

    def report(self, exc: BaseException) -> None:
        """Callable from any thread."""
        if not hasattr(exc, "gui_traceback"):
            try:
                exc.gui_traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                pass
        self.reported.emit(exc)

    @Slot(object)
    def _on_self_reported(self, exc: BaseException) -> None:
        msg = known_message(exc)
        if msg is not None and self.on_known is not None:
            self.on_known(msg)
            return
        self.show_bug(exc)

    def show_bug(self, exc: BaseException) -> None:
        text = format_exception(exc)
        self.bugs.append(text)
        if self._open_dialogs >= 3:  # do not bury the window under dialogs
            return
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                          f"Something went wrong inside desktop-search:\n\n{type(exc).__name__}: {exc}\n\n"
                          "The window keeps working; please report this with the details below.",
                          QMessageBox.StandardButton.Close, parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDetailedText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open_dialogs += 1
        box.finished.connect(self._on_dialog_finished)
        box.open()

    @Slot()
    def _on_dialog_finished(self) -> None:
        self._open_dialogs = max(0, self._open_dialogs - 1)


def install_excepthook(reporter: ErrorReporter) -> None:
    """Uncaught exceptions (GUI thread and other threads) go to the reporter, not to a dead console."""

    def hook(etype, value, tb):
        if issubclass(etype, KeyboardInterrupt):
            QApplication.quit()
            return
        if value is None:
            value = etype()
        value.gui_traceback = "".join(traceback.format_exception(etype, value, tb))
        reporter.report(value)

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
