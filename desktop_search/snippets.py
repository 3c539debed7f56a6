"""What a result shows of its passage: the snippet, the matched spans, and the preview in context."""

from __future__ import annotations

from typing import Sequence

from .documents.base import SECTION_END, section_label
from .retrievers.analysis import parse_query, phrase_pattern, term_spans

SNIPPET_CHARS = 240
PREVIEW_CONTEXT_CHARS = 4000


def query_targets(query: str) -> tuple[set[str], tuple[str, ...]]:
    """The analysed words and the phrases of a query that a snippet marks."""
    pq = parse_query(query)
    return set(pq.terms) | set(pq.required), tuple(pq.phrases)


def match_spans(text: str, want: set[str], phrases: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Character ranges of `text` where a wanted word or a phrase occurs, merged and sorted."""
    spans = term_spans(text, want)
    for p in phrases:
        spans += [(m.start(), m.end()) for m in phrase_pattern(p).finditer(text)]
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return tuple(merged)


def _window(passage: str, spans: Sequence[tuple[int, int]], size: int) -> tuple[int, int]:
    """Where in the passage a snippet of about `size` characters holds the most matches.

    The spans are sorted and disjoint, so the matches inside [a, a + size] of each start a are
    counted with one forward pointer (linear; a passage full of matches made the count quadratic)."""
    lo = 0
    if spans and len(passage) > size:
        best, best_n = spans[0][0], -1
        j = 0
        for i, (a, _) in enumerate(spans):
            if j < i:
                j = i
            while j < len(spans) and spans[j][1] <= a + size:
                j += 1
            if j - i > best_n:
                best, best_n = a, j - i
        lo = max(0, min(best - size // 4, len(passage) - size))
        while lo > 0 and not passage[lo - 1].isspace() and lo > best - size // 4 - 20:
            lo -= 1
    hi = min(len(passage), lo + size)
    while hi < len(passage) and hi < lo + size + 20 and not passage[hi].isspace():
        hi += 1
    return lo, hi


def _section_at_window(kind: str | None, text: str, start: int, passage: str,
                       spans: Sequence[tuple[int, int]], lo: int) -> str | None:
    """The section ("page 12") of the snippet's first match (of its start if none matched)."""
    if not kind:
        return None
    anchor = next((a for a, _ in spans if a >= lo), lo)
    return section_label(kind, text, start + anchor)


def passage_section(text: str, start: int, end: int, want: set[str], phrases: Sequence[str] = (),
                    kind: str | None = None, size: int = SNIPPET_CHARS) -> str:
    """Where the snippet of this passage is in its file ("page 12", "slide 3"); "" if unsectioned."""
    return shown_passage(text, start, end, want, phrases, kind, size)[2]


def make_snippet(text: str, start: int, end: int, want: set[str], phrases: Sequence[str] = (),
                 size: int = SNIPPET_CHARS, kind: str | None = None) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A window of about `size` characters of the passage, placed to hold the most matches.

    For a sectioned kind (`kind`: PDF pages, slides, sheets...) it starts with where its first match
    is, "page 12 · ", so every list of results (window, CLI, JSON) says so."""
    snippet, spans, _section = shown_passage(text, start, end, want, phrases, kind, size)
    return snippet, spans


def shown_passage(text: str, start: int, end: int, want: set[str], phrases: Sequence[str] = (),
                  kind: str | None = None, size: int = SNIPPET_CHARS
                  ) -> tuple[str, tuple[tuple[int, int], ...], str]:
    """What a result shows of its passage: (snippet, matched spans in it, section), the passage's
    matches found once for all three (`make_snippet`, `passage_section`)."""
    passage = text[start:end]
    spans = match_spans(passage, want, phrases)
    lo, hi = _window(passage, spans, size)
    body = " ".join(passage[lo:hi].split())
    # recompute spans on the whitespace-normalised body so offsets are exact
    out_spans = match_spans(body, want, phrases)
    section = _section_at_window(kind, text, start, passage, spans, lo)
    prefix = (f"{section} · " if section else "") + ("… " if lo > 0 else "")
    suffix = " …" if hi < len(passage) else ""
    shift = len(prefix)
    return prefix + body + suffix, tuple((a + shift, b + shift) for a, b in out_spans), section or ""


def preview_window(text: str, passage: tuple[int, int] | None, query: str,
                   context_chars: int = PREVIEW_CONTEXT_CHARS) -> dict:
    """The passage in its context: text around it, the passage range and matched spans in that text."""
    a, b = passage if passage else (0, min(len(text), 1000))
    lo = max(0, a - context_chars)
    hi = min(len(text), b + context_chars)
    want, phrases = query_targets(query)
    window = text[lo:hi].replace(SECTION_END, "\n")  # a page break reads as a line break (same length)
    return {"text": window, "offset": lo, "passage": (a - lo, b - lo), "spans": match_spans(window, want, phrases)}
