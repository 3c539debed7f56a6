"""A child process that reports event lines on stdout: the QProcess plumbing the indexing and training runners share.

`JsonLinesProcess` owns the QProcess, splits its stdout into lines and decodes them with the one event codec
(`jobs.events.decode`), keeps a bounded tail of its stderr, emits `phase_changed`/`progressed` for progress
events, and cancels with SIGTERM followed by a kill after a grace period. Subclasses decide what the typed
events and the exit mean through hooks. What to run and with which environment comes from `jobs.launcher`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from ..jobs.events import Event, EventType, decode
from ..jobs.launcher import child_environment
from ..jobs.progress import Progress

STDERR_KEEP = 64_000


def qprocess_environment(env: Mapping[str, str] | None = None) -> QProcessEnvironment:
    """`env` (default: `jobs.launcher.child_environment()`) as a QProcessEnvironment."""
    q = QProcessEnvironment()
    for key, value in (child_environment() if env is None else env).items():
        q.insert(key, value)
    return q


def error_line(stderr: str, what: str) -> str:
    """The user-facing line of a failed child: the CLI prints known errors as `desktop-search: msg`."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("desktop-search: "):
            return ln[len("desktop-search: "):]
    return f"{what} failed: {lines[-1]}" if lines else ""


class JsonLinesProcess(QObject):
    """One child at a time; subclasses override `handle_event`, `on_finished` and `on_failed_to_start`."""

    # one Progress.to_dict(): {"phase", "done", "total", "current", "rate", "eta_s", "message", "stats", "kind"}
    progressed = Signal(dict)
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

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when none runs)."""
        return (self._proc.processId() or None) if self._proc is not None else None

    # -- hooks ------------------------------------------------------------------------------------------------
    def handle_event(self, ev: Event) -> None:
        """One typed event the child printed; the default reports progress events."""
        if ev.type is EventType.PROGRESS:
            self.emit_progress(ev.progress())

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        """The child exited (its output is all read): build the outcome and call `release_process`."""
        self.release_process()

    def on_failed_to_start(self, error: str) -> None:
        """The program could not be started at all."""
        self.release_process()

    def request_stop(self, proc: QProcess) -> None:
        """Ask the child to stop (SIGTERM); subclasses may add their own signal first."""
        self._cancelling = True
        proc.terminate()

    # -- running ----------------------------------------------------------------------------------------------
    def spawn(self, env: Mapping[str, str] | None = None) -> QProcess:
        """A new QProcess with our handlers connected and `env` (default: the launcher's child environment),
        now the running one; `launch` starts it (after the caller announced it)."""
        self._buf = b""
        self._stderr = b""
        self._phase = ""
        self._cancelling = False
        proc = QProcess(self)
        proc.setProcessEnvironment(qprocess_environment(env))
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        proc.readyReadStandardOutput.connect(self._on_proc_ready_read_stdout)
        proc.readyReadStandardError.connect(self._on_proc_ready_read_stderr)
        proc.finished.connect(self._on_proc_finished)
        proc.errorOccurred.connect(self._on_proc_error_occurred)
        self._proc = proc
        return proc

    def launch(self, argv: Sequence[str]) -> None:
        """Start the spawned QProcess with `argv` (from `jobs.launcher.cli_command`)."""
        if self._proc is not None:
            self._proc.start(argv[0], list(argv[1:]))

    def cancel(self) -> None:
        """Stop the running child (`request_stop`); killed if it has not stopped after `kill_after_ms`."""
        if self._proc is not None and not self._cancelling:
            self.request_stop(self._proc)
            self._kill_timer.start(self.kill_after_ms)

    def stop_and_wait(self, timeout_ms: int, kill_wait_ms: int) -> None:
        """On quit: stop the child and wait for it (killed after `timeout_ms`)."""
        proc = self._proc
        if proc is None:
            return
        self.request_stop(proc)
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(kill_wait_ms)

    def release_process(self) -> None:
        """Forget the finished child (deleted later) and stop the kill timer."""
        proc = self._proc
        self._kill_timer.stop()
        self._proc = None
        if proc is not None:
            proc.deleteLater()

    def stderr_text(self) -> str:
        return self._stderr.decode("utf-8", "replace").strip()

    def emit_progress(self, pr: Progress) -> None:
        if pr.phase != self._phase:
            self._phase = pr.phase
            self.phase_changed.emit(pr.phase)
        self.progressed.emit(pr.to_dict())

    def feed_line(self, line: str | bytes) -> None:
        """Handle one line of the child's stdout (what the pipe delivers; tests feed lines directly)."""
        ev = decode(line)
        if ev is not None:
            self.handle_event(ev)

    # -- the QProcess's signals -------------------------------------------------------------------------------
    @Slot()
    def _on_proc_ready_read_stdout(self) -> None:
        if self._proc is None:
            return
        self._buf += bytes(self._proc.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            self.feed_line(line)

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
            self.feed_line(self._buf)
            self._buf = b""
        self._on_proc_ready_read_stderr()
        self.on_finished(code, status)

    @Slot()
    def _on_kill_timer_timeout(self) -> None:
        if self._proc is not None:
            self._proc.kill()
