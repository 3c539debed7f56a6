"""Retrievers: BM25, dense and their fusion; the Hit type they all return."""

from .fusion import minmax_fusion, rrf_fusion
from .types import Hit

__all__ = ["Hit", "rrf_fusion", "minmax_fusion"]
