"""Split extracted text into passages of about N model tokens with overlap, keeping character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

_BOUNDARY = re.compile(r"\n\s*\n|\n|[.!?;:]\s")


@dataclass(frozen=True)
class Chunk:
    start: int  # character offsets into the extracted text
    end: int
    n_tokens: int


class TokenOffsets(Protocol):
    """(start, end) character offsets of a text's tokens: an (n, 2) integer array.

    An array, not a list of tuples: 5 million characters are 1.8 million tokens, 29 MB as an
    array and 226 MB as Python tuples (benchmarks/bad_input_memory.py)."""

    def __call__(self, text: str) -> np.ndarray: ...


def _offsets(pairs) -> np.ndarray:
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class RegexTokenizer:
    """A model-free stand-in: word pieces of at most 6 characters, punctuation alone."""

    _PIECE = re.compile(r"\w{1,6}|[^\w\s]")

    def __call__(self, text: str) -> np.ndarray:
        return _offsets([(m.start(), m.end()) for m in self._PIECE.finditer(text)])


class HFTokenizer:
    """Token offsets from a model folder's tokenizer.json (the `tokenizers` library; no torch)."""

    def __init__(self, model_dir: str | Path):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()

    def __call__(self, text: str) -> np.ndarray:
        out: list[np.ndarray] = []
        # Encode in slices so a huge text never becomes one giant encoding.
        step = 100_000
        pos = 0
        while pos < len(text):
            end = min(len(text), pos + step)
            if end < len(text):
                ws = text.rfind(" ", pos + step // 2, end)
                if ws > pos:
                    end = ws
            enc = self._tok.encode(text[pos:end], add_special_tokens=False)
            offs = _offsets(enc.offsets)
            out.append(offs[offs[:, 1] > offs[:, 0]] + pos)
            pos = end
        return np.concatenate(out) if out else _offsets([])


def tokenizer_for(model_path: str | None) -> TokenOffsets:
    """The model's own tokenizer when it has a tokenizer.json, else the regex stand-in."""
    if model_path and (Path(model_path) / "tokenizer.json").is_file():
        return HFTokenizer(model_path)
    return RegexTokenizer()


def chunk_text(text: str, tokenize: TokenOffsets, max_tokens: int = 256, overlap: int = 32) -> list[Chunk]:
    """Passages of at most `max_tokens - 2` tokens (room for the model's special tokens),
    consecutive ones sharing about `overlap` tokens, cut at a sentence or line end when
    one lies in the last quarter of the window."""
    offs = tokenize(text)
    if len(offs) == 0:
        return []
    size = max(8, max_tokens - 2)
    overlap = max(0, min(overlap, size // 2))
    chunks: list[Chunk] = []
    i = 0
    n = len(offs)
    while i < n:
        j = min(n, i + size)
        if j < n:
            j = _best_cut(text, offs, i, j, size)
        chunks.append(Chunk(int(offs[i][0]), int(offs[j - 1][1]), j - i))
        if j >= n:
            break
        i = max(j - overlap, i + 1)
    return chunks


def _best_cut(text: str, offs: np.ndarray, i: int, j: int, size: int) -> int:
    """Move the end of a window back to just after a boundary, if one is near the end."""
    lo = max(i + 1, j - size // 4)
    start_char = int(offs[lo][0])
    window = text[start_char : int(offs[j][0])]
    last = None
    for m in _BOUNDARY.finditer(window):
        last = m
    if last is None:
        return j
    cut_char = start_char + last.start() + 1
    # first token starting at or after the cut
    k = j
    while k > lo and offs[k - 1][0] >= cut_char:
        k -= 1
    return max(k, i + 1)
