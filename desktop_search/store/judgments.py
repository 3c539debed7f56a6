"""Relevance marks in SQLite: which files a user marked relevant (or not) for a query.

One row per (query, document): the query as typed (whitespace collapsed; matched without
case), the grade (1 relevant, 0 not relevant; higher grades allowed on import), the passage
that was shown, the content hash of the file, which retriever and model version showed it,
and when. A mark follows its file when the file moves (a moved file keeps its document row,
recognised by the hash of its text) and leaves with it when the file is deleted (ON DELETE
CASCADE); a re-read file keeps its marks, with the passage text they were made on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from ..errors import KnownError

JUDGMENTS_SQL = """
CREATE TABLE IF NOT EXISTS judgments (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    query_key TEXT NOT NULL,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_id INTEGER REFERENCES chunks(id) ON DELETE SET NULL,
    passage TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    grade INTEGER NOT NULL,
    retriever TEXT NOT NULL DEFAULT '',
    model_version TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (query_key, doc_id)
);
CREATE INDEX IF NOT EXISTS judgments_query ON judgments(query_key);
CREATE INDEX IF NOT EXISTS judgments_doc ON judgments(doc_id)
"""

RELEVANT, NOT_RELEVANT = 1, 0


def normalize_query(query: str) -> str:
    """The query as stored and shown: undecodable characters replaced, whitespace collapsed."""
    if isinstance(query, bytes):
        query = query.decode("utf-8", "replace")
    query = query.encode("utf-8", "replace").decode("utf-8")  # lone surrogates (from argv) become "?"
    return " ".join(query.split())


def query_key(query: str) -> str:
    """What two queries share to be "the same query": the normalised text without case."""
    return normalize_query(query).casefold()


@dataclass(frozen=True)
class Judgment:
    id: int
    query: str
    doc_id: int
    path: str
    grade: int
    passage: str
    chunk_id: int | None
    content_hash: str | None
    retriever: str
    model_version: str
    created_at: float
    updated_at: float

    @property
    def relevant(self) -> bool:
        return self.grade > 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


_COLUMNS = ("j.id, j.query, j.doc_id, d.path, j.grade, j.passage, j.chunk_id, j.content_hash, j.retriever, "
            "j.model_version, j.created_at, j.updated_at")


class JudgmentQueries:
    """Marks of one store (a mixin of Store: reads on the thread's connection, writes in `write()`)."""

    def set_judgment(self, query: str, doc_id: int, grade: int, *, chunk_id: int | None = None,
                     passage: str | None = None, retriever: str = "", model_version: str = "",
                     now: float | None = None) -> int:
        """Mark `doc_id` for `query` (a second mark of the same pair replaces the first); returns its id."""
        q = normalize_query(query)
        if not q:
            raise KnownError("An empty query cannot be judged: type the query the result was found for.")
        now = time.time() if now is None else now
        with self.write() as w:
            doc = w.execute("SELECT content_hash, text FROM documents WHERE id=?", (doc_id,)).fetchone()
            if doc is None:
                raise KnownError("That file is no longer in the index (deleted or moved since the search); "
                                 "search again and mark the new result.")
            if passage is None:
                passage = ""
                if chunk_id is not None:
                    r = w.execute("SELECT start, end FROM chunks WHERE id=? AND doc_id=?", (chunk_id, doc_id)).fetchone()
                    if r is not None:
                        passage = (doc["text"] or "")[r["start"]:r["end"]]
                    else:
                        chunk_id = None
            w.execute(
                "INSERT INTO judgments(query, query_key, doc_id, chunk_id, passage, content_hash, grade, retriever, "
                "model_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(query_key, doc_id) DO UPDATE SET query=excluded.query, grade=excluded.grade, "
                "chunk_id=COALESCE(excluded.chunk_id, chunk_id), "
                "passage=CASE WHEN excluded.passage != '' THEN excluded.passage ELSE passage END, "
                "content_hash=excluded.content_hash, retriever=excluded.retriever, "
                "model_version=excluded.model_version, updated_at=excluded.updated_at",
                (q, q.casefold(), doc_id, chunk_id, passage, doc["content_hash"], int(grade), retriever,
                 model_version, now, now))
            return w.execute("SELECT id FROM judgments WHERE query_key=? AND doc_id=?",
                             (q.casefold(), doc_id)).fetchone()[0]

    def remove_judgment(self, query: str, doc_id: int | None = None) -> int:
        """Remove the mark of `doc_id` for `query`, or all of the query's marks; returns how many went."""
        key = query_key(query)
        with self.write() as w:
            if doc_id is None:
                return w.execute("DELETE FROM judgments WHERE query_key=?", (key,)).rowcount
            return w.execute("DELETE FROM judgments WHERE query_key=? AND doc_id=?", (key, doc_id)).rowcount

    def judgments(self, query: str | None = None) -> list[Judgment]:
        """Every mark (of one query), by query then file."""
        sql = f"SELECT {_COLUMNS} FROM judgments j JOIN documents d ON d.id = j.doc_id"
        args: tuple = ()
        if query is not None:
            sql += " WHERE j.query_key=?"
            args = (query_key(query),)
        sql += " ORDER BY j.query_key, d.path"
        return [Judgment(*r) for r in self.conn.execute(sql, args)]

    def marks_for(self, query: str) -> dict[int, int]:
        """{doc_id: grade} of one query (what the result lists show beside each file)."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT doc_id, grade FROM judgments WHERE query_key=?", (query_key(query),))}

    def judged_queries(self) -> list[dict]:
        """One row per judged query: its text, relevant and not-relevant counts, last change."""
        return [dict(query=r[0], relevant=r[1], not_relevant=r[2], updated_at=r[3]) for r in self.conn.execute(
            "SELECT MAX(query), SUM(grade > 0), SUM(grade <= 0), MAX(updated_at) FROM judgments "
            "GROUP BY query_key ORDER BY MAX(updated_at) DESC")]

    def qrels(self) -> dict[str, dict[int, int]]:
        """{query: {doc_id: grade}} of every judged query (the grade 0 marks included)."""
        out: dict[str, dict[int, int]] = {}
        names: dict[str, str] = {}
        for q, key, doc_id, grade in self.conn.execute("SELECT query, query_key, doc_id, grade FROM judgments"):
            name = names.setdefault(key, q)
            out.setdefault(name, {})[doc_id] = grade
        return out

    def judged_passages(self, queries: Iterable[str] | None = None) -> list[tuple[str, int, str, int]]:
        """(query, doc_id, passage text, grade) of every mark with a passage, for training."""
        keys = None if queries is None else {query_key(q) for q in queries}
        rows = self.conn.execute(
            "SELECT j.query, j.query_key, j.doc_id, j.passage, j.chunk_id, j.grade, d.text FROM judgments j "
            "JOIN documents d ON d.id=j.doc_id ORDER BY j.id").fetchall()
        out = []
        for q, key, doc_id, passage, chunk_id, grade, text in rows:
            if keys is not None and key not in keys:
                continue
            if not passage:  # a mark made without a passage (imported): the file's first passage
                r = self.conn.execute("SELECT start, end FROM chunks WHERE doc_id=? ORDER BY ord LIMIT 1",
                                      (doc_id,)).fetchone()
                passage = (text or "")[r[0]:r[1]] if r else (text or "")[:2000]
            if passage.strip():
                out.append((q, doc_id, passage, grade))
        return out
