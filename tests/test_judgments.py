"""Relevance marks: stored with what was shown, following files, BEIR round trip, the judged evaluation."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run
from desktop_search.entry import main
from desktop_search.judged_eval import CLEAR_HELD_OUT, evaluate_judgments, paired_bootstrap, verdict
from desktop_search.judgments import export_beir, import_beir
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import SearchService
from desktop_search.store.judgments import normalize_query

TOPICS = {f"t{i}.txt": f"Topic {i}: {w} are discussed here at length, with {w} facts."
          for i, w in enumerate(["volcanoes", "glaciers", "corals", "deserts", "rainforests", "tundras", "oceans"])}


def factory(path, key, display_name=None):
    return HashingEncoder(key=key)


@pytest.fixture
def lib(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TOPICS.items():
        (docs / name).write_text(text)
    svc = SearchService(tmp_path / "data", encoder_factory=factory)
    run(svc.index([docs]))
    yield svc, docs
    svc.close()


def doc_id(svc, path):
    return next(d.id for d in svc.files() if d.path == str(path))


def test_a_mark_keeps_what_was_shown(lib):
    svc, docs = lib
    hit = svc.search("glaciers", "hybrid", k=1)[0]
    svc.mark("  glaciers ", hit.doc_id, 1, retriever="hybrid", chunk_id=hit.chunk_id)
    (j,) = svc.store.judgments("GLACIERS")  # the same query, whatever its case and spaces
    assert j.query == "glaciers" and j.path == hit.path and j.grade == 1
    assert "glaciers" in j.passage and j.retriever == "hybrid" and j.model_version == "base"
    assert j.content_hash and j.created_at > 0
    svc.mark("glaciers", hit.doc_id, 0, retriever="bm25")  # changed: one mark, the new grade
    assert svc.marks_for("Glaciers") == {hit.doc_id: 0}
    assert svc.store.judgments("glaciers")[0].passage == j.passage  # the passage it was made on stays


def test_marks_survive_reindex_and_moves_and_leave_with_deleted_files(lib):
    svc, docs = lib
    ids = {name: doc_id(svc, docs / name) for name in TOPICS}
    svc.mark("volcanoes", ids["t0.txt"], 1)
    svc.mark("glaciers", ids["t1.txt"], 1)
    svc.mark("corals", ids["t2.txt"], 1)
    (docs / "t0.txt").write_text(TOPICS["t0.txt"] + " Lava and magma too.")  # edited: read again
    os.rename(docs / "t1.txt", docs / "moved-glaciers.txt")  # moved: recognised by its text
    (docs / "t2.txt").unlink()  # deleted
    run(svc.index())
    q = svc.store.qrels()
    assert set(q) == {"volcanoes", "glaciers"}
    assert [j.path for j in svc.store.judgments("glaciers")] == [str(docs / "moved-glaciers.txt")]
    assert svc.store.judgments("volcanoes")[0].path == str(docs / "t0.txt")
    assert svc.store.judged_passages(["volcanoes"])[0][2]  # a passage to train on is still there


def test_export_then_import_gives_the_same_judgments(lib, tmp_path):
    svc, docs = lib
    for i, name in enumerate(TOPICS):
        svc.mark(f"query {i}", doc_id(svc, docs / name), 1 if i % 3 else 0)
    svc.mark("query 1", doc_id(svc, docs / "t0.txt"), 2)
    out = export_beir(svc.store, tmp_path / "beir")
    assert out == {"queries": 7, "judgments": 8, "folder": str(tmp_path / "beir")}
    with SearchService(tmp_path / "other", encoder_factory=factory) as other:
        run(other.index([docs]))
        res = import_beir(other.store, tmp_path / "beir")
        assert res["imported"] == 8 and res["unmatched_files"] == 0
        paths = {d.id: d.path for d in svc.files()}
        opaths = {d.id: d.path for d in other.files()}
        same = {q: {paths[d]: g for d, g in docs_.items()} for q, docs_ in svc.store.qrels().items()}
        assert same == {q: {opaths[d]: g for d, g in docs_.items()} for q, docs_ in other.store.qrels().items()}


def test_import_matches_beir_ids_to_file_names_and_reports_the_rest(lib, tmp_path):
    svc, docs = lib
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "ice"}) + "\n")
    (beir / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n1\tt1\t1\n1\tnot-here\t1\n2\tt3\t1\n")
    res = import_beir(svc.store, beir, "train")
    assert res["imported"] == 1 and res["unmatched_files"] == 1 and res["unknown_queries"] == 1
    assert svc.store.judgments("ice")[0].path == str(docs / "t1.txt")


def test_bad_judgment_files_get_a_clear_message(lib, tmp_path, capsys):
    svc, docs = lib
    (tmp_path / "bad" / "qrels").mkdir(parents=True)
    (tmp_path / "bad" / "queries.jsonl").write_text("{not json\n")
    (tmp_path / "bad" / "qrels" / "test.tsv").write_text("")
    svc.close()
    assert main(["--data-dir", str(svc.data_dir), "judge", "import", str(tmp_path / "bad")]) == 2
    assert "line 1" in capsys.readouterr().err
    assert main(["--data-dir", str(svc.data_dir), "judge", "import", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err


def test_judge_cli_round_trip(lib, tmp_path, capsys):
    svc, docs = lib
    data = str(svc.data_dir)
    svc.close()
    assert main(["--data-dir", data, "judge", "add", "deserts", str(docs / "t3.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grade"] == 1
    assert main(["--data-dir", data, "judge", "add", "deserts", str(docs / "t4.txt"), "--not-relevant"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "judge", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["path"], r["grade"]) for r in rows) == [(str(docs / "t3.txt"), 1), (str(docs / "t4.txt"), 0)]
    assert main(["--data-dir", data, "judge", "remove", "deserts", str(docs / "t4.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": 1}
    assert main(["--data-dir", data, "judge", "add", "x", str(tmp_path / "nope.txt")]) == 2
    assert "not an indexed file" in capsys.readouterr().err


def test_queries_with_undecodable_bytes_are_stored_readably():
    assert normalize_query("lic\udcff\udcfeense  x") == "lic??ense x"
    assert normalize_query(b"caf\xe9") == "caf\ufffd"


def test_evaluation_needs_five_judged_queries(lib):
    svc, docs = lib
    svc.mark("volcanoes", doc_id(svc, docs / "t0.txt"), 1)
    res = evaluate_judgments(svc)
    assert res["enough"] is False and res["n_queries"] == 1 and "at least 5" in res["message"]


def _make_version(svc, tmp_path, trained_on, metrics=None):
    from training.versions import VersionStore

    src = tmp_path / "model-src"
    src.mkdir()
    (src / "modules.json").write_text("[]")
    v = VersionStore(svc.data_dir).create(src, {"alpha": 0.5, "trained_on_queries": trained_on}, metrics or {},
                                          move=True)
    run(svc.embed(svc.encoder_for(v.id)))
    return v.id


def test_evaluation_scores_each_version_only_on_queries_it_did_not_train_on(lib, tmp_path):
    svc, docs = lib
    words = ["volcanoes", "glaciers", "corals", "deserts", "rainforests", "tundras", "oceans"]
    for i, w in enumerate(words):
        svc.mark(w, doc_id(svc, docs / f"t{i}.txt"), 1)
    trained_on = ["Volcanoes", "glaciers"]  # marks the version learnt from (any case)
    vid = _make_version(svc, tmp_path, trained_on)
    res = evaluate_judgments(svc, n_boot=200)
    assert res["enough"] and res["n_queries"] == 7 and res["note"].startswith("Unjudged results")
    for kind in ("dense", "hybrid"):
        col = res["columns"][f"{kind}:{vid}"]
        assert col["held_out"] and col["n_queries"] == 5
        assert res["columns"][f"{kind}:base"]["n_queries"] == 7
        vs = res["versus_base"][f"{kind}:{vid}"]
        assert vs["n"] == 5 and vs["held_out"] and vs["low"] <= vs["delta"] <= vs["high"]
        deep = vs["deep"]  # nDCG@100 on the same held-out queries
        assert deep["metric"] == "ndcg@100" and deep["n"] == 5 and deep["low"] <= deep["delta"] <= deep["high"]
    # the leak this guards against: a figure that includes queries the version trained on
    per_version = res["columns"][f"dense:{vid}"]
    assert per_version["n_queries"] == len(set(words) - {w.casefold() for w in trained_on})
    assert res["columns"]["bm25"]["ndcg@10"] == pytest.approx(1.0)


def test_paired_bootstrap_interval():
    ci = paired_bootstrap([0.5] * 20, [0.6] * 20)
    assert ci["delta"] == pytest.approx(0.1) and ci["low"] == pytest.approx(0.1) and ci["n"] == 20
    ci = paired_bootstrap([0.0, 1.0] * 10, [1.0, 0.0] * 10, n_boot=500)
    assert ci["low"] < 0 < ci["high"]


def test_a_version_trained_on_every_judged_query_is_not_scored_against_the_base(lib, tmp_path):
    svc, docs = lib
    words = ["volcanoes", "glaciers", "corals", "deserts", "rainforests"]
    for i, w in enumerate(words):
        svc.mark(w, doc_id(svc, docs / f"t{i}.txt"), 1)
    vid = _make_version(svc, tmp_path, words)
    res = evaluate_judgments(svc, n_boot=50)
    assert f"dense:{vid}" not in res["versus_base"] and "trained on every judged query" in res["skipped"][vid]


def test_too_few_held_out_queries_give_the_training_check_not_a_figure(lib, tmp_path):
    svc, docs = lib
    words = ["volcanoes", "glaciers", "corals", "deserts", "rainforests", "tundras", "oceans"]
    for i, w in enumerate(words):
        svc.mark(w, doc_id(svc, docs / f"t{i}.txt"), 1)
    selection = {"alpha": 0.5, "metric": "ndcg@10", "queries": "pseudo", "reason": "r",
                 "metrics": {"0": {"ndcg@10": 0.80, "hybrid_ndcg@10": 0.85}, "0.3": {"ndcg@10": 0.82},
                             "0.5": {"ndcg@10": 0.831, "hybrid_ndcg@10": 0.86}}}
    vid = _make_version(svc, tmp_path, words[:5], {"selection": selection})  # 2 held out: fewer than 5
    res = evaluate_judgments(svc, n_boot=50)
    assert res["columns"][f"dense:{vid}"]["n_queries"] == 2
    assert f"dense:{vid}" not in res["versus_base"] and f"hybrid:{vid}" not in res["versus_base"]
    check = res["training_check"][vid]
    assert check["on"] == "pseudo" and check["delta"] == pytest.approx(0.031)
    assert check["hybrid_delta"] == pytest.approx(0.01)
    why = res["skipped"][vid]
    assert "only 2 judged queries it did not train on" in why and "+3.1 nDCG@10 points" in why
    assert "questions made from your files" in why and "hybrid +1.0" in why
    assert res["verdict"][vid]["source"] == "training_check" and res["verdict"][vid]["delta"] == pytest.approx(0.031)


def test_the_verdict_is_the_held_out_figure_only_where_it_can_tell():
    check = {"on": "pseudo", "alpha": 0.5, "metric": "ndcg@10", "delta": 0.008, "hybrid_delta": 0.004}
    spans = {"dense": {"delta": -0.052, "low": -0.161, "high": 0.008, "n": 7, "held_out": True},
             "hybrid": {"delta": -0.006, "low": -0.05, "high": 0.03, "n": 7, "held_out": True}}
    v = verdict(spans, check)  # 7 held-out queries, interval across zero: the training check answers
    assert v["source"] == "training_check" and v["delta"] == pytest.approx(0.008)
    assert v["text"].startswith("7 held-out queries cannot tell") and "+0.8 nDCG@10 points" in v["text"]
    clear = {**spans, "dense": {**spans["dense"], "delta": 0.06, "low": 0.01, "high": 0.12}}
    v = verdict(clear, check)  # the same few queries, all on one side of zero: the held-out figure
    assert v["source"] == "held_out" and v["delta"] == pytest.approx(0.06) and v["hybrid_delta"] == -0.006
    assert v["text"] == "+6.0 nDCG@10 points over the base model on 7 judged queries it did not train on, hybrid -0.6"
    many = {k: {**d, "n": CLEAR_HELD_OUT} for k, d in spans.items()}
    v = verdict(many, check)  # enough held out: their figure, even across zero
    assert v["source"] == "held_out" and v["delta"] == pytest.approx(-0.052)
    assert verdict(spans, None) is None and verdict(None, None) is None


def test_marking_a_file_that_left_the_index_is_a_clear_message(lib):
    from desktop_search.errors import KnownError

    svc, docs = lib
    gone = doc_id(svc, docs / "t0.txt")
    (docs / "t0.txt").unlink()
    run(svc.index())
    with pytest.raises(KnownError, match="no longer in the index"):
        svc.mark("volcanoes", gone, 1)
    with pytest.raises(KnownError, match="empty query"):
        svc.mark("   ", doc_id(svc, docs / "t1.txt"), 1)
