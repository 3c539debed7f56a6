"""Lexical indexing of SciFact's 5,183 files (`desktop-search index --no-embed`): files/s, bytes written
over the whole process tree (the extraction worker is a child) and the store's size, against Recoll
(`recollindex`, when installed) and the old code (a `git worktree` of --old-commit), each run once,
interleaved old / new / Recoll, in the same run; then a re-index after 50 files changed.

Bytes written: the kernel folds a reaped child's I/O counters into its parent's, so the growth of
this script's /proc/self/io across one `subprocess.run` is the command's whole tree (`wchar`: bytes
given to write(); `write_bytes`: bytes dirtied for the disk).

    python benchmarks/lexical_index.py [--old-commit REV] [--docs 0] [--work /tmp/ds-lexical-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_info, emit, measured_run as _measured, require_scifact  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _size(*paths: Path) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


class Ours:
    """`desktop-search index --no-embed` of one checkout (PYTHONPATH), through `python -m desktop_search`."""

    def __init__(self, name: str, src: Path, data: Path):
        self.name, self.src, self.data = name, src, data

    def run(self, docs: Path | None) -> dict:
        env = dict(os.environ, PYTHONPATH=str(self.src), HF_HUB_OFFLINE="1")
        # an installed app imports its modules from bytecode (pip and PyInstaller compile them, and an
        # editable install writes it on first import); a shell with PYTHONDONTWRITEBYTECODE set would
        # make every run compile ~50 modules from source (0.1 s of a 50-file re-index, measured)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(self.data), "index", "--no-embed", "--json"]
        r = _measured(cmd + ([str(docs)] if docs else []), env=env, cwd="/")
        stats = {}
        for line in r.pop("_stdout").splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and "extract_s" in ev:
                stats = ev
        r["indexed"] = stats.get("indexed")
        r["extract_s"] = stats.get("extract_s")
        if "cut_by_reader" in stats:  # files whose passages the extraction child cut
            r["cut_by_reader"] = stats["cut_by_reader"]
        r["store_bytes"] = _size(*(self.data / f"library.sqlite3{s}" for s in ("", "-wal", "-shm")))
        return r


class Recoll:
    """`recollindex` with a configuration of its own holding only the benchmark folder."""

    def __init__(self, conf: Path, docs: Path):
        self.conf = conf
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "recoll.conf").write_text(f"topdirs = {docs}\nloglevel = 1\nnoaspell = 1\n"
                                          "indexStemmingLanguages = english\n", encoding="utf-8")

    def run(self, docs: Path | None) -> dict:
        r = _measured(["recollindex", "-c", str(self.conf)])
        r.pop("_stdout")
        r["store_bytes"] = _size(self.conf / "xapiandb")
        return r


def _rates(r: dict, files: int) -> dict:
    r = dict(r)
    r["files_per_s"] = round(files / max(r["wall_s"], 1e-9), 1)
    if r.get("store_bytes"):
        r["written_over_store"] = round(r["write_bytes"] / r["store_bytes"], 2)
        r["wchar_over_store"] = round(r["wchar"] / r["store_bytes"], 2)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old-commit", default="e1c6f12^", help="the baseline: the code before the lexical indexer work")
    ap.add_argument("--docs", type=int, default=0, help="how many SciFact documents (0 = all 5,183)")
    ap.add_argument("--changed", type=int, default=50)
    ap.add_argument("--work", default="/tmp/ds-lexical-bench")
    args = ap.parse_args()

    from desktop_search.evaluation import load_beir, write_corpus

    corpus, _, _ = load_beir(require_scifact())
    if args.docs:
        corpus = dict(list(corpus.items())[: args.docs])
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    docs = work / "docs"
    write_corpus(corpus, docs)
    files = len(corpus)
    old_src = work / "old-src"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(old_src), args.old_commit],
                   check=True, capture_output=True)
    old_rev = subprocess.run(["git", "-C", str(old_src), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
    new_rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
    contenders = {"old": Ours("old", old_src, work / "old-data"), "new": Ours("new", REPO, work / "new-data")}
    recoll = shutil.which("recollindex")
    if recoll:
        contenders["recoll"] = Recoll(work / "recoll-conf", docs)
    load_before = os.getloadavg()
    try:
        full = {name: _rates(c.run(docs), files) for name, c in contenders.items()}
        # re-index after `changed` files changed (content and mtime), each incremental
        names = sorted(os.listdir(docs))[:: max(1, files // args.changed)][: args.changed]
        for n in names:
            with open(docs / n, "a", encoding="utf-8") as f:
                f.write("\n\nAn added sentence about zymurgy.\n")
        later = time.time() + 2
        for n in names:
            os.utime(docs / n, (later, later))
        again = {name: c.run(None if name != "recoll" else docs) for name, c in contenders.items()}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old_src)], capture_output=True)
    load_after = os.getloadavg()
    res = {
        "benchmark": "lexical_index",
        "files": files,
        "old_commit": old_rev, "new_commit": new_rev,
        "recollindex": recoll or "not installed (apt-get install recoll)",
        "full_index": full,
        "reindex_changed": {"files": len(names), **{k: {"wall_s": v["wall_s"], "write_bytes": v["write_bytes"],
                                                          "wchar": v["wchar"], "rc": v["rc"]}
                                                      for k, v in again.items()}},
        "ratios": {
            "new_vs_old_files_per_s": round(full["new"]["files_per_s"] / full["old"]["files_per_s"], 2),
            "new_vs_old_write_bytes": round(full["new"]["write_bytes"] / max(full["old"]["write_bytes"], 1), 3),
        },
        "targets": {"files_per_s_vs_recoll": 1.5, "written_over_store": 3.0,
                    "reindex_changed_vs_recoll": "no slower"},
        "load_average_before_after": [round(x, 2) for x in load_before + load_after],
        "cpu": cpu_info(),
        "note": "each contender run once, niced, interleaved; wall time of the whole command (start-up included)",
    }
    if "recoll" in full:
        res["ratios"].update(
            new_vs_recoll_files_per_s=round(full["new"]["files_per_s"] / full["recoll"]["files_per_s"], 2),
            old_vs_recoll_files_per_s=round(full["old"]["files_per_s"] / full["recoll"]["files_per_s"], 2),
            new_vs_recoll_write_bytes=round(full["new"]["write_bytes"] / max(full["recoll"]["write_bytes"], 1), 2),
            new_vs_recoll_reindex_s=round(again["new"]["wall_s"] / max(again["recoll"]["wall_s"], 1e-9), 2),
        )
    emit(res)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
