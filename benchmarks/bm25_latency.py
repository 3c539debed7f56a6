"""BM25 query latency at ~100,000 chunks: our segment index vs rank-bm25 (the named baseline), same chunks, same run.

SciFact is written out as files N times (default 11 copies, about 108k chunks) and
indexed through the real pipeline with --no-embed, so the build time is measured too.

    python benchmarks/bm25_latency.py [--copies 11] [--work /tmp/ds-bm25-bench]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, peak_rss_mb, percentiles, require_scifact, time_calls  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=11)
    ap.add_argument("--work", default="/tmp/ds-bm25-bench")
    ap.add_argument("--baseline-queries", type=int, default=30)
    args = ap.parse_args()

    from desktop_search.jobs import run_job
    from desktop_search.evaluation import load_beir
    from desktop_search.retrievers.analysis import analyze, parse_query
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    corpus, queries, _ = load_beir(require_scifact())
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    docs = work / "docs"
    for c in range(args.copies):
        d = docs / f"copy{c:02d}"
        d.mkdir(parents=True)
        for i, (did, (title, text)) in enumerate(corpus.items()):
            (d / f"{i}.txt").write_text(f"{title}\n\n{text}", encoding="utf-8")
    # the fake encoder is never used (no embedding); it only avoids loading the model
    svc = SearchService(work / "store", encoder=HashingEncoder())
    t = time.perf_counter()
    last = run_job(svc.index([docs], embed=False), bar=False)
    build_s = time.perf_counter() - t
    n_chunks = last.stats["chunks"]

    qs = list(queries.values())
    svc.search(qs[0], "bm25", 10)  # warm the statistics arrays
    terms = [parse_query(q) for q in qs]
    core = time_calls(lambda pq: svc.bm25.top_docs(list(pq.terms), 10), terms)
    full = time_calls(lambda q: svc.search(q, "bm25", 10), qs)

    # the baseline: rank-bm25 over exactly the same chunk texts and analyzer
    from rank_bm25 import BM25Okapi

    ids = [r[0] for r in svc.store.conn.execute("SELECT id FROM chunks ORDER BY id")]
    t = time.perf_counter()
    texts = svc.store.chunk_texts(ids)
    toks = [analyze(x) for x in texts]
    oracle = BM25Okapi(toks)
    base_build_s = time.perf_counter() - t
    rnd = random.Random(0)
    sample = rnd.sample(terms, min(args.baseline_queries, len(terms)))
    base = time_calls(lambda pq: oracle.get_top_n(list(pq.terms), ids, n=10), sample)
    ours = percentiles(core)
    res = {
        "benchmark": "bm25_latency",
        "chunks": n_chunks,
        "files": last.stats["indexed"],
        "build_s": round(build_s, 1),
        "index_mb": round(svc.store.size_on_disk() / 1e6, 1),
        "ours_ranking": ours,
        "ours_search_with_snippets": percentiles(full),
        "baseline_rank_bm25": {**percentiles(base), "build_s": round(base_build_s, 1)},
        "speedup_p50_vs_rank_bm25": round(percentiles(base)["p50_ms"] / ours["p50_ms"], 1),
        "target_p50_ms": 10.0,
        "meets_target": ours["p50_ms"] <= 10.0,
        "peak_rss_mb": peak_rss_mb(),
    }
    svc.close()
    shutil.rmtree(work, ignore_errors=True)
    emit(res)


if __name__ == "__main__":
    main()
