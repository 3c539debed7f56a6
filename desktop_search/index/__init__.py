"""The HNSW vector index file of one model, kept consistent with the store."""

from .hnsw import VectorIndex

__all__ = ["VectorIndex"]
