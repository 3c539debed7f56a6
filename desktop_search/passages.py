"""A text's passages and their BM25 terms: what the indexer stores for every file it reads.

Cutting and analysing are most of an index run's work on plain text (SciFact: 5.3 s of 10 s in the
indexing process, under load). The extraction child can do them for the files it reads, on the
other core, when the indexing process lags behind it or it would be idle (`ExtractorPool(prepare=...)`,
see `documents.worker._child_main`); the indexing process does the rest. Both sides call `cut`, with the same tokenizer (`tokenizer_for`
of the same model folder), so the passages are the same wherever they were cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunking import Chunk, TokenOffsets, chunk_text, tokenizer_for
from .retrievers.analysis import analyze

Passages = tuple[list[Chunk], list[list[str]]]  # chunks, and the terms of each


@dataclass(frozen=True)
class PassageSpec:
    """How passages are cut: picklable, so the extraction child cuts them the same way."""

    tokenizer: str | None  # the model folder whose tokenizer.json cuts them (None: the regex stand-in)
    chunk_tokens: int
    overlap: int
    cache_dir: str | None = None  # where the tokenizer's vocabulary is kept ready (chunking._wordpiece_spec)

    def tokenize(self) -> TokenOffsets:
        return tokenizer_for(self.tokenizer, self.cache_dir)


def cut(text: str, tokenize: TokenOffsets, chunk_tokens: int, overlap: int) -> Passages:
    """The passages of `text` and the BM25 terms of each."""
    chunks = chunk_text(text, tokenize, chunk_tokens, overlap)
    return chunks, [analyze(text[c.start : c.end]) for c in chunks]


# Across the pipe: a flat list of ints and one string a passage (its terms joined by spaces; a
# term is a run of word characters or a CJK bigram, never holding a space). Pickling Chunk
# objects and lists of strings cost more than the cutting saved.
Packed = tuple[list[int], list[str]]


def pack(passages: Passages) -> Packed:
    chunks, terms = passages
    flat: list[int] = []
    for c in chunks:
        flat += (c.start, c.end, c.n_tokens)
    return flat, [" ".join(t) for t in terms]


def unpack(packed: Packed) -> Passages:
    flat, joined = packed
    chunks = [Chunk(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
    if len(chunks) != len(joined):
        raise ValueError("packed passages do not match their terms")
    return chunks, [j.split(" ") if j else [] for j in joined]
