"""Passage encoding speed and dense quality per encoder backend, in one run, on the same passages.

Baseline: the torch path the app used before the fast encoder (bf16 autocast on a CPU with native
bf16, fp32 elsewhere: `torch`). Against it: OpenVINO (`openvino`, bf16 where the CPU has it), ONNX
Runtime fp32 (`onnx`) and ONNX Runtime int8 (`int8`), all from the same export
(desktop_search.onnx_export). The passages (SciFact title + abstract, cut to the model's 256 tokens
as the indexer's chunks are) are encoded in slices, each slice by every backend in turn (the order
rotating), so a machine whose load changes during the run slows every backend alike; passages/s is
the total over the slices, and passages per CPU-second (this process's CPU time, all its threads) tells
the backends apart on a loaded machine, where wall time depends on how much CPU the process was given. Quality: dense nDCG@10 of the 300 SciFact test queries over the same
passages (exact inner-product search; the relevant documents of every query are always included,
the rest of the corpus is the first documents, --docs in all; --docs 0 = the whole corpus), and the
lowest and mean cosine of each backend's passage vectors to torch fp32's (--fp32-reference).

    python benchmarks/encoder_speed.py [--docs 2000] [--slices 8] [--backends torch,openvino,onnx,int8]
    python benchmarks/encoder_speed.py --beir ../shared/data/beir/cranfield --docs 0   # Cranfield: 1,400 documents

Exports go to a temporary folder unless DESKTOP_SEARCH_EXPORTS is set (the export time is reported).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, machine, require_scifact  # noqa: E402


def cpu_description() -> dict:
    """The CPU model and the flags that decide the encoders' speed (bf16, int8 dot products)."""
    from desktop_search.retrievers.fast_encoder import cpu_flags

    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni")
    flags = cpu_flags()
    return {"model": model, "flags": [f for f in wanted if f in flags], "load_average": list(os.getloadavg())}


def passages(beir_dir: Path, n_docs: int):
    """(doc ids, texts, queries, qrels): every relevant document plus the first others, up to n_docs."""
    from desktop_search.evaluation import load_beir

    corpus, queries, qrels = load_beir(beir_dir)
    ids = list(corpus)
    if n_docs:
        relevant = {d for q in qrels.values() for d in q}
        keep = [d for d in ids if d in relevant]
        keep += [d for d in ids if d not in relevant][: max(0, n_docs - len(keep))]
        ids = keep[:n_docs]
    texts = [f"{corpus[d][0]}\n{corpus[d][1]}".strip() for d in ids]
    return ids, texts, queries, qrels


def make_encoders(model_path: str, names: list[str], fp32_reference: bool) -> dict:
    from desktop_search.retrievers.encoder import SentenceTransformerEncoder

    encs = {}
    for name in names:
        encs[name] = SentenceTransformerEncoder(model_path, key="bench", backend=name)
    if fp32_reference:
        os.environ["DESKTOP_SEARCH_PRECISION"] = "fp32"
        ref = SentenceTransformerEncoder(model_path, key="bench", backend="torch")
        ref.precision  # fixed now, with the override on  # noqa: B018
        encs["torch-fp32"] = ref
        del os.environ["DESKTOP_SEARCH_PRECISION"]
    for name, e in encs.items():
        e.encode(["warm up the model and its kernels"] * 8, batch_size=8)
        if e.backend != name.split("-")[0]:
            print(f"note: {name} runs as {e.backend}: {e.backend_note}", file=sys.stderr)
    return encs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000, help="passages (SciFact documents) to encode; 0 = all 5,183")
    ap.add_argument("--slices", type=int, default=8, help="how many interleaved slices")
    ap.add_argument("--backends", default="torch,openvino,onnx,int8")
    ap.add_argument("--batch", type=int, default=64, help="batch size (the indexer's embed_batch)")
    ap.add_argument("--beir", default=None, help="another BEIR-layout folder (default: SciFact), e.g. .../beir/cranfield")
    ap.add_argument("--fp32-reference", action=argparse.BooleanOptionalAction, default=True,
                    help="also encode with torch in fp32 (the cosine reference; not timed against the baseline)")
    args = ap.parse_args()
    import numpy as np

    from desktop_search.config import resolve_model
    from desktop_search.evaluation import evaluate_run

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = None
    if not os.environ.get("DESKTOP_SEARCH_EXPORTS"):
        tmp = tempfile.TemporaryDirectory(prefix="ds-exports-")
        os.environ["DESKTOP_SEARCH_EXPORTS"] = tmp.name
    ids, texts, queries, qrels = passages(Path(args.beir) if args.beir else require_scifact(), args.docs)
    model_path = resolve_model(None)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    t = time.perf_counter()
    from desktop_search.onnx_export import ensure_export

    ensure_export(model_path)
    export_s = time.perf_counter() - t
    encs = make_encoders(model_path, names, args.fp32_reference)

    seconds = {n: 0.0 for n in encs}
    cpu_seconds = {n: 0.0 for n in encs}  # this process's CPU time (all threads): fair on a loaded machine
    vecs = {n: np.zeros((len(texts), 384), dtype=np.float32) for n in encs}
    bounds = np.linspace(0, len(texts), args.slices + 1, dtype=int)
    order = list(encs)
    for s in range(args.slices):
        a, b = bounds[s], bounds[s + 1]
        for n in order[s % len(order):] + order[: s % len(order)]:  # rotate who goes first
            t, c = time.perf_counter(), time.process_time()
            vecs[n][a:b] = encs[n].encode(texts[a:b], batch_size=args.batch)
            seconds[n] += time.perf_counter() - t
            cpu_seconds[n] += time.process_time() - c
        print(f"slice {s + 1}/{args.slices} done", file=sys.stderr, flush=True)

    qids = list(queries)
    results = {}
    ref = vecs.get("torch-fp32")
    for n, e in encs.items():
        qv = np.stack([e.encode_query(queries[q]) for q in qids])
        scores = qv @ vecs[n].T
        top = np.argsort(-scores, axis=1)[:, :100]
        run = {q: {ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(qids)}
        m = evaluate_run(qrels, run)
        row = {"backend": e.backend, "precision": e.precision, "key": e.key,
               "passages_per_s": round(len(texts) / seconds[n], 2), "seconds": round(seconds[n], 2),
               "passages_per_cpu_s": round(len(texts) / max(cpu_seconds[n], 1e-9), 2),
               "ndcg@10": round(m["ndcg@10"], 4), "recall@100": round(m["recall@100"], 4)}
        if ref is not None:
            cos = np.sum(vecs[n] * ref, axis=1)
            row["cosine_to_fp32"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
        if e.backend_note:
            row["note"] = e.backend_note
        results[n] = row
    base = results.get("torch")
    if base:
        for row in results.values():
            row["speed_vs_torch"] = round(row["passages_per_s"] / base["passages_per_s"], 2)
            row["cpu_efficiency_vs_torch"] = round(row["passages_per_cpu_s"] / base["passages_per_cpu_s"], 2)
            row["ndcg_points_vs_torch"] = round(100 * (row["ndcg@10"] - base["ndcg@10"]), 2)
    emit({"benchmark": "encoder_speed", "data": str(args.beir or "scifact"), "baseline": "torch (the app's previous path: bf16 autocast on CPUs with "
          "native bf16, else fp32)", "passages": len(texts), "queries": len(qids), "slices": args.slices,
          "batch": args.batch, "export_s": round(export_s, 1), "cpu": cpu_description(), "backends": results,
          "machine": {**machine(), **_versions()}})
    if tmp is not None:
        tmp.cleanup()


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("onnxruntime", "openvino", "sentence-transformers", "transformers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    main()
