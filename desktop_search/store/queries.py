"""The library's SQL outside the BM25 postings: folders, removal, status, filters, models, export.

A mixin of `Store`: every method reads through the thread's connection or writes in one
`write()` transaction, with sqlite-utils tables of either (store/tables.py) where the query is
a plain one on one table, and SQL where it is not (joins, subqueries, bulk updates).
"""

from __future__ import annotations

import os
import time
from typing import Iterable, Iterator, Sequence

from .tables import TableAccess

_BATCH = 500  # ids per IN (...) list, well under SQLite's variable limit


def _chunks(ids: Sequence[int], n: int = _BATCH) -> Iterator[list[int]]:
    for i in range(0, len(ids), n):
        yield list(ids[i : i + n])


def _marks(n: int) -> str:
    return ",".join("?" * n)


class LibraryQueries(TableAccess):
    """Folders, documents' removal, status counts, filter ids, model rows and the passages export."""

    # -- folders --------------------------------------------------------------------------
    def absorb_folders(self, into: int, inner: Iterable[int]) -> None:
        """Folders inside folder `into` give it their documents and go."""
        with self.write() as w:
            folders = self.table("folders", w)
            for i in inner:
                w.execute("UPDATE documents SET folder_id=? WHERE folder_id=?", (into, i))
                folders.delete_where("id = ?", [i])
        self.save_folder_list()

    def folder_doc_ids(self, folder_id: int) -> list[int]:
        return [r["id"] for r in self.table("documents").rows_where("folder_id = ?", [folder_id], select="id")]

    def delete_folder(self, folder_id: int) -> None:
        with self.write() as w:
            self.table("folders", w).delete_where("id = ?", [folder_id])
            self.bump_generation(w)
        self.save_folder_list()

    def folder_stats(self, folder_id: int) -> dict:
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status='indexed'), 0), COALESCE(SUM(status='skipped'), 0), "
            "COALESCE(SUM(status='failed'), 0) FROM documents WHERE folder_id=?", (folder_id,)).fetchone()
        chunks = self.conn.execute(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id=c.doc_id WHERE d.folder_id=?",
            (folder_id,)).fetchone()[0]
        return {"files": row[0], "indexed": row[1], "skipped": row[2], "failed": row[3], "chunks": chunks}

    # -- documents --------------------------------------------------------------------------
    def delete_documents(self, doc_ids: Sequence[int]) -> list[int]:
        """Remove documents with their chunks (vectors and postings follow); returns the chunk ids."""
        chunk_ids: list[int] = []
        if not doc_ids:
            return chunk_ids
        with self.write() as w:
            chunks, documents = self.table("chunks", w), self.table("documents", w)
            for part in _chunks(doc_ids):
                q = _marks(len(part))
                chunk_ids += [r["id"] for r in chunks.rows_where(f"doc_id IN ({q})", part, select="id")]
                chunks.delete_where(f"doc_id IN ({q})", part)
                documents.delete_where(f"id IN ({q})", part)
            self.bump_generation(w)
        return chunk_ids

    def scan_problem_rows(self) -> list[dict]:
        return [dict(path=r["path"], status="failed", reason=r["reason"])
                for r in self.table("scan_problems").rows_where(select="path, reason", order_by="path")]

    # -- filters ----------------------------------------------------------------------------
    def filtered_doc_ids(self, folder: str | None = None, exts: Sequence[str] = (),
                         modified_after: float | None = None, modified_before: float | None = None) -> set[int]:
        """Indexed documents under `folder` (a path prefix), of these extensions, modified in the range."""
        cond, args = ["status='indexed'"], []
        if folder:
            folder = os.path.abspath(folder).rstrip(os.sep)
            cond.append("(path = ? OR substr(path, 1, ?) = ?)")
            args += [folder, len(folder) + 1, folder + os.sep]
        if exts:
            exts = [e.lower().lstrip(".") for e in exts]
            cond.append(f"ext IN ({_marks(len(exts))})")
            args += exts
        if modified_after:
            cond.append("mtime_ns >= ?")
            args.append(int(modified_after * 1e9))
        if modified_before:
            cond.append("mtime_ns <= ?")
            args.append(int(modified_before * 1e9))
        return {r["id"] for r in self.table("documents").rows_where(" AND ".join(cond), args, select="id")}

    def chunk_ids_of(self, doc_ids: Iterable[int]) -> set[int]:
        out: set[int] = set()
        docs = list(doc_ids)
        chunks = self.table("chunks")
        for part in _chunks(docs, 900):
            out.update(r["id"] for r in chunks.rows_where(f"doc_id IN ({_marks(len(part))})", part, select="id"))
        return out

    # -- models -----------------------------------------------------------------------------
    def add_model(self, key: str, name: str, dim: int) -> None:
        with self.write() as w:
            self.table("models", w).insert(dict(key=key, name=name, dim=dim, created_at=time.time()), ignore=True)

    def delete_model(self, key: str) -> None:
        """A model's vectors and its row."""
        with self.write() as w:
            self.table("vectors", w).delete_where("model = ?", [key])
            self.table("models", w).delete_where("key = ?", [key])

    def model_dims(self) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in self.conn.execute("SELECT key, dim FROM models ORDER BY key")]

    def vector_count(self, key: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (key,)).fetchone()[0]

    def model_rows(self) -> list[dict]:
        return [dict(key=r[0], name=r[1], vectors=r[2]) for r in self.conn.execute(
            "SELECT m.key, m.name, (SELECT COUNT(*) FROM vectors v WHERE v.model=m.key) FROM models m")]

    # -- export for training ----------------------------------------------------------------
    def indexed_documents(self) -> list[tuple[int, str | None, str]]:
        """(id, title, name) of every indexed document, in id order."""
        return self.conn.execute(
            "SELECT id, title, name FROM documents WHERE status='indexed' ORDER BY id").fetchall()

    def chunk_spans(self, doc_id: int) -> list[tuple[int, int]]:
        return [(r["start"], r["end"]) for r in self.table("chunks").rows_where(
            "doc_id = ?", [doc_id], select="start, end", order_by="ord")]
