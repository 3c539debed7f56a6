"""Dense retrieval with one model version: its encoder and its HNSW index, best passage per file."""

from __future__ import annotations

from ..store import Store
from ..textsafe import is_blank
from .analysis import parse_query, semantic_text
from .base import Ranked
from .lexical import operator_filter

MAX_DEPTH = 4000  # passages asked of HNSW at most, when many passages belong to few files


class DenseRetriever:
    name = "dense"

    def __init__(self, store: Store, encoder, vector_index):
        self.store = store
        self.encoder = encoder
        self.vector_index = vector_index

    def rank(self, query: str, k: int, allowed: set[int] | None = None) -> list[Ranked]:
        if is_blank(query):  # an empty query would rank every passage by its likeness to nothing
            return []
        vi = self.vector_index
        if len(vi.open()) == 0:
            return []
        text = semantic_text(query)  # never the quotes, the signs or the -excluded words
        if not text.strip():
            return []
        qv = self.encoder.encode_query(text)
        allowed_chunks = self.store.chunk_ids_of(allowed) if allowed is not None else None
        best: dict[int, tuple[float, int]] = {}
        depth = max(50, 5 * k)
        while True:  # deeper until k distinct files are found
            found = vi.search(qv, depth, allowed_chunks)
            rows = self.store.chunk_rows([c for c, _ in found])
            for cid, sim in found:
                r = rows.get(cid)
                if r is None:
                    continue
                d = r["doc_id"]
                if d not in best or sim > best[d][0]:
                    best[d] = (sim, cid)
            if len(best) >= k or len(found) < depth or depth >= MAX_DEPTH:
                break
            depth *= 4
        ranking = sorted((Ranked(d, s, c) for d, (s, c) in best.items()), key=lambda x: -x.score)
        pq = parse_query(query)
        if pq.excluded or pq.phrases or pq.required:  # honour query operators in dense mode too
            keep = operator_filter(self.store, pq, [r.chunk_id for r in ranking])
            ranking = [x for x, ok in zip(ranking, keep) if ok]
        return ranking[:k]
