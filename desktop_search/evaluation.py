"""Retrieval evaluation on BEIR-layout folders with pytrec_eval: nDCG@10, Recall@100, MRR@10.

`evaluate_run` takes plain dicts (qrels, run) so the CLI, the benchmarks and training share it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def load_beir(folder: str | Path, split: str = "test"):
    """(corpus {id: (title, text)}, queries {id: text}, qrels {qid: {docid: grade}})."""
    folder = Path(folder)
    cpath = folder / "corpus.jsonl"
    if not cpath.exists():
        cpath = folder / "corpus.jsonl.gz"
    corpus = {}
    with _open(cpath) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "")
    queries = {}
    with _open(folder / "queries.jsonl") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            qid, did, score = parts[0], parts[1], int(parts[2])
            qrels.setdefault(qid, {})[did] = score
    queries = {q: t for q, t in queries.items() if q in qrels}
    return corpus, queries, qrels


def evaluate_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 (pytrec_eval; MRR from the run cut at 10)."""
    import pytrec_eval

    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    per_q = ev.evaluate(run)
    cut10 = {q: dict(sorted(r.items(), key=lambda x: -x[1])[:10]) for q, r in run.items()}
    rel_only = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    mrr = pytrec_eval.RelevanceEvaluator(rel_only, {"recip_rank"}).evaluate(cut10)
    n = len(qrels)
    # queries with no results count as zero
    return {
        "ndcg@10": sum(v["ndcg_cut_10"] for v in per_q.values()) / n,
        "recall@100": sum(v["recall_100"] for v in per_q.values()) / n,
        "mrr@10": sum(v["recip_rank"] for v in mrr.values()) / n,
    }


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def write_corpus(corpus: dict[str, tuple[str, str]], folder: Path) -> dict[str, str]:
    """One .txt file per document ("title\\n\\ntext"); returns file name -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for i, (did, (title, text)) in enumerate(corpus.items()):
        name = f"{_SAFE.sub('_', did)[:80]}_{i}.txt"
        names[name] = did
        body = f"{title}\n\n{text}" if title else text
        (folder / name).write_text(body or " ", encoding="utf-8")
    (folder.parent / "names.json").write_text(json.dumps(names), encoding="utf-8")
    return names


def score_retriever(svc, queries: dict[str, str], qrels: dict, names: dict[str, str], retriever: str, *,
                    depth: int = 100, encoder=None) -> dict[str, float]:
    """Run every query through one retriever of an indexed store and score the ranking."""
    run: dict[str, dict[str, float]] = {}
    times = []
    for qid, text in queries.items():
        t = time.perf_counter()
        hits = svc.search(text, retriever, depth, encoder=encoder)
        times.append((time.perf_counter() - t) * 1000)
        scores = {}
        for h in hits:
            did = names.get(h.name)
            if did is not None:
                scores[did] = float(h.score) - h.rank * 1e-9  # break ties by rank
        run[qid] = scores or {"__none__": 0.0}
    m = evaluate_run(qrels, run)
    m["query_ms_p50"] = statistics.median(times)
    m["query_ms_p95"] = sorted(times)[int(0.95 * (len(times) - 1))]
    return m


def evaluate_beir(beir_dir: str | Path, retrievers: Sequence[str], *, model: str | None = None, split: str = "test",
                  max_queries: int | None = None, keep_dir: str | None = None, encoder=None,
                  progress: Callable | None = None, bar: bool = False, depth: int = 100,
                  hybrid_method: str = "minmax") -> dict:
    """Index a BEIR folder into a throw-away store and score each retriever on its queries."""
    from .jobs import run_job
    from .service import SearchService

    corpus, queries, qrels = load_beir(beir_dir, split)
    if max_queries:
        keep = sorted(queries)[:max_queries]
        queries = {q: queries[q] for q in keep}
        qrels = {q: qrels[q] for q in keep}
    work = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="ds-eval-"))
    docs_dir = work / "docs"
    t0 = time.perf_counter()
    if (work / "names.json").exists() and docs_dir.is_dir():
        names = json.loads((work / "names.json").read_text("utf-8"))
    else:
        names = write_corpus(corpus, docs_dir)
    write_s = time.perf_counter() - t0
    try:
        with SearchService(work / "store", encoder=encoder, model=model, hybrid_method=hybrid_method) as svc:
            t1 = time.perf_counter()
            need_dense = any(r in ("dense", "hybrid") for r in retrievers)
            last = run_job(svc.index([docs_dir], embed=need_dense), bar=bar)
            index_s = time.perf_counter() - t1
            metrics = {r: score_retriever(svc, queries, qrels, names, r, depth=depth) for r in retrievers}
            stats = last.stats if last else {}
    finally:
        if not keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "dataset": os.path.basename(os.path.normpath(str(beir_dir))),
        "n_docs": len(corpus), "n_queries": len(queries), "split": split,
        "write_s": round(write_s, 2), "index_s": round(index_s, 2), "index_stats": stats,
        "metrics": metrics,
    }
