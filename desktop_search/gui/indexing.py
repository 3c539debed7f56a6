"""Indexing in a child process: QProcess runs `desktop-search index ... --json-progress`, one job at a time.

Extraction and embedding never run in the GUI process. Cancel sends SIGTERM (the child stops
between steps and exits cleanly; a rerun resumes). Further requests wait in a queue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from ..jobs.events import Event, EventType
from ..jobs.launcher import cli_command
from .childproc import STDERR_KEEP, JsonLinesProcess, error_line

KILL_AFTER_MS = 10_000  # a child that ignores SIGTERM this long (a stuck parser) is killed


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
                  extra_args: tuple[str, ...] = ()) -> list[str]:
    """argv of the child (`jobs.launcher.cli_command`: the frozen app runs itself with CLI arguments)."""
    args = ["--data-dir", os.fspath(data_dir)]
    if model:
        args += ["--model", model]
    args += ["index", *req.paths, "--json-progress"]
    if req.retry_failed:
        args.append("--retry-failed")
    args += list(extra_args)
    return cli_command(args)


class IndexRunner(JsonLinesProcess):
    """Runs index requests in a child process, one at a time, and reports their JSON progress."""

    started = Signal(object)  # IndexRequest
    # progressed (dict) and phase_changed (str) come from JsonLinesProcess
    finished = Signal(object, object)  # IndexRequest, IndexOutcome
    queue_changed = Signal(int)  # requests waiting behind the running one
    idled = Signal()  # nothing running, nothing queued

    def __init__(self, data_dir: str | os.PathLike, model: str | None = None, *, extra_args: tuple[str, ...] = (),
                 parent: QObject | None = None):
        super().__init__(parent, kill_after_ms=KILL_AFTER_MS, stderr_keep=STDERR_KEEP)
        self.data_dir = Path(data_dir)
        self.model = model
        self.extra_args = tuple(extra_args)
        self._queue: list[IndexRequest] = []
        self._current: IndexRequest | None = None
        self._last: dict | None = None
        self._end_event: Event | None = None

    # -- queue ------------------------------------------------------------------------
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
        super().cancel()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """On quit: cancel and wait for the child (killed after `timeout_ms`)."""
        self._queue.clear()
        self.stop_and_wait(timeout_ms, 2000)

    # -- the child ----------------------------------------------------------------------
    def _start_next(self) -> None:
        if self.running or not self._queue:
            if not self.running:
                self.idled.emit()
            return
        req = self._queue.pop(0)
        self._current = req
        self._last = None
        self._end_event = None
        argv = child_command(self.data_dir, self.model, req, self.extra_args)
        self.spawn()
        self.queue_changed.emit(len(self._queue))
        self.started.emit(req)
        self.launch(argv)

    def handle_event(self, ev: Event) -> None:
        if ev.type is EventType.PROGRESS:
            pr = ev.progress()
            self._last = pr.to_dict()
            self.emit_progress(pr)
        elif ev.type in (EventType.DONE, EventType.CANCELLED, EventType.ERROR):
            self._end_event = ev

    def on_failed_to_start(self, error: str) -> None:
        argv = child_command(self.data_dir, self.model, self._current or IndexRequest(), self.extra_args)
        self._finish(IndexOutcome("failed", f"Could not start the indexer ({argv[0]}): {error}",
                                  details=" ".join(argv)))

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        err = self.stderr_text()
        end = self._end_event
        kind = end.type if end is not None else None
        if kind is EventType.DONE and code == 0:
            stats = dict(end.data)
            out = IndexOutcome("done", _summary(stats), stats, exit_code=code)
        elif kind is EventType.CANCELLED or (self.cancelling and status == QProcess.ExitStatus.CrashExit):
            out = IndexOutcome("cancelled", "Indexing cancelled; it resumes where it stopped next time.",
                               exit_code=code)
        elif status == QProcess.ExitStatus.CrashExit:
            out = IndexOutcome("failed", "The indexer stopped unexpectedly; it resumes where it stopped next time.",
                               details=err, exit_code=code)
        else:
            message = end.get("message") if kind is EventType.ERROR else None
            out = IndexOutcome("failed", message or error_line(err, "Indexing") or f"The indexer exited with code {code}.",
                               details=err, exit_code=code)
        self._finish(out)

    def _finish(self, out: IndexOutcome) -> None:
        req = self._current
        self.release_process()
        self._current = None
        self.finished.emit(req, out)
        self._start_next()


def _summary(stats: dict) -> str:
    return (f"Index up to date: {stats.get('indexed', 0):,} files indexed, {stats.get('skipped', 0):,} skipped, "
            f"{stats.get('failed', 0):,} failed.")

