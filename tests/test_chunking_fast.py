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
    assert got.typecode == want.typecode == "q" and got == want, repr(text[:80])


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

    japanese = "\u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca " * 20
    assert tok._fast(japanese, library) is None and not calls  # most words odd: one library call instead
    mostly_plain = "plain words " * 200 + "\u4e2d\u6587 "
    offs = tok._fast(mostly_plain, library)
    assert calls == ["\u4e2d\u6587"] and offs == tok.library_offsets(mostly_plain)


def test_accented_and_greek_words_need_no_library(tok):
    """Latin with accents, Greek, Cyrillic, typographic punctuation and signs: each character
    normalises to one, so the offsets come without the library, and they are the library's."""
    calls = []

    def library(text):
        calls.append(text)
        return tok.library_offsets(text)

    text = ("Gr\u00fc\u00dfe aus M\u00fcnchen f\u00fcr \u00e4ltere B\u00fcrger; TNF-\u03b1 \u00b1 5 \u00b5m "
            "at 37\u00b0C, \u201cquoted\u201d \u2014 don\u2019t \u041c\u043e\u0441\u043a\u0432\u0430 "
            "x\u00b2 \u2264 \u20ac12 \u2192 \u2211 ") * 20
    offs = tok._fast(text, library)
    assert not calls and offs == tok.library_offsets(text)


def test_every_covered_character_is_cut_as_the_library_cuts_it(tok):
    """Each character the table takes, alone, inside and beside words, doubled and with vocabulary
    pieces around it: the same offsets as the library's (a character the two disagree on would
    change passages)."""
    fast = tok._fast
    table = fast._normalising()[0]
    covered = [chr(cp) for cp in table if cp >= 0x80]
    assert len(covered) > 1400  # Latin, Greek, Cyrillic, punctuation, signs
    probes = []
    for c in covered:
        probes.append(f"{c} a{c}b {c}{c}ing x{c} {c}9 UN{c}BELIEVABLE.{c}, ({c})")
    for i in range(0, len(probes), 50):
        text = "\n".join(probes[i:i + 50])
        got = fast(text, lambda t: pytest.fail(f"library asked for {t!r}"))
        assert got == tok.library_offsets(text), text[:80]


def test_the_kept_vocabulary_gives_the_same_offsets_and_follows_the_file(model_path, tmp_path):
    """With a cache folder the fast path reads its vocabulary from a copy made on first use; the
    offsets are the same, a changed tokenizer.json makes a new copy, and a damaged copy is ignored."""
    import shutil

    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(Path(model_path) / "tokenizer.json", model / "tokenizer.json")
    cache = tmp_path / "cache"
    plain = HFTokenizer(model)
    first = HFTokenizer(model, cache_dir=cache)
    (copy,) = cache.glob("tokenizer-*.json")
    kept = json.loads(copy.read_text("utf-8"))
    assert isinstance(kept["spec"]["model"]["vocab"], list) and kept["stamp"][1] == (model / "tokenizer.json").stat().st_size
    again = HFTokenizer(model, cache_dir=cache)
    assert again._fast is not None and again._fast._vocab == plain._fast._vocab
    for text in SAMPLES:
        assert first(text) == again(text) == plain(text), repr(text[:60])
    # a tokenizer.json that changed (a new token): the copy is made again from it
    spec = json.loads((model / "tokenizer.json").read_text("utf-8"))
    spec["model"]["vocab"]["zymurgyx"] = len(spec["model"]["vocab"])
    (model / "tokenizer.json").write_text(json.dumps(spec), "utf-8")
    changed = HFTokenizer(model, cache_dir=cache)
    assert "zymurgyx" in changed._fast._vocab and "zymurgyx" in json.loads(copy.read_text("utf-8"))["spec"]["model"]["vocab"]
    copy.write_text("{not json", "utf-8")
    damaged = HFTokenizer(model, cache_dir=cache)
    assert damaged._fast is not None and "zymurgyx" in damaged._fast._vocab
