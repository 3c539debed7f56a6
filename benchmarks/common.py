"""Shared helpers for the benchmarks: machine description, timing, peak memory, SciFact location."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(os.environ.get("DS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SCIFACT = SHARED / "data" / "beir" / "scifact"


def machine() -> dict:
    import numpy

    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "numpy": numpy.__version__}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        pass
    return info


def percentiles(ms: list[float]) -> dict:
    s = sorted(ms)
    return {"p50_ms": round(statistics.median(s), 3), "p95_ms": round(s[int(0.95 * (len(s) - 1))], 3),
            "mean_ms": round(statistics.fmean(s), 3), "n": len(s)}


def time_calls(fn, items) -> list[float]:
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
    return out


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process, or of the largest child it has waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF).ru_maxrss
    return round(r / 1024 if sys.platform != "darwin" else r / 1e6, 1)


def cpu_info() -> dict:
    """The CPU's model, count and flags (lscpu): the figures depend on them (bf16, VNNI, AMX)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return {}
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {"model": info.get("Model name", "").strip(), "cpus": info.get("CPU(s)", "").strip(),
            "flags": info.get("Flags", "").strip()}


def emit(result: dict) -> None:
    result.setdefault("machine", machine())
    print(json.dumps(result, indent=2))


def require_scifact() -> Path:
    if not (SCIFACT / "queries.jsonl").exists():
        sys.exit(f"SciFact not found at {SCIFACT}; set DS_SHARED to the folder holding data/beir")
    return SCIFACT


def indexed_beir_store(beir_dir: str | Path, work: str | Path):
    """Write a BEIR corpus as files under WORK/docs (once), index them into WORK/store with the
    base model active. Returns (queries, qrels, names: file name -> BEIR id, service, index_s)."""
    from desktop_search.jobs import run_job
    from desktop_search.evaluation import load_beir, write_corpus
    from desktop_search.service import SearchService

    corpus, queries, qrels = load_beir(beir_dir)
    work = Path(work)
    if not (work / "names.json").exists():
        write_corpus(corpus, work / "docs")
    names = json.loads((work / "names.json").read_text("utf-8"))
    svc = SearchService(work / "store")
    svc.rollback()
    t = time.perf_counter()
    run_job(svc.index([work / "docs"]), bar=False)
    return queries, qrels, names, svc, time.perf_counter() - t


# /proc/self/io across one subprocess.run is the command's whole process tree: the kernel adds a
# reaped child's counters to its parent's (`wchar`: bytes given to write(); `write_bytes`: bytes
# dirtied for the disk).
COUNTERS = ("wchar", "write_bytes", "rchar", "read_bytes")


def io_counters() -> dict[str, int]:
    out = {}
    with open("/proc/self/io") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return out


def measured_run(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Run `cmd` niced; its wall time and the I/O of its process tree."""
    a, t = io_counters(), time.perf_counter()
    p = subprocess.run(["nice", *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    b = io_counters()
    out = {"wall_s": round(wall, 2), **{k: b[k] - a[k] for k in COUNTERS}, "rc": p.returncode}
    if p.returncode != 0:
        out["stderr_tail"] = p.stderr[-2000:]
    out["_stdout"] = p.stdout
    return out
