"""SQLite store: documents, chunks, statuses, BM25 postings and vectors, with migrations."""

from .db import SCHEMA_VERSION, DocRow, Store

__all__ = ["Store", "DocRow", "SCHEMA_VERSION"]
