"""The indexing job's SQL: scan problems, documents written from extracted files, moved files,
chunks, and the vectors of the chunks that have none yet.

A mixin of `Store`. The writes take `w`, the connection of a `Store.write()` transaction that
the indexer holds open: the indexer's transaction boundaries are what leave a consistent store
when a job is killed (kill -9 too), so none of these methods opens or commits one itself. They
use sqlite-utils tables of that transaction (`TableAccess.table(name, w)`, store/tables.py),
except where a measured hot path keeps raw sqlite3 (the figures are at each spot; they come from
`benchmarks/store_writes.py`: 20,000 rows in one write transaction of a temporary store, best
of 5, on the 2-core development machine). What a re-index of changed files runs (documents,
chunks, scan problems when there are none) is raw sqlite3 as a whole: importing sqlite-utils
(with numpy.ma, click and dateutil) was 38 ms of a 0.43 s re-index of 50 files.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Iterable, Sequence

from .tables import TableAccess

_BATCH = 900  # ids per IN (...) list, under SQLite's default variable limit of 999


class IndexingQueries(TableAccess):
    """Reads and writes of the indexing job (documents, chunks, scan problems, vectors)."""

    # -- scan problems --------------------------------------------------------------------
    def replace_scan_problems(self, w: sqlite3.Connection, folder_id: int,
                              problems: Iterable[tuple[str, str]]) -> None:
        """The folder's scan problems become `problems`: (display path, reason) pairs."""
        t = self.table("scan_problems", w)
        t.delete_where("folder_id = ?", [folder_id])
        t.insert_all([dict(folder_id=folder_id, path=path, reason=reason, at=time.time())
                      for path, reason in problems])

    def has_scan_problems(self, folder_id: int) -> bool:
        """Whether the folder has scan problems recorded (a re-scan with none to record and none
        to clear skips the write transaction and the sqlite-utils import: a fifth of a re-index)."""
        return self.conn.execute("SELECT 1 FROM scan_problems WHERE folder_id = ? LIMIT 1",
                                 (folder_id,)).fetchone() is not None

    # -- documents ------------------------------------------------------------------------
    def write_document(self, w: sqlite3.Connection, old_id: int | None, values: dict) -> int:
        """Write one read file's row: over `old_id` (a changed file), over the row its path
        already has under another folder (nested roots; that row's chunks go), or as a new row.
        Returns the document id.

        Updates through sqlite-utils, whose schema reads cost about 0.1 ms a file (2,000 updates:
        211-218 ms vs 16 ms with execute()), small beside reading a changed file. A new file (every
        file of a first run) is raw sqlite3, a measured hot path: the lookup and insert through
        sqlite-utils took 1.5 s of the 19 s a profiled `index --no-embed` of SciFact's 5,183 files
        took once reading, chunking and BM25 were made faster (2,000 inserts: 72-74 ms vs 14-15 ms).
        """
        if not w.in_transaction:
            raise RuntimeError("store writes run inside Store.write()")
        if old_id is not None:
            self._update_document(w, old_id, values)
            return old_id
        old = w.execute("SELECT id FROM documents WHERE raw_path = ?", (values["raw_path"],)).fetchone()
        if old is not None:
            w.execute("DELETE FROM chunks WHERE doc_id = ?", (old[0],))
            self._update_document(w, old[0], values)
            return old[0]
        cols = list(values)
        return w.execute(f"INSERT INTO documents({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         [values[c] for c in cols]).lastrowid

    def move_document(self, w: sqlite3.Connection, doc_id: int, values: dict) -> None:
        """A moved or renamed file: its row (chunks, vectors, marks) takes the new path and stat."""
        if not w.in_transaction:
            raise RuntimeError("store writes run inside Store.write()")
        self._update_document(w, doc_id, values)

    @staticmethod
    def _update_document(w: sqlite3.Connection, doc_id: int, values: dict) -> None:
        """UPDATE of the row's columns named in `values` (our own column names, never input);
        a row gone meanwhile is an UPDATE of no row (the chunks' foreign key then fails)."""
        cols = list(values)
        w.execute(f"UPDATE documents SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                  [*(values[c] for c in cols), doc_id])

    def take_chunks(self, w: sqlite3.Connection, doc_id: int) -> list[int]:
        """Delete a document's chunks (their vectors go with them); returns their ids."""
        ids = [r[0] for r in w.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        w.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        return ids

    def take_members(self, w: sqlite3.Connection, archive_raw: bytes) -> list[int]:
        """Delete the rows of an archive's members (raw path: the archive's, a NUL, the member's name)
        with their chunks; returns the chunk ids. A range on the unique raw_path index."""
        prefix = archive_raw + b"\x00"
        ids = [r[0] for r in w.execute("SELECT id FROM documents WHERE raw_path >= ? AND raw_path < ?",
                                       (prefix, archive_raw + b"\x01"))]
        chunk_ids: list[int] = []
        for i in range(0, len(ids), _BATCH):
            part = ids[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            chunk_ids += [r[0] for r in w.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part)]
            w.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", part)
            w.execute(f"DELETE FROM documents WHERE id IN ({marks})", part)
        return chunk_ids

    # -- chunks ---------------------------------------------------------------------------
    def add_chunks(self, w: sqlite3.Connection, doc_id: int,
                   spans: Iterable[tuple[int, int, int, int]]) -> list[int]:
        """Insert a document's chunks, (start, end, n_tokens, bm25_len) in order; returns their ids.

        Raw sqlite3, a measured hot path (a row per passage, and each row's id goes into the BM25
        segment): 20,000 rows took 38-41 ms with execute() a row vs 507-539 ms with sqlite-utils
        `Table.insert()` a row (it reads the schema again on every call), on this machine;
        sqlite-utils `insert_all()` (69-72 ms) returns no id per row.
        """
        sql = "INSERT INTO chunks(doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, ?, ?, ?, ?, ?)"
        return [w.execute(sql, (doc_id, o, start, end, n_tokens, bm25_len)).lastrowid
                for o, (start, end, n_tokens, bm25_len) in enumerate(spans)]

    def live_chunk_ids(self, w: sqlite3.Connection, chunk_ids: Sequence[int]) -> set[int]:
        """Those of `chunk_ids` still in the store."""
        out: set[int] = set()
        for i in range(0, len(chunk_ids), _BATCH):
            part = list(chunk_ids[i : i + _BATCH])
            out.update(r[0] for r in w.execute(
                f"SELECT id FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
        return out

    # -- vectors --------------------------------------------------------------------------
    def chunks_without_vector(self, model_key: str) -> list[int]:
        """Ids of the chunks with no vector for the model, shortest first (then by id)."""
        return [r[0] for r in self.conn.execute(
            "SELECT c.id FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id AND v.model = ? "
            "WHERE v.chunk_id IS NULL ORDER BY c.n_tokens, c.id", (model_key,))]

    def put_vectors(self, w: sqlite3.Connection, model_key: str, vectors: Iterable[tuple[int, bytes]]) -> None:
        """Store (chunk id, float16 bytes) vectors of the model, replacing any it had.

        sqlite-utils `insert_all(replace=True)` (INSERT OR REPLACE, 100 rows a statement):
        20,000 vectors of 384 float16 took 64-67 ms vs 83-86 ms with executemany() of one row
        a statement, on this machine.
        """
        self.table("vectors", w).insert_all(
            (dict(model=model_key, chunk_id=cid, vec=vec) for cid, vec in vectors), replace=True)
