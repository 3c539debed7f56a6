"""Split extracted text into passages of about N model tokens with overlap, keeping character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

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


class AsciiWordPiece:
    """The token offsets a BERT WordPiece tokenizer gives plain ASCII text, without the library.

    For tokenizer.json files of the BERT kind (BertNormalizer with clean_text, BertPreTokenizer,
    WordPiece: all-MiniLM-L6-v2 among them) and text that is ASCII with no control characters
    besides tab and line ends and none of the tokenizer's added tokens, the tokens are exactly:
    runs of letters and digits and single punctuation marks, each run cut into the longest
    vocabulary pieces from the left ("##" before continuations), a run with no such cut or longer
    than `max_chars` one unknown token. Each distinct word is cut once and remembered, so a
    passage costs a regex scan and a dict lookup a word: 2.2x faster than `Tokenizer.encode` on
    830 real documentation files, 2.6x on SciFact, words it hands to the library included
    (the library spends most of its time normalising and tracking offsets). `__call__`
    returns None for text it does not cover; the caller uses the library then.
    tests/test_chunking_fast.py checks it against the library on real and random text."""

    _PRE = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")
    _NOT_PLAIN = re.compile(r"[^\t\n\r\x20-\x7e]")
    # a whitespace-separated word holding a character the plain path does not cover
    _ODD_WORD = re.compile(r"[^ \t\n\r]*[^\t\n\r\x20-\x7e][^ \t\n\r]*")
    _ODD_SHARE = 300  # more than one such word per 300 characters: the library takes the whole text
    _CACHE_MAX = 500_000

    def __init__(self, vocab: set[str], *, lowercase: bool, prefix: str = "##", max_chars: int = 100,
                 added: list[str] = ()):
        self._vocab = vocab
        self._lowercase = lowercase
        self._prefix = prefix
        self._max_chars = max_chars
        self._added = re.compile("|".join(re.escape(a) for a in added), re.IGNORECASE) if added else None
        self._cache: dict[str, tuple[int, ...] | None] = {}

    @classmethod
    def from_tokenizer_json(cls, spec: dict) -> AsciiWordPiece | None:
        """The fast path for this tokenizer.json, or None when it is not of the BERT WordPiece kind."""
        norm, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec.get("model") or {}
        if (norm.get("type") != "BertNormalizer" or not norm.get("clean_text") or pre.get("type") != "BertPreTokenizer"
                or model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict)):
            return None
        added = [str(t["content"]) for t in spec.get("added_tokens") or [] if t.get("content")]
        return cls(set(model["vocab"]), lowercase=bool(norm.get("lowercase")),
                   prefix=str(model.get("continuing_subword_prefix", "##")),
                   max_chars=int(model.get("max_input_chars_per_word", 100)), added=added)

    def _cut(self, word: str) -> tuple[int, ...] | None:
        """The end of each piece of `word` (relative), or None when the word is one token."""
        n = len(word)
        if n > self._max_chars:
            return None
        vocab, prefix = self._vocab, self._prefix
        ends: list[int] = []
        start = 0
        while start < n:
            end = n
            while end > start:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            if end == start:
                return None  # no cut: the whole word is the unknown token
            ends.append(end)
            start = end
        return None if len(ends) == 1 else tuple(ends)

    def __call__(self, text: str, library: Callable[[str], np.ndarray] | None = None) -> np.ndarray | None:
        """Offsets of `text`'s tokens, or None when this path does not cover it. With `library`
        (text -> offsets), words holding other characters (accents, curly quotes, CJK) go to it one
        whitespace-separated word at a time: BERT's normaliser and pre-tokenizer never join across
        ASCII whitespace, so the pieces are the same as the whole text's. Text with many such
        words goes to the library whole (None)."""
        if self._added is not None and self._added.search(text):
            return None
        flat: list[int] = []
        if text.isascii() and not self._NOT_PLAIN.search(text):
            self._plain(text, 0, flat)
            return np.array(flat, dtype=np.int64).reshape(-1, 2)
        if library is None:
            return None
        odd = list(self._ODD_WORD.finditer(text))
        if len(odd) * self._ODD_SHARE > len(text):
            return None
        pos = 0
        for m in odd:
            self._plain(text[pos:m.start()], pos, flat)
            offs = library(m.group())
            if len(offs):
                flat.extend((offs + m.start()).ravel().tolist())
            pos = m.end()
        self._plain(text[pos:], pos, flat)
        return np.array(flat, dtype=np.int64).reshape(-1, 2)

    def _plain(self, text: str, base: int, flat: list[int]) -> None:
        """Append the offsets (+ base) of plain ASCII text's tokens to `flat`."""
        low = text.lower() if self._lowercase else text
        cache = self._cache
        if len(cache) > self._CACHE_MAX:
            cache.clear()
        add = flat.extend
        for m in self._PRE.finditer(low):
            w = m.group()
            try:
                cut = cache[w]
            except KeyError:
                cut = cache[w] = self._cut(w)
            s0 = m.start() + base
            if cut is None:
                add((s0, s0 + len(w)))
            else:
                prev = s0
                for e in cut:
                    add((prev, s0 + e))
                    prev = s0 + e


class HFTokenizer:
    """Token offsets from a model folder's tokenizer.json (the `tokenizers` library; no torch),
    through `AsciiWordPiece` where that gives the same tokens faster."""

    def __init__(self, model_dir: str | Path, *, fast: bool = True):
        import json

        self._path = Path(model_dir) / "tokenizer.json"
        self._tok = None  # the library's tokenizer, loaded when first needed (a re-index of plain text may never)
        self._fast: AsciiWordPiece | None = None
        if fast:
            try:
                self._fast = AsciiWordPiece.from_tokenizer_json(json.loads(self._path.read_text("utf-8")))
            except (ValueError, TypeError, KeyError, AttributeError):
                self._fast = None  # an unusual tokenizer.json: the library alone
        if self._fast is None:
            self._library()  # a broken file fails here, as it always did

    def _library(self):
        if self._tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self._path))
            tok.no_padding()
            tok.no_truncation()
            self._tok = tok
        return self._tok

    def __call__(self, text: str) -> np.ndarray:
        if self._fast is not None:
            offs = self._fast(text, self.library_offsets)
            if offs is not None:
                return offs
        return self.library_offsets(text)

    def library_offsets(self, text: str) -> np.ndarray:
        """The offsets as the `tokenizers` library gives them."""
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
            enc = self._library().encode(text[pos:end], add_special_tokens=False)
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
