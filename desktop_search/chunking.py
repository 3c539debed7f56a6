"""Split extracted text into passages of about N model tokens with overlap, keeping character offsets."""

from __future__ import annotations

import os
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

_BOUNDARY = re.compile(r"\n\s*\n|\n|[.!?;:]\s")


@dataclass(frozen=True)
class Chunk:
    start: int  # character offsets into the extracted text
    end: int
    n_tokens: int


Offsets = array  # array("q"): start0, end0, start1, end1, ... (token i at [2i], [2i + 1])


class TokenOffsets(Protocol):
    """The character offsets of a text's tokens, flat: (start, end) of token i at [2i], [2i + 1].

    A flat array("q"), not a list of tuples: 5 million characters are 1.8 million tokens, 29 MB as
    an array and 226 MB as Python tuples (benchmarks/bad_input_memory.py). The standard library's
    array, not NumPy's: a re-index of a few files then never imports NumPy (50 ms of its start)."""

    def __call__(self, text: str) -> Offsets: ...


def _offsets(flat=()) -> Offsets:
    return array("q", flat)


class RegexTokenizer:
    """A model-free stand-in: word pieces of at most 6 characters, punctuation alone."""

    _PIECE = re.compile(r"\w{1,6}|[^\w\s]")

    def __call__(self, text: str) -> Offsets:
        flat = _offsets()
        for m in self._PIECE.finditer(text):
            flat.extend(m.span())
        return flat


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
    # beyond ASCII, the characters whose BERT normalisation is one character (accents stripped and
    # lower-cased where the tokenizer does both, a space for a space separator) are taken here too:
    # Latin, Greek, Cyrillic, punctuation, super- and subscripts, currency, letterlike, arrows and
    # mathematical signs; anything else (CJK, combining marks, controls, emoji) goes to the library
    _COVERED_RANGES = ((0x80, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x2000, 0x22FF))
    _NOT_PLAIN = re.compile(r"[^\t\n\r\x20-\x7e]")
    # a whitespace-separated word holding a character the plain path does not cover
    _ODD_WORD = re.compile(r"[^ \t\n\r]*[^\t\n\r\x20-\x7e][^ \t\n\r]*")
    _ODD_SHARE = 300  # more than one such word per 300 characters: the library takes the whole text
    _CACHE_MAX = 500_000

    def __init__(self, vocab: set[str], *, lowercase: bool, prefix: str = "##", max_chars: int = 100,
                 added: list[str] = (), strip_accents: bool | None = None):
        self._vocab = vocab
        self._lowercase = lowercase
        self._prefix = prefix
        self._max_chars = max_chars
        self._added = re.compile("|".join(re.escape(a) for a in added), re.IGNORECASE) if added else None
        self._cache: dict[str, tuple[int, ...] | None] = {}
        self._strip_accents = lowercase if strip_accents is None else strip_accents
        self._table: dict[int, str] | None = None  # made when the first such word comes
        self._odd_pre: re.Pattern | None = None

    def _normalising(self) -> tuple[dict[int, str], re.Pattern]:
        """`str.translate` table of the covered characters (to their normalised character; ASCII
        capitals to small ones when lower-casing) and the pre-tokenizer's pattern for the result:
        runs of anything but spaces and punctuation, and single punctuation marks."""
        if self._table is None:
            import unicodedata

            table: dict[int, str] = {}
            punct = ["!-/:-@\\[-`{-~"]
            for lo, hi in self._COVERED_RANGES:
                for cp in range(lo, hi + 1):
                    c = chr(cp)
                    cat = unicodedata.category(c)
                    if cat == "Zs":
                        table[cp] = " "
                        continue
                    if cat[0] in "CZM":  # controls and format characters (removed), marks, line separators
                        continue
                    n = c
                    if self._strip_accents:
                        n = "".join(x for x in unicodedata.normalize("NFD", n) if unicodedata.category(x) != "Mn")
                    if self._lowercase:
                        n = n.lower()
                    if len(n) != 1 or (n != c and unicodedata.category(n)[0] != cat[0]):
                        continue  # normalised to more or fewer characters, or to another kind of one
                    table[cp] = n
                    if cat[0] == "P":
                        punct.append(re.escape(n))
            if self._lowercase:
                table.update((cp, chr(cp + 32)) for cp in range(ord("A"), ord("Z") + 1))
            cls = "".join(punct)
            self._odd_pre = re.compile(f"[^ {cls}]+|[{cls}]")
            self._table = table
        return self._table, self._odd_pre

    def _covers(self, word: str) -> bool:
        """Whether every character of `word` is plain ASCII or in the table (no library needed)."""
        table = self._normalising()[0]
        return all(" " <= c <= "~" or ord(c) in table for c in word)

    @classmethod
    def from_tokenizer_json(cls, spec: dict) -> AsciiWordPiece | None:
        """The fast path for this tokenizer.json, or None when it is not of the BERT WordPiece kind."""
        norm, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec.get("model") or {}
        if (norm.get("type") != "BertNormalizer" or not norm.get("clean_text") or pre.get("type") != "BertPreTokenizer"
                or model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), (dict, list))):
            return None
        added = [str(t["content"]) for t in spec.get("added_tokens") or [] if t.get("content")]
        strip = norm.get("strip_accents")
        return cls(set(model["vocab"]), lowercase=bool(norm.get("lowercase")),
                   prefix=str(model.get("continuing_subword_prefix", "##")),
                   max_chars=int(model.get("max_input_chars_per_word", 100)), added=added,
                   strip_accents=None if strip is None else bool(strip))

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

    def __call__(self, text: str, library: Callable[[str], Offsets] | None = None) -> Offsets | None:
        """Offsets of `text`'s tokens, or None when this path does not cover it. With `library`
        (text -> offsets), words holding other characters (accents, curly quotes, CJK) go to it one
        whitespace-separated word at a time: BERT's normaliser and pre-tokenizer never join across
        ASCII whitespace, so the pieces are the same as the whole text's. Text with many such
        words goes to the library whole (None)."""
        if self._added is not None and self._added.search(text):
            return None
        flat = _offsets()
        if text.isascii() and not self._NOT_PLAIN.search(text):
            self._plain(text, 0, flat)
            return flat
        if library is None:
            return None
        odd = [(m, self._covers(m.group())) for m in self._ODD_WORD.finditer(text)]
        if sum(not covered for _, covered in odd) * self._ODD_SHARE > len(text):
            return None
        pos = 0
        for m, covered in odd:
            self._plain(text[pos:m.start()], pos, flat)
            base = m.start()
            if covered:  # each character normalises to one: the offsets are those of the result
                table, pre = self._normalising()
                self._pieces(m.group().translate(table), base, flat, pre)
            else:
                flat.extend([o + base for o in library(m.group())])
            pos = m.end()
        self._plain(text[pos:], pos, flat)
        return flat

    def _plain(self, text: str, base: int, flat: Offsets) -> None:
        """Append the offsets (+ base) of plain ASCII text's tokens to `flat`."""
        self._pieces(text.lower() if self._lowercase else text, base, flat, self._PRE)

    def _pieces(self, low: str, base: int, flat: Offsets, pre: re.Pattern) -> None:
        """Append the offsets (+ base) of the tokens of normalised text (one character for each of
        the original's), words and punctuation as `pre` finds them."""
        cache = self._cache
        if len(cache) > self._CACHE_MAX:
            cache.clear()
        add = flat.extend
        for m in pre.finditer(low):
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
    through `AsciiWordPiece` where that gives the same tokens faster. With `cache_dir`, the fast
    path reads its vocabulary from a copy kept there (see `_wordpiece_spec`)."""

    def __init__(self, model_dir: str | Path, *, fast: bool = True, cache_dir: str | Path | None = None):
        self._path = Path(model_dir) / "tokenizer.json"
        self._tok = None  # the library's tokenizer, loaded when first needed (a re-index of plain text may never)
        self._fast: AsciiWordPiece | None = None
        if fast:
            try:
                self._fast = AsciiWordPiece.from_tokenizer_json(_wordpiece_spec(self._path, cache_dir))
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
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

    def __call__(self, text: str) -> Offsets:
        if self._fast is not None:
            offs = self._fast(text, self.library_offsets)
            if offs is not None:
                return offs
        return self.library_offsets(text)

    def library_offsets(self, text: str) -> Offsets:
        """The offsets as the `tokenizers` library gives them (tokens of no characters left out)."""
        out = _offsets()
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
            for s, e in enc.offsets:
                if e > s:
                    out.extend((s + pos, e + pos))
            pos = end
        return out


_SPEC_CACHE_FORMAT = 1


def _wordpiece_spec(path: Path, cache_dir: str | Path | None) -> dict:
    """tokenizer.json as a dict. With `cache_dir`, from a copy there whose vocabulary is a list of
    the tokens, not a token -> id map (the fast path only asks whether a piece is a token): parsing
    the model's 466 KB file was 10 ms of every re-index, the copy takes 4. The copy names the file's
    path, size and time, and is made again when they differ; any unreadable copy is ignored."""
    import json

    cache = None
    if cache_dir is not None:
        import hashlib

        st = path.stat()
        stamp = [os.fsdecode(os.path.abspath(path)), st.st_size, st.st_mtime_ns]
        key = hashlib.sha1(stamp[0].encode("utf-8", "surrogateescape")).hexdigest()[:16]
        cache = Path(cache_dir) / f"tokenizer-{key}.json"
        try:
            kept = json.loads(cache.read_text("utf-8"))
            if kept.get("format") == _SPEC_CACHE_FORMAT and kept.get("stamp") == stamp:
                return kept["spec"]
        except (OSError, ValueError, AttributeError, KeyError):
            pass
    spec = json.loads(path.read_text("utf-8"))
    vocab = (spec.get("model") or {}).get("vocab") if isinstance(spec, dict) else None
    if cache is not None and isinstance(vocab, dict):
        from .util import atomic_write_text

        slim = {**spec, "model": {**spec["model"], "vocab": list(vocab)}}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache, json.dumps({"format": _SPEC_CACHE_FORMAT, "stamp": stamp, "spec": slim}))
        except OSError:
            pass  # a read-only or full data folder: parsed each time, as before
    return spec


def tokenizer_for(model_path: str | None, cache_dir: str | Path | None = None) -> TokenOffsets:
    """The model's own tokenizer when it has a tokenizer.json, else the regex stand-in."""
    if model_path and (Path(model_path) / "tokenizer.json").is_file():
        return HFTokenizer(model_path, cache_dir=cache_dir)
    return RegexTokenizer()


def chunk_text(text: str, tokenize: TokenOffsets, max_tokens: int = 256, overlap: int = 32) -> list[Chunk]:
    """Passages of at most `max_tokens - 2` tokens (room for the model's special tokens),
    consecutive ones sharing about `overlap` tokens, cut at a sentence or line end when
    one lies in the last quarter of the window."""
    offs = tokenize(text)
    n = len(offs) // 2
    if n == 0:
        return []
    size = max(8, max_tokens - 2)
    overlap = max(0, min(overlap, size // 2))
    chunks: list[Chunk] = []
    i = 0
    while i < n:
        j = min(n, i + size)
        if j < n:
            j = _best_cut(text, offs, i, j, size)
        chunks.append(Chunk(int(offs[2 * i]), int(offs[2 * j - 1]), j - i))
        if j >= n:
            break
        i = max(j - overlap, i + 1)
    return chunks


def _best_cut(text: str, offs: Offsets, i: int, j: int, size: int) -> int:
    """Move the end of a window back to just after a boundary, if one is near the end."""
    lo = max(i + 1, j - size // 4)
    start_char = int(offs[2 * lo])
    window = text[start_char : int(offs[2 * j])]
    last = None
    for m in _BOUNDARY.finditer(window):
        last = m
    if last is None:
        return j
    cut_char = start_char + last.start() + 1
    # first token starting at or after the cut
    k = j
    while k > lo and offs[2 * (k - 1)] >= cut_char:
        k -= 1
    return max(k, i + 1)
