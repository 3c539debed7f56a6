"""Indexing throughput per stage (scan, extract+chunk+BM25, embed) on SciFact files with the real model,
and the embedding stage against a bare SentenceTransformer.encode of the same chunks in the same
precision (the named baseline), measured side by side in the same run, plus the bare encode in
fp32 (the speed-up of bf16 where the CPU has it). Peak memory is reported.

    python benchmarks/indexing.py [--docs 1000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, peak_rss_mb, require_scifact  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000, help="how many SciFact documents (0 = all 5,183)")
    args = ap.parse_args()

    from desktop_search.jobs import run_job
    from desktop_search.evaluation import load_beir, write_corpus
    from desktop_search.service import SearchService

    corpus, _, _ = load_beir(require_scifact())
    if args.docs:
        corpus = dict(list(corpus.items())[: args.docs])
    work = Path(tempfile.mkdtemp(prefix="ds-index-bench-"))
    try:
        write_corpus(corpus, work / "docs")
        svc = SearchService(work / "store")
        enc = svc.encoder
        enc.encode(["warm up the model"] * 64)  # load weights and warm kernels before timing
        t = time.perf_counter()
        last = run_job(svc.index([work / "docs"]), bar=False)
        total_s = time.perf_counter() - t
        st = last.stats
        ids = [r[0] for r in svc.store.conn.execute("SELECT id FROM chunks ORDER BY id")]
        texts = svc.store.chunk_texts(ids)
        import contextlib

        import torch

        def bare(precision: str) -> float:
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
            t = time.perf_counter()
            with ctx:
                enc.model.encode(texts, batch_size=svc.settings.embed_batch, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
            return time.perf_counter() - t

        # the baseline encodes in the precision the pipeline used (bf16 on CPUs with native bf16)
        bare_s = bare(enc.precision)
        fp32_s = bare("fp32") if enc.precision != "fp32" else bare_s
        n_tokens = svc.store.conn.execute("SELECT SUM(n_tokens) FROM chunks").fetchone()[0]
        res = {
            "benchmark": "indexing",
            "files": st["indexed"], "chunks": st["chunks"], "tokens": n_tokens,
            "stages_s": {"scan": st["scan_s"], "extract_chunk_bm25": st["extract_s"], "embed": st["embed_s"]},
            "throughput": {
                "extract_chunk_bm25_files_per_s": round(st["indexed"] / max(st["extract_s"], 1e-9), 1),
                "embed_chunks_per_s": round(st["chunks"] / max(st["embed_s"], 1e-9), 1),
            },
            "total_s": round(total_s, 1),
            "precision": enc.precision,
            "baseline_bare_encode_s": round(bare_s, 1),
            "bare_encode_fp32_s": round(fp32_s, 1),
            "embed_stage_vs_bare_encode": round(st["embed_s"] / bare_s, 3),
            "target_ratio": 1.15,
            "meets_target": st["embed_s"] / bare_s <= 1.15,
            "store_mb": round(svc.store.size_on_disk() / 1e6, 1),
            "peak_rss_mb": peak_rss_mb(),
        }
        svc.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(res)


if __name__ == "__main__":
    main()
