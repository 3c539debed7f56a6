"""Indexing in a child process: QProcess runs `desktop-search index ... --json-progress`, one job at a time.

Extraction and embedding never run in the GUI process. Cancel sends SIGTERM (the child stops
between steps and exits cleanly; a rerun resumes). Further requests wait in a queue.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

KILL_AFTER_MS = 10_000  # a child that ignores SIGTERM this long (a stuck parser) is killed
STDERR_KEEP = 64_000


@dataclass(frozen=True)
class IndexRequest:
    """One `index` run: these paths (empty: every indexed folder), optionally re-reading failed files."""

    paths: tuple[str, ...] = ()
    retry_failed: bool = False
    reason: str = ""  # "add", "watch", "resume", "retry", "rescan" (shown to the user)

    def describe(self) -> str:
        if not self.paths:
            return "every folder"
        names = [os.path.basename(p.rstrip("/\\")) or p for p in self.paths]
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


@dataclass
class IndexOutcome:
    status: str  # "done", "cancelled", "failed"
    message: str = ""
    stats: dict = field(default_factory=dict)
    details: str = ""  # the child's stderr when it failed
    exit_code: int | None = None


def child_command(data_dir: str | os.PathLike, model: str | None, req: IndexRequest,
                  extra_args: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """Program and arguments of the child; the frozen app runs itself with CLI arguments."""
    args = ["--data-dir", os.fspath(data_dir)]
    if model:
        args += ["--model", model]
    args += ["index", *req.paths, "--json-progress"]
    if req.retry_failed:
        args.append("--retry-failed")
    args += list(extra_args)
    if getattr(sys, "frozen", False):
        return sys.executable, args
    return sys.executable, ["-m", "desktop_search", *args]


class IndexRunner(QObject):
    """Runs index requests in a child process, one at a time, and reports their JSON progress."""

    started = Signal(object)  # IndexRequest
    progressed = Signal(dict)  # one {"phase", "done", "total", "current", "rate", "eta_s", "message", "stats"}
    phase_changed = Signal(str)
    finished = Signal(object, object)  # IndexRequest, IndexOutcome
    queue_changed = Signal(int)  # requests waiting behind the running one
    idled = Signal()  # nothing running, nothing queued

    def __init__(self, data_dir: str | os.PathLike, model: str | None = None, *, extra_args: tuple[str, ...] = (),
                 parent: QObject | None = None):
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.model = model
        self.extra_args = tuple(extra_args)
        self._queue: list[IndexRequest] = []
        self._proc: QProcess | None = None
        self._current: IndexRequest | None = None
        self._buf = b""
        self._stderr = b""
        self._last: dict | None = None
        self._end_event: dict | None = None
        self._phase = ""
        self._cancelling = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timer_timeout)

    # -- queue ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None

    @property
    def current(self) -> IndexRequest | None:
        return self._current

    @property
    def queued(self) -> tuple[IndexRequest, ...]:
        return tuple(self._queue)

    @property
    def last_progress(self) -> dict | None:
        return self._last

    def enqueue(self, req: IndexRequest) -> bool:
        """Run `req` now or after the running one; False when an identical request already waits."""
        if any(q.paths == req.paths and q.retry_failed == req.retry_failed for q in self._queue):
            return False
        if not req.paths and not req.retry_failed:
            # "every folder" covers the waiting folder-specific runs
            self._queue = [q for q in self._queue if q.retry_failed]
        elif any(not q.paths and (q.retry_failed or not req.retry_failed) for q in self._queue):
            return False  # an every-folder run is already waiting
        self._queue.append(req)
        if self.running:
            self.queue_changed.emit(len(self._queue))
        else:
            self._start_next()
        return True

    def cancel(self) -> None:
        """Stop the running child (SIGTERM; killed if it does not stop) and drop the queue."""
        self._queue.clear()
        self.queue_changed.emit(0)
        if self._proc is not None and not self._cancelling:
            self._cancelling = True
            self._proc.terminate()
            self._kill_timer.start(KILL_AFTER_MS)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """On quit: cancel and wait for the child (killed after `timeout_ms`)."""
        self._queue.clear()
        proc = self._proc
        if proc is None:
            return
        self._cancelling = True
        proc.terminate()
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(2000)

    # -- the child ----------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._proc is not None or not self._queue:
            if self._proc is None:
                self.idled.emit()
            return
        req = self._queue.pop(0)
        self._current = req
        self._buf = b""
        self._stderr = b""
        self._last = None
        self._end_event = None
        self._phase = ""
        self._cancelling = False
        proc = QProcess(self)
        program, args = child_command(self.data_dir, self.model, req, self.extra_args)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        if not getattr(sys, "frozen", False):
            root = str(Path(__file__).resolve().parents[2])
            old = env.value("PYTHONPATH", "")
            env.insert("PYTHONPATH", root + (os.pathsep + old if old else ""))
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        proc.readyReadStandardOutput.connect(self._on_proc_ready_read_stdout)
        proc.readyReadStandardError.connect(self._on_proc_ready_read_stderr)
        proc.finished.connect(self._on_proc_finished)
        proc.errorOccurred.connect(self._on_proc_error_occurred)
        self._proc = proc
        self.queue_changed.emit(len(self._queue))
        self.started.emit(req)
        proc.start(program, args)

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
        kind = ev.pop("event", "")
        if kind == "progress":
            self._last = ev
            phase = ev.get("phase", "")
            if phase != self._phase:
                self._phase = phase
                self.phase_changed.emit(phase)
            self.progressed.emit(ev)
        elif kind in ("done", "cancelled"):
            self._end_event = {"event": kind, **ev}

    @Slot()
    def _on_proc_ready_read_stderr(self) -> None:
        if self._proc is None:
            return
        self._stderr = (self._stderr + bytes(self._proc.readAllStandardError().data()))[-STDERR_KEEP:]

    @Slot(QProcess.ProcessError)
    def _on_proc_error_occurred(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self._proc is not None:
            program, args = child_command(self.data_dir, self.model, self._current or IndexRequest(), self.extra_args)
            self._finish(IndexOutcome("failed", f"Could not start the indexer ({program}): "
                                                f"{self._proc.errorString()}", details=" ".join([program, *args])))

    @Slot(int, QProcess.ExitStatus)
    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._proc is None:
            return
        self._on_proc_ready_read_stdout()
        if self._buf:
            self._handle_line(self._buf)
            self._buf = b""
        self._on_proc_ready_read_stderr()
        err = self._stderr.decode("utf-8", "replace").strip()
        end = self._end_event or {}
        if end.get("event") == "done" and code == 0:
            stats = {k: v for k, v in end.items() if k != "event"}
            out = IndexOutcome("done", _summary(stats), stats, exit_code=code)
        elif end.get("event") == "cancelled" or (self._cancelling and status == QProcess.ExitStatus.CrashExit):
            out = IndexOutcome("cancelled", "Indexing cancelled; it resumes where it stopped next time.",
                               exit_code=code)
        elif status == QProcess.ExitStatus.CrashExit:
            out = IndexOutcome("failed", "The indexer stopped unexpectedly; it resumes where it stopped next time.",
                               details=err, exit_code=code)
        else:
            out = IndexOutcome("failed", _error_line(err) or f"The indexer exited with code {code}.",
                               details=err, exit_code=code)
        self._finish(out)

    def _finish(self, out: IndexOutcome) -> None:
        proc, req = self._proc, self._current
        self._kill_timer.stop()
        self._proc = None
        self._current = None
        if proc is not None:
            proc.deleteLater()
        self.finished.emit(req, out)
        self._start_next()

    @Slot()
    def _on_kill_timer_timeout(self) -> None:
        if self._proc is not None:
            self._proc.kill()


def _summary(stats: dict) -> str:
    return (f"Index up to date: {stats.get('indexed', 0):,} files indexed, {stats.get('skipped', 0):,} skipped, "
            f"{stats.get('failed', 0):,} failed.")


def _error_line(stderr: str) -> str:
    """The user-facing line of a child's failure: the CLI prints known errors as `desktop-search: msg`."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("desktop-search: "):
            return ln[len("desktop-search: "):]
    if lines:
        return f"Indexing failed: {lines[-1]}"
    return ""
