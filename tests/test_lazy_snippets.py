"""Snippets of the hits past the first screen are computed when read, the same as computed at once."""

from __future__ import annotations

import pickle

from conftest import run
from desktop_search import service as service_mod
from desktop_search.retrievers.types import Deferred, Hit
from desktop_search.service import SearchService
from desktop_search.snippets import make_snippet, passage_section, shown_passage


def _library(tmp_path, fake_encoder, n=30) -> SearchService:
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(n):
        (d / f"note{i:02d}.txt").write_text(f"Note {i}. " + "The baker kneads dough with yeast. " * (1 + i % 4)
                                            + f"Filler words number {i} about nothing much. " * 20)
    svc = SearchService(tmp_path / "s", encoder=fake_encoder)
    run(svc.index([d]))
    return svc


def test_hits_past_the_first_screen_get_their_snippet_when_read(tmp_path, fake_encoder, monkeypatch):
    monkeypatch.setattr(service_mod, "SNIPPETS_NOW", 5)
    computed = []
    real = service_mod.shown_passage
    monkeypatch.setattr(service_mod, "shown_passage", lambda *a, **kw: computed.append(1) or real(*a, **kw))
    with _library(tmp_path, fake_encoder) as svc:
        hits = svc.search("yeast dough", "bm25", k=30)
        assert len(hits) == 30 and len(computed) == 5  # the first screen only
        last = hits[-1]
        text = svc.store.doc_text(last.doc_id)
        want = {"yeast", "dough"}
        assert (last.snippet, last.spans) == make_snippet(text, last.start, last.end, want)
        assert len(computed) == 6
        assert last.section == passage_section(text, last.start, last.end, want)
        assert len(computed) == 6  # snippet, spans and section come from one computation
        assert "yeast" in [last.snippet[a:b].lower() for a, b in last.spans]
        # JSON and pickling see the computed values
        d = hits[-2].to_dict()
        assert d["snippet"] and d["spans"]
        assert pickle.loads(pickle.dumps(hits[-3])).snippet == hits[-3].snippet


def test_a_snippet_that_cannot_be_computed_is_empty_not_an_error():
    def broken():
        raise RuntimeError("store closed")

    shown = Deferred(broken)
    h = Hit(rank=1, doc_id=1, path="/a", name="a", folder="/", score=1.0, chunk_id=1, start=0, end=1,
            snippet=shown, spans=shown, section=shown)
    assert (h.snippet, h.spans, h.section) == ("", (), "")
    plain = Hit(rank=1, doc_id=1, path="/a", name="a", folder="/", score=1.0, chunk_id=1, start=0, end=1,
                snippet="given")
    assert plain.snippet == "given" and plain.spans == () and plain.section == ""


def test_shown_passage_window_holds_the_most_matches():
    text = ("filler " * 80) + "yeast dough yeast dough yeast " + ("filler " * 80)
    snippet, spans, section = shown_passage(text, 0, len(text), {"yeast", "dough"}, size=60)
    assert section == "" and len(spans) == 5
    assert [snippet[a:b] for a, b in spans] == ["yeast", "dough", "yeast", "dough", "yeast"]
