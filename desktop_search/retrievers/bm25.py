"""BM25 over postings segments stored in SQLite, scored with NumPy.

Why not rank-bm25 or FTS5: rank-bm25 rescans every document in Python per query
(hundreds of ms at 100k chunks) and FTS5's bm25() with OR queries is ~60 ms there.
Here each indexing batch writes one immutable segment (term -> chunk ids, term
frequencies as int32 blobs), keyed (segment, term) so a segment is appended in key
order; deletions are tombstones (the chunk row is gone). Segments are merged by size
tier (`MERGE_FACTOR` of one tier become one of the next: each posting is rewritten
about log(N) times, not once per batch), and all at once when a quarter of what they
hold is dead. A query loads the postings of its terms lazily and scores them with vector
operations; in a million-passage library a long query (a pasted paragraph) scores its rare terms over
their postings and its common ones only over the candidates the rare ones found, when no
other file can reach the top k any more (term-at-a-time MaxScore: the same top k).

Scoring (Lucene's BM25): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf part = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), N and df over live chunks.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import chain

from ..lazy import np

from ..store import Store

_INT32 = "i" if array("i").itemsize == 4 else "l"  # the postings' blobs: int32 in the machine's order, as NumPy's
K1 = 1.2
B = 0.75
MERGE_FACTOR = 16  # segments of one size tier merged into one of the next (8: 4.3x the store written at 108k passages)
TIER_BASE = 100_000  # postings: segments up to this size are tier 0 (a batch of files is about 50,000)
SETTLE_MIN = 4  # tier-0 segments merged into one at the end of an indexing run
DEAD_SHARE = 0.25  # merge everything once this share of the segments' chunks is deleted
PRUNE_MIN_TERMS = 8  # queries with fewer distinct terms are scored over every posting
# and libraries under this many passages: measured no faster there (115k passages, ~90-term queries:
# 5.6 vs 5.3 ms warm, 28 vs 26 ms with the postings read cold; the candidates stay ~60% of the
# chunks), so only the million-passage libraries it is meant for take it (benchmarks/bm25_latency.py)
PRUNE_MIN_CHUNKS = 1_000_000
# the postings kept in memory between queries, least recently used out first (a query's own terms
# always stay while it is scored): unbounded, 300 SciFact queries and 100 paragraph-long ones left
# a searching process at 1.25M passages holding 470 MB, most of it postings (benchmarks/million.py)
POSTINGS_CACHE_BYTES = 128 * 1024 * 1024
# a segment of up to this many terms (a re-index of a few files) is built with dicts and arrays, not
# NumPy, so such a run never imports NumPy (50 ms); a full batch keeps NumPy's sort (many times faster)
SMALL_SEGMENT_TERMS = 50_000


@dataclass
class _Stats:
    generation: int
    alive: np.ndarray  # bool[max_id + 1]
    lengths: np.ndarray  # float32[max_id + 1]
    doc_of: np.ndarray  # int64[max_id + 1], chunk -> document
    n: int
    avgdl: float
    segments: tuple[int, ...]
    fingerprint: tuple  # (max chunk id, chunks, segments): what BM25 depends on (see _refresh)


def _group(keys: np.ndarray, n_groups: int) -> np.ndarray:
    """Start offsets (n_groups + 1) of each group in sorted `keys` (group numbers 0..n_groups-1)."""
    return np.searchsorted(keys, np.arange(n_groups + 1))


def _tier(n_postings: int) -> int:
    if n_postings <= TIER_BASE:
        return 0
    return 1 + int(math.log(n_postings / TIER_BASE, MERGE_FACTOR))


class BM25Index:
    """Persistent, incremental BM25 over the store's chunks."""

    def __init__(self, store: Store, k1: float = K1, b: float = B):
        self.store = store
        self.k1 = k1
        self.b = b
        self._stats: _Stats | None = None
        # term -> (chunk ids sorted, int32; the BM25 tf part of each, float32: idf times it is the score)
        self._postings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    # -- writing (inside the caller's transaction) ----------------------------------------
    @staticmethod
    def last_segment(conn: sqlite3.Connection) -> int:
        """The number of the newest segment (0 when none): `maybe_merge(since=...)` of a run's start."""
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM bm25_segments").fetchone()[0]

    @staticmethod
    def write_segment(w: sqlite3.Connection, chunk_terms: dict[int, list[str]]) -> None:
        """Add one segment holding the postings of the given chunks, then merge by tier."""
        cids: list[int] = []
        lens: list[int] = []
        lists: list[list[str]] = []
        for cid, terms in chunk_terms.items():
            if terms:
                cids.append(cid)
                lens.append(len(terms))
                lists.append(terms)
        if not lists:
            return
        if sum(lens) <= SMALL_SEGMENT_TERMS:
            _insert_small_segment(w, cids, lists)
            BM25Index.maybe_merge(w)
            return
        words, tids = _numbered(list(chain.from_iterable(lists)))
        key = (tids << 32) | np.repeat(np.array(cids, dtype=np.int64), lens)
        uniq, tf = np.unique(key, return_counts=True)  # sorted by term number, then chunk id
        _insert_segment(w, words, uniq >> 32, (uniq & 0xFFFFFFFF).astype(np.int32),
                        tf.astype(np.int32), n_chunks=len(cids))
        BM25Index.maybe_merge(w)

    @staticmethod
    def maybe_merge(w: sqlite3.Connection, force: bool = False, settle: bool = False, since: int = 0) -> bool:
        """Merge segments: `MERGE_FACTOR` of a size tier (with any smaller ones) into one, until no tier
        holds that many; everything when `force` or when a `DEAD_SHARE` of their chunks is deleted;
        with `settle` (the end of an indexing run) the small tier-0 segments numbered above `since`
        (those the run wrote) too, `SETTLE_MIN` or more of them (a query reads a row per segment and
        term: fewer rows to read cold). Only the run's own: a re-index of a few files writes one small
        segment, and settling every earlier one each time rewrote them again and again (a 50-file
        re-index took 40 ms more every third run); the tier rule still merges them by sixteen.
        Dead postings are dropped. Returns whether anything was merged."""
        merged = False
        if settle:
            small = [r[0] for r in w.execute("SELECT id, n_postings FROM bm25_segments WHERE id > ? ORDER BY id",
                                             (since,)) if _tier(r[1]) == 0]
            if len(small) >= SETTLE_MIN:
                _merge(w, small)
                merged = True
        while True:
            segs = w.execute("SELECT id, n_postings, n_chunks FROM bm25_segments ORDER BY id").fetchall()
            if len(segs) <= 1:
                return merged
            victims: list[int] = []
            held = sum(s[2] for s in segs)
            if force or (held and 1 - _live_chunks(w) / held >= DEAD_SHARE):
                victims = [s[0] for s in segs]
            else:
                by_tier: dict[int, list[int]] = {}
                for sid, n, _ in segs:
                    by_tier.setdefault(_tier(n), []).append(sid)
                for tier in sorted(by_tier):
                    if len(by_tier[tier]) >= MERGE_FACTOR:
                        victims = [sid for t in by_tier if t <= tier for sid in by_tier[t]]
                        break
            if len(victims) < 2:
                return merged
            _merge(w, victims)
            merged = True
            force = False

    # -- reading ------------------------------------------------------------------------
    def _refresh(self) -> _Stats:
        """Statistics of the store's generation. The generation moves on every change that affects
        search, vectors too (each embedding batch); the chunk rows (never updated in place, ids
        never reused) and the segment list are what BM25 depends on, so while those are unchanged
        the statistics and the postings cache stay (a search while a library embeds: at 115k
        passages reading the statistics again took about 60 ms, and every posting again)."""
        gen = self.store.generation()
        st = self._stats
        if st is not None and st.generation == gen:
            return st
        conn = self.store.conn
        fp = self._fingerprint(conn)
        if st is not None and st.fingerprint == fp:
            st.generation = gen
            return st
        max_id = fp[0]
        alive = np.zeros(max_id + 1, dtype=bool)
        lengths = np.zeros(max_id + 1, dtype=np.float32)
        doc_of = np.full(max_id + 1, -1, dtype=np.int64)
        cur = conn.execute("SELECT id, bm25_len, doc_id FROM chunks")
        while rows := cur.fetchmany(100_000):  # a block at a time: all rows as tuples were 0.3 GB at 1.25M
            arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
            alive[arr[:, 0]] = True
            lengths[arr[:, 0]] = arr[:, 1]
            doc_of[arr[:, 0]] = arr[:, 2]
        n = int(alive.sum())
        avgdl = float(lengths[alive].mean()) if n else 1.0
        st = _Stats(gen, alive, lengths, doc_of, n, max(avgdl, 1e-6), fp[2], fp)
        self._stats = st
        self._forget_postings()
        return st

    def _forget_postings(self) -> None:
        self._postings = OrderedDict()
        self._cached_bytes = 0

    def _keep_within_budget(self, wanted: set[str]) -> None:
        """Drop the least recently used postings past POSTINGS_CACHE_BYTES, never those of `wanted`."""
        cache = self._postings
        while self._cached_bytes > POSTINGS_CACHE_BYTES and cache:
            term = next(iter(cache))
            if term in wanted:
                break  # the rest were used by this query (moved to the end) or added for it
            ids, part = cache.pop(term)
            self._cached_bytes -= ids.nbytes + part.nbytes

    @staticmethod
    def _fingerprint(conn: sqlite3.Connection) -> tuple:
        max_id, count = conn.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM chunks").fetchone()
        segments = tuple(r[0] for r in conn.execute("SELECT id FROM bm25_segments ORDER BY id"))
        return (max_id, count, segments)

    def _loaded(self, terms) -> _Stats:
        """Fresh statistics with the postings of `terms` cached, all of one generation: an indexer
        committing meanwhile (a merge replaces the segments listed) makes it read them again."""
        for _ in range(5):
            st = self._refresh()
            if self._load(terms, st):
                return st
        return st

    def _load(self, terms, st: _Stats) -> bool:
        """Read the postings of the terms not cached yet (one statement), live chunks only; False
        (nothing kept) when the store's generation moved past `st` meanwhile."""
        wanted = set(terms)
        cache = self._postings
        for t in wanted:
            if t in cache:
                cache.move_to_end(t)  # used again: the last to be dropped
        todo = [t for t in wanted if t not in cache]
        if not todo:
            return True
        parts: dict[str, list[tuple[bytes, bytes]]] = {t: [] for t in todo}
        for s in range(0, len(st.segments), 400):  # under SQLite's 999 variables a statement
            segs = st.segments[s : s + 400]
            for i in range(0, len(todo), 400):
                some = todo[i : i + 400]
                q = (f"SELECT term, ids, tfs FROM bm25_postings WHERE segment_id IN ({','.join('?' * len(segs))}) "
                     f"AND term IN ({','.join('?' * len(some))})")
                for term, ib, tb in self.store.conn.execute(q, (*segs, *some)):
                    parts[term].append((ib, tb))
        if self.store.generation() != st.generation:
            return False
        k1, b = self.k1, self.b
        for term, blobs in parts.items():
            if not blobs:
                cache[term] = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
                continue
            i = np.concatenate([np.frombuffer(x, dtype=np.int32) for x, _ in blobs])
            t = np.concatenate([np.frombuffer(y, dtype=np.int32) for _, y in blobs]).astype(np.float32)
            ok = (i < len(st.alive)) & (i >= 0)
            if not ok.all():
                i, t = i[ok], t[ok]
            live = st.alive[i]
            if not live.all():
                i, t = i[live], t[live]
            if len(blobs) > 1 and len(i) > 1 and not (np.diff(i) > 0).all():
                order = np.argsort(i, kind="stable")
                i, t = i[order], t[order]
            dl = st.lengths[i]
            part = (t * (k1 + 1) / (t + k1 * (1 - b + b * dl / st.avgdl))).astype(np.float32)
            cache[term] = (np.ascontiguousarray(i), part)
            self._cached_bytes += cache[term][0].nbytes + part.nbytes
        self._keep_within_budget(wanted)
        return True


    def _idf(self, df: int, st: _Stats) -> float:
        return float(np.log1p((st.n - df + 0.5) / (df + 0.5)))

    def chunk_scores(
        self, terms: list[str] | tuple[str, ...], *, required=(), excluded=()
    ) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of every live chunk matching at least one term, unsorted."""
        with self._lock:
            st = self._loaded([*terms, *required, *excluded])
            if st.n == 0 or not terms:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            scores = np.zeros(len(st.alive), dtype=np.float32)
            touched = np.zeros(len(st.alive), dtype=bool)
            for term, qtf in Counter(terms).items():
                ids, part = self._postings[term]
                if len(ids) == 0:
                    continue
                scores[ids] += np.float32(qtf * self._idf(len(ids), st)) * part
                touched[ids] = True
            for term in set(required):
                mask = np.zeros(len(st.alive), dtype=bool)
                mask[self._postings[term][0]] = True
                touched &= mask
            for term in set(excluded):
                touched[self._postings[term][0]] = False
            ids = np.nonzero(touched)[0]
            return ids, scores[ids]

    def _pruned_scores(self, terms, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(chunk ids, exact scores) of the candidates that can hold the top k documents of a plain
        query, or None to score everything. Terms go rarest (highest bound) first; once the k-th best
        document's partial score beats what every term left could add together, a chunk none of the
        scored terms matched cannot reach the top k, and the terms left are only looked up for the
        candidates (binary search in their postings, not a pass over them)."""
        with self._lock:
            counts = Counter(terms)
            if len(counts) < PRUNE_MIN_TERMS:
                return None
            st = self._loaded(list(counts))
            if st.n < max(1, PRUNE_MIN_CHUNKS):
                return None
            entries = []
            for term, qtf in counts.items():
                ids, part = self._postings[term]
                if len(ids):
                    w = qtf * self._idf(len(ids), st)
                    entries.append((w * (self.k1 + 1), w, ids, part))  # the bound: part < k1 + 1
            entries.sort(key=lambda e: -e[0])
            left = np.cumsum([e[0] for e in entries][::-1])[::-1].tolist() + [0.0]  # bound of entries[j:]
            scores = np.zeros(len(st.alive), dtype=np.float32)
            touched = np.zeros(len(st.alive), dtype=bool)
            j, check_below = 0, left[0] / 2
            while j < len(entries):
                _bound, w, ids, part = entries[j]
                scores[ids] += np.float32(w) * part
                touched[ids] = True
                j += 1
                # the k-th document's score is looked at each time the bound left halves (a few times)
                if j < len(entries) and left[j] <= check_below:
                    check_below = left[j] / 2
                    if left[j] < self._kth_doc_score(scores, touched, st, k):
                        break
            rest = entries[j:]
            cand = np.nonzero(touched)[0]
            lookups = []
            for e in rest:
                _bound, w, ids, part = e
                if len(cand) * 16 < len(ids):  # few candidates: a binary search each beats a pass
                    lookups.append(e)
                else:  # a pass over the postings (chunks outside the candidates are not returned)
                    scores[ids] += np.float32(w) * part
            cs = scores[cand]
            for _bound, w, ids, part in lookups:
                pos = np.searchsorted(ids, cand)
                pos[pos >= len(ids)] = 0
                hit = ids[pos] == cand
                cs[hit] += np.float32(w) * part[pos[hit]]
            return cand, cs

    @staticmethod
    @staticmethod
    def _kth_doc_score(scores: np.ndarray, touched: np.ndarray, st: _Stats, k: int) -> float:
        """The k-th best document's best chunk score so far (-inf with fewer than k documents)."""
        cand = np.nonzero(touched)[0]
        if len(cand) < k:
            return -math.inf
        s = scores[cand]
        m = min(len(s), max(4 * k, 64))
        while True:
            top = np.argpartition(-s, m - 1)[:m] if m < len(s) else np.arange(len(s))
            top = top[np.argsort(-s[top], kind="stable")]
            _, first = np.unique(st.doc_of[cand[top]], return_index=True)
            if len(first) >= k:
                return float(np.sort(s[top][first])[-k])
            if m >= len(s):
                return -math.inf
            m = min(len(s), m * 4)

    def doc_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        st = self._stats if self._stats is not None else self._refresh()
        return st.doc_of[chunk_ids]

    def top_docs(
        self, terms, k: int, *, required=(), excluded=(), allowed_docs: set[int] | None = None,
        chunk_filter=None,
    ) -> list[tuple[int, float, int]]:
        """Best chunk per document: [(doc_id, score, chunk_id)] sorted by score, at most k.

        `chunk_filter(chunk_ids) -> bool mask` can veto chunks (phrase checks), applied
        lazily in score order so only the candidates that matter are checked.
        """
        pruned = None
        if not required and not excluded and allowed_docs is None and chunk_filter is None:
            pruned = self._pruned_scores(terms, k)
        ids, scores = pruned if pruned is not None else self.chunk_scores(
            terms, required=required, excluded=excluded)
        if len(ids) == 0:
            return []
        with self._lock:
            docs = self._stats.doc_of[ids] if self._stats is not None else self.doc_of(ids)
        if allowed_docs is not None:
            keep = np.fromiter((d in allowed_docs for d in docs), dtype=bool, count=len(docs))
            ids, scores, docs = ids[keep], scores[keep], docs[keep]
        step = max(64, 4 * k)
        order = _best_first(scores, 4 * step)
        out: list[tuple[int, float, int]] = []
        seen: set[int] = set()
        pos = 0
        while pos < len(scores) and len(out) < k:
            if pos + step > len(order) and len(order) < len(scores):
                order = np.argsort(-scores, kind="stable")  # the same order, past its first part
            block = order[pos : pos + step]
            pos += step
            if chunk_filter is not None:
                block = block[chunk_filter(ids[block])]
            for j in block:
                d = int(docs[j])
                if d in seen:
                    continue
                seen.add(d)
                out.append((d, float(scores[j]), int(ids[j])))
                if len(out) >= k:
                    break
            step *= 2
        return out

    def invalidate(self) -> None:
        with self._lock:
            self._stats = None
            self._forget_postings()


def _best_first(scores: np.ndarray, m: int) -> np.ndarray:
    """The first (at least) m positions of a stable descending sort of `scores`, without sorting all
    of them: everything at or above the m-th best score (ties included), stably sorted."""
    if len(scores) <= m:
        return np.argsort(-scores, kind="stable")
    thr = np.partition(scores, len(scores) - m)[len(scores) - m]
    idx = np.nonzero(scores >= thr)[0]
    return idx[np.argsort(-scores[idx], kind="stable")]


def _live_chunks(w: sqlite3.Connection) -> int:
    return w.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]


def _numbered(terms) -> tuple[list[str], np.ndarray]:
    """The distinct terms in first-seen order, and each of `terms` as its number among them. In C
    (dict.fromkeys, map): a Python loop a term was a tenth of an index run."""
    words = list(dict.fromkeys(terms))
    number = dict(zip(words, range(len(words))))
    return words, np.fromiter(map(number.__getitem__, terms), dtype=np.int64, count=len(terms))


def _insert_segment(w: sqlite3.Connection, vocab: list[str], term_no: np.ndarray, ids: np.ndarray,
                    tfs: np.ndarray, *, n_chunks: int) -> None:
    """One segment row and its postings: `term_no` (sorted) numbers terms of `vocab`, with `ids` and
    `tfs` beside it (ids ascending within a term). Rows go in key order (term text), so the segment
    is one run of appended pages."""
    at = _group(term_no, len(vocab)).tolist()
    ib, tb = ids.astype(np.int32, copy=False).tobytes(), tfs.astype(np.int32, copy=False).tobytes()
    _insert_rows(w, ((vocab[t], ib[4 * at[t] : 4 * at[t + 1]], tb[4 * at[t] : 4 * at[t + 1]])
                     for t in sorted(range(len(vocab)), key=vocab.__getitem__) if at[t + 1] > at[t]),
                 n_postings=len(ids), n_chunks=n_chunks)


def _insert_small_segment(w: sqlite3.Connection, cids: list[int], lists: list[list[str]]) -> None:
    """The segment `_insert_segment` writes for these chunks (the same rows, byte for byte), built
    with a dict of int32 arrays: for a few files' terms, without NumPy's import."""
    ids_of: dict[str, array] = {}
    tfs_of: dict[str, array] = {}
    for k in sorted(range(len(cids)), key=cids.__getitem__):  # ids ascending within each term
        cid = cids[k]
        for term, tf in Counter(lists[k]).items():
            ids = ids_of.get(term)
            if ids is None:
                ids_of[term], tfs_of[term] = array(_INT32, (cid,)), array(_INT32, (tf,))
            else:
                ids.append(cid)
                tfs_of[term].append(tf)
    _insert_rows(w, ((t, ids_of[t].tobytes(), tfs_of[t].tobytes()) for t in sorted(ids_of)),
                 n_postings=sum(map(len, ids_of.values())), n_chunks=len(cids))


def _insert_rows(w: sqlite3.Connection, rows, *, n_postings: int, n_chunks: int) -> None:
    """One segment row, then its postings rows: (term, ids blob, tfs blob), in term order."""
    cur = w.execute("INSERT INTO bm25_segments(n_postings, n_chunks, created_at) VALUES (?, ?, ?)",
                    (n_postings, n_chunks, time.time()))
    seg = cur.lastrowid
    w.executemany("INSERT INTO bm25_postings(segment_id, term, ids, tfs) VALUES (?, ?, ?, ?)",
                  ((seg, t, i, f) for t, i, f in rows))


def _merge(w: sqlite3.Connection, victims: list[int]) -> None:
    """Replace the segments `victims` by one holding their live postings."""
    q = ",".join("?" * len(victims))
    held = w.execute(f"SELECT COALESCE(SUM(n_postings), 0) FROM bm25_segments WHERE id IN ({q})", victims).fetchone()[0]
    if held <= SMALL_SEGMENT_TERMS:
        _merge_small(w, victims)
        return
    max_id = w.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]
    live = np.zeros(max_id + 2, dtype=bool)  # the last slot: every id past max_id (dead)
    live[np.fromiter((r[0] for r in w.execute("SELECT id FROM chunks")), dtype=np.int64)] = True
    rows = w.execute(f"SELECT term, ids, tfs FROM bm25_postings WHERE segment_id IN ({q})", victims).fetchall()
    w.execute(f"DELETE FROM bm25_postings WHERE segment_id IN ({q})", victims)
    w.execute(f"DELETE FROM bm25_segments WHERE id IN ({q})", victims)
    if not rows:
        return
    row_terms, id_blobs, tf_blobs = zip(*rows)
    vocab, row_no = _numbered(row_terms)
    ids = np.frombuffer(b"".join(id_blobs), dtype=np.int32)
    tfs = np.frombuffer(b"".join(tf_blobs), dtype=np.int32)
    term_no = np.repeat(row_no, np.fromiter(map(len, id_blobs), dtype=np.int64, count=len(rows)) // 4)
    keep = live[np.clip(ids, 0, max_id + 1)] & (ids >= 0)
    ids, tfs, term_no = ids[keep], tfs[keep], term_no[keep]
    order = np.argsort((term_no << 32) | ids.astype(np.int64), kind="stable")
    ids, tfs, term_no = ids[order], tfs[order], term_no[order]
    if len(ids):  # no segment for postings that are all dead
        _insert_segment(w, vocab, term_no, ids, tfs, n_chunks=int(len(np.unique(ids))))


def _merge_small(w: sqlite3.Connection, victims: list[int]) -> None:
    """`_merge` for segments of few postings (the small ones a few re-indexes leave), with dicts and
    arrays: the same rows, byte for byte, without NumPy's import."""
    q = ",".join("?" * len(victims))
    rows = w.execute(f"SELECT term, ids, tfs FROM bm25_postings WHERE segment_id IN ({q})", victims).fetchall()
    w.execute(f"DELETE FROM bm25_postings WHERE segment_id IN ({q})", victims)
    w.execute(f"DELETE FROM bm25_segments WHERE id IN ({q})", victims)
    if not rows:
        return
    lists: dict[str, list[tuple[int, int]]] = {}
    for term, id_blob, tf_blob in rows:
        ids, tfs = array(_INT32), array(_INT32)
        ids.frombytes(id_blob)
        tfs.frombytes(tf_blob)
        lists.setdefault(term, []).extend(zip(ids, tfs))
    wanted = sorted({i for pairs in lists.values() for i, _ in pairs if i >= 0})
    live = {r[0] for r in w.execute("SELECT id FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
                                    (json.dumps(wanted),))}
    out = []
    n_postings = 0
    for term in sorted(lists):
        pairs = sorted(p for p in lists[term] if p[0] in live)  # a chunk id is in one segment only
        if pairs:
            out.append((term, array(_INT32, [i for i, _ in pairs]).tobytes(),
                        array(_INT32, [f for _, f in pairs]).tobytes()))
            n_postings += len(pairs)
    if out:  # as _merge: no segment when every posting is dead
        _insert_rows(w, out, n_postings=n_postings, n_chunks=len(live))
