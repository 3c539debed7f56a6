"""The store's health: a full disk and a damaged database become clear errors with the next step.

SQLite reports a full disk as SQLITE_FULL ("database or disk is full"), and a damaged file as
SQLITE_CORRUPT / SQLITE_NOTADB ("database disk image is malformed", "file is not a database").
`known_error` turns those into `DiskFull` / `StoreDamaged` with what to do. A damaged store is
also remembered in a marker file beside the database (`<db>.damaged.json`, not in the database,
which cannot be trusted): every later status and search says so until `desktop-search repair`
has rebuilt the index, so a store known to be damaged is never served from silently.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import time
from pathlib import Path

from ..errors import DiskFull, KnownError, StoreDamaged

DEFAULT_MIN_FREE_MB = 200  # IndexSettings.min_free_mb: indexing stops cleanly below this much free space

_CORRUPT = ("malformed", "not a database", "file is encrypted", "database corrupt")
_FULL = ("database or disk is full", "disk is full", "no space left")


def free_mb(path: Path) -> float:
    """Free space (MB) on the disk holding `path` (its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free / 1e6
    except OSError:
        return float("inf")


def disk_full_error(db_path: Path, detail: str = "", min_free_mb: float | None = None) -> DiskFull:
    free = free_mb(db_path)
    why = (f"below the {min_free_mb:.0f} MB the index keeps free (setting min_free_mb)"
           if min_free_mb is not None else "full")
    msg = (f"The disk holding the index ({Path(db_path).parent}) is {why}: {free:.0f} MB free; "
           "nothing indexed so far was lost. Free some space and run `desktop-search index` again.")
    if detail:
        msg += f" ({detail})"
    return DiskFull(msg)


def check_free_space(db_path: Path, min_free_mb: float) -> None:
    """Raise DiskFull when the disk holding the store has less than `min_free_mb` free."""
    if min_free_mb and free_mb(db_path) < min_free_mb:
        raise disk_full_error(db_path, min_free_mb=min_free_mb)


def is_corruption(e: BaseException) -> bool:
    return isinstance(e, sqlite3.DatabaseError) and any(s in str(e).lower() for s in _CORRUPT)


def is_disk_full(e: BaseException) -> bool:
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return True
    return isinstance(e, sqlite3.Error) and any(s in str(e).lower() for s in _FULL)


def damaged_message(db_path: Path, detail: str) -> str:
    detail = " ".join(str(detail).split())
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return (f"The index database {db_path} is damaged ({detail}). Your files are not affected. "
            "Run `desktop-search repair` (or Repair in the window) to rebuild the index from them; "
            "the damaged file is kept aside.")


def known_error(e: BaseException, db_path: Path, *, record: bool = True) -> BaseException:
    """The KnownError an SQLite or OS error stands for (recording damage, unless not `record`),
    else `e` itself."""
    if isinstance(e, KnownError):
        return e
    if is_disk_full(e):
        return disk_full_error(db_path)
    if is_corruption(e):
        detail = str(e)
        if record:
            record_damage(db_path, detail, "error")
        return StoreDamaged(damaged_message(db_path, detail))
    if isinstance(e, sqlite3.OperationalError):
        msg = str(e).lower()
        if "locked" in msg or "busy" in msg:
            return KnownError(f"The index database {db_path} is locked by another program; try again shortly.")
        if "disk i/o" in msg:
            return KnownError(f"Cannot read or write the index database {db_path}: {e} "
                              "(is the disk full or unplugged?)")
        if "readonly" in msg or "read-only" in msg:
            return KnownError(f"The index database {db_path} is read-only: {e}")
    return e


# -- the damage marker -----------------------------------------------------------------------------
def marker_path(db_path: Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".damaged.json")


def record_damage(db_path: Path, detail: str, source: str) -> None:
    """Remember that the database failed a check (`source`: "quick_check", "error", "open")."""
    from ..util import atomic_write_text

    try:
        atomic_write_text(marker_path(db_path), json.dumps(
            {"detail": detail[:2000], "source": source, "at": time.time()}))
    except OSError:
        pass  # a full disk: the error itself still tells the user


def read_damage(db_path: Path) -> dict | None:
    """What the marker says ({"detail", "source", "at"}), or None when the store is not known damaged."""
    try:
        d = json.loads(marker_path(db_path).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"detail": "unknown (the damage note is unreadable)", "source": "marker", "at": 0}
    return d if isinstance(d, dict) else {"detail": "unknown", "source": "marker", "at": 0}


def clear_damage(db_path: Path) -> None:
    marker_path(db_path).unlink(missing_ok=True)


# -- when the last check passed --------------------------------------------------------------------
def checked_path(db_path: Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".checked.json")


def file_stamp(db_path: Path) -> list:
    """Size and modification time of the database and its WAL: what any write (or damage) changes."""
    out = []
    for p in (Path(db_path), Path(f"{db_path}-wal")):
        try:
            st = p.stat()
        except OSError:
            out.append(None)
            continue
        # an empty WAL (made by opening the store) holds nothing: the same as none
        out.append([st.st_size, st.st_mtime_ns] if st.st_size else None)
    return out


READ_THROUGH_EVERY_S = 24 * 3600  # an index run reads every page again at least this often


def read_checked(db_path: Path) -> dict:
    """The note of the last passing check: {"stamp", "at", "read_through_at"}, {} when none."""
    try:
        d = json.loads(checked_path(db_path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def record_checked(db_path: Path, stamp: list, read_through: bool = False) -> None:
    """Note that the database, as `stamp` describes it, is sound: read through by quick_check
    (`read_through`), or a state that was so plus this process's own writes (Store.close). When
    it was last read through is kept either way (see `read_through_due`)."""
    from ..util import atomic_write_text

    now = time.time()
    last = now if read_through else read_checked(db_path).get("read_through_at")
    try:
        atomic_write_text(checked_path(db_path), json.dumps(
            {"stamp": stamp, "at": now, "read_through_at": last}))
    except OSError:
        pass


def changed_since_checked(db_path: Path) -> bool:
    """Whether the database files changed since the last quick_check that passed (or none did)."""
    return read_checked(db_path).get("stamp") != file_stamp(db_path)


def read_through_due(db_path: Path, every_s: float = READ_THROUGH_EVERY_S) -> bool:
    """Whether the last time quick_check read the whole database is unknown or over `every_s` ago."""
    last = read_checked(db_path).get("read_through_at")
    return not isinstance(last, (int, float)) or not 0 <= time.time() - last < every_s


def quick_check(conn: sqlite3.Connection, max_errors: int = 10) -> list[str]:
    """SQLite's `PRAGMA quick_check` (every page and record read, no index cross-check): the
    problems found, [] when the database is sound. A check that cannot even run is a problem."""
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA quick_check({int(max_errors)})")]
    except sqlite3.DatabaseError as e:
        return [str(e)]
    return [] if rows == ["ok"] else rows
