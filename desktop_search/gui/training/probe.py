"""Which device training would use and the default settings for it, asked of a short-lived child.

torch never loads into the window: `desktop-search train --print-defaults` imports it in the child.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from ...jobs.launcher import cli_command, frozen
from ..childproc import error_line, qprocess_environment

PROBE_KILL_AFTER_MS = 120_000


@lru_cache(maxsize=1)
def training_installed() -> bool:
    """Whether this installation can train at all: the trainer package and torch are there (found, not
    imported). The frozen app bundles both."""
    if frozen():
        return True
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "training"))
    except (ImportError, ValueError):
        return False


class HardwareProbe(QObject):
    """Asks a short-lived child which device training would use and the default settings for it."""

    detected = Signal(dict)  # {"device", "name", "cpus", "n_passages", "config": TrainConfig fields}
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: QProcess | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer_timeout)

    @staticmethod
    def available() -> bool:
        """False where training cannot run here (no torch or trainer installed): nothing to probe."""
        return training_installed()

    @property
    def running(self) -> bool:
        return self._proc is not None

    @staticmethod
    def command(data_dir: str | os.PathLike, model: str | None = None) -> list[str]:
        args = ["--data-dir", os.fspath(data_dir)] + (["--model", model] if model else [])
        return cli_command(args + ["train", "--print-defaults"])

    def run(self, data_dir: str | os.PathLike, model: str | None = None) -> bool:
        if self._proc is not None or not self.available():
            return False
        proc = QProcess(self)
        proc.setProcessEnvironment(qprocess_environment())
        proc.finished.connect(self._on_proc_finished)
        proc.errorOccurred.connect(self._on_proc_error_occurred)
        self._proc = proc
        self._timer.start(PROBE_KILL_AFTER_MS)
        argv = self.command(data_dir, model)
        proc.start(argv[0], argv[1:])
        return True

    def shutdown(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.kill()
            proc.waitForFinished(3000)

    @Slot(int, QProcess.ExitStatus)
    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        proc = self._proc
        if proc is None:
            return
        out = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip()
        self._done()
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                try:
                    info = json.loads(line)
                except ValueError:
                    break
                if isinstance(info, dict):
                    self.detected.emit(info)
                    return
                break
        self.failed.emit(error_line(err, "Checking the hardware") or f"exit code {code}")

    @Slot(QProcess.ProcessError)
    def _on_proc_error_occurred(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self._proc is not None:
            msg = self._proc.errorString()
            self._done()
            self.failed.emit(msg)

    def _done(self) -> None:
        self._timer.stop()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.deleteLater()

    @Slot()
    def _on_timer_timeout(self) -> None:
        if self._proc is not None:
            self._proc.kill()
