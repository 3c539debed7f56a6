"""The service end to end with the fake encoder: incremental indexing, moves, deletions, filters, search."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from conftest import before_each_extraction, run
from desktop_search.retrievers import Filters
from desktop_search.service import SearchService
from desktop_search.snippets import make_snippet


def names(hits):
    return [h.name for h in hits]


def test_index_and_search_every_retriever(service, corpus):
    last = run(service.index([corpus]))
    assert last.phase == "done"
    assert last.stats["indexed"] == 6 and last.stats["embedded"] == last.stats["chunks"]
    for r in ("bm25", "dense", "hybrid"):
        hits = service.search("bread yeast oven", r, k=3)
        assert hits[0].name == "bread.md", r
        assert hits[0].retriever == r
    h = service.search("yeast", "bm25")[0]
    marked = [h.snippet[a:b] for a, b in h.spans]
    assert "yeast" in marked


def test_results_are_files_not_chunks(tmp_path, fake_encoder):
    long = " ".join(f"Paragraph {i} talks about apples and pears." for i in range(300))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "long.txt").write_text(long)
    (tmp_path / "d" / "short.txt").write_text("apples grow on trees")
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        run(svc.index([tmp_path / "d"]))
        assert svc.status()["counts"]["chunks"] > 5
        for r in ("bm25", "dense", "hybrid"):
            hits = svc.search("apples", r, k=10)
            assert sorted(names(hits)) == ["long.txt", "short.txt"]


def test_status_splits_the_index_size_between_folders(tmp_path, fake_encoder):
    for name, n in (("big", 6), ("small", 1)):
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"{i}.txt").write_text(" ".join(f"word{j} about topic {i}" for j in range(300)))
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        run(svc.index([tmp_path / "big", tmp_path / "small"]))
        st = svc.status()
        by = {os.path.basename(f["path"]): f for f in st["folders"]}
        total = st["size_bytes"]["database"] + st["size_bytes"]["vectors"]
        assert by["big"]["index_bytes"] > 5 * by["small"]["index_bytes"] > 0
        assert abs(sum(f["index_bytes"] for f in st["folders"]) - total) <= len(st["folders"])
        # the snapshot form leaves out the per-file problem list, nothing else
        light = svc.status(problems=False)
        assert light["folders"] == st["folders"] and light["counts"] == st["counts"]
        (tmp_path / "small" / "bad.pdf").write_bytes(b"%PDF-1.4 not a pdf")
        run(svc.index())
        assert any(p["path"].endswith("bad.pdf") for p in svc.status()["problems"])
        assert not any(p["path"].endswith("bad.pdf") for p in svc.status(problems=False)["problems"])


def test_incremental_unchanged_files_not_reread(service, corpus, monkeypatch):
    run(service.index([corpus]))

    calls = []
    before_each_extraction(monkeypatch, calls.append)
    before = service.encoder.calls
    last = run(service.index())
    assert calls == [] and last.stats["to_read"] == 0
    assert service.encoder.calls == before
    # a changed file is re-read and only its chunks are re-embedded
    p = corpus / "notes" / "garden.txt"
    p.write_text("Cucumbers like warm greenhouses.")
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    last = run(service.index())
    assert [os.path.basename(c) for c in calls] == ["garden.txt"]
    assert last.stats["embedded"] == 1
    assert names(service.search("cucumbers", "bm25")) == ["garden.txt"]
    assert service.search("tomatoes", "bm25") == []


def test_deleted_file_leaves_every_index(service, corpus):
    run(service.index([corpus]))
    (corpus / "papers" / "quantum.txt").unlink()
    last = run(service.index())
    assert last.stats["removed"] == 1
    for r in ("bm25", "dense", "hybrid"):
        assert "quantum.txt" not in names(service.search("quantum entanglement particles", r))
    n_chunks = service.store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    n_vec = service.store.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert n_chunks == n_vec == 5
    assert len(service.vector_index()) == 5


def test_moved_file_is_recognised_not_duplicated(service, corpus):
    run(service.index([corpus]))
    old = service.store.doc_by_path(os.fsencode(str(corpus / "papers" / "proteins.txt")))
    calls = service.encoder.calls
    shutil.move(corpus / "papers" / "proteins.txt", corpus / "notes" / "folding.txt")
    last = run(service.index())
    assert last.stats["moved"] == 1 and last.stats["removed"] == 0
    assert service.encoder.calls == calls  # nothing re-embedded
    hits = service.search("protein folding", "bm25")
    assert names(hits) == ["folding.txt"]
    assert hits[0].doc_id == old.id
    assert service.store.counts()["indexed"] == 6


def test_copy_is_indexed_as_its_own_file(service, corpus):
    run(service.index([corpus]))
    shutil.copy(corpus / "papers" / "proteins.txt", corpus / "papers" / "proteins-copy.txt")
    run(service.index())
    assert sorted(names(service.search("protein folding", "bm25"))) == ["proteins-copy.txt", "proteins.txt"]


def test_filters_folder_type_date(service, corpus):
    old = corpus / "notes" / "garden.txt"
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001
    run(service.index([corpus]))
    q = "sort lists quicksort water"
    assert set(names(service.search(q, "bm25", filters=Filters(folder=str(corpus / "code"))))) <= {"sort.py", "README.rst"}
    assert names(service.search(q, "bm25", filters=Filters(exts=("py",)))) == ["sort.py"]
    assert "garden.txt" not in names(service.search("water", "hybrid", filters=Filters(modified_after=1.5e9)))
    assert names(service.search("water", "dense", filters=Filters(modified_before=1.5e9))) == ["garden.txt"]


def test_phrase_and_exclusion(service, corpus):
    run(service.index([corpus]))
    assert names(service.search('"hot oven"', "bm25")) == ["bread.md"]
    # no file has the phrase: its words are ranked instead, and the result says so (issue 15 #6)
    hits = service.search('"oven hot"', "bm25")
    assert names(hits) == ["bread.md"] and hits.notice.startswith("No file contains the phrase")
    assert "bread.md" not in names(service.search("water -yeast", "bm25"))
    assert "bread.md" not in names(service.search("water -yeast", "dense"))


def test_remove_folder_clears_everything(service, corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("zebra stripes")
    run(service.index([corpus, other]))
    service.remove_folder(str(corpus))
    assert service.store.counts()["indexed"] == 1
    assert names(service.search("zebra", "hybrid")) == ["x.txt"]
    assert service.store.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 1
    assert len(service.vector_index()) == 1


def test_nested_folders_fold_into_parent(service, corpus):
    run(service.index([corpus / "notes"]))
    run(service.index([corpus]))
    assert len(service.store.folders()) == 1
    assert service.store.counts()["indexed"] == 6


def test_missing_root_keeps_entries(service, corpus, tmp_path):
    run(service.index([corpus]))
    moved = tmp_path / "elsewhere"
    shutil.move(corpus, moved)
    run(service.index())
    st = service.status()
    assert st["counts"]["indexed"] == 6
    assert not st["folders"][0]["exists"]
    assert any("not found" in p["reason"] for p in st["problems"])


def test_hnsw_repaired_from_store(tmp_path, corpus, fake_encoder):
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        run(svc.index([corpus]))
    vec_dir = tmp_path / "s" / "vectors"
    f = next(vec_dir.glob("*.hnsw"))
    # a damaged file is rebuilt from the vectors in SQLite
    f.write_bytes(b"garbage")
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        assert names(svc.search("quantum particles", "dense"))[0] == "quantum.txt"
        assert len(svc.vector_index()) == 6
    # a stale file (missing vectors) is completed
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        vi = svc.vector_index().open()
        vi.remove([1, 2])
        vi.save()
    with SearchService(tmp_path / "s", encoder=fake_encoder) as svc:
        vi = svc.vector_index().open()
        assert vi.repaired["added"] == 2 and len(vi) == 6


def test_snippet_spans_point_at_matches():
    text = "x " * 500 + "The yeast makes the dough rise. " + "y " * 500
    snip, spans = make_snippet(text, 0, len(text), {"yeast", "dough"})
    assert [snip[a:b] for a, b in spans] == ["yeast", "dough"]
    assert snip.startswith("… ") and snip.endswith(" …") and len(snip) < 300


def test_compare_reports_agreement(service, corpus):
    run(service.index([corpus]))
    res = service.compare("sorting lists", ["bm25", "dense"], k=5)
    pair = res["pairs"]["bm25|dense"]
    assert 0.0 <= pair["overlap_at_k"] <= 1.0 and 0.0 <= pair["jaccard"] <= 1.0
    assert set(res["columns"]) == {"bm25", "dense"}


def test_store_refuses_newer_schema(tmp_path):
    import sqlite3

    from desktop_search.errors import KnownError
    from desktop_search.store import Store

    db = tmp_path / "x.sqlite3"
    Store(db).close()
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version=99")
    c.close()
    with pytest.raises(KnownError, match="newer version"):
        Store(db)


def test_second_indexer_gets_a_clear_message(service, corpus):
    from desktop_search.errors import StoreLocked
    from desktop_search.util import ProcessLock

    with ProcessLock(service.data_dir / "indexing.lock"):
        import subprocess
        import sys

        code = (
            "import sys; from desktop_search.util import ProcessLock\n"
            "from desktop_search.errors import StoreLocked\n"
            f"try:\n ProcessLock({str(service.data_dir / 'indexing.lock')!r}).acquire()\n"
            "except StoreLocked as e:\n print('LOCKED', e); sys.exit(0)\nsys.exit(1)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0 and "LOCKED" in out.stdout
    assert StoreLocked


def test_training_export_has_passages_and_whole_documents(service, tmp_path):
    import json

    from desktop_search.jobs.training import export_passages

    docs = tmp_path / "docs"
    docs.mkdir()
    long_text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(300))
    (docs / "long.txt").write_text(long_text)
    (docs / "short.md").write_text("# Short note\n\nOne small paragraph about bread and yeast.")
    run(service.index([docs]))
    passages_file, titles_file, n = export_passages(service.store, tmp_path / "export", documents=True)
    passages = [json.loads(line) for line in passages_file.read_text().splitlines()]
    documents = [json.loads(line) for line in (tmp_path / "export" / "documents.jsonl").read_text().splitlines()]
    assert n == len(passages) == service.store.counts()["chunks"]
    assert len(documents) == 2 and len({d["group"] for d in documents}) == 2
    by_group = {d["group"]: d["text"] for d in documents}
    long_group = next(g for g, t in by_group.items() if "Sentence number 299" in t)
    pieces = [p["text"] for p in passages if p["group"] == long_group]
    assert len(pieces) > 1  # several passages, one whole text holding each of them
    assert all(piece in by_group[long_group] for piece in pieces)
    assert "Short note" in json.loads(titles_file.read_text()).values()
    export_passages(service.store, tmp_path / "plain")  # the app's job: passages and titles only
    assert sorted(f.name for f in (tmp_path / "plain").iterdir()) == ["passages.jsonl", "titles.json"]
