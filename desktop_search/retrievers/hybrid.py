"""Hybrid retrieval: a lexical and a dense ranking fused (min-max or reciprocal rank)."""

from __future__ import annotations

from ..textsafe import is_blank
from .base import Ranked, Retriever
from .fusion import minmax_fusion, rrf_fusion

HYBRID_DEPTH = 100  # files taken from each side before fusing
FUSIONS = ("minmax", "rrf")


class HybridRetriever:
    name = "hybrid"

    def __init__(self, lexical: Retriever, dense: Retriever, method: str = "minmax"):
        if method not in FUSIONS:
            raise ValueError(f"unknown fusion {method!r}; choose from {', '.join(FUSIONS)}")
        self.lexical = lexical
        self.dense = dense
        self.method = method

    def rank(self, query: str, k: int, allowed: set[int] | None = None) -> list[Ranked]:
        if is_blank(query):
            return []
        depth = max(HYBRID_DEPTH, k)
        lex = self.lexical.rank(query, depth, allowed)
        den = self.dense.rank(query, depth, allowed)
        lists = [[(r.doc_id, r.score) for r in lex], [(r.doc_id, r.score) for r in den]]
        fused = rrf_fusion(lists) if self.method == "rrf" else minmax_fusion(lists)
        chunk_of = {r.doc_id: r.chunk_id for r in reversed(lex)}
        chunk_of.update({r.doc_id: r.chunk_id for r in den if r.doc_id not in chunk_of})
        return [Ranked(d, s, chunk_of[d]) for d, s in fused[:k]]
