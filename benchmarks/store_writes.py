"""Store writes and lookups, raw sqlite3 vs sqlite-utils over the same connection and transaction.

The figures quoted in desktop_search/store/indexing.py and db.py (where raw sqlite3 stays on a
hot path) come from this script. Each case runs in a fresh temporary store, inside one
`Store.write()` transaction (as the indexer does), best of --repeat runs.

    python benchmarks/store_writes.py [--rows 20000] [--docs 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import emit  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from sqlite_utils.db import Table

    from desktop_search.store import Store

    n, n_docs = args.rows, args.docs
    per_doc = max(1, n // n_docs)
    vec = bytes(2 * args.dim)

    def fresh(tmp: str, with_chunks: bool = False) -> Store:
        s = Store(Path(tmp) / f"s{random.getrandbits(40)}.db")
        with s.write() as w:
            w.executemany("INSERT INTO documents(id, raw_path, path, name, ext, status) VALUES (?, ?, ?, ?, '', 'indexed')",
                          [(d + 1, f"/d/{d}".encode(), f"/d/{d}", str(d)) for d in range(n_docs)])
            if with_chunks:
                w.executemany("INSERT INTO chunks(id, doc_id, ord, start, end, n_tokens, bm25_len) "
                              "VALUES (?, ?, ?, 0, 10, 5, 5)", [(i + 1, i // per_doc + 1, i % per_doc) for i in range(n)])
        return s

    chunk_rows = [(i // per_doc + 1, i % per_doc, 0, 10, 5, 5) for i in range(n)]
    cols = ("doc_id", "ord", "start", "end", "n_tokens", "bm25_len")

    def chunks_raw(s, w):
        sql = "INSERT INTO chunks(doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, ?, ?, ?, ?, ?)"
        return [w.execute(sql, r).lastrowid for r in chunk_rows]

    def chunks_utils_insert(s, w):
        t = Table(s.db, "chunks")
        return [t.insert(dict(zip(cols, r))).last_rowid for r in chunk_rows]

    def chunks_utils_insert_all(s, w):
        Table(s.db, "chunks").insert_all(dict(zip(cols, r)) for r in chunk_rows)

    def vectors_raw(s, w):
        w.executemany("INSERT OR REPLACE INTO vectors(model, chunk_id, vec) VALUES (?, ?, ?)",
                      [("m", i + 1, vec) for i in range(n)])

    def vectors_utils(s, w):
        Table(s.db, "vectors").insert_all((dict(model="m", chunk_id=i + 1, vec=vec) for i in range(n)), replace=True)

    def doc_values(d):
        return dict(raw_path=f"/e/{d}".encode(), path=f"/e/{d}", folder_id=1, name=str(d), ext="txt", size=d,
                    mtime_ns=d, inode=d, status="indexed", reason=None, kind="text", encoding="utf-8",
                    title=None, text="x" * 200, content_hash="h", indexed_at=0.0)

    def docs_insert_raw(s, w):
        for d in range(n_docs):
            v = doc_values(d)
            w.execute(f"INSERT INTO documents({', '.join(v)}) VALUES ({', '.join('?' * len(v))})", list(v.values()))

    def docs_insert_utils(s, w):
        t = Table(s.db, "documents")
        for d in range(n_docs):
            t.insert(doc_values(d))

    def docs_update_raw(s, w):
        for d in range(n_docs):
            v = doc_values(d)
            v.pop("raw_path")
            w.execute(f"UPDATE documents SET {', '.join(c + '=?' for c in v)} WHERE id=?", list(v.values()) + [d + 1])

    def docs_update_utils(s, w):
        t = Table(s.db, "documents")
        for d in range(n_docs):
            v = doc_values(d)
            v.pop("raw_path")
            t.update(d + 1, v)

    ids = list(range(1, n + 1))
    random.Random(0).shuffle(ids)

    def chunk_rows_raw(s, w):
        s.chunk_rows(ids)

    def chunk_rows_utils(s, w):
        t = Table(s.db, "chunks")
        out = {}
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            for r in t.rows_where(f"id IN ({','.join('?' * len(part))})", part, select="id, doc_id, ord, start, end"):
                out[r["id"]] = r

    def count_raw(s, w):
        for _ in range(1000):
            s.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()

    def count_utils(s, w):
        for _ in range(1000):
            Table(s.db, "chunks").count  # noqa: B018

    cases = {
        "chunk_insert_execute_per_row": (chunks_raw, False),
        "chunk_insert_sqlite_utils_insert_per_row": (chunks_utils_insert, False),
        "chunk_insert_sqlite_utils_insert_all": (chunks_utils_insert_all, False),
        "vector_insert_executemany": (vectors_raw, True),
        "vector_insert_sqlite_utils_insert_all_replace": (vectors_utils, True),
        "document_insert_execute": (docs_insert_raw, False),
        "document_insert_sqlite_utils": (docs_insert_utils, False),
        "document_update_execute": (docs_update_raw, False),
        "document_update_sqlite_utils": (docs_update_utils, False),
        "chunk_rows_lookup_raw": (chunk_rows_raw, True),
        "chunk_rows_lookup_sqlite_utils_rows_where": (chunk_rows_utils, True),
        "chunk_count_x1000_raw": (count_raw, True),
        "chunk_count_x1000_sqlite_utils": (count_utils, True),
    }
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fn, with_chunks) in cases.items():
            best = float("inf")
            for _ in range(args.repeat):
                s = fresh(tmp, with_chunks)
                try:
                    with s.write() as w:
                        t = time.perf_counter()
                        fn(s, w)
                        best = min(best, time.perf_counter() - t)
                finally:
                    s.close()
                    for suffix in ("", "-wal", "-shm"):
                        try:
                            os.remove(str(s.path) + suffix)
                        except FileNotFoundError:
                            pass
            out[name] = round(best * 1000, 1)
    emit({"benchmark": "store_writes", "rows": n, "docs": n_docs, "dim": args.dim, "best_of": args.repeat,
          "ms": out})


if __name__ == "__main__":
    main()
