"""BM25 over the store's segment index, with the query operators ("phrase", +required, -excluded)."""

from __future__ import annotations

from typing import Sequence

from ..lazy import np

from ..store import Store
from .analysis import analyze, parse_query, phrase_pattern
from .base import Ranked
from .bm25 import BM25Index


def operator_filter(store: Store, pq, chunk_ids: list[int]) -> list[bool]:
    """Which chunks satisfy a parsed query's phrases, required and excluded words."""
    texts = store.chunk_texts(chunk_ids)
    pats = [phrase_pattern(p) for p in pq.phrases]
    out = []
    for t in texts:
        terms = set(analyze(t))
        ok = all(p.search(t) for p in pats) and all(r in terms for r in pq.required) and not any(
            e in terms for e in pq.excluded)
        out.append(ok)
    return out


class LexicalRetriever:
    name = "bm25"

    def __init__(self, store: Store, bm25: BM25Index):
        self.store = store
        self.bm25 = bm25

    def _phrase_filter(self, phrases: Sequence[str]):
        if not phrases:
            return None
        pats = [phrase_pattern(p) for p in phrases]

        def check(chunk_ids: np.ndarray) -> np.ndarray:
            texts = self.store.chunk_texts([int(c) for c in chunk_ids])
            return np.array([all(p.search(t) for p in pats) for t in texts], dtype=bool)

        return check

    def rank(self, query: str, k: int, allowed: set[int] | None = None) -> list[Ranked]:
        pq = parse_query(query)
        if pq.empty:
            return []
        return [Ranked(*r) for r in self.bm25.top_docs(
            list(pq.terms), k, required=pq.required, excluded=pq.excluded, allowed_docs=allowed,
            chunk_filter=self._phrase_filter(pq.phrases))]
