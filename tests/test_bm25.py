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


@pytest.mark.parametrize("segments", [1, 7])
def test_scores_match_rank_bm25(tmp_path, segments):
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


def test_deletion_and_merge_keep_oracle_scores(tmp_path):
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
    assert n_before == 20 and n_after == 1
    # merged postings no longer hold the dead chunks
    for ib, in store.conn.execute("SELECT ids FROM bm25_postings"):
        assert not (set(np.frombuffer(ib, dtype=np.int32).tolist()) & dead)
    check()


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
