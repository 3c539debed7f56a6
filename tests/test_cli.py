"""The command line with the real model: index, status, search, compare, eval, self-test."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from desktop_search.entry import main

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    from conftest import write_corpus

    root = tmp_path_factory.mktemp("cli")
    docs = write_corpus(root / "docs")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    data = root / "data"
    assert main(["--data-dir", str(data), "index", str(docs), "--json"]) == 0
    return data, docs



def test_status_lists_failed_file_with_reason(indexed, capsys):
    data, _ = indexed
    capsys.readouterr()
    assert main(["--data-dir", str(data), "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["counts"]["indexed"] == 6 and st["counts"]["failed"] == 1
    bad = [p for p in st["problems"] if p["path"].endswith("broken.pdf")]
    assert bad and bad[0]["status"] == "failed" and "PDF" in bad[0]["reason"]
    assert st["size_bytes"]["database"] > 0 and st["size_bytes"]["vectors"] > 0


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid"])
def test_search_json(indexed, capsys, retriever):
    data, _ = indexed
    capsys.readouterr()
    assert main(["--data-dir", str(data), "search", "how do I bake a loaf", "--retriever", retriever, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hits"][0]["name"] == "bread.md"
    assert out["hits"][0]["path"].endswith("bread.md") and "snippet" in out["hits"][0]


def test_compare_json(indexed, capsys):
    data, _ = indexed
    capsys.readouterr()
    assert main(["--data-dir", str(data), "compare", "sorting a list", "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["columns"]) == {"bm25", "dense", "hybrid"}
    assert set(out["pairs"]) == {"bm25|dense", "bm25|hybrid", "dense|hybrid"}
    for v in out["pairs"].values():
        assert 0 <= v["overlap_at_k"] <= 1


def test_unknown_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "d"), "index", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_eval_on_tiny_beir(tmp_path, capsys):
    b = tmp_path / "beir"
    (b / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Bread", "Yeast makes dough rise in a warm kitchen."),
        "d2": ("Stars", "A neutron star is the collapsed core of a giant star."),
        "d3": ("Tyres", "Patch a punctured inner tube with glue."),
    }
    (b / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": k, "title": t, "text": x}) for k, (t, x) in docs.items()))
    (b / "queries.jsonl").write_text("\n".join([json.dumps({"_id": "q1", "text": "why does dough rise"}),
                                                json.dumps({"_id": "q2", "text": "collapsed star core"})]))
    (b / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    assert main(["eval", str(b), "--retriever", "bm25,dense,hybrid", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_queries"] == 2 and res["n_docs"] == 3
    for name in ("bm25", "dense", "hybrid"):
        assert res["metrics"][name]["ndcg@10"] == pytest.approx(1.0)
        assert res["metrics"][name]["mrr@10"] == pytest.approx(1.0)


def test_self_test_passes():
    out = subprocess.run([sys.executable, "-m", "desktop_search", "--self-test"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SELF-TEST PASSED" in out.stdout


def test_core_imports_without_qt():
    code = ("import sys, desktop_search.service, desktop_search.cli, desktop_search.jobs.indexing, desktop_search.jobs.training; "
            "assert 'torch' not in sys.modules, 'torch imported eagerly'; "
            "import training, training.trainer; "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_encoder_process_matches_in_process(real_encoder, model_path):
    import numpy as np

    from desktop_search.retrievers.remote import EncoderProcess

    remote = EncoderProcess(model_path)
    try:
        assert remote.key == real_encoder.key and remote.dim == real_encoder.dim
        texts = ["a star collapses", "sourdough starter"]
        np.testing.assert_allclose(remote.encode(texts), real_encoder.encode(texts), atol=1e-5)
        np.testing.assert_allclose(remote.encode_query("black hole"), real_encoder.encode_query("black hole"), atol=1e-5)
    finally:
        remote.close()


def test_encoder_process_reports_a_bad_model(tmp_path):
    from desktop_search.errors import ModelLoadError
    from desktop_search.retrievers.remote import EncoderProcess

    (tmp_path / "modules.json").write_text("not json")
    with pytest.raises(ModelLoadError, match="Cannot load"):
        EncoderProcess(str(tmp_path)).encode_query("x")
