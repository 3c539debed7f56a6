"""Small helpers: atomic file writes, path encoding for the store, an inter-process lock."""

from __future__ import annotations

import os
import tempfile
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
    """An exclusive lock on a file, released when the process dies (kill -9 included)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+b")
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise StoreLocked(
                "Another desktop-search process is indexing into this store; "
                "wait for it to finish or cancel it."
            ) from None
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "ProcessLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
