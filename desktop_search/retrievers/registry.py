"""Retrievers chosen by name, from one place.

Names: "bm25", "dense", "hybrid" (dense and hybrid with the active model version), and
"dense:VERSION" / "hybrid:VERSION" for a given version ("base" included).
"""

from __future__ import annotations

from typing import NamedTuple

from .base import Retriever
from .dense import DenseRetriever
from .hybrid import HybridRetriever
from .lexical import LexicalRetriever

KINDS = ("bm25", "dense", "hybrid")
MODEL_KINDS = frozenset({"dense", "hybrid"})  # those that need the embedding model


class RetrieverName(NamedTuple):
    kind: str  # "bm25", "dense", "hybrid"
    version: str | None = None  # a model version; None: the active one

    def __str__(self) -> str:
        return self.kind if self.version is None else f"{self.kind}:{self.version}"

    @property
    def needs_model(self) -> bool:
        return self.kind in MODEL_KINDS


def parse_name(name: str) -> RetrieverName:
    """"dense:v3" -> ("dense", "v3"); raises ValueError for an unknown retriever."""
    kind, _, version = str(name).partition(":")
    if kind not in KINDS or (kind == "bm25" and version):
        raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(KINDS)}")
    return RetrieverName(kind, version or None)


def needs_model(names) -> bool:
    """Whether any of these retriever names needs the embedding model (a bad name does not)."""
    for n in names:
        try:
            if parse_name(n).needs_model:
                return True
        except ValueError:
            continue
    return False


class RetrieverRegistry:
    """Builds the retriever for a name over one library's store, BM25 index and model registry."""

    def __init__(self, store, bm25, models, hybrid_method: str = "minmax"):
        self.store = store
        self.models = models
        self.hybrid_method = hybrid_method
        self.lexical = LexicalRetriever(store, bm25)

    def dense(self, encoder=None) -> DenseRetriever:
        """The dense retriever of `encoder` (the active model version's by default)."""
        encoder = encoder or self.models.encoder
        return DenseRetriever(self.store, encoder, self.models.vector_index(encoder))

    def get(self, name: str, *, encoder=None, hybrid_method: str | None = None) -> Retriever:
        """The retriever called `name`; `encoder` overrides the version for dense and hybrid."""
        rn = parse_name(name)
        if rn.kind == "bm25":
            return self.lexical
        if encoder is None and rn.version is not None:
            encoder = self.models.encoder_for(rn.version)
        dense = self.dense(encoder)
        if rn.kind == "dense":
            return dense
        return HybridRetriever(self.lexical, dense, hybrid_method or self.hybrid_method)
