"""The store's SQL: sqlite-utils inside our transactions (never committing on its own), the
indexer's writes, migrations that make the same schema as before."""

from __future__ import annotations

import sqlite3

import pytest

from desktop_search.store import SCHEMA_VERSION, Store
from desktop_search.store.db import _MIGRATIONS


def _doc(raw: bytes, **kw) -> dict:
    return dict(dict(raw_path=raw, path=raw.decode(), folder_id=1, name=raw.decode(), ext="txt", size=1,
                     mtime_ns=1, inode=1, status="indexed", reason=None, kind="text", encoding="utf-8",
                     title=None, text="hello world", content_hash="h", indexed_at=0.0), **kw)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store.db")
    s.add_folder(b"/f", "/f")
    yield s
    s.close()


def test_connection_policy_is_kept(store):
    c = store.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    store.db  # noqa: B018  (sqlite-utils over the connection sets none of its pragmas)
    assert c.execute("PRAGMA recursive_triggers").fetchone()[0] == 0
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_threads_that_end_leave_no_open_connection(store):
    import threading

    seen = []

    def read():
        seen.append(store.conn.execute("SELECT COUNT(*) FROM folders").fetchone()[0])

    for _ in range(12):  # one short-lived thread after another, as background tasks come and go
        t = threading.Thread(target=read)
        t.start()
        t.join()
    assert seen == [1] * 12
    # the main thread's, the last thread's, and at most one more: join() returns before the OS thread
    # has left /proc/self/task, so under load the one before may still look alive (a leak would keep 13)
    assert store.open_connections() <= 3
    c = store.conn
    assert store.conn is c and c.execute("SELECT 1").fetchone()[0] == 1  # one per thread, kept
    store.close()
    assert store.open_connections() == 0
    assert store.conn.execute("SELECT COUNT(*) FROM folders").fetchone()[0] == 1  # reopens after close


def test_write_tables_need_an_open_transaction(store):
    with pytest.raises(RuntimeError):
        store.table("documents", store.conn)
    with pytest.raises(RuntimeError):
        store.write_document(store.conn, None, _doc(b"/f/a"))
    assert store.counts()["indexed"] == 0


def test_sqlite_utils_writes_roll_back_with_the_transaction(store):
    """Its atomic() blocks are savepoints inside our BEGIN IMMEDIATE: nothing commits early."""
    with pytest.raises(ZeroDivisionError):
        with store.write() as w:
            doc = store.write_document(w, None, _doc(b"/f/a"))
            ids = store.add_chunks(w, doc, [(0, 5, 1, 1), (6, 11, 1, 1)])
            store.put_vectors(w, "m", [(i, b"\0\0") for i in ids])
            store.replace_scan_problems(w, 1, [("/f/x", "unreadable")])
            store.table("meta", w).insert(dict(key="k", value="v"), replace=True)
            assert w.in_transaction
            1 / 0
    assert not store.conn.in_transaction
    assert store.counts() == {"indexed": 0, "skipped": 0, "failed": 0, "pending": 0, "chunks": 0}
    assert store.scan_problem_rows() == [] and store.get_meta("k") is None
    assert store.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0


def test_indexer_writes(store):
    with store.write() as w:
        a = store.write_document(w, None, _doc(b"/f/a"))
        ids = store.add_chunks(w, a, [(0, 5, 3, 1), (6, 11, 1, 1)])
        store.replace_scan_problems(w, 1, [("/f/x", "unreadable"), ("/f/y", "too big")])
    assert ids == sorted(ids) and len(set(ids)) == 2
    assert [(r["ord"], r["start"], r["end"]) for r in store.chunk_rows(ids).values()] == [(0, 0, 5), (1, 6, 11)]
    assert store.chunks_without_vector("m") == [ids[1], ids[0]]  # shortest first
    assert [r["path"] for r in store.scan_problem_rows()] == ["/f/x", "/f/y"]

    with store.write() as w:  # a changed file: its chunks go, its row is rewritten
        assert store.live_chunk_ids(w, [*ids, 10_000]) == set(ids)
        store.put_vectors(w, "m", [(ids[0], b"\1\0")])
        store.put_vectors(w, "m", [(ids[0], b"\2\0")])  # replaced, not doubled
        assert store.take_chunks(w, a) == ids
        assert store.write_document(w, a, _doc(b"/f/a", status="failed", reason="bad", text=None)) == a
        store.replace_scan_problems(w, 1, [])
    assert store.doc(a).status == "failed" and store.chunk_ids_of([a]) == set()
    assert store.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0  # followed its chunk
    assert store.scan_problem_rows() == []

    with store.write() as w:  # the same path under another folder (nested roots) replaces the row
        store.add_chunks(w, a, [(0, 5, 1, 1)])
        assert store.write_document(w, None, _doc(b"/f/a", folder_id=2)) == a
        store.move_document(w, a, dict(raw_path=b"/f/b", path="/f/b", name="b"))
        store.move_document(w, 999, dict(path="/nowhere"))  # a row gone meanwhile: nothing to update
    d = store.doc(a)
    assert (d.path, d.folder_id, d.status) == ("/f/b", 2, "indexed") and store.chunk_ids_of([a]) == set()
    assert store.doc_by_path(b"/f/a") is None


def test_library_queries_on_sqlite_utils(store):
    assert store.add_folder(b"/f", "/f") == store.add_folder(b"/f", "/f")  # the same row again
    store.add_model("m", "model", 4)
    store.add_model("m", "other", 8)  # kept as it was
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2" and store.model_rows() == [dict(key="m", name="model", vectors=0)]
    with store.write() as w:
        a = store.write_document(w, None, _doc(b"/f/a"))
        b = store.write_document(w, None, _doc(b"/f/b", ext="md"))
        ca = store.add_chunks(w, a, [(0, 5, 1, 1), (6, 11, 1, 1)])
        store.add_chunks(w, b, [(0, 5, 1, 1)])
    assert store.folder_doc_ids(1) == [a, b]
    assert store.filtered_doc_ids(exts=["MD"]) == {b}
    assert store.chunk_spans(a) == [(0, 5), (6, 11)]
    assert store.counts()["chunks"] == 3
    assert sorted(store.delete_documents([a])) == ca and store.counts()["chunks"] == 1
    store.delete_model("m")
    assert store.model_rows() == []


def test_migrations_make_the_same_schema_as_before(tmp_path):
    """The scripts run a complete statement at a time; a store made the old way (split on ';')
    has the same schema and opens unchanged."""
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.execute("BEGIN IMMEDIATE")
    for v in range(1, SCHEMA_VERSION + 1):
        for stmt in [s.strip() for s in _MIGRATIONS[v].split(";") if s.strip()]:
            old.execute(stmt)
        old.execute(f"PRAGMA user_version={v}")
    old.execute("COMMIT")
    schema_old = old.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    old.close()
    new = Store(tmp_path / "new.db")
    schema_new = [tuple(r) for r in new.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")]
    assert schema_new == schema_old
    assert new.generation() == 0
    reopened = Store(tmp_path / "old.db")
    assert reopened.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert reopened.generation() == 0
    new.close()
    reopened.close()


def test_a_scan_lists_documents_from_an_index_alone(tmp_path):
    """What a re-scan compares (raw path, size, time, status) comes from the documents_scan index,
    never from the table's rows, which hold each file's text (schema 4); a schema-3 store gets it."""
    store = Store(tmp_path / "s.db")
    plan = " ".join(r[3] for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT raw_path, id, size, mtime_ns, status FROM documents WHERE folder_id=?", (1,)))
    assert "COVERING INDEX documents_scan" in plan
    store.close()
    old = sqlite3.connect(tmp_path / "v3.db", isolation_level=None)
    for v in (1, 2, 3):
        old.executescript(_MIGRATIONS[v])
    old.execute("PRAGMA user_version=3")
    old.execute("INSERT INTO folders(id, raw_path, path, added_at) VALUES (1, x'2f', '/', 0)")
    old.execute("INSERT INTO documents(id, raw_path, path, name, ext, status, folder_id, size, mtime_ns, text) "
                "VALUES (7, x'2f61', '/a', 'a', '', 'indexed', 1, 5, 9, 'hello')")
    old.close()
    migrated = Store(tmp_path / "v3.db")
    names = {r[0] for r in migrated.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "documents_scan" in names and "documents_folder" not in names
    assert migrated.docs_under(1) == {b"/a": (7, 5, 9, "indexed")}
    migrated.close()


def test_a_loaded_vector_index_holds_no_spare_capacity_and_still_grows(store, tmp_path):
    """The saved capacity (up to 1.5x the count after growth) is not allocated again on load: a
    searching process holds what the index holds; adding vectors afterwards resizes it."""
    import numpy as np

    from desktop_search.index import VectorIndex

    with store.write() as w:
        a = store.write_document(w, None, _doc(b"/f/a"))
        ids = store.add_chunks(w, a, [(i, i + 1, 1, 1) for i in range(1100)])
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(1100, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with store.write() as w:  # what the embedder stores; the index is reconciled with it on open
        store.put_vectors(w, "m", [(c, v.astype(np.float16).tobytes()) for c, v in zip(ids[:1050], vecs[:1050])])
    vi = VectorIndex(store, tmp_path / "vectors", "m", 8).open()
    vi.add(np.array(ids[:1000]), vecs[:1000])
    vi.add(np.array(ids[1000:1050]), vecs[1000:1050])  # grows past 1024: capacity 1.5x
    assert vi._index.get_max_elements() > 1050
    vi.save()
    vi.close()
    again = VectorIndex(store, tmp_path / "vectors", "m", 8).open()
    assert again.problem is None and again._index.get_max_elements() == 1050
    with store.write() as w:
        store.put_vectors(w, "m", [(c, v.astype(np.float16).tobytes()) for c, v in zip(ids[1050:], vecs[1050:])])
    again.add(np.array(ids[1050:]), vecs[1050:])
    assert len(again) == 1100 and again.search(vecs[1099], 1)[0][0] == ids[1099]
