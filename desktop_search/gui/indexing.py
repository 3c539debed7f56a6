"""Indexing in a child process: QProcess runs `desktop-search index ... --json-progress`, one job at a time.

Extraction and embedding never run in the GUI process. Cancel sends SIGTERM (the child stops
between steps and exits cleanly; a rerun resumes). Further requests wait in a queue.

When another desktop-search process (a CLI `index`, another window) holds the store's indexing
lock, the child's request is not lost: it goes back to the front of the queue, and the queue waits
until the lock's holder is gone (a `StoreLockWatch` reads the lock's note every second), then runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from ..activity import STORE_LOCKED, LockHolder, lock_holder
from ..jobs.events import Event, EventType
from ..jobs.launcher import cli_command
from .childproc import STDERR_KEEP, JsonLinesProcess, error_line

KILL_AFTER_MS = 10_000  # a child that ignores SIGTERM this long (a stuck parser) is killed
LOCK_POLL_MS = 1000  # how often the window looks at who holds the store's lock
UNKNOWN_HOLDER_RETRY_MS = 5000  # a lock held without a readable note: try again this often


class StoreLockWatch(QObject):
    """Follows the store's indexing lock: `changed(LockHolder | None)` when another process takes or
    releases it (the window's own index child, `own_pid`, does not count; the Training tab's child
    does: index requests wait for it too)."""

    changed = Signal(object)  # LockHolder, or None when the store is free

    def __init__(self, data_dir: str | os.PathLike, interval_ms: int = LOCK_POLL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.own_pid: int | None = None
        self.holder: LockHolder | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        self._timer.start()
        self.check()

    def stop(self) -> None:
        self._timer.stop()

    def check(self) -> LockHolder | None:
        h = lock_holder(self.data_dir, exclude_pid=self.own_pid)
        if (h.pid if h else None) != (self.holder.pid if self.holder else None):
            self.holder = h
            self.changed.emit(h)
        return h


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
    waiting = Signal(object, object)  # IndexRequest, LockHolder: another process has the store; it runs after
    resumed = Signal()  # the store is free again: the waiting requests run now

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
        self._child_pid: int | None = None
        self._waiting_for: LockHolder | None = None  # set while the queue waits for another process
        self.lock_watch = StoreLockWatch(self.data_dir, parent=self)
        self.lock_watch.changed.connect(self._on_lock_changed)

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

    @property
    def waiting_for(self) -> LockHolder | None:
        """The other process the queue waits for (None: not waiting)."""
        return self._waiting_for

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
        if self.running or self._waiting_for is not None:
            self.queue_changed.emit(len(self._queue))
        else:
            self._start_next()
        return True

    def cancel(self) -> None:
        """Stop the running child (SIGTERM; killed if it does not stop) and drop the queue (also one
        waiting for another process)."""
        self._queue.clear()
        self.queue_changed.emit(0)
        if self._waiting_for is not None and not self.running:
            self._waiting_for = None
            self.finished.emit(self._current or IndexRequest(), IndexOutcome(
                "cancelled", "Stopped waiting for the other process; nothing was indexed."))
            self._current = None
            return
        super().cancel()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """On quit: cancel and wait for the child (killed after `timeout_ms`)."""
        self._queue.clear()
        self.stop_and_wait(timeout_ms, 2000)

    # -- the child ----------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._waiting_for is not None:
            return  # another process has the store: `_on_lock_changed` starts the queue when it is free
        if self.running or not self._queue:
            if not self.running:
                self.idled.emit()
            return
        req = self._queue.pop(0)
        self._current = req
        self._last = None
        self._end_event = None
        argv = child_command(self.data_dir, self.model, req, self.extra_args)
        proc = self.spawn()
        proc.started.connect(self._on_child_started)
        self.queue_changed.emit(len(self._queue))
        self.started.emit(req)
        self.launch(argv)
        self._on_child_started()

    def _on_child_started(self) -> None:
        """Our own child's lock is not "another process" (its pid is known once it started)."""
        pid = self.pid
        if pid:
            self._child_pid = pid
            self.lock_watch.own_pid = pid

    def _wait_for(self, req: IndexRequest, holder: LockHolder) -> None:
        """The store is busy with another process: `req` goes back to the front and the queue waits."""
        self.release_process()
        self._current = req
        self._waiting_for = holder
        if not any(q.paths == req.paths and q.retry_failed == req.retry_failed for q in self._queue):
            self._queue.insert(0, self._current)
        self.queue_changed.emit(len(self._queue) - 1)
        self.waiting.emit(req, holder)
        self.lock_watch.holder = holder
        self.lock_watch.start()
        if holder.pid == 0:  # nothing to watch: the watch sees "free" at once, so retry after a pause
            QTimer.singleShot(UNKNOWN_HOLDER_RETRY_MS, self._retry_unknown_holder)

    def _retry_unknown_holder(self) -> None:
        if self._waiting_for is not None and self._waiting_for.pid == 0:
            self._on_lock_changed(None, force=True)

    def _on_lock_changed(self, holder: LockHolder | None, force: bool = False) -> None:
        if self._waiting_for is None or (holder is None and self._waiting_for.pid == 0 and not force):
            return
        if holder is not None:
            self._waiting_for = holder
            self.waiting.emit(self._current or IndexRequest(), holder)
            return
        self._waiting_for = None
        self._current = None
        self.resumed.emit()
        self._start_next()

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
        if kind is EventType.ERROR and not self.cancelling:
            holder = lock_holder(self.data_dir, exclude_pid=self._child_pid)
            if holder is not None or end.get("code") == STORE_LOCKED:
                # a holder without a note (or one that let go just now) is retried after a pause
                self._wait_for(self._current or IndexRequest(), holder or LockHolder(0, "indexing", "", 0.0))
                return
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
            message = message or error_line(err, "Indexing") or f"The indexer exited with code {code}."
            out = IndexOutcome("failed", message, details=_details_beyond(message, err), exit_code=code)
        self._finish(out)

    def _finish(self, out: IndexOutcome) -> None:
        req = self._current
        self.release_process()
        self._current = None
        self.finished.emit(req, out)
        self._start_next()


def _details_beyond(message: str, stderr: str) -> str:
    """The child's stderr as details, without the lines that only repeat the message (the CLI prints
    "desktop-search: <message>"): Details shows what the message does not already say."""
    extra = [ln for ln in stderr.splitlines() if ln.strip() and message.strip() not in ln]
    return "\n".join(extra)


def _summary(stats: dict) -> str:
    return (f"Index up to date: {stats.get('indexed', 0):,} files indexed, {stats.get('skipped', 0):,} skipped, "
            f"{stats.get('failed', 0):,} failed.")

