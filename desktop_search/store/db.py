"""The SQLite store: connection policy (WAL, one writer), schema migrations and typed queries."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..errors import KnownError
from . import health
from .salvage import write_folder_list
from .indexing import IndexingQueries
from .judgments import JUDGMENTS_SQL, JudgmentQueries
from .queries import LibraryQueries

if TYPE_CHECKING:  # sqlite_utils loads on first use: a search that never needs it starts faster
    import sqlite_utils

SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS folders (
        id INTEGER PRIMARY KEY,
        raw_path BLOB NOT NULL UNIQUE,
        path TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        raw_path BLOB NOT NULL UNIQUE,
        path TEXT NOT NULL,
        folder_id INTEGER,
        name TEXT NOT NULL,
        ext TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        mtime_ns INTEGER NOT NULL DEFAULT 0,
        inode INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT,
        status TEXT NOT NULL,
        reason TEXT,
        kind TEXT,
        encoding TEXT,
        title TEXT,
        text TEXT,
        indexed_at REAL
    );
    CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
    CREATE INDEX IF NOT EXISTS documents_status ON documents(status);
    CREATE INDEX IF NOT EXISTS documents_folder ON documents(folder_id);
    CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        n_tokens INTEGER NOT NULL,
        bm25_len INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
    CREATE TABLE IF NOT EXISTS bm25_segments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        n_postings INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS bm25_postings (
        segment_id INTEGER NOT NULL REFERENCES bm25_segments(id) ON DELETE CASCADE,
        term TEXT NOT NULL,
        ids BLOB NOT NULL,
        tfs BLOB NOT NULL,
        PRIMARY KEY (term, segment_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS bm25_postings_segment ON bm25_postings(segment_id);
    CREATE TABLE IF NOT EXISTS models (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dim INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS vectors (
        model TEXT NOT NULL,
        chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
        vec BLOB NOT NULL,
        PRIMARY KEY (model, chunk_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS vectors_chunk ON vectors(chunk_id);
    CREATE TABLE IF NOT EXISTS scan_problems (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
    """,
    2: JUDGMENTS_SQL,  # relevance marks (store/judgments.py)
    # BM25 postings keyed by (segment, term): a batch's segment is appended in key order instead of
    # being scattered over every leaf of a term-ordered tree (which each commit rewrote: SciFact's
    # 5,183 files wrote 691 MB for a 24 MB store); bm25_segments.n_chunks tells dead postings
    3: """
    CREATE TABLE bm25_postings_v3 (
        segment_id INTEGER NOT NULL REFERENCES bm25_segments(id) ON DELETE CASCADE,
        term TEXT NOT NULL,
        ids BLOB NOT NULL,
        tfs BLOB NOT NULL,
        PRIMARY KEY (segment_id, term)
    ) WITHOUT ROWID;
    INSERT INTO bm25_postings_v3(segment_id, term, ids, tfs) SELECT segment_id, term, ids, tfs FROM bm25_postings;
    DROP TABLE bm25_postings;
    ALTER TABLE bm25_postings_v3 RENAME TO bm25_postings;
    ALTER TABLE bm25_segments ADD COLUMN n_chunks INTEGER NOT NULL DEFAULT 0;
    """,
    # what a scan compares, in an index of its own: listing a folder's documents read each row's
    # page of the table (a row holds the file's text), 5,183 pages for SciFact; the old folder index
    # is this one's first column
    4: """
    CREATE INDEX IF NOT EXISTS documents_scan ON documents(folder_id, raw_path, size, mtime_ns, status);
    DROP INDEX IF EXISTS documents_folder;
    """,
}


@dataclass(frozen=True)
class DocRow:
    """One file as the store knows it."""

    id: int
    path: str
    raw_path: bytes
    name: str
    ext: str
    size: int
    mtime_ns: int
    status: str
    reason: str | None
    kind: str | None
    title: str | None
    folder_id: int | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "DocRow":
        return cls(
            id=r["id"], path=r["path"], raw_path=bytes(r["raw_path"]), name=r["name"], ext=r["ext"],
            size=r["size"], mtime_ns=r["mtime_ns"], status=r["status"], reason=r["reason"],
            kind=r["kind"], title=r["title"], folder_id=r["folder_id"],
        )


DOC_COLUMNS = "id, path, raw_path, name, ext, size, mtime_ns, status, reason, kind, title, folder_id"


def _live_thread_ids() -> set[int] | None:
    """Native ids of this process's live threads (Linux: /proc/self/task), None where unknown."""
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except (OSError, ValueError):
        return None


class Store(IndexingQueries, LibraryQueries, JudgmentQueries):
    """SQLite database of the library. Reads from any thread (one connection per thread);
    writes go through `write()`, which serialises them inside this process, and SQLite's
    own locking (WAL, busy timeout) between processes.

    Connections are kept per OS thread (its native id), not in a `threading.local`: Qt's
    thread pool runs each task with a fresh Python thread state on the same OS thread, which
    empties a `threading.local`, so every search or refresh in the window opened a connection
    (and its page cache, up to 32 MB) that stayed open until the store closed: 26 connections and
    1.97 GB after 60 searches at 127,000 passages. A connection left by a thread that has ended
    is closed when the next one is opened (where the live threads can be listed)."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.readonly = readonly
        self._conns: dict[int, list] = {}  # native thread id -> [connection, sqlite-utils view or None]
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._trusted = False  # checked (or unchanged since a check) in this process: see close()
        try:
            self._migrate()
        except sqlite3.DatabaseError as e:
            known = health.known_error(e, self.path)
            if known is e:
                known = KnownError(f"The index database {self.path} cannot be opened: {e}")
            raise known from e

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # in WAL: a killed process loses no commit; a power cut may lose the last ones, never consistency
        conn.execute("PRAGMA synchronous=NORMAL")
        # checkpoint once the WAL holds 16 MB, not 4: a page rewritten by the next batches or a merge is
        # copied into the database once (SciFact's 5,183 files: 61 -> 59 MB written; 64 MB gave 52)
        conn.execute("PRAGMA wal_autocheckpoint=4000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-32000")
        return conn

    def _entry(self) -> list:
        key = threading.get_native_id()
        entry = self._conns.get(key)
        if entry is None:
            with self._conns_lock:
                live = _live_thread_ids()
                if live is not None:
                    for tid in [t for t in self._conns if t not in live]:  # threads that have ended
                        try:
                            self._conns.pop(tid)[0].close()
                        except sqlite3.Error:
                            pass
                entry = self._conns[key] = [self._connect(), None]
        return entry

    @property
    def conn(self) -> sqlite3.Connection:
        return self._entry()[0]

    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def db(self) -> sqlite_utils.Database:
        """A sqlite-utils view of this thread's connection (no plugins, and none of its own
        pragmas: the connection policy stays `_connect`'s)."""
        entry = self._entry()
        if entry[1] is None:
            import sqlite_utils

            entry[1] = sqlite_utils.Database(entry[0], recursive_triggers=False, execute_plugins=False)
        return entry[1]

    def close(self) -> None:
        with self._conns_lock:
            entries, self._conns = list(self._conns.values()), {}
        for c, _db in entries:
            try:
                c.close()
            except sqlite3.Error:
                pass
        if self._trusted and self.damage() is None:
            # the state this process checked, plus its own writes and the checkpoint that closing
            # the last connection makes: the next command need not read every page again
            health.record_checked(self.path, health.file_stamp(self.path))

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on any error.

        A failed COMMIT (a full disk, say) may already have rolled the transaction back in
        SQLite, and a failed statement inside may have too: ROLLBACK is issued only while a
        transaction is open, and never hides the error that ended it. SQLite errors leave as
        the KnownError they stand for (store/health.py: full disk, damaged database, lock)."""
        with self._write_lock:
            c = self.conn
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise self.known(e) from e
            try:
                yield c
            except BaseException as e:
                self._rollback(c)
                if isinstance(e, (sqlite3.Error, OSError)):
                    known = self.known(e)
                    if known is not e:
                        raise known from e
                raise
            else:
                try:
                    c.execute("COMMIT")
                except sqlite3.Error as e:
                    self._rollback(c)
                    raise self.known(e) from e

    @staticmethod
    def _rollback(c: sqlite3.Connection) -> None:
        if c.in_transaction:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolled back already, or cannot: the original error is the one to tell

    def known(self, e: BaseException) -> BaseException:
        """The KnownError an SQLite or OS error on this store stands for (see store/health.py)."""
        return health.known_error(e, self.path)

    # -- health -------------------------------------------------------------------------
    def quick_check(self) -> list[str]:
        """PRAGMA quick_check on a connection of its own (safe from any thread); a failure is
        recorded in the damage marker, so status and searches say so until `repair`; a pass is
        noted with the files' size and time (see `check_if_changed`)."""
        stamp = health.file_stamp(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            problems = [str(e)]
        else:
            try:
                problems = health.quick_check(conn)
            finally:
                conn.close()
        if problems:
            lines = [p for p in problems if not p.startswith("***")]  # "*** in database main ***"
            health.record_damage(self.path, "SQLite's quick_check: " + "; ".join(lines or problems), "quick_check")
        else:
            self._trusted = True
            if health.file_stamp(self.path) == stamp:  # nothing wrote meanwhile: this state was checked
                health.record_checked(self.path, stamp, read_through=True)
        return problems

    def check_after_run(self, rewrote_much: bool) -> list[str]:
        """What an indexing run ends with: `quick_check` (every page read) when this process did
        not start from a checked state, when the store is known damaged, after a run that rewrote
        much of it (`rewrote_much`), or when the last read-through is a day old or more; else []
        (nothing to read: a checked state plus this run's own committed writes, which close()
        notes). So a re-index of a few changed files does not read a large library through every
        time (18 ms of a 50-file re-index at 24 MB, seconds at a million passages), and damage
        from outside is still found by the next command's `check_if_changed`."""
        if (not self._trusted or rewrote_much or self.damage() is not None
                or health.read_through_due(self.path)):
            return self.quick_check()
        return []

    def check_if_changed(self) -> list[str]:
        """`quick_check` when the database files changed since the last check that passed (a
        write by any process, or damage): what a command-line run does at its start, so a
        damaged page is found before results are served from it. [] when sound or unchanged."""
        if self.damage() is not None:
            return []
        if not health.changed_since_checked(self.path):
            self._trusted = True
            return []
        return self.quick_check()

    def damage(self) -> dict | None:
        """Why this store is known to be damaged ({"detail", "source", "at"}), or None."""
        return health.read_damage(self.path)

    def _migrate(self) -> None:
        c = self.conn
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise KnownError(
                f"The index at {self.path} was made by a newer version (schema {version}); "
                "update desktop-search or choose another data folder."
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self.write() as w:
                # inside a transaction sqlite-utils runs the script a complete statement at a
                # time (sqlite3's executescript() would COMMIT first)
                self.db.executescript(_MIGRATIONS[v])
                w.execute(f"PRAGMA user_version={v}")

    # -- generation: bumped on every change that affects search ------------------------
    def generation(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    @staticmethod
    def bump_generation(w: sqlite3.Connection) -> None:
        w.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        r = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r[0] if r else default

    def set_meta(self, key: str, value: str) -> None:
        # raw sqlite3: every indexing run sets some, and sqlite-utils' import was 38 ms of a re-index
        with self.write() as w:
            w.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self.write() as w:
            self.table("meta", w).delete_where("key = ?", [key])

    # -- folders ----------------------------------------------------------------------
    def add_folder(self, raw: bytes, display: str) -> int:
        with self.write() as w:
            folders = self.table("folders", w)
            folders.insert(dict(raw_path=raw, path=display, added_at=time.time()), ignore=True)
            fid = next(folders.rows_where("raw_path = ?", [raw], select="id"))["id"]
        self.save_folder_list()
        return fid

    def save_folder_list(self) -> None:
        """Copy the folder list beside the database (folders.json), for a repair that cannot read it."""
        try:
            rows = self.folders()
        except sqlite3.DatabaseError:
            return  # a damaged store: keep the last good copy
        write_folder_list(self.path, rows)

    def folders(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT id, raw_path, path, added_at FROM folders ORDER BY path").fetchall()

    # -- documents --------------------------------------------------------------------
    def docs_under(self, folder_id: int) -> dict[bytes, tuple[int, int, int, str]]:
        """raw path -> (id, size, mtime_ns, status) of the folder's documents: what a scan compares
        (as plain tuples: 5,000 rows a re-scan, where a Row each cost a third more)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute("SELECT raw_path, id, size, mtime_ns, status FROM documents WHERE folder_id=?", (folder_id,))
        return {bytes(r[0]): r[1:] for r in cur}

    def docs_by_id(self, ids: list[int]) -> list[sqlite3.Row]:
        """id, raw_path, size, mtime_ns, inode, status and content_hash of these documents."""
        out: list[sqlite3.Row] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += self.conn.execute(
                "SELECT id, raw_path, size, mtime_ns, inode, status, content_hash FROM documents "
                f"WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        return out

    def doc(self, doc_id: int) -> DocRow | None:
        r = self.conn.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE id=?", (doc_id,)).fetchone()
        return DocRow.from_row(r) if r else None

    def doc_by_path(self, raw: bytes) -> DocRow | None:
        r = self.conn.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE raw_path=?", (raw,)).fetchone()
        return DocRow.from_row(r) if r else None

    def doc_text(self, doc_id: int) -> str:
        r = self.conn.execute("SELECT text FROM documents WHERE id=?", (doc_id,)).fetchone()
        return (r[0] or "") if r else ""

    def docs(self, status: str | None = None, folder_id: int | None = None) -> list[DocRow]:
        sql = f"SELECT {DOC_COLUMNS} FROM documents"
        cond, args = [], []
        if status:
            cond.append("status=?")
            args.append(status)
        if folder_id is not None:
            cond.append("folder_id=?")
            args.append(folder_id)
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        sql += " ORDER BY path"
        return [DocRow.from_row(r) for r in self.conn.execute(sql, args)]

    def docs_by_hash(self, content_hash: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT id, raw_path FROM documents WHERE content_hash=? AND status='indexed'", (content_hash,)
        ).fetchall()

    def counts(self) -> dict[str, int]:
        out = {"indexed": 0, "skipped": 0, "failed": 0, "pending": 0}
        for r in self.conn.execute("SELECT status, COUNT(*) FROM documents GROUP BY status"):
            out[r[0]] = r[1]
        out["chunks"] = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return out

    # -- chunks -----------------------------------------------------------------------
    def chunk_rows(self, chunk_ids: Iterable[int]) -> dict[int, sqlite3.Row]:
        # Raw sqlite3, a measured hot path (every result list and snippet): 20,000 ids took
        # 22-24 ms vs 29-31 ms with sqlite-utils rows_where() (which also builds a dict a row),
        # on the 2-core development machine (benchmarks/store_writes.py, best of 5).
        ids = list(chunk_ids)
        out: dict[int, sqlite3.Row] = {}
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            q = ",".join("?" * len(part))
            for r in self.conn.execute(
                f"SELECT id, doc_id, ord, start, end FROM chunks WHERE id IN ({q})", part
            ):
                out[r["id"]] = r
        return out

    def chunk_texts(self, chunk_ids: list[int]) -> list[str]:
        """Texts of chunks, in the order given (reads each document's text once)."""
        rows = self.chunk_rows(chunk_ids)
        by_doc: dict[int, str] = {}
        out = []
        for cid in chunk_ids:
            r = rows[cid]
            if r["doc_id"] not in by_doc:
                by_doc[r["doc_id"]] = self.doc_text(r["doc_id"])
            out.append(by_doc[r["doc_id"]][r["start"] : r["end"]])
        return out

    def size_on_disk(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total
