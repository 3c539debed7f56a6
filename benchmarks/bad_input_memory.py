"""Peak memory of indexing hostile files: the indexer process and the extraction worker, per file.

The hostile set (tests/fixtures_bad_files.py, HOSTILE_FILES): a zip-bomb DOCX (1 GiB of XML in
3 MB), 45 MB of nested HTML, a 300,000-page PDF, a PDF whose page tree loops, and 10 MB of text
on one line. They are indexed through the real pipeline (the configured model's tokenizer,
BM25; embedding with --embed) into a throw-away store while a sampler thread reads the resident
memory (RSS) of this process and of the extraction worker every 20 ms. The worker's address
space is capped (settings.extract_memory_mb); the figures say what each file cost and what
became of it.

    nice python benchmarks/bad_input_memory.py [--embed] [--cap-mb N] [--only NAME] [--tracemalloc]

Prints JSON: per file its size, status and reason, and the peaks of both processes while it
was read; the overall peaks; the cap in force. A memory benchmark, not a timing one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import emit  # noqa: E402

MB = 1024 * 1024


class RssSampler:
    """Samples the RSS of this process and of its children (the extraction worker) in a thread;
    peaks are kept overall and under the label set by `label` (the file being read)."""

    def __init__(self, interval_s: float = 0.02):
        import psutil

        self.me = psutil.Process()
        self.interval_s = interval_s
        self.label = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self.overall = {"indexer_mb": 0.0, "worker_mb": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        mine = self.me.memory_info().rss / MB
        worker = 0.0
        for child in self.me.children(recursive=True):
            try:
                worker = max(worker, child.memory_info().rss / MB)
            except psutil.Error:
                continue
        p = self.peaks.setdefault(self.label, {"indexer_mb": 0.0, "worker_mb": 0.0})
        p["indexer_mb"] = max(p["indexer_mb"], mine)
        p["worker_mb"] = max(p["worker_mb"], worker)
        self.overall["indexer_mb"] = max(self.overall["indexer_mb"], mine)
        self.overall["worker_mb"] = max(self.overall["worker_mb"], worker)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval_s)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def build(folder: Path, only: set[str]) -> dict[str, int]:
    """Write the hostile files from another process, so that making them (a 1 GiB deflate stream,
    a 300,000-object PDF) leaves nothing in the memory measured here."""
    import json
    import subprocess

    code = ("import json, sys; from pathlib import Path; from fixtures_bad_files import HOSTILE_FILES as H; "
            "f = Path(sys.argv[1]); f.mkdir(parents=True, exist_ok=True); only = set(json.loads(sys.argv[2])); "
            "[make(f / name) for name, make in H.items() if not only or name in only]")
    subprocess.run([sys.executable, "-c", code, str(folder), json.dumps(sorted(only))], check=True,
                   cwd=HERE.parent / "tests")
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embed", action="store_true", help="also embed the passages (loads the model)")
    ap.add_argument("--cap-mb", type=int, help="the worker's memory cap (default: the settings' default)")
    ap.add_argument("--only", action="append", default=[], help="index only this hostile file (repeatable)")
    ap.add_argument("--tracemalloc", action="store_true", help="the indexer's top allocation sites (slow)")
    args = ap.parse_args()

    from desktop_search.config import IndexSettings
    from desktop_search.documents import worker
    from desktop_search.jobs.indexing import Indexer
    from desktop_search.service import SearchService

    work = Path(tempfile.mkdtemp(prefix="ds-bad-input-"))
    try:
        sizes = build(work / "docs", set(args.only))
        settings = IndexSettings()
        if args.cap_mb:
            settings.extract_memory_mb = args.cap_mb
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.start(12)
        svc = SearchService(work / "store", settings=settings)
        _ = svc.models.tokenizer  # loaded before the baseline: every indexing run has it
        sampler = RssSampler()
        baseline_mb = sampler.me.memory_info().rss / MB
        orig = worker.ExtractorPool.extract
        seconds: dict[str, float] = {}
        # a fresh worker for every file, so that each file's peak is its own (indexing replaces a
        # worker only when a file left it above worker.RECYCLE_ABOVE_BYTES)
        recycle = worker.RECYCLE_ABOVE_BYTES
        worker.RECYCLE_ABOVE_BYTES = 0

        def labelled(pool, path):
            name = os.path.basename(path)
            sampler.label = name
            t = time.perf_counter()
            try:
                return orig(pool, path)
            finally:
                seconds[name] = round(time.perf_counter() - t, 2)
                sampler.label = "between files"

        orig_commit = Indexer._commit

        def labelled_commit(indexer, batch, *a, **kw):
            sampler.label = "write: " + ", ".join(os.path.basename(p.entry.path) for p, _ in batch)
            return orig_commit(indexer, batch, *a, **kw)

        worker.ExtractorPool.extract = labelled
        Indexer._commit = labelled_commit
        t0 = time.perf_counter()
        with sampler:
            for p in svc.index([work / "docs"], embed=args.embed):
                if p.phase == "embed":
                    sampler.label = "embedding"
        total_s = time.perf_counter() - t0
        worker.ExtractorPool.extract = orig
        Indexer._commit = orig_commit
        worker.RECYCLE_ABOVE_BYTES = recycle
        top = []
        if args.tracemalloc:
            import tracemalloc

            snap = tracemalloc.take_snapshot()
            _, peak = tracemalloc.get_traced_memory()
            top = [{"where": str(s.traceback[-1]), "mb": round(s.size / MB, 1)}
                   for s in snap.statistics("traceback")[:8]]
            top.insert(0, {"where": "tracemalloc peak (Python objects)", "mb": round(peak / MB, 1)})
        docs = {d.name: d for d in svc.files()}
        files = {}
        for name, size in sizes.items():
            d = docs.get(name)
            during = sampler.peaks.get(name, {})
            written = [p for label, p in sampler.peaks.items() if label.startswith("write: ") and name in label]
            files[name] = {"bytes": size, "status": d.status if d else None, "reason": d.reason if d else None,
                           "extract_s": seconds.get(name),
                           "worker_peak_mb": round(during.get("worker_mb", 0.0), 1),
                           "indexer_peak_reading_mb": round(during.get("indexer_mb", 0.0), 1),
                           # chunking, BM25 terms and the writes of the batch holding this file
                           "indexer_peak_writing_mb": round(max((p["indexer_mb"] for p in written), default=0.0), 1)}
        counts = svc.store.counts()
        svc.close()
        emit({
            "benchmark": "bad_input_memory",
            "embed": args.embed,
            "worker_memory_cap_mb": settings.extract_memory_mb,
            "worker_replaced_above_mb": recycle // MB,
            "fresh_worker_per_file": True,
            "indexer_baseline_rss_mb": round(baseline_mb, 1),
            "indexer_peak_rss_mb": round(sampler.overall["indexer_mb"], 1),
            "worker_peak_rss_mb": round(sampler.overall["worker_mb"], 1),
            "embedding_peak_indexer_mb": round(sampler.peaks.get("embedding", {}).get("indexer_mb", 0.0), 1),
            "total_s": round(total_s, 1),
            "passages": counts["chunks"],
            "files": files,
            "tracemalloc_top": top,
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
