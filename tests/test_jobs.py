"""The jobs' plumbing: the one event codec, the training job's handling of typed events, the lock."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run
from desktop_search.errors import StoreLocked
from desktop_search.jobs import training as training_job
from desktop_search.jobs.events import Event, EventType, decode, encode
from desktop_search.jobs.progress import Progress
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import SearchService
from desktop_search.util import ProcessLock

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")


def test_codec_round_trips_typed_events():
    pr = Progress("embed", 3, 10, "a.txt", 1.5, 4.0, "Embedding", {"n": 1}, kind="")
    ev = decode(encode(Event.of_progress(pr)))
    assert ev.type is EventType.PROGRESS and ev.progress() == pr
    ev = decode(encode(EventType.DONE, version="v1", alpha=0.5, path=Path("/x")))
    assert ev == Event(EventType.DONE, {"version": "v1", "alpha": 0.5, "path": "/x"})
    # NaN and infinity are not JSON: they travel as null; the "event" key cannot be overridden by a field
    ev = decode(encode(EventType.STEP, loss=math.nan, eta_s=math.inf, event="done"))
    assert ev.type is EventType.STEP and ev.get("loss") is None and ev.get("eta_s") is None


@pytest.mark.parametrize("line", ["", "not json", "[1, 2]", '{"no": "event"}', '{"event": "nonsense"}', b"\xff\xfe{"])
def test_codec_ignores_what_is_not_an_event(line):
    assert decode(line) is None


def test_already_trained_is_reported_and_the_version_activated_once(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(training_job, "module_command", lambda module, *args: [sys.executable, str(FAKE_TRAINER), *args])
    from training.versions import VersionStore

    activations = []
    real_activate = VersionStore.activate
    monkeypatch.setattr(VersionStore, "activate", lambda self, vid: (activations.append(vid), real_activate(self, vid)))

    def factory(path, key, display_name=None):
        return HashingEncoder(key=key)

    svc = SearchService(tmp_path / "data", encoder_factory=factory)
    try:
        run(svc.index([corpus]))
        reports = list(svc.train({"steps": 3}, select_alpha=False))
        kinds = [p.kind for p in reports]
        assert "already_trained" in kinds
        reused = next(p for p in reports if p.kind == "already_trained")
        assert "already trained" in reused.message
        done = reports[-1]
        vid = done.stats["version"]
        assert done.phase == "done" and vid and done.stats["reused"] is True and done.stats["activated"] is True
        assert activations == [vid], "a finished version is activated exactly once"
        assert svc.versions.active_id() == vid
        n_chunks = svc.store.counts()["chunks"]
        assert svc.store.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?",
                                      (svc.encoder.key,)).fetchone()[0] == n_chunks
        assert svc.encoder.key.endswith(vid)
    finally:
        svc.close()


def test_refresh_sees_a_version_another_process_activated(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(training_job, "module_command", lambda module, *args: [sys.executable, str(FAKE_TRAINER), *args])

    def factory(path, key, display_name=None):
        return HashingEncoder(key=key)

    svc = SearchService(tmp_path / "data", encoder_factory=factory)
    other = SearchService(tmp_path / "data", encoder_factory=factory)  # the window's process, say
    try:
        run(svc.index([corpus]))
        base_key = other.encoder.key
        vid = run(svc.train({}, select_alpha=False)).stats["version"]
        assert other.encoder.key == base_key  # cached until told
        other.refresh()
        assert other.encoder.key.endswith(vid) and other.encoder.key != base_key
    finally:
        svc.close()
        other.close()


def test_lock_names_what_holds_it(tmp_path):
    held = ProcessLock(tmp_path / "training.lock", "training")
    with held:
        with pytest.raises(StoreLocked) as e:
            ProcessLock(tmp_path / "training.lock", "indexing").acquire()
        assert "is training" in str(e.value) and "pid" in str(e.value)
        assert held.holder()["what"] == "training"
    with ProcessLock(tmp_path / "training.lock", "indexing") as again:  # released: free again
        assert again.holder()["what"] == "indexing"


@pytest.fixture
def pools(monkeypatch):
    """The extraction pools the indexer starts, in order."""
    from desktop_search.jobs import indexing

    started = []

    class Recorded(indexing.ExtractorPool):
        def prestart(self):
            started.append(self)
            super().prestart()

    monkeypatch.setattr(indexing, "ExtractorPool", Recorded)
    return started


def test_a_scan_cancelled_after_prestarting_the_reader_leaves_no_child(tmp_path, corpus, monkeypatch, pools):
    from desktop_search.errors import Cancelled
    from desktop_search.jobs import indexing

    monkeypatch.setattr(indexing, "READ_HERE_MAX_FILES", 0)  # the corpus is a few small text files
    svc = SearchService(tmp_path / "data", encoder_factory=lambda path, key, display_name=None: HashingEncoder(key=key))
    try:
        with pytest.raises(Cancelled):
            run(svc.index([corpus], cancel=lambda: bool(pools), embed=False))
        assert len(pools) == 1 and pools[0]._closed and pools[0].child_pid is None
        pools.clear()
        run(svc.index(embed=False))  # the next run starts its own reader and reads every file
        assert len(pools) == 1 and pools[0]._closed
        assert svc.store.counts()["indexed"] > 0
    finally:
        svc.close()


def test_a_few_small_text_files_are_read_without_the_child_and_give_the_same_index(tmp_path, corpus, monkeypatch,
                                                                                   pools):
    from desktop_search.jobs import indexing

    enc = lambda path, key, display_name=None: HashingEncoder(key=key)  # noqa: E731

    def rows(svc):
        return svc.store.conn.execute(
            "SELECT d.path, d.status, d.kind, d.encoding, d.text, c.start, c.end, c.n_tokens FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id ORDER BY d.path, c.start").fetchall()

    here = SearchService(tmp_path / "here", encoder_factory=enc)
    try:
        run(here.index([corpus], embed=False))
        assert pools == [] and here.store.counts()["indexed"] > 0  # every file read in this process
        read_here = rows(here)
    finally:
        here.close()
    monkeypatch.setattr(indexing, "READ_HERE_MAX_FILES", 0)
    child = SearchService(tmp_path / "child", encoder_factory=enc)
    try:
        run(child.index([corpus], embed=False))
        assert len(pools) == 1
        assert rows(child) == read_here
    finally:
        child.close()


def test_passages_cut_by_the_reader_or_here_make_the_same_index(tmp_path, model_path, monkeypatch, pools):
    """Whatever share of the files the extraction child cuts (all, none), the passages and the BM25
    postings are the same, with the real model's tokenizer."""
    from desktop_search.jobs import indexing

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"n{i}.txt").write_text(f"Note {i}: plain words about herons and boats. " * (8 + 20 * (i % 3)),
                                        encoding="utf-8")
        (docs / f"p{i}.html").write_text(f"<html><body><p>Café “{i}” naïve 東京 résumé</p>" * (5 + i)
                                         + "</body></html>", encoding="utf-8")

    def encoder(path, key, display_name=None):
        enc = HashingEncoder(key=key)
        enc.path = model_path  # passages cut with the real model's tokenizer
        return enc

    def index(name: str, in_child: bool):
        if in_child:  # one file queued at a time: the child never has another waiting, so it cuts all
            monkeypatch.setattr(indexing, "READ_AHEAD_FILES", 1)
        else:
            monkeypatch.setattr(indexing.Indexer, "_passage_spec", lambda self: None)
        svc = SearchService(tmp_path / name, encoder_factory=encoder)
        try:
            assert run(svc.index([docs], embed=False)).stats["cut_by_reader"] == (24 if in_child else 0)
            chunks = svc.store.conn.execute(
                "SELECT d.path, c.ord, c.start, c.end, c.n_tokens, c.bm25_len FROM chunks c "
                "JOIN documents d ON d.id = c.doc_id ORDER BY d.path, c.ord").fetchall()
            by_id = dict(svc.store.conn.execute(
                "SELECT c.id, d.path || '#' || c.ord FROM chunks c JOIN documents d ON d.id = c.doc_id"))
            postings = {}
            for term, ids, tfs in svc.store.conn.execute("SELECT term, ids, tfs FROM bm25_postings"):
                for cid, tf in zip(np.frombuffer(ids, np.int32), np.frombuffer(tfs, np.int32)):
                    postings[(term, by_id[int(cid)])] = postings.get((term, by_id[int(cid)]), 0) + int(tf)
            return chunks, postings
        finally:
            svc.close()

    everything = index("child", True)
    assert pools[-1].prepare is not None and pools[-1].prepare.tokenizer == model_path
    nothing = index("here", False)
    assert len(everything[0]) > 24 and everything == nothing


def test_a_file_of_another_kind_sends_the_whole_run_to_the_child(tmp_path, corpus, pools):
    (Path(corpus) / "page.html").write_text("<html><body><p>a page about herons</p></body></html>", encoding="utf-8")
    svc = SearchService(tmp_path / "data", encoder_factory=lambda path, key, display_name=None: HashingEncoder(key=key))
    try:
        run(svc.index([corpus], embed=False))
        assert len(pools) == 1 and pools[0]._closed
        assert any(h.path.endswith("page.html") for h in svc.search("herons", "bm25", 5))
    finally:
        svc.close()


def test_the_lock_is_the_one_filelock_takes_so_both_refuse_each_other(tmp_path):
    from filelock import FileLock, Timeout

    path = tmp_path / "indexing.lock"
    with ProcessLock(path, "indexing"):
        with pytest.raises(Timeout):
            FileLock(str(path), timeout=0, thread_local=False).acquire()
    other = FileLock(str(path), timeout=0, thread_local=False)
    other.acquire()
    try:
        with pytest.raises(StoreLocked):
            ProcessLock(path, "training").acquire()
    finally:
        other.release()
    with ProcessLock(path, "training") as again:
        assert again.holder()["what"] == "training"


def test_a_library_kept_inside_an_indexed_folder_leaves_its_own_files_out(tmp_path, corpus):
    svc = SearchService(corpus / "my-index", encoder_factory=lambda path, key, display_name=None: HashingEncoder(key=key))
    try:
        run(svc.index([corpus], embed=False))
        again = run(svc.index(embed=False))
        assert again.stats["to_read"] == 0  # the database and its lock changed, but are not the user's files
        assert not [d.path for d in svc.files() if "my-index" in d.path]
        assert svc.store.counts()["indexed"] > 0
    finally:
        svc.close()
