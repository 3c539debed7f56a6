"""What every retriever is: a query, a depth and the allowed documents in; ranked files out.

A ranking is a list of `Ranked` (document, score, best chunk), best first; the service turns it
into `Hit`s with snippets. Filters become a set of allowed document ids before a retriever runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable


class Ranked(NamedTuple):
    doc_id: int
    score: float
    chunk_id: int  # the document's best passage for this query


@runtime_checkable
class Retriever(Protocol):
    """A retriever of files: BM25, dense (one per model version) or their hybrid."""

    name: str  # what the results say they came from: "bm25", "dense", "hybrid"

    def rank(self, query: str, k: int, allowed: set[int] | None = None) -> list[Ranked]:
        """The `k` best files for `query` among `allowed` documents (None: all)."""
        ...


@dataclass
class Filters:
    """Restrict results to a folder (prefix), file types (extensions) and a modified-date range."""

    folder: str | None = None
    exts: tuple[str, ...] = ()
    modified_after: float | None = None  # seconds since the epoch
    modified_before: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.folder or self.exts or self.modified_after or self.modified_before)
