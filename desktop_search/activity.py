"""Who is writing to a store right now: the holder of its indexing lock, what it is doing, how far.

`util.ProcessLock` writes a `.holder` note (pid, command, task, start time) beside the lock and
removes it on release. A note whose process is gone (killed with -9) is stale: the lock itself
died with the process. Reading the note never touches the lock, so asking never makes the holder's
own next acquire fail. How far the holder is comes from the store (files still pending, passages
without a vector), which every process sees.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .util import ProcessLock

INDEXING_LOCK = "indexing.lock"
STORE_LOCKED = "store_locked"  # the `code` of a child's error event when another process holds the lock


@dataclass(frozen=True)
class LockHolder:
    """A live process holding a store's lock."""

    pid: int
    what: str  # "indexing", "embedding", "training"
    command: str
    since: float  # seconds since the epoch

    def describe(self) -> str:
        """"Another desktop-search process (pid 4242) is indexing this library"."""
        return f"Another desktop-search process (pid {self.pid}) is {self.what} this library"


def _alive(pid: int, since: float) -> bool:
    """Whether `pid` runs and started no later than the note was written (so a reused pid does not count)."""
    try:
        import psutil

        p = psutil.Process(pid)
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE and p.create_time() <= since + 5
    except Exception:  # noqa: BLE001 - gone, or not ours to inspect: treat as gone
        return False


def lock_holder(data_dir: str | os.PathLike, name: str = INDEXING_LOCK, *, exclude_pid: int | None = None) -> LockHolder | None:
    """The live process holding the store's lock (None: free, or held by `exclude_pid`, the window's
    own child). The window never holds it itself: indexing runs in children."""
    h = ProcessLock(Path(data_dir) / name).holder()
    try:
        pid = int(h.get("pid") or 0)
        since = float(h.get("since") or 0.0)
    except (TypeError, ValueError):
        return None
    if pid <= 0 or pid == exclude_pid:  # the window's own child: not another
        return None
    if not _alive(pid, since or time.time()):
        return None
    return LockHolder(pid, str(h.get("what") or "indexing"), str(h.get("command") or ""), since)


def store_progress(store) -> dict:
    """How far indexing is, from the store: {"files", "passages", "embedded"} (see `progress_from`)."""
    return progress_from(store.counts(), store.model_rows())


def progress_from(counts: dict, model_rows) -> dict:
    """{"files", "passages", "embedded"} from the store's counts and vectors per model. `embedded`
    counts the vectors of the model being built: of the models still missing vectors, the one with
    the most (the base model while indexing, a new version while training embeds it)."""
    passages = counts.get("chunks", 0)
    files = sum(counts.get(k, 0) for k in ("indexed", "skipped", "failed"))
    incomplete = [m["vectors"] for m in model_rows if m["vectors"] < passages]
    embedded = max(incomplete) if incomplete else passages
    return {"files": files, "passages": passages, "embedded": embedded}


def describe_progress(holder: LockHolder, progress: dict) -> list[str]:
    """Lines for the details of a busy store: which process, what it does, how far, since when."""
    elapsed = max(0, int(time.time() - holder.since)) if holder.since else None
    lines = [f"Process: pid {holder.pid}", f"Command: {holder.command or '(unknown)'}",
             f"Doing: {holder.what}" + (f", for {_duration(elapsed)}" if elapsed is not None else "")]
    files, passages, embedded = progress.get("files", 0), progress.get("passages", 0), progress.get("embedded", 0)
    if files:
        lines.append(f"Files in the library so far: {files:,}")
    if passages:
        lines.append(f"Passages embedded: {embedded:,} of {passages:,} ({100 * embedded // passages} %)")
    return lines


def stop_holder(holder: LockHolder) -> None:
    """Ask the holder to stop (SIGTERM; `desktop-search index` stops between steps and resumes
    where it stopped next time). Raises OSError when that is not allowed."""
    import psutil

    try:
        psutil.Process(holder.pid).terminate()
    except psutil.NoSuchProcess:
        return
    except psutil.AccessDenied as e:
        raise PermissionError(f"Not allowed to stop process {holder.pid}") from e


def _duration(s: int) -> str:
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
