"""Dense query latency at ~100,000 chunks and HNSW recall@10 against exact search (the named baseline).

Real chunk vectors come from a SciFact store made by `desktop-search eval ... --keep DIR`
(or are encoded here for --docs documents); they are copied with small Gaussian jitter
(renormalised) up to --target vectors, since encoding 100k chunks takes over an hour on 2 cores.
Queries are the SciFact test queries, encoded one at a time with the real model.

    python benchmarks/dense_latency.py --store /tmp/ev/scifact/store [--target 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, peak_rss_mb, percentiles, require_scifact, time_calls  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", help="data folder of an indexed SciFact store (with vectors)")
    ap.add_argument("--target", type=int, default=100_000)
    ap.add_argument("--jitter", type=float, default=0.02)
    args = ap.parse_args()

    from desktop_search.evaluation import load_beir
    from desktop_search.index import hnsw
    from desktop_search.service import SearchService
    from desktop_search.store import Store

    _, queries, _ = load_beir(require_scifact())
    src = SearchService(args.store)
    enc = src.encoder
    real = np.stack([np.frombuffer(r[0], dtype=np.float16).astype(np.float32) for r in src.store.conn.execute(
        "SELECT vec FROM vectors WHERE model=?", (enc.key,))])
    src.close()
    rng = np.random.default_rng(0)
    parts = [real]
    while sum(len(p) for p in parts) < args.target:
        j = real + rng.normal(0, args.jitter, real.shape).astype(np.float32)
        parts.append(j / np.linalg.norm(j, axis=1, keepdims=True))
    vecs = np.concatenate(parts)[: args.target].astype(np.float32)
    n = len(vecs)

    work = Path(tempfile.mkdtemp(prefix="ds-dense-bench-"))
    try:
        store = Store(work / "s.sqlite3")
        with store.write() as w:
            w.execute("INSERT INTO folders(id, raw_path, path, added_at) VALUES (1, x'2f', '/', 0)")
            w.execute("INSERT INTO documents(id, raw_path, path, name, ext, status, folder_id) "
                      "VALUES (1, x'2f78', '/x', 'x', 'txt', 'indexed', 1)")
            w.executemany("INSERT INTO chunks(id, doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, 1, ?, 0, 0, 0, 0)",
                          ((i + 1, i) for i in range(n)))
        vi = hnsw.VectorIndex(store, work / "vectors", enc.key, enc.dim)
        vi.open()
        t = time.perf_counter()
        ids = np.arange(1, n + 1)
        for i in range(0, n, 10_000):
            vi.add(ids[i : i + 10_000], vecs[i : i + 10_000])
        build_s = time.perf_counter() - t

        qtexts = list(queries.values())
        enc.encode_query("warm up")
        qv = []
        enc_ms = time_calls(lambda q: qv.append(enc.encode_query(q)), qtexts)
        qv = np.stack(qv)
        found = []
        hnsw_ms = time_calls(lambda v: found.append([c for c, _ in vi.search(v, 50)]), qv)
        both_ms = [a + b for a, b in zip(enc_ms, hnsw_ms)]
        exact_found = []
        exact_ms = time_calls(lambda v: exact_found.append(list(np.argsort(-(vecs @ v))[:10] + 1)), qv)
        recall = float(np.mean([len(set(f[:10]) & set(e)) / 10 for f, e in zip(found, exact_found)]))
        res = {
            "benchmark": "dense_latency",
            "vectors": n, "real_vectors": len(real), "dim": enc.dim,
            "hnsw": {"M": hnsw.M, "ef_construction": hnsw.EF_CONSTRUCTION, "ef_search": hnsw.EF_SEARCH,
                     "build_s": round(build_s, 1)},
            "query_encode": percentiles(enc_ms),
            "hnsw_search_k50": percentiles(hnsw_ms),
            "encode_plus_hnsw": percentiles(both_ms),
            "baseline_exact_numpy_search": percentiles(exact_ms),
            "recall_at_10_vs_exact": round(recall, 4),
            "targets": {"encode_plus_hnsw_p50_ms": 25.0, "recall_at_10": 0.98},
            "meets_targets": percentiles(both_ms)["p50_ms"] <= 25.0 and recall >= 0.98,
            "peak_rss_mb": peak_rss_mb(),
        }
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(res)


if __name__ == "__main__":
    main()
