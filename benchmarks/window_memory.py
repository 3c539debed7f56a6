"""Resident memory of the window and its encoder child on a large library, searching as a user does.

The window opens as the app opens it (`MainWindow`, then `SearchService` with `EncoderProcess`:
the model runs in a child process), offscreen; then SciFact test queries are typed into the
Search tab with BM25, Dense and Hybrid in turn, each waited for until its results are in the
table (so the postings, the HNSW index, the vectors the search reads and the encoder child are all
loaded). Measured: VmRSS and VmHWM (peak) of the window process and of every child it started
(from /proc), after the searches. The named baseline is the same window, in the same run, on an
empty library (a fresh data folder in a separate process): what the window costs before any
library.

Build a 100,000-passage library first, e.g.

    python benchmarks/million.py --vectors-from /tmp/fs-scifact/store --target 100000 --keep \\
        --work /tmp/ds-100k
    QT_QPA_PLATFORM=offscreen python benchmarks/window_memory.py --data-dir /tmp/ds-100k/store
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_info, emit, require_scifact  # noqa: E402

TARGET_MB = 1024


def _status_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _tree_memory() -> dict:
    me = os.getpid()
    procs = {"window": _status_kb(me)}
    todo = _children(me)
    while todo:
        pid = todo.pop()
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = "encoder child" if any(b"encoder_server" in c for c in cmd) else f"child {pid}"
        procs[name] = _status_kb(pid)
        todo += _children(pid)
    mb = {k: {"rss_mb": round(v.get("VmRSS", 0) / 1024, 1), "peak_mb": round(v.get("VmHWM", 0) / 1024, 1)}
          for k, v in procs.items()}
    return {"processes": mb, "total_rss_mb": round(sum(v["rss_mb"] for v in mb.values()), 1),
            "total_peak_mb": round(sum(v["peak_mb"] for v in mb.values()), 1)}


def _window_child(data_dir: str, n_queries: int, timeout_s: float) -> dict:
    """This process is the window: open it, search, measure; print one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_search.evaluation import load_beir
    from desktop_search.gui.main_window import MainWindow
    from desktop_search.retrievers.remote import EncoderProcess
    from desktop_search.service import SearchService

    _, queries, _ = load_beir(require_scifact(), split="test")
    texts = [queries[q] for q in sorted(queries)][:n_queries]
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="ds-winmem-")) / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(None, settings=settings)
    win.resize(1100, 700)
    win.show()
    t0 = time.perf_counter()
    svc = SearchService(data_dir, encoder_factory=EncoderProcess)
    win.owns_service = True
    win.attach_service(svc)
    opened_s = time.perf_counter() - t0
    tab = win.search_tab
    shown = {}
    for retriever in ("bm25", "dense", "hybrid"):
        tab.set_retriever(retriever)
        counts = []
        for q in texts:
            loop = QEventLoop()
            got: list[int] = []

            def done(n: int, loop=loop, got=got) -> None:
                got.append(n)
                loop.quit()

            tab.results_shown.connect(done)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            tab.query.setText(q)
            tab.search_now()
            loop.exec()
            tab.results_shown.disconnect(done)
            counts.append(got[0] if got else -1)
        shown[retriever] = {"queries": len(counts), "answered": sum(c >= 0 for c in counts),
                            "with_results": sum(c > 0 for c in counts)}
    app.processEvents()
    mem = _tree_memory()
    passages = svc.store.counts().get("chunks")
    win.close()
    svc.close()
    return {"passages": passages, "open_s": round(opened_s, 2), "searches": shown, **mem}


def _run_window(data_dir: str, n_queries: int, timeout_s: float) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, __file__, "--_child", data_dir, "--queries", str(n_queries),
                        "--timeout", str(timeout_s)], env=env, capture_output=True, text=True)
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"window process exited {r.returncode}", "stderr_tail": r.stderr[-2000:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", help="an indexed store with vectors (e.g. million.py --target 100000 --keep)")
    ap.add_argument("--queries", type=int, default=20, help="SciFact test queries per retriever")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one search")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(json.dumps(_window_child(args._child, args.queries, args.timeout)), flush=True)
        return
    if not args.data_dir:
        ap.error("--data-dir is required")

    empty = tempfile.mkdtemp(prefix="ds-winmem-empty-")
    baseline = _run_window(empty, args.queries, args.timeout)
    library = _run_window(args.data_dir, args.queries, args.timeout)
    total = library.get("total_rss_mb")
    emit({
        "benchmark": "window_memory",
        "baseline": {"what": "the same window on an empty library, same run", **baseline},
        "library": library,
        "target_mb": TARGET_MB,
        "met": (total is not None and total <= TARGET_MB),
        "cpu": cpu_info(),
    })


if __name__ == "__main__":
    main()
