"""Repairing a damaged index from the window: `desktop-search repair --json-progress` in a child.

The banner that says the store is damaged offers Repair; the child keeps the damaged database
aside, indexes the folders again and puts back what it could salvage (jobs/repair.py), printing
progress events. When it is done the window's service opens the new database (`reopen`).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from PySide6.QtCore import QObject, QProcess, Signal

from ..jobs.events import Event, EventType
from ..jobs.launcher import cli_command
from .childproc import JsonLinesProcess, error_line


class RepairRunner(JsonLinesProcess):
    """One repair child; `repair_finished(ok, message)` when it exits."""

    repair_finished = Signal(bool, str)

    def __init__(self, data_dir: str | os.PathLike, model_name: str | None = None, parent: QObject | None = None,
                 *, command: Callable[[Sequence[str]], list[str]] | None = None):
        super().__init__(parent)
        self.data_dir = str(data_dir)
        self.model_name = model_name
        self.command = command  # argv of the CLI with these arguments (default: jobs.launcher.cli_command)
        self._done = ""
        self._error = ""

    def start(self) -> bool:
        if self.running:
            return False
        self._done = self._error = ""
        args = ["--data-dir", self.data_dir] + (["--model", self.model_name] if self.model_name else [])
        self.spawn()
        self.launch((self.command or cli_command)([*args, "repair", "--json-progress"]))
        return True

    def handle_event(self, ev: Event) -> None:
        if ev.type is EventType.PROGRESS:
            self.emit_progress(ev.progress())
        elif ev.type is EventType.DONE:
            self._done = str(ev.get("message") or "Repaired.")
        elif ev.type in (EventType.ERROR, EventType.CANCELLED):
            self._error = str(ev.get("message") or "")

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        ok = code == 0 and status == QProcess.ExitStatus.NormalExit and not self._error
        msg = self._done if ok else (self._error or error_line(self.stderr_text(), "Repair")
                                     or f"Repair failed (exit code {code})")
        self.release_process()
        self.repair_finished.emit(ok, msg)

    def on_failed_to_start(self, error: str) -> None:
        self.release_process()
        self.repair_finished.emit(False, f"Repair could not start: {error}")
