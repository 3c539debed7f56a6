"""How well search works on the user's own judgments: nDCG@10, MRR@10 and Recall@10 per retriever
and model version, with a paired bootstrap interval for each version against the base model.

Unjudged results count as not relevant. A version trained on judgments records which judged
queries it saw (its settings' "trained_on_queries"); it is scored only on the others (held
out), against the base on those same queries, so its figure never rewards memorising a mark.
"""

from __future__ import annotations

from .lazy import np

from .store.judgments import query_key

MIN_QUERIES = 5  # judged queries (with a relevant mark) before figures are shown
# Held-out judged queries from which their figure answers "did training help?" even when its interval spans
# zero. Measured (benchmarks/few_shot.py, SciFact): on 4-18 held-out queries the figure had the test gain's
# sign in 2 of 7 runs (0.00 on 7 queries where the test gain was +2.83), on 26 in 6 of 6; the check made at
# training had it in all 6 runs at 8 and 32 marks where both were recorded. The same count decides where
# the weight is chosen on judged queries (training/run.py).
CLEAR_HELD_OUT = 20
K = 10
DEPTH = 100  # results ranked per query: nDCG@100 for the direction of a change
NOTE = "Unjudged results count as not relevant."


def per_query_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, dict]:
    """{query: {"ndcg@10", "mrr@10", "recall@10", "ndcg@100"}} (pytrec_eval); a query without
    results scores 0."""
    import pytrec_eval

    run = {q: (r or {"__none__": 0.0}) for q, r in run.items()}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "ndcg_cut.100", "recall.10"}).evaluate(run)
    rel_only = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    cut = {q: dict(sorted(r.items(), key=lambda x: -x[1])[:K]) for q, r in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(rel_only, {"recip_rank"}).evaluate(cut)
    out = {}
    for q in qrels:
        m = ev.get(q, {})
        out[q] = {"ndcg@10": m.get("ndcg_cut_10", 0.0), "recall@10": m.get("recall_10", 0.0),
                  "mrr@10": rr.get(q, {}).get("recip_rank", 0.0), "ndcg@100": m.get("ndcg_cut_100", 0.0)}
    return out


def mean_metrics(per_q: dict[str, dict], queries) -> dict[str, float]:
    qs = list(queries)
    if not qs:
        return {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@10": 0.0}
    return {m: float(np.mean([per_q[q][m] for q in qs])) for m in ("ndcg@10", "mrr@10", "recall@10")}


def paired_bootstrap(a: list[float], b: list[float], *, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """Mean of b - a over paired queries with a percentile bootstrap interval (resampling queries)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        return {"delta": 0.0, "low": 0.0, "high": 0.0, "n": 0}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"delta": float(d.mean()), "low": float(lo), "high": float(hi), "n": int(d.size)}


def _run_for(svc, retriever: str, queries: list[str]) -> dict[str, dict[str, float]]:
    r = svc.retrievers.get(retriever)
    run = {}
    for q in queries:
        ranking = r.rank(q, DEPTH, None)
        run[q] = {str(x.doc_id): float(x.score) - i * 1e-9 for i, x in enumerate(ranking)}  # ties broken by rank
    return run


def _embedded(svc, version_id: str) -> bool:
    enc = svc.encoder_for(version_id)
    n = svc.store.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (enc.key,)).fetchone()[0]
    return n >= svc.store.counts()["chunks"] > 0


def training_check(version) -> dict | None:
    """What the version's own choice of weight measured when it was trained: its weight against the
    base model (weight 0) on the queries it was chosen on (pseudo-queries, or held-out judged ones)."""
    sel = (getattr(version, "metrics", None) or {}).get("selection") or {}
    per_alpha = sel.get("metrics") or {}
    try:
        chosen, base = per_alpha[f"{float(sel['alpha']):g}"], per_alpha["0"]
        metric = sel.get("metric", "ndcg@10")
        out = {"on": sel.get("queries") or "pseudo", "alpha": float(sel["alpha"]), "metric": metric,
               "delta": float(chosen[metric]) - float(base[metric])}
    except (KeyError, TypeError, ValueError):
        return None
    if "hybrid_ndcg@10" in chosen and "hybrid_ndcg@10" in base:
        out["hybrid_delta"] = float(chosen["hybrid_ndcg@10"]) - float(base["hybrid_ndcg@10"])
    return out


def check_text(check: dict | None) -> str:
    """"its training check on pseudo-queries: +3.1 nDCG@10 points over the base model" (or why there is none)."""
    if not check:
        return "the pseudo-query check made when it was trained stays the evidence"
    on = {"pseudo": "questions made from your files", "judged": "the judged queries it held out"}.get(
        str(check.get("on")), str(check.get("on")))
    text = f"the check made when it was trained, on {on}: {check['delta'] * 100:+.1f} nDCG@10 points over the base model"
    if "hybrid_delta" in check:
        text += f", hybrid {check['hybrid_delta'] * 100:+.1f}"
    return text


def verdict(versus: dict | None, check: dict | None) -> dict | None:
    """What "did training help?" shows first: the held-out figure when there are enough held-out queries
    or its interval leaves out zero, otherwise the check made at training (the held-out figure stays in the
    table). {"source": "held_out" | "training_check", "delta", "hybrid_delta"?, "text"}."""
    dense, hybrid = (versus or {}).get("dense"), (versus or {}).get("hybrid")
    if dense and (dense["n"] >= CLEAR_HELD_OUT or dense["low"] > 0 or dense["high"] < 0):
        n = dense["n"]
        out = {"source": "held_out", "delta": dense["delta"], "n": n,
               "text": f"{dense['delta'] * 100:+.1f} nDCG@10 points over the base model on {n} judged "
                       f"quer{'ies' if n != 1 else 'y'}" + (" it did not train on" if dense.get("held_out") else "")}
        if hybrid:
            out["hybrid_delta"] = hybrid["delta"]
            out["text"] += f", hybrid {hybrid['delta'] * 100:+.1f}"
        return out
    if not check:
        return None
    out = {"source": "training_check", **check, "text": check_text(check)}
    if dense:
        n = dense["n"]
        which = "held-out" if dense.get("held_out") else "judged"
        out["text"] = (f"{n} {which} quer{'ies' if n != 1 else 'y'} cannot tell (the interval spans zero, and "
                       f"fewer than {CLEAR_HELD_OUT}); {out['text']}")
    return out


def evaluate_judgments(svc, *, versions: list[str] | None = None, min_queries: int = MIN_QUERIES,
                       dense: bool = True, n_boot: int = 2000, seed: int = 0) -> dict:
    """Score BM25, dense and hybrid (base and each version) on the store's judgments."""
    all_qrels = svc.store.qrels()
    qrels = {q: {str(d): g for d, g in docs.items()} for q, docs in all_qrels.items()
             if any(g > 0 for g in docs.values())}
    queries = sorted(qrels)
    out = {"n_queries": len(queries), "n_judged_queries": len(all_qrels), "min_queries": min_queries,
           "note": NOTE, "columns": {}, "versus_base": {}, "skipped": {}, "training_check": {},
           "verdict": {}}
    if len(queries) < min_queries:
        out["enough"] = False
        n = len(queries)
        out["message"] = (f"{n} judged {'query' if n == 1 else 'queries'} with a relevant mark; mark results for at least "
                          f"{min_queries} queries to see how search does on them.")
        return out
    out["enough"] = True
    per_q: dict[str, dict] = {"bm25": per_query_metrics(qrels, _run_for(svc, "bm25", queries))}
    out["columns"]["bm25"] = {**mean_metrics(per_q["bm25"], queries), "n_queries": len(queries), "held_out": False}
    if not dense:
        return out
    if versions is None:
        versions = [v.id for v in svc.versions.list()]
    held: dict[str, list[str]] = {}
    for vid in ["base", *versions]:
        if vid != "base" and not _embedded(svc, vid):
            out["skipped"][vid] = "its passages are not all embedded yet (activate it once, or run models activate)"
            continue
        trained_on = set()
        if vid != "base":
            trained_on = {query_key(q) for q in (svc.versions.get(vid).settings.get("trained_on_queries") or ())}
        qs = [q for q in queries if query_key(q) not in trained_on]
        held[vid] = qs
        for kind in ("dense", "hybrid"):
            name = f"{kind}:{vid}"
            per_q[name] = per_query_metrics(qrels, _run_for(svc, name, queries))
            out["columns"][name] = {**mean_metrics(per_q[name], qs), "n_queries": len(qs),
                                    "held_out": bool(trained_on)}
    for vid, qs in held.items():
        if vid == "base":
            continue
        if len(qs) < min_queries:
            # too few held out to tell (one or two queries whose marked file is already first read 0.00):
            # the check its training made (pseudo-queries, or the judged queries it held out then) is the evidence
            check = training_check(svc.versions.get(vid))
            if check:
                out["training_check"][vid] = check
            if not qs:
                why = "it trained on every judged query: mark results for new queries to check it"
            else:
                why = (f"only {len(qs)} judged quer{'ies' if len(qs) != 1 else 'y'} it did not train on, fewer than "
                       f"{min_queries}: too few to tell; mark results for new queries to check it")
            out["skipped"][vid] = f"{why} ({check_text(check)})"
            if check:
                out["verdict"][vid] = verdict(None, check)
            continue
        mine = {}
        for kind in ("dense", "hybrid"):
            base, ver = per_q[f"{kind}:base"], per_q[f"{kind}:{vid}"]
            ci = paired_bootstrap([base[q]["ndcg@10"] for q in qs], [ver[q]["ndcg@10"] for q in qs],
                                  n_boot=n_boot, seed=seed)
            deep = paired_bootstrap([base[q]["ndcg@100"] for q in qs], [ver[q]["ndcg@100"] for q in qs],
                                    n_boot=n_boot, seed=seed)
            mine[kind] = out["versus_base"][f"{kind}:{vid}"] = {
                **ci, "metric": "ndcg@10", "held_out": len(qs) < len(queries),
                "base_on_same": mean_metrics(base, qs)["ndcg@10"], "deep": {**deep, "metric": "ndcg@100"}}
        v = verdict(mine, training_check(svc.versions.get(vid)))
        if v:
            out["verdict"][vid] = v
    return out
