"""Retrievers: a protocol, BM25 (lexical), dense (one per model version), hybrid, and a registry by name."""

from .base import Filters, Ranked, Retriever
from .fusion import minmax_fusion, rrf_fusion
from .registry import KINDS, RetrieverRegistry, needs_model, parse_name
from .types import Hit

__all__ = ["Filters", "Hit", "KINDS", "Ranked", "Retriever", "RetrieverRegistry", "minmax_fusion", "needs_model",
           "parse_name", "rrf_fusion"]
