"""Opening a file with the system's application, and saying so when that fails.

On Linux, QDesktopServices.openUrl runs xdg-open detached and reports success as soon as xdg-open
started: a file type without a handler fails silently (the error goes to the terminal). So the
opener runs the platform's command itself, off the GUI thread, and reads its exit status and
error output: a command still running after a few seconds has opened the file (some openers stay
until the application closes; it is left running in its own session). Windows reports a missing
association synchronously through QDesktopServices.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

OPEN_WAIT_S = 8.0  # an opener still running this long has handed the file to an application


def default_open_command() -> list[str] | None:
    """The command that opens a file here ("xdg-open", "open"); None: ask QDesktopServices."""
    if sys.platform == "win32":
        return None
    if sys.platform == "darwin":
        return ["open"]
    exe = shutil.which("xdg-open")
    return [exe] if exe else None


def run_opener(command: list[str], path: str, wait_s: float = OPEN_WAIT_S) -> str | None:
    """Run `command path`; the reason it failed (its error output or exit status), or None."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen([*command, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)
        except OSError as e:
            return f"{command[0]} could not be started: {e.strerror or e}"
        try:
            code = proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return None  # still running: the application has it
        if code == 0:
            return None
        err.seek(0)
        text = err.read().decode("utf-8", "replace").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else f"{os.path.basename(command[0])} exited with status {code}"


class FileOpener(QObject):
    """`open(path)`; `failed(path, reason)` when no application opened it."""

    failed = Signal(str, str)
    opened = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.command = default_open_command()

    def open(self, path: str) -> None:
        if self.command is None:
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
                self.failed.emit(path, "no application is set to open this type of file")
            else:
                self.opened.emit(path)
            return
        command = list(self.command)

        def run() -> None:
            reason = run_opener(command, path)
            if reason is None:
                self.opened.emit(path)  # queued to the GUI thread: the opener lives there
            else:
                self.failed.emit(path, reason)

        threading.Thread(target=run, name="open-file", daemon=True).start()


def open_failed_box(parent: QWidget, path: str, reason: str, *, reveal, copy) -> QMessageBox:
    """"Could not open report.xyz": the reason, and Show in folder / Copy path / Close."""
    name = os.path.basename(path) or path
    box = QMessageBox(QMessageBox.Icon.Warning, "Could not open the file", "", QMessageBox.StandardButton.Close,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # file names and the opener's words are never markup
    box.setText(f"Could not open {name}: {reason}\n\n{path}\n\nNo application here opens this type of file, or "
                "it failed. Show in folder opens its folder (choose an application there); Copy path copies it.")
    reveal_b = box.addButton("Show in folder", QMessageBox.ButtonRole.ActionRole)
    copy_b = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def done(_result: int) -> None:
        if box.clickedButton() is reveal_b:
            reveal(path)
        elif box.clickedButton() is copy_b:
            copy(path)

    box.finished.connect(done)
    box.open()
    return box
