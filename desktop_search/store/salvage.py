"""Reading what survives in a damaged database, and the folder list kept outside it.

`repair` moves a damaged database aside and rebuilds the index from the files; before that it
takes from the damaged copy whatever SQLite can still read: the folders, the vectors (keyed by
the content hash of their file and the passage's span, since passage ids change in a rebuild)
and the relevance marks. Each read stops at the first damaged page it meets and keeps what it
had; what could not be read is listed. The folder list is also kept in `folders.json` beside
the database (rewritten whenever folders change), for a database that cannot be opened at all.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

FOLDER_LIST = "folders.json"

VectorKey = tuple[str, str, int, int]  # (model key, content hash, start, end)


def folder_list_path(db_path: Path) -> Path:
    return Path(db_path).with_name(FOLDER_LIST)


def write_folder_list(db_path: Path, rows) -> None:
    """Keep the folders (raw path bytes, display path) beside the database."""
    from ..util import atomic_write_text

    data = [{"raw_path": bytes(r["raw_path"]).hex(), "path": r["path"]} for r in rows]
    try:
        atomic_write_text(folder_list_path(db_path), json.dumps(data, indent=1))
    except OSError:
        pass  # a copy for repairs only: the database holds the folders


def read_folder_list(path: Path) -> list[tuple[bytes, str]]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
        return [(bytes.fromhex(d["raw_path"]), str(d["path"])) for d in data]
    except (OSError, ValueError, KeyError, TypeError):
        return []


@dataclass
class Salvage:
    """What was read from a damaged database."""

    folders: list[tuple[bytes, str]] = field(default_factory=list)
    models: list[tuple[str, str, int]] = field(default_factory=list)  # (key, name, dim)
    vectors: dict[VectorKey, bytes] = field(default_factory=dict)
    marks: list[dict] = field(default_factory=list)  # judgment rows with the file's raw path
    problems: list[str] = field(default_factory=list)  # what could not be read, and why


def _rows(conn: sqlite3.Connection, sql: str, what: str, out: Salvage, args=()):
    """The rows of `sql` up to the first error (which is noted in `out.problems`)."""
    try:
        for r in conn.execute(sql, args):
            yield r
    except sqlite3.DatabaseError as e:
        out.problems.append(f"{what}: {e}")


def salvage(db_path: Path, folder_list: Path | None = None) -> Salvage:
    """Read what can be read from the damaged database at `db_path` (opened read-only)."""
    out = Salvage()
    try:
        conn = sqlite3.connect(f"{Path(db_path).as_uri()}?mode=ro", uri=True, timeout=5.0)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        out.problems.append(f"the database cannot be opened: {e}")
        conn = None
    if conn is not None:
        try:
            _read(conn, out)
        finally:
            conn.close()
    if not out.folders and folder_list is not None:
        out.folders = read_folder_list(folder_list)
    return out


def _read(conn: sqlite3.Connection, out: Salvage) -> None:
    out.folders = [(bytes(r[0]), r[1]) for r in _rows(conn, "SELECT raw_path, path FROM folders", "folders", out)]
    out.models = [(r[0], r[1], int(r[2])) for r in _rows(conn, "SELECT key, name, dim FROM models", "models", out)]
    sql = ("SELECT v.model, d.content_hash, c.start, c.end, v.vec FROM vectors v "
           "JOIN chunks c ON c.id = v.chunk_id JOIN documents d ON d.id = c.doc_id "
           "WHERE d.content_hash IS NOT NULL")
    n_problems = len(out.problems)
    for r in _rows(conn, sql, "vectors", out):
        out.vectors[(r[0], r[1], r[2], r[3])] = bytes(r[4])
    if len(out.problems) > n_problems:
        # the join met a damaged page: read the rest document by document, skipping bad ones
        out.problems.pop()
        _vectors_by_document(conn, out)
    marks_sql = ("SELECT j.query, j.query_key, d.raw_path, j.passage, j.content_hash, j.grade, j.retriever, "
                 "j.model_version, j.created_at, j.updated_at FROM judgments j LEFT JOIN documents d ON d.id = j.doc_id")
    names = ("query", "query_key", "raw_path", "passage", "content_hash", "grade", "retriever", "model_version",
             "created_at", "updated_at")
    out.marks = [dict(zip(names, r)) for r in _rows(conn, marks_sql, "relevance marks", out)]


def _vectors_by_document(conn: sqlite3.Connection, out: Salvage) -> None:
    docs = list(_rows(conn, "SELECT id, content_hash FROM documents WHERE content_hash IS NOT NULL",
                      "documents", out))
    lost = 0
    for doc_id, content_hash in docs:
        try:
            for r in conn.execute(
                    "SELECT v.model, c.start, c.end, v.vec FROM chunks c JOIN vectors v ON v.chunk_id = c.id "
                    "WHERE c.doc_id = ?", (doc_id,)):
                out.vectors[(r[0], content_hash, r[1], r[2])] = bytes(r[3])
        except sqlite3.DatabaseError:
            lost += 1
    if lost:
        out.problems.append(f"vectors of {lost} files could not be read (they are embedded again)")


def restore_vectors(store, salv: Salvage) -> int:
    """Put the salvaged vectors back on the rebuilt passages with the same text (content hash
    and span), for each model the damaged store knew; returns how many were restored."""
    if not salv.vectors:
        return 0
    spans = store.conn.execute(
        "SELECT c.id, d.content_hash, c.start, c.end FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE d.content_hash IS NOT NULL").fetchall()
    n = 0
    for key, name, dim in salv.models:
        rows = [(cid, vec) for cid, h, start, end in spans
                if (vec := salv.vectors.get((key, h, start, end))) is not None and len(vec) == 2 * dim]
        if not rows:
            continue
        store.add_model(key, name, dim)
        for i in range(0, len(rows), 2000):
            with store.write() as w:
                store.put_vectors(w, key, rows[i : i + 2000])
                store.bump_generation(w)
        n += len(rows)
    return n


def restore_marks(store, salv: Salvage) -> int:
    """Put the salvaged relevance marks back on the rebuilt documents (matched by path)."""
    if not salv.marks:
        return 0
    ids, by_hash = {}, {}
    for r in store.conn.execute("SELECT id, raw_path, content_hash FROM documents WHERE status='indexed'"):
        ids[bytes(r[1])] = r[0]
        by_hash.setdefault(r[2], r[0])
    n = 0
    with store.write() as w:
        for m in salv.marks:
            # by path, or by the text's hash where the damaged page held the document's row
            doc_id = ids.get(bytes(m["raw_path"])) if m["raw_path"] is not None else None
            doc_id = doc_id or by_hash.get(m["content_hash"])
            if doc_id is None:
                continue
            row = {k: v for k, v in m.items() if k != "raw_path"}
            store.table("judgments", w).insert(dict(row, doc_id=doc_id), ignore=True)
            n += 1
    return n
