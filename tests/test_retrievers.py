"""The retriever protocol and registry: names, versions, and the same rankings through every path."""

from __future__ import annotations

import pytest

from conftest import run
from desktop_search.retrievers import Retriever, needs_model, parse_name
from desktop_search.retrievers.registry import RetrieverName


def test_names_parse_in_one_place():
    assert parse_name("bm25") == RetrieverName("bm25")
    assert parse_name("dense:v3") == RetrieverName("dense", "v3")
    assert str(parse_name("hybrid:base")) == "hybrid:base"
    for bad in ("bm26", "bm25:v1", "", "dense2"):
        with pytest.raises(ValueError):
            parse_name(bad)
    assert needs_model(["bm25", "dense:v2"]) and not needs_model(["bm25", "nonsense"])


def test_every_retriever_meets_the_protocol(tmp_path, corpus):
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    # encoders made per version by a factory (as the window does), so "dense:base" is a real version name
    with SearchService(tmp_path / "data", encoder_factory=lambda p, key, display_name=None: HashingEncoder(key=key)) as svc:
        run(svc.index([corpus]))
        for name in ("bm25", "dense", "hybrid", "dense:base", "hybrid:base"):
            r = svc.retrievers.get(name)
            assert isinstance(r, Retriever)
            ranking = r.rank("bread dough", 3)
            hits = svc.search("bread dough", name, k=3)
            assert ranking and [x.doc_id for x in ranking] == [h.doc_id for h in hits]
            assert hits[0].name == "bread.md" and hits[0].retriever == name.split(":")[0]
        assert [h.doc_id for h in svc.search("bread", "dense:base")] == [h.doc_id for h in svc.search("bread", "dense")]


def test_unknown_retriever_is_a_clear_error(service):
    with pytest.raises(ValueError, match="unknown retriever"):
        service.search("x", "sparse")
