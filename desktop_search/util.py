"""Small helpers: atomic file writes, path encoding for the store, an inter-process lock."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .errors import StoreLocked


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def display_path(path: str) -> str:
    """A printable form of a path whose name may not be valid UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw_path(path: str) -> bytes:
    """The exact bytes of a path, used as the store's key."""
    return os.fsencode(path)


def from_raw(raw: bytes) -> str:
    return os.fsdecode(raw)


class ProcessLock:
    """An exclusive lock between processes (flock; released when the process dies, kill -9
    included), saying what holds it: "indexing", "training" or "embedding". The holder's pid,
    command and task are written beside the lock file, so a refused caller can say who has it."""

    def __init__(self, path: Path, what: str = "indexing"):
        self.path = Path(path)
        self.what = what
        self._lock = None

    @property
    def holder_path(self) -> Path:
        return self.path.with_name(self.path.name + ".holder")

    def holder(self) -> dict:
        """Who holds (or last held) the lock: {"pid", "what", "command", "since"}; {} if unknown."""
        try:
            d = json.loads(self.holder_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return d if isinstance(d, dict) else {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._take():
            h = self.holder()
            what = h.get("what") or "indexing"
            pid = f" (pid {h['pid']})" if h.get("pid") else ""
            raise StoreLocked(
                f"Another desktop-search process{pid} is {what} in this store; "
                "wait for it to finish or cancel it."
            ) from None
        try:
            atomic_write_text(self.holder_path, json.dumps({
                "pid": os.getpid(), "what": self.what, "command": " ".join(sys.argv)[:500], "since": time.time()}))
        except OSError:
            pass  # the lock holds without its note

    def _take(self) -> bool:
        """Lock the file without waiting; False when another holds it. On POSIX flock() itself, as
        filelock does there (the same lock, so the two interoperate), without importing filelock:
        its import was 18 ms of every command's start-up; elsewhere filelock."""
        if os.name == "posix":
            import fcntl

            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._lock = fd
            return True
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            return False
        self._lock = lock
        return True

    def release(self) -> None:
        if self._lock is not None:
            self.holder_path.unlink(missing_ok=True)
            if isinstance(self._lock, int):
                import fcntl

                fcntl.flock(self._lock, fcntl.LOCK_UN)
                os.close(self._lock)
            else:
                self._lock.release()
            self._lock = None

    def __enter__(self) -> "ProcessLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
