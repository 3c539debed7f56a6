"""BM25 against the rank-bm25 oracle, across segments, merges and deletions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from desktop_search.retrievers.analysis import analyze, parse_query
from desktop_search.retrievers.bm25 import BM25Index
from desktop_search.store import Store


class LuceneOracle(BM25Okapi):
    """rank-bm25's scoring with the Lucene idf our index uses (always positive)."""

    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = float(np.log1p((self.corpus_size - freq + 0.5) / (freq + 0.5)))


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()


def _make_store(tmp_path, docs: list[list[str]], segments: int) -> Store:
    store = Store(tmp_path / "s.sqlite3")
    per = max(1, len(docs) // segments)
    with store.write() as w:
        w.execute("INSERT INTO folders(id, raw_path, path, added_at) VALUES (1, x'2f', '/', 0)")
    for s in range(0, len(docs), per):
        with store.write() as w:
            seg = {}
            for i in range(s, min(len(docs), s + per)):
                cur = w.execute(
                    "INSERT INTO documents(raw_path, path, name, ext, status, folder_id) VALUES (?, ?, ?, 'txt', 'indexed', 1)",
                    (f"/d{i}".encode(), f"/d{i}", f"d{i}"))
                c = w.execute("INSERT INTO chunks(doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, 0, 0, 0, 0, ?)",
                              (cur.lastrowid, len(docs[i])))
                seg[c.lastrowid] = docs[i]
            BM25Index.write_segment(w, seg)
            Store.bump_generation(w)
    return store


def _random_docs(n, seed=0):
    rnd = random.Random(seed)
    return [[rnd.choice(WORDS[: rnd.randint(3, len(WORDS))]) for _ in range(rnd.randint(3, 40))] for _ in range(n)]


@pytest.fixture(params=["small", "numpy"])
def writer(request, monkeypatch):
    """Both ways of building a segment: dicts and arrays for a few files' terms, NumPy for a batch."""
    from desktop_search.retrievers import bm25

    monkeypatch.setattr(bm25, "SMALL_SEGMENT_TERMS", 10**9 if request.param == "small" else -1)
    return request.param


@pytest.mark.parametrize("segments", [1, 7])
def test_scores_match_rank_bm25(tmp_path, segments, writer):
    docs = _random_docs(120)
    store = _make_store(tmp_path, docs, segments)
    idx = BM25Index(store)
    oracle = LuceneOracle(docs, k1=1.2, b=0.75)
    for q in (["alpha"], ["beta", "rho"], ["pi", "pi", "xi"], ["nothing"]):
        ids, scores = idx.chunk_scores(q)
        expected = oracle.get_scores(q)
        got = np.zeros(len(docs))
        got[ids - 1] = scores
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_deletion_and_merge_keep_oracle_scores(tmp_path, writer):
    docs = _random_docs(200, seed=3)
    store = _make_store(tmp_path, docs, 20)
    idx = BM25Index(store)
    dead = set(range(1, 201, 3))  # chunk ids deleted
    with store.write() as w:
        w.executemany("DELETE FROM chunks WHERE id=?", [(i,) for i in dead])
        Store.bump_generation(w)
    live_docs = [d for i, d in enumerate(docs, start=1) if i not in dead]
    live_ids = [i for i in range(1, 201) if i not in dead]
    oracle = LuceneOracle(live_docs, k1=1.2, b=0.75)

    def check():
        ids, scores = idx.chunk_scores(["gamma", "mu"])
        assert not (set(ids.tolist()) & dead)
        got = dict(zip(ids.tolist(), scores.tolist()))
        exp = oracle.get_scores(["gamma", "mu"])
        for cid, e in zip(live_ids, exp):
            assert got.get(cid, 0.0) == pytest.approx(e, rel=1e-5, abs=1e-6)

    check()
    n_before = store.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]
    with store.write() as w:
        assert BM25Index.maybe_merge(w, force=True)
        Store.bump_generation(w)
    n_after = store.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]
    assert 1 < n_before < 20 and n_after == 1  # 20 batches written: tier merges kept them fewer
    # merged postings no longer hold the dead chunks
    for ib, in store.conn.execute("SELECT ids FROM bm25_postings"):
        assert not (set(np.frombuffer(ib, dtype=np.int32).tolist()) & dead)
    check()


def test_small_segments_are_byte_for_byte_those_numpy_writes(tmp_path, monkeypatch):
    """A re-index of a few files writes and merges its segments without NumPy (its import is a
    quarter of such a run): the rows must be exactly the ones the NumPy path writes, deletions,
    tier merges and the final settle included."""
    from desktop_search.retrievers import bm25

    monkeypatch.setattr(bm25, "TIER_BASE", 40)

    def build(where, small: bool):
        monkeypatch.setattr(bm25, "SMALL_SEGMENT_TERMS", 10**9 if small else -1)
        store = _make_store(tmp_path / where, _random_docs(300, seed=11), 60)
        with store.write() as w:
            w.executemany("DELETE FROM chunks WHERE id=?", [(i,) for i in range(2, 301, 7)])
            BM25Index.maybe_merge(w, settle=True)
            w.executemany("DELETE FROM chunks WHERE id=?", [(i,) for i in range(3, 301, 5)])
            BM25Index.maybe_merge(w, force=True)
        return (store.conn.execute("SELECT id, n_postings, n_chunks FROM bm25_segments ORDER BY id").fetchall(),
                store.conn.execute("SELECT segment_id, term, ids, tfs FROM bm25_postings ORDER BY segment_id, term").fetchall())

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    small, big = build("a", True), build("b", False)
    assert [tuple(r) for r in small[0]] == [tuple(r) for r in big[0]] and len(small[0]) == 1
    assert [tuple(r) for r in small[1]] == [tuple(r) for r in big[1]] and len(small[1]) == len(WORDS)


def test_a_reindex_of_a_few_files_never_imports_numpy(tmp_path):
    """What a command-line re-index of a few changed text files runs (scan, read, cut, BM25 segment,
    settle) leaves NumPy unimported: 50 ms of its start (benchmarks/lexical_index.py)."""
    import subprocess
    import sys

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"n{i}.txt").write_text(f"Note {i} about otters, caf\u00e9s and \u03b1-waves.\n" * 20, encoding="utf-8")
    code = (
        "import sys\n"
        "from desktop_search.service import SearchService\n"
        f"svc = SearchService({str(tmp_path / 'data')!r}, encoder_factory=None)\n"
        "for _ in range(int(sys.argv[1])):\n"
        "    for i in range(2):\n"
        f"        open({str(docs)!r} + f'/n{{i}}.txt', 'a').write(' more text')\n"
        f"    list(svc.index([{str(docs)!r}], embed=False))\n"
        "segments = svc.store.conn.execute('SELECT COUNT(*) FROM bm25_segments').fetchone()[0]\n"
        "print(svc.store.conn.execute('SELECT COUNT(*) FROM documents').fetchone()[0], segments,\n"
        "      'numpy' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", code, "1"], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout.split()[0] == "6", first.stderr[-2000:]  # a new folder
    out = subprocess.run([sys.executable, "-c", code, "17"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    files, segments, numpy_imported = out.stdout.split()
    # 17 re-indexes wrote 17 small segments; the tier merge (16 of tier 0) kept them few, without NumPy
    assert files == "6" and int(segments) < 4 and numpy_imported == "False", out.stdout


def test_required_and_excluded_terms(tmp_path):
    docs = [["alpha", "beta"], ["alpha", "gamma"], ["beta", "gamma"]]
    idx = BM25Index(_make_store(tmp_path, docs, 1))
    ids, _ = idx.chunk_scores(["alpha"], required=["beta"])
    assert ids.tolist() == [1]
    ids, _ = idx.chunk_scores(["alpha", "beta"], excluded=["gamma"])
    assert ids.tolist() == [1]


def test_query_parser():
    q = parse_query('bread "hot oven" +yeast -rye')
    assert "bread" in q.terms and "yeast" in q.required and "rye" in q.excluded
    assert q.phrases == ("hot oven",)
    assert analyze("The Running dogs") == ["run", "dog"]
    # CJK text becomes bigrams, so a Japanese word inside a sentence is findable
    assert "東京" in analyze("東京都に住んでいます")


def _zipf_docs(n, vocab=400, seed=5):
    """Documents over a Zipf-like vocabulary: a few very common terms and a long tail (as in text)."""
    rnd = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    weights = [1.0 / (i + 1) for i in range(vocab)]
    return [rnd.choices(words, weights, k=rnd.randint(5, 80)) for _ in range(n)]


@pytest.mark.parametrize("k", [1, 10, 100])
def test_long_queries_pruned_give_the_exhaustive_top_k(tmp_path, k, monkeypatch):
    """A paragraph-long query scores its common terms only over the rare terms' candidates once
    no other chunk can reach the top k: the same documents and scores as scoring every posting."""
    from desktop_search.retrievers import bm25

    monkeypatch.setattr(bm25, "PRUNE_MIN_CHUNKS", 0)
    docs = _zipf_docs(600)
    store = _make_store(tmp_path, docs, 5)
    idx = BM25Index(store)
    rnd = random.Random(11)
    pruned_some = 0
    for _ in range(25):
        q = rnd.choice(docs)[: rnd.randint(10, 60)] + [f"w{rnd.randint(0, 399)}" for _ in range(5)]
        got = idx.top_docs(q, k)
        ids, scores = idx.chunk_scores(q)  # every posting
        order = np.argsort(-scores, kind="stable")[:k]
        exp = {int(store.conn.execute("SELECT doc_id FROM chunks WHERE id=?", (int(ids[j]),)).fetchone()[0]):
               float(scores[j]) for j in order}
        assert len(got) == len(exp)
        assert {d: pytest.approx(s, rel=1e-4) for d, s in exp.items()} == {d: s for d, s, _ in got}
        cand = idx._pruned_scores(q, k)
        if cand is not None and len(cand[0]) < len(ids):
            pruned_some += 1
    assert pruned_some > 0  # the pruning did skip chunks on some queries


def test_segments_merge_by_tier_and_stay_few(tmp_path, monkeypatch):
    """Each batch writes a segment; MERGE_FACTOR segments of a tier become one of the next, so a
    long run keeps few segments and each posting is rewritten about log(N) times, not per batch."""
    from desktop_search.retrievers import bm25

    monkeypatch.setattr(bm25, "TIER_BASE", 50)
    docs = _random_docs(400, seed=9)
    store = _make_store(tmp_path, docs, 100)  # 100 batches of 4 chunks
    n_segs = store.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]
    tiers = [bm25._tier(n) for n, in store.conn.execute("SELECT n_postings FROM bm25_segments")]
    assert n_segs < 30 and all(tiers.count(t) < bm25.MERGE_FACTOR for t in set(tiers))
    oracle = LuceneOracle(docs, k1=1.2, b=0.75)
    ids, scores = BM25Index(store).chunk_scores(["alpha", "kappa"])
    got = np.zeros(len(docs))
    got[ids - 1] = scores
    np.testing.assert_allclose(got, oracle.get_scores(["alpha", "kappa"]), rtol=1e-5, atol=1e-6)


def test_segment_rows_are_keyed_by_segment_then_term(tmp_path):
    """The postings table's key starts with the segment, so a batch's rows are appended together."""
    store = _make_store(tmp_path, _random_docs(50), 2)
    pk = [r["name"] for r in sorted(store.conn.execute("PRAGMA table_info(bm25_postings)"), key=lambda r: r["pk"])
          if r["pk"]]
    assert pk == ["segment_id", "term"]


def test_a_store_of_the_old_layout_keeps_its_postings(tmp_path):
    """Schema 3 moves postings keyed (term, segment) to (segment, term): every row survives."""
    import sqlite3

    from desktop_search.store.db import _MIGRATIONS

    path = tmp_path / "old.sqlite3"
    c = sqlite3.connect(path, isolation_level=None)
    for v in (1, 2):
        c.executescript(_MIGRATIONS[v])
    c.execute("PRAGMA user_version=2")
    c.execute("INSERT INTO folders(id, raw_path, path, added_at) VALUES (1, x'2f', '/', 0)")
    c.execute("INSERT INTO documents(id, raw_path, path, name, ext, status, folder_id) "
              "VALUES (1, x'2f61', '/a', 'a', '', 'indexed', 1)")
    c.executemany("INSERT INTO chunks(id, doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, 1, ?, 0, 0, 0, 2)",
                  [(1, 0), (2, 1)])
    c.execute("INSERT INTO bm25_segments(id, n_postings, created_at) VALUES (1, 3, 0)")
    ids = lambda *x: np.array(x, dtype=np.int32).tobytes()  # noqa: E731
    c.executemany("INSERT INTO bm25_postings VALUES (1, ?, ?, ?)",
                  [("alpha", ids(1, 2), ids(1, 1)), ("beta", ids(2), ids(1))])
    c.close()
    store = Store(path)
    idx = BM25Index(store)
    got, _ = idx.chunk_scores(["alpha"])
    assert got.tolist() == [1, 2]
    assert idx.chunk_scores(["beta"])[0].tolist() == [2]


def test_fast_analysis_is_the_general_one():
    """Text without CJK takes analyze's quick path; its terms are those of the word-by-word one."""
    from desktop_search.retrievers.analysis import _analyze_words

    rnd = random.Random(2)
    pool = "The running dogs of Zürich were ÉTÉ naïve, and the 3rd results' 42% x" + "y" * 70
    for _ in range(50):
        text = " ".join(rnd.choice(pool.split()) for _ in range(40))
        assert analyze(text) == _analyze_words(text.lower())


def test_postings_read_during_a_merge_are_read_again(tmp_path):
    """Statistics list the segments of one generation; an indexer merging them meanwhile (another
    process) moves the generation on, so the postings read are dropped and read again, never lost."""
    docs = _random_docs(60, seed=4)
    store = _make_store(tmp_path, docs, 6)
    idx = BM25Index(store)
    stale = idx._refresh()
    other = Store(store.path)
    with other.write() as w:
        assert BM25Index.maybe_merge(w, force=True)
        Store.bump_generation(w)
    assert idx._load(["alpha"], stale) is False and "alpha" not in idx._postings
    ids, scores = idx.chunk_scores(["alpha"])
    oracle = LuceneOracle(docs, k1=1.2, b=0.75)
    got = np.zeros(len(docs))
    got[ids - 1] = scores
    np.testing.assert_allclose(got, oracle.get_scores(["alpha"]), rtol=1e-5, atol=1e-6)
    other.close()


def test_a_vector_only_change_keeps_the_statistics_and_postings(tmp_path):
    """Embedding batches move the store's generation but not the chunks or segments: BM25 keeps its
    statistics and cached postings; deleting a chunk reads them again."""
    docs = _random_docs(40, seed=6)
    store = _make_store(tmp_path, docs, 2)
    idx = BM25Index(store)
    idx.chunk_scores(["alpha"])
    st = idx._stats
    with store.write() as w:
        Store.bump_generation(w)  # what a batch of vectors does
    ids, _ = idx.chunk_scores(["alpha"])
    assert idx._stats is st and "alpha" in idx._postings and st.generation == store.generation()
    with store.write() as w:
        w.execute("DELETE FROM chunks WHERE id=?", (int(ids[0]),))
        Store.bump_generation(w)
    ids2, _ = idx.chunk_scores(["alpha"])
    assert idx._stats is not st and int(ids[0]) not in ids2.tolist()


def test_the_end_of_a_run_settles_small_segments_into_one(tmp_path):
    """`settle` (the indexer's last merge) makes the small segments one, so a cold query reads a row a
    term instead of one a batch; the scores stay the oracle's."""
    docs = _random_docs(90, seed=8)
    store = _make_store(tmp_path, docs, 6)
    count = lambda: store.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]  # noqa: E731
    assert count() == 6
    with store.write() as w:
        assert BM25Index.maybe_merge(w, settle=True)
        Store.bump_generation(w)
    assert count() == 1
    ids, scores = BM25Index(store).chunk_scores(["beta", "nu"])
    got = np.zeros(len(docs))
    got[ids - 1] = scores
    np.testing.assert_allclose(got, LuceneOracle(docs, k1=1.2, b=0.75).get_scores(["beta", "nu"]), rtol=1e-5, atol=1e-6)
    with store.write() as w:  # one small segment more: not worth a rewrite
        assert not BM25Index.maybe_merge(w, settle=True)


def test_a_run_settles_only_the_segments_it_wrote(tmp_path):
    """A re-index of a few files writes one small segment; settling must not rewrite the earlier
    small ones each time (they wait for the tier merge), only what this run wrote."""
    store = _make_store(tmp_path, _random_docs(90, seed=8), 6)
    count = lambda: store.conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0]  # noqa: E731
    since = BM25Index.last_segment(store.conn)
    assert since == 6
    with store.write() as w:
        assert not BM25Index.maybe_merge(w, settle=True, since=since)  # nothing new: nothing settled
    with store.write() as w:
        for i in range(5):  # this "run" writes five small segments of its own
            cur = w.execute("INSERT INTO documents(raw_path, path, name, ext, status, folder_id) "
                            "VALUES (?, ?, 'n', 'txt', 'indexed', 1)", (f"/new{i}".encode(), f"/new{i}"))
            c = w.execute("INSERT INTO chunks(doc_id, ord, start, end, n_tokens, bm25_len) VALUES (?, 0, 0, 0, 0, 2)",
                          (cur.lastrowid,))
            BM25Index.write_segment(w, {c.lastrowid: ["alpha", "omega"]})
    assert count() == 11
    with store.write() as w:
        assert BM25Index.maybe_merge(w, settle=True, since=since)
    assert count() == 7  # the six earlier segments, and one of the run's five
    assert [r[0] for r in store.conn.execute("SELECT id FROM bm25_segments ORDER BY id")][:6] == list(range(1, 7))


def test_the_postings_cache_keeps_to_its_budget_and_scores_stay_the_same(tmp_path, monkeypatch):
    from desktop_search.retrievers import bm25

    docs = _zipf_docs(600)
    store = _make_store(tmp_path, docs, 3)
    unbounded = BM25Index(store)
    rnd = random.Random(5)
    queries = [rnd.choice(docs)[: rnd.randint(2, 12)] for _ in range(40)]
    expected = [unbounded.chunk_scores(q) for q in queries]
    monkeypatch.setattr(bm25, "POSTINGS_CACHE_BYTES", 2_000)  # a few terms' postings
    small = BM25Index(store)
    for q, (e_ids, e_scores) in zip(queries, expected):
        ids, scores = small.chunk_scores(q)
        assert dict(zip(ids.tolist(), scores.tolist())) == pytest.approx(dict(zip(e_ids.tolist(), e_scores.tolist())))
        held = sum(i.nbytes + p.nbytes for i, p in small._postings.values())
        assert held == small._cached_bytes
        own = sum(small._postings[t][0].nbytes + small._postings[t][1].nbytes for t in set(q))
        assert held <= max(bm25.POSTINGS_CACHE_BYTES, own)  # over the budget only by this query's own terms
        assert all(t in small._postings for t in q)
    assert len(small._postings) < len(unbounded._postings)
