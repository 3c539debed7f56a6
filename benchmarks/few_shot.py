"""Few-shot adaptation from marks: a simulated user marks results of SciFact's train queries,
the real training job learns from them, and the test queries score the result.

For each number of marked queries (8, 32, 128) and seed, `n` train queries (qrels/train.tsv,
disjoint from the test queries) are marked: their relevant files as relevant (with the passage
the base hybrid search showed, where it showed one) and the first `--hard` files of the base
hybrid results that are not relevant as not relevant (what a user scanning the
results would mark). Then `desktop-search train` runs with the defaults plus those marks
(label-free or judged choice of alpha, re-embedding), and dense and hybrid nDCG@10 on the
300 test queries are compared with the base model and with the unsupervised-only version of
the same seed, all in the same run on the same store. The app's own estimate (judged_eval:
the version against the base on the judged queries it did not train on, nDCG@10 and nDCG@100;
with fewer than 5 of those, the check its training made, as the app then shows) is printed next
to the true test gain.

    python benchmarks/few_shot.py ../shared/data/beir/scifact --work /tmp/fs-scifact \\
        [--marks 8,32,128] [--seeds 0,1,2] [--hard 2] [--steps N] [--weight W] [--alphas 0.7,1.0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, indexed_beir_store, peak_rss_mb  # noqa: E402


def simulate_marks(svc, train_queries, train_qrels, names, n, seed, hard):
    """Mark `n` train queries as a user would; returns the number of marks."""
    rng = np.random.default_rng(seed)
    qids = sorted(train_qrels)
    chosen = [qids[i] for i in rng.permutation(len(qids))[:n]]
    doc_of_name = {d.name: d.id for d in svc.files()}
    id_of_beir = {bid: doc_of_name[name] for name, bid in names.items() if name in doc_of_name}
    marks = 0
    for qid in chosen:
        q = train_queries[qid]
        rel = {id_of_beir[b] for b, g in train_qrels[qid].items() if g > 0 and b in id_of_beir}
        shown = {h.doc_id: h for h in svc.search(q, "hybrid:base", 10)}
        for d in rel:
            h = shown.get(d)
            svc.mark(q, d, 1, retriever="hybrid:base", chunk_id=h.chunk_id if h else None)
            marks += 1
        n_hard = 0
        for d, h in shown.items():
            if n_hard >= hard:
                break
            if d not in rel:
                svc.mark(q, d, 0, retriever="hybrid:base", chunk_id=h.chunk_id)
                n_hard += 1
                marks += 1
    return marks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir_dir")
    ap.add_argument("--work", required=True, help="store folder, reused between runs")
    ap.add_argument("--marks", default="8,32,128")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--hard", type=int, default=2, help="not-relevant marks per query (from the base hybrid results)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--weight", type=float, help="supervised_weight (default: the app's)")
    ap.add_argument("--no-unsup", action="store_true", help="skip the unsupervised-only versions")
    ap.add_argument("--unsup-seeds", help="seeds of the unsupervised-only versions (default: --seeds)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--alphas", default="", help="also score these fixed interpolation weights of each run with "
                    "marks (the same trained weights, re-embedded): what the choice of alpha leaves on the table")
    args = ap.parse_args()

    from desktop_search.evaluation import load_beir, score_retriever
    from desktop_search.jobs import run_job
    from desktop_search.judged_eval import evaluate_judgments

    queries, qrels, names, svc, index_s = indexed_beir_store(args.beir_dir, args.work)
    _, train_queries, train_qrels = load_beir(args.beir_dir, split="train")
    for q in list(svc.store.qrels()):
        svc.unmark(q)

    def score(vid):
        enc = svc.encoder_for(vid) if vid else svc.encoder_for("base")
        d = score_retriever(svc, queries, qrels, names, "dense", encoder=enc)
        h = score_retriever(svc, queries, qrels, names, "hybrid", encoder=enc)
        return round(d["ndcg@10"] * 100, 2), round(h["ndcg@10"] * 100, 2)

    base_dense, base_hybrid = score(None)
    ov_common = {"device": args.device}
    if args.steps:
        ov_common["steps"] = args.steps
    if args.weight is not None:
        ov_common["supervised_weight"] = args.weight

    def train(seed, alpha=None):
        """One version through the real job: alpha chosen by the app, or fixed at `alpha`."""
        t = time.perf_counter()
        fixed = {} if alpha is None else {"interpolation_alpha": alpha}
        last = run_job(svc.train({**ov_common, "seed": seed, **fixed}, select_alpha=alpha is None, activate=False),
                       bar=False)
        return last.stats, time.perf_counter() - t

    def estimate(vid):
        ev = evaluate_judgments(svc, versions=[vid])
        est = {}
        verdict = ev.get("verdict", {}).get(vid)
        if verdict:  # what "did training help?" shows first: the held-out figure when clear, else the training check
            est = {"estimate_dense_gain": round(verdict["delta"] * 100, 2),
                   "estimate_source": verdict["source"] if verdict["source"] == "held_out"
                   else f"training check ({verdict['on']})"}
            if "hybrid_delta" in verdict:
                est["estimate_hybrid_gain"] = round(verdict["hybrid_delta"] * 100, 2)
        vs = ev.get("versus_base", {}).get(f"dense:{vid}")
        if not vs:  # fewer than 5 held-out judged queries: no cross-validated figure
            return {**est, "cv_queries": ev.get("columns", {}).get(f"dense:{vid}", {}).get("n_queries", 0)}
        deep = vs["deep"]
        est = {**est, "cv_dense_gain": round(vs["delta"] * 100, 2), "cv_ci": [round(vs["low"] * 100, 2),
                                                                     round(vs["high"] * 100, 2)],
               "cv_queries": vs["n"], "cv_dense_gain_ndcg100": round(deep["delta"] * 100, 2),
               "cv_ci_ndcg100": [round(deep["low"] * 100, 2), round(deep["high"] * 100, 2)]}
        hy = ev["versus_base"].get(f"hybrid:{vid}")
        if hy:
            est["cv_hybrid_gain"] = round(hy["delta"] * 100, 2)
        return est

    def fixed_alphas(seed):
        """The same trained weights at each --alphas weight (the job reuses the finished run:
        interpolation_alpha does not change what training computes; the fold is the same because
        the chosen version was deleted first)."""
        out = {}
        for a in [float(x) for x in args.alphas.split(",") if x.strip()]:
            st, _ = train(seed, alpha=a)
            vid = st.get("version")
            if not vid:
                continue
            d, h = score(vid)
            est = estimate(vid)
            out[str(a)] = {"dense": d, "hybrid": h, "gain_dense": round(d - base_dense, 2),
                           "gain_hybrid": round(h - base_hybrid, 2), "reused": st.get("reused"),
                           "cv_dense_gain": est.get("cv_dense_gain"), "cv_hybrid_gain": est.get("cv_hybrid_gain"),
                           "estimate_dense_gain": est.get("estimate_dense_gain")}
            svc.delete_version(vid)
        return out

    unsup = {}
    rows = []
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.no_unsup:
        for seed in ([int(s) for s in args.unsup_seeds.split(",")] if args.unsup_seeds else seeds):
            st, total_s = train(seed)
            vid = st.get("version")
            dense, hybrid = score(vid) if vid else (base_dense, base_hybrid)
            unsup[seed] = (dense, hybrid)
            rows.append({"marks": 0, "seed": seed, "alpha": st.get("alpha"), "dense": dense, "hybrid": hybrid,
                         "gain_dense": round(dense - base_dense, 2), "gain_hybrid": round(hybrid - base_hybrid, 2),
                         "total_s": round(total_s, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if vid:
                svc.delete_version(vid)
    for n in [int(x) for x in args.marks.split(",")]:
        for seed in seeds:
            for q in list(svc.store.qrels()):
                svc.unmark(q)
            n_marks = simulate_marks(svc, train_queries, train_qrels, names, n, seed, args.hard)
            st, total_s = train(seed)
            vid = st.get("version")
            dense, hybrid = score(vid) if vid else (base_dense, base_hybrid)
            est = estimate(vid) if vid else {}
            sel = st.get("selection") or {}
            row = {"marks": n, "seed": seed, "n_marks": n_marks, "alpha": st.get("alpha"),
                   "alpha_chosen_on": sel.get("queries"), "kept_base": st.get("kept_base"),
                   "dense": dense, "hybrid": hybrid,
                   "gain_dense": round(dense - base_dense, 2), "gain_hybrid": round(hybrid - base_hybrid, 2),
                   "vs_unsup_dense": round(dense - unsup[seed][0], 2) if seed in unsup else None,
                   "vs_unsup_hybrid": round(hybrid - unsup[seed][1], 2) if seed in unsup else None,
                   **est, "judged": st.get("judged"),
                   "selection_ndcg@10": {a: round(v.get("ndcg@10", 0.0) * 100, 2)
                                         for a, v in (sel.get("metrics") or {}).items()},
                   "selection_hybrid_ndcg@10": {a: round(v["hybrid_ndcg@10"] * 100, 2)
                                                for a, v in (sel.get("metrics") or {}).items() if "hybrid_ndcg@10" in v},
                   "selection_reason": sel.get("reason"), "steps": st.get("steps"), "train_s": st.get("train_s"),
                   "embed_s": st.get("embed_s"), "total_s": round(total_s, 1)}
            if "cv_dense_gain" in est:  # the held-out (cross-validated) figure, where there is one
                row["cv_sign_agrees"] = (est["cv_dense_gain"] > 0) == (row["gain_dense"] > 0)
            if "estimate_dense_gain" in est:  # what "did training help?" shows first (judged_eval.verdict)
                row["estimate_sign_agrees"] = (est["estimate_dense_gain"] > 0) == (row["gain_dense"] > 0)
            if "cv_dense_gain_ndcg100" in est:
                row["cv_ndcg100_sign_agrees"] = (est["cv_dense_gain_ndcg100"] > 0) == (row["gain_dense"] > 0)
            if vid:
                svc.delete_version(vid)
            if args.alphas:
                row["fixed_alpha"] = fixed_alphas(seed)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    summary = {}
    for n in sorted({r["marks"] for r in rows}):
        mine = [r for r in rows if r["marks"] == n]
        summary[str(n)] = {"mean_gain_dense": round(statistics.fmean(r["gain_dense"] for r in mine), 2),
                           "mean_gain_hybrid": round(statistics.fmean(r["gain_hybrid"] for r in mine), 2),
                           "min_gain_hybrid": min(r["gain_hybrid"] for r in mine),
                           "mean_total_s": round(statistics.fmean(r["total_s"] for r in mine), 1), "runs": len(mine)}
        for key in ("cv_sign_agrees", "cv_ndcg100_sign_agrees", "estimate_sign_agrees"):
            agree = [r[key] for r in mine if key in r]
            if agree:
                summary[str(n)][key] = f"{sum(agree)} of {len(agree)}"
    for q in list(svc.store.qrels()):
        svc.unmark(q)
    svc.close()
    emit({"benchmark": "few_shot", "dataset": Path(args.beir_dir).name, "index_s": round(index_s, 1),
          "baseline_base_model": {"dense": base_dense, "hybrid": base_hybrid}, "hard_per_query": args.hard,
          "runs": rows, "summary": summary, "peak_rss_mb": peak_rss_mb(),
          "peak_child_rss_mb": peak_rss_mb(children=True)})


if __name__ == "__main__":
    main()
