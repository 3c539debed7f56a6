"""Base vs adapted nDCG@10 on a BEIR folder: index it, train with the default settings (or
variants), re-embed with each new version and score dense retrieval on the test queries.

The baseline named here is the base model on the same store in the same run; the adapted
hybrid (BM25 + the version, min-max fusion) is scored beside the adapted dense.

    python benchmarks/train_quality.py ../shared/data/beir/scifact --work /tmp/tq-scifact \\
        [--seeds 0] [--variants default] [--steps N]

Variants: default (the device's default settings: relevance weights, MoCo negatives on a CPU,
in-batch on a GPU, label-free alpha selection), fixed03 / fixed05 (the same at alpha 0.3 / 0.5), uniform, moco,
in_batch, uniform_in_batch, pair (PAIR a = 0.1), each at alpha 0.5; variants not naming
negatives use the device default; several can be given comma-separated.

peak_rss_mb is this process (evaluation); peak_child_rss_mb the largest child it waited for
(the training job).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, indexed_beir_store, peak_rss_mb  # noqa: E402

VARIANTS = {
    "default": ({}, True),
    "fixed03": ({"interpolation_alpha": 0.3}, False),
    "fixed05": ({"interpolation_alpha": 0.5}, False),
    "uniform": ({"weighting": "uniform", "interpolation_alpha": 0.5}, False),
    "moco": ({"negatives": "moco", "interpolation_alpha": 0.5}, False),
    "in_batch": ({"negatives": "in_batch", "interpolation_alpha": 0.5}, False),  # the CPU default is MoCo
    "uniform_in_batch": ({"weighting": "uniform", "negatives": "in_batch", "interpolation_alpha": 0.5}, False),
    "pair": ({"pair_alpha": 0.1, "interpolation_alpha": 0.5}, False),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir_dir")
    ap.add_argument("--work", required=True, help="store folder, reused between runs")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default="default")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    from desktop_search.jobs import run_job
    from desktop_search.evaluation import score_retriever

    queries, qrels, names, svc, index_s = indexed_beir_store(args.beir_dir, args.work)
    base = score_retriever(svc, queries, qrels, names, "dense")
    base_hybrid = score_retriever(svc, queries, qrels, names, "hybrid")
    rows = []
    for variant in args.variants.split(","):
        overrides, select = VARIANTS[variant]
        for seed in [int(s) for s in args.seeds.split(",")]:
            ov = {**overrides, "seed": seed, "device": args.device}
            if args.steps:
                ov["steps"] = args.steps
            t = time.perf_counter()
            last = run_job(svc.train(ov, select_alpha=select, activate=False), bar=False)
            total_s = time.perf_counter() - t
            st = last.stats
            vid = st.get("version")
            m = score_retriever(svc, queries, qrels, names, "dense", encoder=svc.encoder_for(vid)) if vid else base
            mh = score_retriever(svc, queries, qrels, names, "hybrid", encoder=svc.encoder_for(vid)) if vid else base_hybrid
            rows.append({"variant": variant, "seed": seed, "version": vid, "alpha": st.get("alpha"),
                         "kept_base": st.get("kept_base"), "steps": st.get("steps"),
                         "steps_per_s": round(st["steps_per_s"], 3) if st.get("steps_per_s") else None,
                         "train_s": st.get("train_s"),
                         "embed_s": st.get("embed_s"), "total_s": round(total_s, 1),
                         "ndcg@10": round(m["ndcg@10"] * 100, 2), "recall@100": round(m["recall@100"] * 100, 2),
                         "gain_ndcg@10": round((m["ndcg@10"] - base["ndcg@10"]) * 100, 2),
                         "hybrid_ndcg@10": round(mh["ndcg@10"] * 100, 2),
                         "gain_hybrid_ndcg@10": round((mh["ndcg@10"] - base_hybrid["ndcg@10"]) * 100, 2)})
            sel = st.get("selection") or {}
            if sel:  # the label-free choice: pseudo-query nDCG@10 per alpha, and why
                rows[-1]["pseudo_ndcg@10"] = {a: round(v.get("ndcg@10", 0.0) * 100, 2)
                                              for a, v in (sel.get("metrics") or {}).items()}
                rows[-1]["pseudo_hybrid_ndcg@10"] = {a: round(v["hybrid_ndcg@10"] * 100, 2)
                                                     for a, v in (sel.get("metrics") or {}).items()
                                                     if "hybrid_ndcg@10" in v}
                rows[-1]["choice"] = sel.get("reason")
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if vid:
                svc.delete_version(vid)
    summary = {}
    for variant in args.variants.split(","):
        mine = [r for r in rows if r["variant"] == variant]
        gains = [r["gain_ndcg@10"] for r in mine]
        summary[variant] = {"mean_gain_ndcg@10": round(statistics.fmean(gains), 2),
                            "min_gain_ndcg@10": min(gains), "runs": len(gains),
                            "mean_ndcg@10": round(statistics.fmean(r["ndcg@10"] for r in mine), 2),
                            "mean_gain_hybrid_ndcg@10": round(statistics.fmean(r["gain_hybrid_ndcg@10"] for r in mine), 2),
                            "min_gain_hybrid_ndcg@10": min(r["gain_hybrid_ndcg@10"] for r in mine),
                            "mean_total_s": round(statistics.fmean(r["total_s"] for r in mine), 1)}
    svc.close()
    emit({"benchmark": "train_quality", "dataset": Path(args.beir_dir).name, "index_s": round(index_s, 1),
          "baseline_base_model": {"ndcg@10": round(base["ndcg@10"] * 100, 2),
                                  "hybrid_ndcg@10": round(base_hybrid["ndcg@10"] * 100, 2),
                                  "recall@100": round(base["recall@100"] * 100, 2)},
          "runs": rows, "summary": summary, "peak_rss_mb": peak_rss_mb(),
          "peak_child_rss_mb": peak_rss_mb(children=True)})


if __name__ == "__main__":
    main()
