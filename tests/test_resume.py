"""Kill -9 at any moment, start again: a consistent store and vector index, nothing twice, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run
from desktop_search.service import SearchService

HELPER = Path(__file__).with_name("kill_helper.py")


def _make_docs(root: Path, n: int) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"doc{i:04d}.txt").write_text(f"Document number {i} about topic{i % 17} and subject{i % 5}. " * 3)
    return root


def _snapshot(svc: SearchService) -> dict:
    c = svc.store.conn
    docs = {r[0]: r[1] for r in c.execute(
        "SELECT d.path, COUNT(ch.id) FROM documents d LEFT JOIN chunks ch ON ch.doc_id=d.id GROUP BY d.id")}
    return docs


def _kill_when(store: Path, docs: Path, phase: str, after: int) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HELPER.parent), str(HELPER.parent.parent)]))
    p = subprocess.Popen([sys.executable, str(HELPER), str(store), str(docs)], stdout=subprocess.PIPE, text=True, env=env)
    seen = 0
    for line in p.stdout:
        ev = json.loads(line)
        if ev["phase"] == phase:
            seen += 1
            if seen >= after:
                os.kill(p.pid, signal.SIGKILL)
                break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "the job finished before it could be killed"


@pytest.mark.parametrize("phase,after", [("extract", 2), ("embed", 3)])
def test_kill_9_then_resume(tmp_path, fake_encoder, phase, after):
    docs = _make_docs(tmp_path / "docs", 300)
    store = tmp_path / "store"
    _kill_when(store, docs, phase, after)
    with SearchService(store, encoder=fake_encoder) as svc:
        partial = svc.store.counts()
        assert 0 < partial["indexed"] <= 300
        last = run(svc.index())
        assert last.stats["indexed"] == 300
        got = _snapshot(svc)
        c = svc.store.conn
        n_chunks = c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        n_vec = c.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        assert n_vec == n_chunks
        assert c.execute("SELECT COUNT(*) FROM (SELECT chunk_id FROM vectors GROUP BY chunk_id HAVING COUNT(*) > 1)").fetchone()[0] == 0
        vi = svc.vector_index().open()
        assert len(vi) == n_chunks
        assert svc.search("topic7 subject2", "bm25", k=300)
        hits = svc.search("Document number 123", "hybrid", k=5)
        assert "doc0123.txt" in [h.name for h in hits]
    # the same files indexed in one clean run give the same documents and chunks
    with SearchService(tmp_path / "clean", encoder=fake_encoder) as ref:
        run(ref.index([docs]))
        assert _snapshot(ref) == got
