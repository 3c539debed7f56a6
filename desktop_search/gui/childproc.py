"""A child process that reports JSON lines on stdout: the QProcess plumbing the indexing and training runners share.

`JsonLinesProcess` owns the QProcess, splits its stdout into lines and parses the JSON ones, keeps a bounded
tail of its stderr, emits `phase_changed`/`progressed` for progress events, and cancels with SIGTERM followed
by a kill after a grace period. Subclasses decide what the events and the exit mean through hooks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

STDERR_KEEP = 64_000


def python_child_environment(**extra: str) -> QProcessEnvironment:
    """The environment of a desktop-search child: unbuffered UTF-8 output, this source tree importable."""
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONIOENCODING", "utf-8")
    for key, value in extra.items():
        env.insert(key, value)
    if not getattr(sys, "frozen", False):
        root = str(Path(__file__).resolve().parents[2])
        old = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", root + (os.pathsep + old if old else ""))
    return env


class JsonLinesProcess(QObject):
    """One child at a time; subclasses override `handle_event`, `on_finished` and `on_failed_to_start`."""

    progressed = Signal(dict)  # one {"phase", "done", "total", "current", "rate", "eta_s", "message", "stats"}
    phase_changed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, kill_after_ms: int = 10_000, stderr_keep: int = STDERR_KEEP):
        super().__init__(parent)
        self.kill_after_ms = kill_after_ms
        self.stderr_keep = stderr_keep
        self._proc: QProcess | None = None
        self._buf = b""
        self._stderr = b""
        self._phase = ""
        self._cancelling = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timer_timeout)

    @property
    def running(self) -> bool:
        return self._proc is not None

    @property
    def cancelling(self) -> bool:
        return self._cancelling

    # -- hooks ------------------------------------------------------------------------------------------------
    def handle_event(self, ev: dict) -> None:
        """One JSON object the child printed; the default reports progress events."""
        if ev.pop("event", None) == "progress":
            self._emit_progress(ev)

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        """The child exited (its output is all read): build the outcome and call `_release_process`."""
        self._release_process()

    def on_failed_to_start(self, error: str) -> None:
        """The program could not be started at all."""
        self._release_process()

    def _request_stop(self, proc: QProcess) -> None:
        """Ask the child to stop (SIGTERM)."""
        self._cancelling = True
        proc.terminate()

    # -- running ----------------------------------------------------------------------------------------------
    def _spawn(self, env: QProcessEnvironment) -> QProcess:
        """A new QProcess with our handlers connected, now `_proc`; the caller starts it."""
        self._buf = b""
        self._stderr = b""
        self._phase = ""
        self._cancelling = False
        proc = QProcess(self)
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        proc.readyReadStandardOutput.connect(self._on_proc_ready_read_stdout)
        proc.readyReadStandardError.connect(self._on_proc_ready_read_stderr)
        proc.finished.connect(self._on_proc_finished)
        proc.errorOccurred.connect(self._on_proc_error_occurred)
        self._proc = proc
        return proc

    def cancel(self) -> None:
        """Stop the running child (`_request_stop`); killed if it has not stopped after `kill_after_ms`."""
        if self._proc is not None and not self._cancelling:
            self._request_stop(self._proc)
            self._kill_timer.start(self.kill_after_ms)

    def _stop_and_wait(self, timeout_ms: int, kill_wait_ms: int) -> None:
        """On quit: stop the child and wait for it (killed after `timeout_ms`)."""
        proc = self._proc
        if proc is None:
            return
        self._request_stop(proc)
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(kill_wait_ms)

    def _release_process(self) -> None:
        """Forget the finished child (deleted later) and stop the kill timer."""
        proc = self._proc
        self._kill_timer.stop()
        self._proc = None
        if proc is not None:
            proc.deleteLater()

    def stderr_text(self) -> str:
        return self._stderr.decode("utf-8", "replace").strip()

    def _emit_progress(self, ev: dict) -> None:
        phase = ev.get("phase", "")
        if phase != self._phase:
            self._phase = phase
            self.phase_changed.emit(phase)
        self.progressed.emit(ev)

    # -- the QProcess's signals -------------------------------------------------------------------------------
    @Slot()
    def _on_proc_ready_read_stdout(self) -> None:
        if self._proc is None:
            return
        self._buf += bytes(self._proc.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            self._handle_line(line)

    def _handle_line(self, line: bytes) -> None:
        line = line.strip()
        if not line.startswith(b"{"):
            return
        try:
            ev = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            return
        if isinstance(ev, dict):
            self.handle_event(ev)

    @Slot()
    def _on_proc_ready_read_stderr(self) -> None:
        if self._proc is None:
            return
        self._stderr = (self._stderr + bytes(self._proc.readAllStandardError().data()))[-self.stderr_keep:]

    @Slot(QProcess.ProcessError)
    def _on_proc_error_occurred(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self._proc is not None:
            self.on_failed_to_start(self._proc.errorString())

    @Slot(int, QProcess.ExitStatus)
    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._proc is None:
            return
        self._on_proc_ready_read_stdout()
        if self._buf:
            self._handle_line(self._buf)
            self._buf = b""
        self._on_proc_ready_read_stderr()
        self.on_finished(code, status)

    @Slot()
    def _on_kill_timer_timeout(self) -> None:
        if self._proc is not None:
            self._proc.kill()
