"""What a result list says beside its hits: how many files match, and how much of the library the
dense index covers.

A result list holds at most k files, so "50+ files" says nothing; the number of files that contain
the words does. Dense search ranks every embedded passage, so what matters there is how many of the
library's passages have a vector yet: results from a half-built index look complete otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from .retrievers.analysis import parse_query
from .retrievers.lexical import operator_filter
from .retrievers.registry import parse_name


@dataclass(frozen=True)
class Coverage:
    """Passages with a vector for one model, of all the library's passages."""

    embedded: int
    passages: int

    @property
    def complete(self) -> bool:
        return self.embedded >= self.passages

    @property
    def percent(self) -> int:
        """Rounded down, so a nearly complete index never reads 100 %."""
        return int(100 * self.embedded // self.passages) if self.passages else 100

    def line(self) -> str:
        """"Dense: 2,816 of 14,851 passages embedded (19 %)"; empty when every passage has a vector."""
        if self.complete:
            return ""
        return f"Dense: {self.embedded:,} of {self.passages:,} passages embedded ({self.percent} %)"

    def to_dict(self) -> dict:
        return {"embedded": self.embedded, "passages": self.passages, "complete": self.complete}


def coverage_for_key(store, model_key: str) -> Coverage:
    """The coverage of the vectors stored under `model_key` (one model version)."""
    passages = int(store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    embedded = int(store.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (model_key,)).fetchone()[0])
    return Coverage(min(embedded, passages), passages)


def dense_coverage(svc, retriever: str = "dense") -> Coverage | None:
    """The coverage behind `retriever` ("dense", "hybrid", "dense:v3"); None for BM25.

    Asks the encoder only for its key (naming the vectors), which never loads the model."""
    rn = parse_name(retriever)
    if not rn.needs_model:
        return None
    enc = svc.models.encoder if rn.version is None else svc.models.encoder_for(rn.version)
    return coverage_for_key(svc.store, enc.key)


def matching_files(svc, query: str, allowed: set[int] | None = None) -> int:
    """How many indexed files contain the query's words (honouring "phrases", +required and -excluded),
    among `allowed` documents (None: all): the number a keyword search has to show, beyond its top k."""
    pq = parse_query(query)
    if pq.empty:
        return 0
    ids, _ = svc.bm25.chunk_scores(list(pq.terms), required=pq.required, excluded=pq.excluded)
    if len(ids) == 0:
        return 0
    docs = svc.bm25.doc_of(ids)
    pairs = [(int(c), int(d)) for c, d in zip(ids, docs) if allowed is None or int(d) in allowed]
    if pq.phrases and pairs:  # one passage with the phrase is enough for its file
        keep = operator_filter(svc.store, pq, [c for c, _ in pairs])
        return len({d for (_, d), ok in zip(pairs, keep) if ok})
    return len({d for _, d in pairs})


_EMBEDDED_DOCS: dict[tuple, frozenset[int]] = {}  # (store file, generation, model key, vectors) -> doc ids


def embedded_files(svc, retriever: str = "dense", allowed: set[int] | None = None) -> int:
    """How many files have at least one embedded passage for `retriever`'s model: what dense search
    chooses its nearest files from. The set is kept while the store and its vectors stay the same
    (search as you type asks for it on every query)."""
    rn = parse_name(retriever)
    enc = svc.models.encoder if rn.version is None else svc.models.encoder_for(rn.version)
    key = (str(svc.data_dir), svc.store.generation(), enc.key, coverage_for_key(svc.store, enc.key).embedded)
    docs = _EMBEDDED_DOCS.get(key)
    if docs is None:
        docs = frozenset(r[0] for r in svc.store.conn.execute(
            "SELECT DISTINCT c.doc_id FROM vectors v JOIN chunks c ON c.id = v.chunk_id WHERE v.model=?", (enc.key,)))
        if len(_EMBEDDED_DOCS) > 8:
            _EMBEDDED_DOCS.clear()
        _EMBEDDED_DOCS[key] = docs
    return len(docs if allowed is None else docs & allowed)


def result_counts(svc, query: str, retriever: str, filters=None) -> dict:
    """Worker-thread function: {"matching": files with the words, "embedded_files": files dense search
    chooses from (None for BM25), "coverage": Coverage or None} for the summary beside a result list."""
    allowed = None
    if filters is not None and filters.active:
        allowed = svc.store.filtered_doc_ids(filters.folder, filters.exts, filters.modified_after,
                                             filters.modified_before)
    cov = dense_coverage(svc, retriever)
    return {"matching": matching_files(svc, query, allowed),
            "embedded_files": embedded_files(svc, retriever, allowed) if cov is not None else None,
            "coverage": cov}
