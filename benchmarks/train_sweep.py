"""Test nDCG@10 of one training run per seed at several interpolation weights, next to the
label-free choice the app would make: what the choice of alpha gains or leaves on the table.

Trains with the app's defaults for the store (`training.trainer.defaults_for`, as
`desktop-search train` does) on the store's own passages, or reuses a finished run with the same
settings in `WORK/sweep/seedN`. Then, per seed: the label-free choice
(`training.selection.choose_alpha` on pseudo-queries, as the app runs it) and exact
best-passage search over all of the store's passages with the base model and each weight, scored
on the BEIR test queries. Passages are encoded the way the app encodes them (bf16 autocast on
CPUs with native bf16), queries one precision up (fp32), as the app's single queries are.

The baseline named here is the base model (alpha 0) in the same run.

    python benchmarks/train_sweep.py ../shared/data/beir/scifact --work /tmp/tq-scifact \\
        [--seeds 0,1,2] [--alphas 0.3,0.5,0.7] [--set lr=1e-4 --set steps=120]
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


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir_dir")
    ap.add_argument("--work", required=True, help="store folder, reused between runs (as for train_quality.py)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--alphas", default="0.3,0.5,0.7")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig override")
    ap.add_argument("--units", choices=("passages", "documents"), default="passages",
                    help="train on the passages (as the app's job does) or on whole texts cut in 256-token pieces")
    ap.add_argument("--name", default="", help="tells runs with different --set apart in WORK/sweep")
    ap.add_argument("--no-select", action="store_true",
                    help="skip the label-free choice (saves its encodes; for ablations at fixed weights)")
    args = ap.parse_args()

    import torch

    from desktop_search.jobs.training import export_passages
    from desktop_search.evaluation import evaluate_run
    from training.data import passages_fingerprint
    from training.run import read_passages, read_titles
    from training.selection import build_pseudo_queries, choose_alpha, model_encoder
    from training.trainer import TrainConfig, defaults_for, interpolate_state, load_model, load_trained_state, train

    queries, qrels, names, svc, _ = indexed_beir_store(args.beir_dir, args.work)
    work = Path(args.work)
    base_model = svc.base_model_path()
    sweep = work / "sweep"
    passages_file, titles_file, _ = export_passages(svc.store, sweep, documents=args.units == "documents")
    doc_names = dict(svc.store.conn.execute("SELECT id, name FROM documents").fetchall())
    svc.close()
    passages = read_passages(passages_file)
    # the passages, as the app's job trains on them, or the whole texts (--units documents)
    units = passages if args.units == "passages" else read_passages(passages_file.with_name("documents.jsonl"))
    titles = read_titles(titles_file)

    # exact best-passage search over every passage, file ids as BEIR ids
    files = [names.get(doc_names.get(int(g), ""), f"?{g}") for g, _ in passages]
    file_ids = sorted(set(files))
    index_of = {f: i for i, f in enumerate(file_ids)}
    col = np.array([index_of[f] for f in files], dtype=np.int64)
    qids = [q for q in queries if q in qrels]
    texts = [t for _, t in passages]

    def score(model) -> float:
        model.eval()
        with torch.no_grad():
            doc_vecs = model_encoder(model, 32, 256)(texts)
            q_vecs = np.asarray(model.encode([queries[q] for q in qids], batch_size=64, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)
        sims = q_vecs @ doc_vecs.T  # [Q, P]
        best = np.full((len(qids), len(file_ids)), -np.inf, dtype=np.float32)
        np.maximum.at(best, (slice(None), col), sims)
        run = {}
        for i, q in enumerate(qids):
            top = np.argpartition(-best[i], min(100, len(file_ids) - 1))[:100]
            run[q] = {file_ids[j]: float(best[i, j]) for j in top}
        return evaluate_run({q: qrels[q] for q in qids}, run)["ndcg@10"] * 100

    model = load_model(base_model, "cpu")
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    # the base model's score depends only on the model, the passages and the queries: computed once per WORK
    cache_key = {"model": str(base_model), "passages": passages_fingerprint(passages), "queries": len(qids)}
    cache_file = sweep / "base_score.json"
    cached = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    if cached.get("key") == cache_key:
        base_score, encode_s = cached["ndcg@10"], cached["encode_all_s"]
    else:
        t = time.perf_counter()
        base_score = score(model)
        encode_s = time.perf_counter() - t
        cache_file.write_text(json.dumps({"key": cache_key, "ndcg@10": base_score, "encode_all_s": encode_s}))
    alphas = [float(a) for a in args.alphas.split(",")]
    overrides = _parse_set(args.set)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        cfg = TrainConfig.from_dict({**defaults_for("auto", len(passages)).to_dict(), **overrides, "seed": seed})
        wd = sweep / f"{args.name + '-' if args.name else ''}seed{seed}"
        t = time.perf_counter()
        events = []
        train(cfg, units, base_model, wd, progress=lambda e: events.append(e["event"]))
        train_s = time.perf_counter() - t
        reused = "already_trained" in events
        trained = load_trained_state(wd)
        t = time.perf_counter()
        sel = None if args.no_select else choose_alpha(model, trained, build_pseudo_queries(passages, titles, seed=seed),
                                                       (0.0, 0.3, 0.5, 0.7), device="cpu", seed=seed)
        select_s = time.perf_counter() - t
        test = {}
        for a in sorted({*alphas, sel.alpha if sel else 0.0} - {0.0}):
            model.load_state_dict(interpolate_state(base_state, trained, a), strict=True)
            test[a] = score(model)
        model.load_state_dict(base_state, strict=True)
        test[0.0] = base_score
        rows.append({"seed": seed, "steps": cfg.steps, "lr": cfg.lr, "train_s": round(train_s, 1),
                     "reused_run": reused, "steps_per_s": None if reused else round(cfg.steps / train_s, 3),
                     "test_ndcg@10": {f"{a:g}": round(v, 2) for a, v in sorted(test.items())},
                     "gain": {f"{a:g}": round(test[a] - base_score, 2) for a in alphas}})
        if sel is not None:
            rows[-1].update({"select_s": round(select_s, 1), "chosen_alpha": sel.alpha, "choice": sel.reason,
                             "pseudo_ndcg@10": {f"{a:g}": round(m["ndcg@10"] * 100, 2) for a, m in sel.metrics.items()},
                             "gain_chosen": round(test[sel.alpha] - base_score, 2)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    chosen = [r["gain_chosen"] for r in rows if "gain_chosen" in r]
    summary = {"mean_gain_chosen": round(statistics.fmean(chosen), 2) if chosen else None,
               "min_gain_chosen": min(chosen) if chosen else None,
               "mean_gain_at": {f"{a:g}": round(statistics.fmean(r["gain"][f"{a:g}"] for r in rows), 2)
                                for a in alphas},
               "runs": len(rows)}
    emit({"benchmark": "train_sweep", "dataset": Path(args.beir_dir).name, "overrides": overrides, "units": args.units,
          "n_passages": len(passages), "encode_all_s": round(encode_s, 1),
          "baseline_base_model": {"ndcg@10": round(base_score, 2)},
          "runs": rows, "summary": summary, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
