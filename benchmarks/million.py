"""A million passages on one laptop: build them through the real pipeline, then search them.

The corpus: SciFact's 5,183 abstracts written many times over, ten to a file, every copy after
the first with its words varied (each word, with probability --vary, becomes one of 8
spellings of itself chosen by copy and word), so the vocabulary grows with the copies and keeps
SciFact's Zipf-like term distribution instead of repeating the same postings 100 times.
Copy 0 is indexed first to learn how many passages a copy makes; then as many copies are added
as reach --target passages, and indexed incrementally: `desktop-search index --no-embed` each
time, its wall time and the bytes its whole process tree wrote (/proc/self/io) recorded.

Dense: embedding a million passages takes days on 2 cores, so (as benchmarks/dense_latency.py
does at 100,000) the real SciFact passage vectors of an indexed store (--vectors-from, made by
benchmarks/few_shot.py or `desktop-search eval --keep`) are copied with Gaussian jitter
(renormalised) onto every passage, stored in SQLite as the embedder stores them, and the HNSW
index is built with the app's settings through `VectorIndex`.

Then a separate process (so its memory is the searching process's alone) opens the store with
`SearchService` and the default (fast) encoder, and times the 300 SciFact test queries with BM25
(k = 10, snippets included), paragraph-long queries, and dense (query encoding + HNSW, through
`SearchService.search`). The baselines in the same run: exact NumPy search over all the vectors
(for HNSW Recall@10, in this process) and rank-bm25 is left out (it would need the million
texts in memory: about 66x slower at 115k already, README).

    python benchmarks/million.py --vectors-from /tmp/fs-scifact/store [--target 1000000]
        [--work /tmp/ds-million] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, measured_run, percentiles, require_scifact, time_calls  # noqa: E402

PER_FILE = 10
SPELLINGS = ("", "qa", "vo", "zu", "ky", "xe", "jo", "wi")  # suffixes no English stemmer strips
WORD = re.compile(r"[A-Za-z]{3,}")
TARGETS = {"bm25_p50_ms": 20.0, "dense_p50_ms": 30.0, "hnsw_recall_at_10": 0.95, "search_rss_mb": 2560}


def write_copy(docs: list[str], out: Path, copy: int, vary: float) -> int:
    """One copy of the corpus, ten abstracts a file; returns the number of files."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(copy)

    def varied(text: str) -> str:
        if copy == 0:
            return text
        draws = iter(rng.random(len(text) // 3 + 1))

        def sub(m: re.Match) -> str:
            w = m.group(0)
            if next(draws, 1.0) >= vary:
                return w
            return w + SPELLINGS[1 + (zlib.crc32(w.encode()) + copy) % (len(SPELLINGS) - 1)]

        return WORD.sub(sub, text)

    n = 0
    for i in range(0, len(docs), PER_FILE):
        (out / f"f{i // PER_FILE:04d}.txt").write_text("\n\n".join(varied(d) for d in docs[i: i + PER_FILE]),
                                                        encoding="utf-8")
        n += 1
    return n


def index(store: Path, docs: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    r = measured_run([sys.executable, "-m", "desktop_search", "--data-dir", str(store), "index", "--no-embed",
                      "--json", str(docs)], env=env)
    out = r.pop("_stdout")
    if r["rc"] != 0:
        sys.exit(f"indexing failed: {r.get('stderr_tail')}\n{out[-2000:]}")
    return r


def store_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file())


def real_vectors(src: Path) -> tuple[np.ndarray, str]:
    from desktop_search.service import SearchService

    svc = SearchService(src)
    key = svc.encoder.key
    rows = svc.store.conn.execute("SELECT vec FROM vectors WHERE model=?", (key,)).fetchall()
    svc.close()
    if not rows:
        sys.exit(f"no vectors of {key} in {src}: index SciFact with embeddings there first")
    return np.stack([np.frombuffer(r[0], dtype=np.float16).astype(np.float32) for r in rows]), key


def synthetic(real: np.ndarray, n: int, mode: str, jitter: float) -> np.ndarray:
    """n unit vectors: the real ones first, then copies made from them.

    "jitter": each real vector plus Gaussian noise. At 1.25M (127 copies) every real vector had
    a tight cluster of copies, and a query's exact top 10 lay within 0.02 cosine of each other: the
    strict Recall@10 measured which of 127 near-equal copies came back more than the index.
    "mix" (the default): each copy is a real vector plus a random share (0-0.6) of another random
    real vector, plus the noise: copies of one passage spread in the directions of the others, so
    a query's neighbours differ by how near it is to what was mixed in, as distinct passages do."""
    rng = np.random.default_rng(0)
    vecs = np.empty((n, real.shape[1]), dtype=np.float32)
    for i in range(0, n, len(real)):
        part = real[: min(len(real), n - i)]
        if i:
            if mode == "mix":
                other = real[rng.integers(0, len(real), len(part))]
                part = part + rng.uniform(0.0, 0.6, (len(part), 1)).astype(np.float32) * other
            part = part + rng.normal(0, jitter, part.shape).astype(np.float32)
            part /= np.linalg.norm(part, axis=1, keepdims=True)
        vecs[i: i + len(part)] = part
    return vecs.astype(np.float16).astype(np.float32)  # what the store keeps and the index is rebuilt from


def add_vectors(store_dir: Path, real: np.ndarray, key: str, mode: str, jitter: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Synthetic copies of the real vectors onto every chunk, into SQLite and the HNSW index."""
    from desktop_search.index import hnsw
    from desktop_search.store import Store

    store = Store(store_dir / "library.sqlite3")
    ids = np.array([r[0] for r in store.conn.execute("SELECT id FROM chunks ORDER BY id")], dtype=np.int64)
    vecs = synthetic(real, len(ids), mode, jitter)
    t = time.perf_counter()
    step = 20_000
    for i in range(0, len(ids), step):
        with store.write() as w:
            store.put_vectors(w, key, ((int(c), v.astype(np.float16).tobytes())
                                       for c, v in zip(ids[i: i + step], vecs[i: i + step])))
    sql_s = time.perf_counter() - t
    vi = hnsw.VectorIndex(store, store_dir / "vectors", key, real.shape[1])
    vi.open()
    t = time.perf_counter()
    for i in range(0, len(ids), step):
        vi.add(ids[i: i + step], vecs[i: i + step])
        print(f"hnsw {min(i + step, len(ids)):,}/{len(ids):,} {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    vi.save()
    save_s = time.perf_counter() - t
    vi.close()
    store.close()
    return ids, vecs, {"sqlite_s": round(sql_s, 1), "hnsw_build_s": round(build_s, 1), "hnsw_save_s": round(save_s, 1),
                       "M": hnsw.M, "ef_construction": hnsw.EF_CONSTRUCTION, "ef_search": hnsw.EF_SEARCH,
                       "vectors": mode, "jitter": jitter}


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (VmRSS) or its peak (VmHWM), from /proc.

    The peak is VmHWM, not getrusage's ru_maxrss: Linux carries a parent's high-water mark at fork
    into the child's ru_maxrss, so a searching child forked by this script (holding the 1.9 GB of
    exact-search vectors) reported 4.7 GB though it never held more than 3.05 GB itself."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def search_child(store_dir: Path, out: Path) -> None:
    """The searching process: open the store as the app does and time queries; results to `out`."""
    from desktop_search.evaluation import load_beir
    from desktop_search.index import hnsw
    from desktop_search.service import SearchService

    corpus, queries, _ = load_beir(require_scifact())
    qs = list(queries.values())
    t = time.perf_counter()
    svc = SearchService(store_dir)
    svc.search(qs[0], "bm25", 10)
    open_bm25_s = time.perf_counter() - t
    bm25 = time_calls(lambda q: svc.search(q, "bm25", 10), qs)
    texts = [" ".join(x.split()[:200]) for _t, x in corpus.values() if len(x.split()) >= 150]
    long_qs = random.Random(1).sample(texts, 100)
    long = time_calls(lambda q: svc.search(q, "bm25", 10), long_qs)
    rss_after_bm25 = rss_mb()
    t = time.perf_counter()
    svc.search(qs[0], "dense", 10)  # loads the encoder and the HNSW file (checksum verified)
    open_dense_s = time.perf_counter() - t
    enc = svc.encoder
    vi = svc.vector_index()
    dense = time_calls(lambda q: svc.search(q, "dense", 10), qs)
    qv = []
    encode = time_calls(lambda q: qv.append(enc.encode_query(q)), qs)
    found: list[list[int]] = []
    hnsw_ms = time_calls(lambda v: found.append([int(c) for c, _ in vi.search(v, 10)]), qv)
    sweep = {}  # the same queries at other search-list lengths (hnswlib's ef), straight on the index
    for ef in (96, 200, 400, 800):
        got: list[list[int]] = []
        vi._index.set_ef(ef)
        ms = time_calls(lambda v: got.append([int(c) for c in vi._index.knn_query(
            np.asarray(v, dtype=np.float32).reshape(1, -1), k=10)[0][0]]), qv)
        sweep[str(ef)] = {"found": got, "p50_ms": percentiles(ms)["p50_ms"]}
    hybrid = time_calls(lambda q: svc.search(q, "hybrid", 10), qs)
    res = {"open_to_first_bm25_s": round(open_bm25_s, 2), "first_dense_s": round(open_dense_s, 2),
           "bm25_k10_with_snippets": percentiles(bm25), "bm25_paragraph_queries": percentiles(long),
           "dense_k10_search": percentiles(dense), "query_encode": percentiles(encode),
           "hnsw_k10": percentiles(hnsw_ms), "hybrid_k10_search": percentiles(hybrid),
           "rss_after_bm25_mb": round(rss_after_bm25, 1), "rss_end_mb": round(rss_mb(), 1),
           "peak_rss_mb": round(rss_mb("VmHWM"), 1), "encoder": type(enc).__name__, "vectors": len(vi),
           "ef_search_used": hnsw.ef_for(len(vi), 10), "ef_sweep": sweep,
           "found": found, "query_vectors": np.stack(qv).astype(np.float32).tolist()}
    svc.close()
    out.write_text(json.dumps(res), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors-from", help="data folder of an indexed SciFact store with vectors")
    ap.add_argument("--target", type=int, default=1_000_000, help="passages")
    ap.add_argument("--work", default="/tmp/ds-million")
    ap.add_argument("--vary", type=float, default=0.4, help="share of words respelt in each copy after the first")
    ap.add_argument("--vectors", choices=("mix", "jitter"), default="mix", help="how copies are made (synthetic())")
    ap.add_argument("--jitter", type=float, default=None, help="noise per dimension (default 0.02 jitter, 0.01 mix)")
    ap.add_argument("--keep", action="store_true", help="keep the files and the store")
    ap.add_argument("--search-only", action="store_true", help="reuse WORK/store as built (skips the build)")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    if args._child:
        search_child(work / "store", Path(args._child))
        return

    from desktop_search.evaluation import load_beir

    corpus, _queries, _ = load_beir(require_scifact())
    docs_text = [f"{t}\n{x}" for t, x in corpus.values()]
    docs, store = work / "docs", work / "store"
    build: dict = {}
    if not args.search_only:
        if not args.vectors_from:
            sys.exit("--vectors-from STORE is needed to build (the real SciFact vectors)")
        shutil.rmtree(work, ignore_errors=True)
        t = time.perf_counter()
        # copy 0 (as written) and copy 1 (varied: its respelt words cut into more tokens, so a
        # varied copy makes more passages; counting copy 0 alone overshot 1M by a quarter)
        files = write_copy(docs_text, docs / "c000", 0, args.vary)
        files += write_copy(docs_text, docs / "c001", 1, args.vary)
        first = index(store, docs)
        from desktop_search.store import Store

        s = Store(store / "library.sqlite3")
        first_two = s.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        per_copy = s.conn.execute("SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.doc_id "
                                  "WHERE d.path LIKE ?", (f"%{os.sep}c001{os.sep}%",)).fetchone()[0]
        s.close()
        copies = max(2, 2 + math.ceil((args.target - first_two) / max(per_copy, 1)))
        w0 = time.perf_counter()
        for c in range(2, copies):
            files += write_copy(docs_text, docs / f"c{c:03d}", c, args.vary)
        write_s = time.perf_counter() - w0
        rest = index(store, docs)
        s = Store(store / "library.sqlite3")
        n_chunks = s.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        n_terms = s.conn.execute("SELECT COUNT(DISTINCT term) FROM bm25_postings").fetchone()[0]
        n_segments = s.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]
        s.close()
        lexical_bytes = store_bytes(store)
        real, key = real_vectors(Path(args.vectors_from))
        jitter = args.jitter if args.jitter is not None else (0.02 if args.vectors == "jitter" else 0.01)
        ids, vecs, dense_build = add_vectors(store, real, key, args.vectors, jitter)
        del real
        build = {"files": files, "copies": copies, "passages_per_copy": per_copy, "passages": n_chunks,
                 "distinct_terms": n_terms, "bm25_segments": n_segments, "write_files_s": round(write_s, 1),
                 "index_first_copy": first, "index_rest": rest,
                 "lexical_index_s": round(first["wall_s"] + rest["wall_s"], 1),
                 "lexical_files_per_s": round(files / (first["wall_s"] + rest["wall_s"]), 1),
                 "lexical_passages_per_s": round(n_chunks / (first["wall_s"] + rest["wall_s"]), 1),
                 "lexical_store_mb": round(lexical_bytes / 1e6, 1),
                 "lexical_write_bytes_over_store": round((first["write_bytes"] + rest["write_bytes"])
                                                         / max(lexical_bytes, 1), 2),
                 "dense": dense_build, "store_mb": round(store_bytes(store) / 1e6, 1),
                 "total_build_s": round(time.perf_counter() - t, 1)}
        print(json.dumps(build), file=sys.stderr, flush=True)
    else:  # --search-only: the vectors the store holds are the exact search's baseline
        from desktop_search.store import Store

        s = Store(store / "library.sqlite3")
        rows = s.conn.execute("SELECT chunk_id, vec FROM vectors ORDER BY chunk_id").fetchall()
        s.close()
        ids = np.array([r[0] for r in rows])
        vecs = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
        del rows

    out = work / "search.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run([sys.executable, __file__, "--work", str(work), "--_child", str(out)], env=env, check=True)
    res = json.loads(out.read_text("utf-8"))
    found, qv = res.pop("found"), np.array(res.pop("query_vectors"), dtype=np.float32)
    exact_found, tenth = [], []

    def exact(v):
        sims = vecs @ v
        top = np.argpartition(-sims, 10)[:10]
        exact_found.append(set(ids[top].tolist()))
        tenth.append(float(sims[top].min()))

    exact_ms = time_calls(exact, qv)
    recall = float(np.mean([len(set(f[:10]) & e) / 10 for f, e in zip(found, exact_found)]))
    sweep = {ef: {"recall_at_10": round(float(np.mean([len(set(f) & e) / 10 for f, e in zip(r.pop("found"), exact_found)])), 4),
                  **r} for ef, r in res.pop("ef_sweep").items()}
    # ties: how many of what HNSW returned are as near as the exact 10th (within 0.001 cosine)
    sim_of = dict(zip(ids.tolist(), range(len(ids))))
    tied = float(np.mean([np.mean([float(vecs[sim_of[c]] @ v) >= t - 1e-3 for c in f[:10]]) if f else 0.0
                          for f, v, t in zip(found, qv, tenth)]))
    gaps = [float(np.sort(vecs @ v)[-1] - t) for v, t in zip(qv[:50], tenth[:50])]
    result = {
        "benchmark": "million", "build": build, "search": res,
        "hnsw_recall_at_10_vs_exact": round(recall, 4), "hnsw_results_within_0.001_of_exact_10th": round(tied, 4),
        "exact_first_minus_10th_cosine_median": round(float(np.median(gaps)), 4), "hnsw_ef_sweep": sweep,
        "baseline_exact_numpy_search": percentiles(exact_ms),
        "targets": TARGETS,
        "meets": {"bm25_p50": res["bm25_k10_with_snippets"]["p50_ms"] <= TARGETS["bm25_p50_ms"],
                  "dense_p50": res["dense_k10_search"]["p50_ms"] <= TARGETS["dense_p50_ms"],
                  "recall": recall >= TARGETS["hnsw_recall_at_10"],
                  "search_rss": res["peak_rss_mb"] <= TARGETS["search_rss_mb"]},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if not args.keep and not args.search_only:
        shutil.rmtree(docs, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()
