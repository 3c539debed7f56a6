"""The fast WordPiece path gives exactly the offsets the tokenizers library gives (the chunks of
every passage depend on them), and it gives way to the library for text it does not cover."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_search.chunking import AsciiWordPiece, HFTokenizer, chunk_text

SAMPLES = [
    "The otter swims. It eats fish; otters (Lutrinae) are mustelids!",
    "def quicksort(items):\n    \"\"\"Sort a list.\"\"\"\n\treturn sorted(items)  # O(n log n) -- x[0]+=1\r\n",
    "snake_case_name and CamelCaseName, e-mail: someone@example.org, url https://a.b/c?d=e&f=g#h",
    "Numbers 3.14159 and 2,718 and 10^9 and 1e-5 and 0x1F and $12.50 and 50% and ~tilde `back`",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis " + "a" * 150 + " end",
    "qwxzjvk bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "Don\u2019t \u201cquote\u201d me \u2014 caf\u00e9 na\u00efve r\u00e9sum\u00e9 stra\u00dfe \u00c5ngstr\u00f6m",
    "IL-6 and TNF-\u03b1 raised \u03b2-cells; 5 \u00b5m at 37 \u00b0C \u00b1 0.5, p \u2264 0.05",
    "Chinese \u4e2d\u6587\u5b57 and Japanese \u3072\u3089\u304c\u306a mixed\u4e2dwith text",
    "emoji \U0001f600 here, nbsp\u00a0between, thin\u2009space, combining e\u0301 and \u0301alone",
    "controls \x00 nul \x0b vt \x0c ff \x1f us \x7f del \ufffd replacement \u200b zero-width",
    "special tokens [CLS] and [SEP] and [MASK] and [unk] and [PAD] inside the text",
    "   leading and trailing whitespace\n\n\n   ",
    "",
    ".,;:!?()[]{}<>\"'@#$%^&*-_=+|\\/~`",
]


@pytest.fixture(scope="module")
def tok(model_path):
    t = HFTokenizer(model_path)
    assert t._fast is not None, "all-MiniLM-L6-v2 has a BERT WordPiece tokenizer: the fast path must be on"
    return t


def _same(tok: HFTokenizer, text: str) -> None:
    got, want = tok(text), tok.library_offsets(text)
    assert got.shape == want.shape and np.array_equal(got, want), repr(text[:80])


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_offsets_equal_the_librarys(tok, text):
    _same(tok, text)


def test_fast_offsets_equal_the_librarys_on_random_text(tok):
    rng = np.random.default_rng(0)
    ascii_chars = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\r", " ", " ", " "]
    other = list("\u00e9\u00fc\u2019\u201c\u2014\u03b1\u4e2d\u00a0\u0301\x0b\x00\u200b\U0001f600\u00df")
    vocab_words = ["the", "protein", "cell", "##ing", "un", "believ", "able", "x", "42", "[MASK]"]
    for i in range(400):
        n = int(rng.integers(0, 300))
        pool = ascii_chars + (other if i % 2 else [])
        text = "".join(pool[int(j)] for j in rng.integers(0, len(pool), n))
        if i % 3 == 0:  # real-looking words glued together, so pieces split inside words
            text += " ".join("".join(vocab_words[int(j)] for j in rng.integers(0, len(vocab_words), 3))
                             for _ in range(20))
        _same(tok, text)


def test_chunks_are_the_same_with_and_without_the_fast_path(model_path):
    fast, library = HFTokenizer(model_path), HFTokenizer(model_path, fast=False)
    assert library._fast is None
    text = " ".join(SAMPLES) * 40
    assert chunk_text(text, fast, 64, 8) == chunk_text(text, library, 64, 8)


def test_other_tokenizers_keep_the_library(model_path):
    spec = json.loads((Path(model_path) / "tokenizer.json").read_text("utf-8"))
    assert AsciiWordPiece.from_tokenizer_json(spec) is not None
    for change in ({"normalizer": {"type": "NFKC"}}, {"pre_tokenizer": {"type": "Metaspace"}},
                   {"model": {"type": "BPE", "vocab": {}}}):
        assert AsciiWordPiece.from_tokenizer_json({**spec, **change}) is None


def test_text_with_many_odd_words_goes_to_the_library_whole(tok):
    calls = []

    def library(text):
        calls.append(text)
        return tok.library_offsets(text)

    german = "Gr\u00fc\u00dfe aus M\u00fcnchen f\u00fcr \u00e4ltere B\u00fcrger " * 20
    assert tok._fast(german, library) is None and not calls  # most words odd: one library call instead
    mostly_plain = "plain words " * 200 + "caf\u00e9 "
    offs = tok._fast(mostly_plain, library)
    assert calls == ["caf\u00e9"] and np.array_equal(offs, tok.library_offsets(mostly_plain))
