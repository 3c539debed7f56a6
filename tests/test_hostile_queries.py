"""Text from outside: undecodable bytes, blank queries, bad -k, and what the terminal prints.

The command line runs in-process on a fake encoder (`_service` patched), so no model loads."""

from __future__ import annotations

import json

import pytest

from conftest import run
from desktop_search import cli
from desktop_search.entry import main
from desktop_search.textsafe import clean_text, is_blank, terminal_safe

RETRIEVERS = ("bm25", "dense", "hybrid")
ESCAPED_BYTES = "lic\udcff\udcfeense"  # what Python makes of argv `lic\xff\xfeense`


@pytest.fixture
def cli_on(tmp_path, fake_encoder, monkeypatch):
    """main([...]) on one store with the fake encoder; returns (run_cli, data_dir)."""
    from desktop_search.service import SearchService

    data = tmp_path / "data"
    monkeypatch.setattr(cli, "_service", lambda args, **kw: SearchService(data, encoder=fake_encoder, **kw))

    def run_cli(*argv: str) -> int:
        return main(["--data-dir", str(data), *argv])

    return run_cli, data


def test_clean_text_replaces_each_undecodable_byte():
    assert clean_text(ESCAPED_BYTES) == "lic\ufffd\ufffdense"
    assert clean_text("caf\udcc3\udca9") == "café"  # a valid UTF-8 sequence split by the escaping
    assert clean_text("x\ud800y") == "x\ufffdy"  # a lone surrogate from JSON
    assert clean_text("plain ✓") == "plain ✓"


def test_is_blank():
    for q in ("", "   ", "\t\n", "\u200b\u202e", None):
        assert is_blank(q), repr(q)
    for q in ("a", " x ", "日本"):
        assert not is_blank(q)


def test_terminal_safe_escapes_controls_newlines_and_bidi():
    assert terminal_safe("/tmp/ok name.txt") == "/tmp/ok name.txt"
    assert terminal_safe("C:\\Users\\a.txt") == "C:\\Users\\a.txt"  # nothing to escape: as it is
    out = terminal_safe("a\u202etxt.exe\x1b[31mred\nline\r\t\x07\udce9\u2028\\")
    assert out == "a\\u202etxt.exe\\x1b[31mred\\nline\\r\\t\\x07\\xe9\\u2028\\\\"
    assert out.isprintable()


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_undecodable_query_bytes_are_searched_as_replacement_chars(service, corpus, retriever):
    run(service.index([corpus]))
    hits = service.search("bread " + ESCAPED_BYTES, retriever, k=3)
    assert hits and hits[0].name == "bread.md"
    assert all("\udcff" not in h.snippet for h in hits)
    cols = service.compare(ESCAPED_BYTES, RETRIEVERS, 3)
    assert set(cols["columns"]) == set(RETRIEVERS)


def test_marks_take_undecodable_queries(service, corpus):
    run(service.index([corpus]))
    doc = next(d for d in service.files() if d.name == "bread.md")
    service.mark(ESCAPED_BYTES, doc.id, 1, retriever="bm25", passage="x\udcffy")
    assert service.marks_for(ESCAPED_BYTES) == {doc.id: 1}
    assert service.marks_for("lic\ufffd\ufffdense") == {doc.id: 1}
    assert service.unmark(ESCAPED_BYTES) == 1


def test_judgments_import_replaces_lone_surrogates(service, corpus, tmp_path):
    from desktop_search import judgments

    run(service.index([corpus]))
    b = tmp_path / "beir"
    (b / "qrels").mkdir(parents=True)
    (b / "queries.jsonl").write_text('{"_id": "q1", "text": "bake \\ud800 bread"}\n')
    (b / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\tbread\t1\nq1\tgarden\xff\t1\n")
    out = judgments.import_beir(service.store, b)
    assert out["imported"] == 1 and out["unmatched_files"] == 1
    assert [j.query for j in service.store.judgments()] == ["bake \ufffd bread"]


@pytest.mark.parametrize("retriever", RETRIEVERS)
@pytest.mark.parametrize("query", ["", "   ", "\t \n", "\u200b"])
def test_blank_query_finds_nothing(service, corpus, retriever, query):
    run(service.index([corpus]))
    assert service.search(query, retriever, k=5) == []
    assert all(r.rank(query, 5) == [] for r in (service.retrievers.get(retriever),))


def test_cli_undecodable_query_and_blank_query(cli_on, corpus, capsys):
    run_cli, _ = cli_on
    assert run_cli("index", str(corpus), "--json") == 0
    for r in RETRIEVERS:
        capsys.readouterr()
        assert run_cli("search", "bread " + ESCAPED_BYTES, "--retriever", r, "--json") == 0
        out = json.loads(capsys.readouterr().out)
        assert out["query"] == "bread lic\ufffd\ufffdense" and out["hits"][0]["name"] == "bread.md"
        assert run_cli("search", "  ", "--retriever", r) == 2
        assert "query is empty" in capsys.readouterr().err
    assert run_cli("compare", " ", "--json") == 2
    assert "query is empty" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.parametrize("k", ["-5", "0", "1001", "ten"])
def test_cli_k_out_of_range_is_an_argparse_error(cli_on, k, capsys):
    run_cli, _ = cli_on
    for command in ("search", "compare"):
        with pytest.raises(SystemExit) as e:
            run_cli(command, "bread", "-k", k)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "argument -k" in err and ("1 to 1,000" in err or "whole number" in err)


def test_cli_k_bounds_accepted(cli_on, corpus, capsys):
    run_cli, _ = cli_on
    assert run_cli("index", str(corpus), "--json") == 0
    for k in ("1", "1000"):
        capsys.readouterr()
        assert run_cli("search", "bread", "-k", k, "--json") == 0
        assert 1 <= len(json.loads(capsys.readouterr().out)["hits"]) <= int(k)


def test_dense_search_with_nothing_embedded_says_why(cli_on, corpus, capsys):
    run_cli, _ = cli_on
    assert run_cli("index", str(corpus), "--no-embed", "--json") == 0
    capsys.readouterr()
    assert run_cli("search", "bread", "--retriever", "dense") == 0
    out = capsys.readouterr().out
    assert "No results." in out
    assert "0 of 6 passages are embedded" in out and "desktop-search index" in out
    assert run_cli("search", "bread", "--retriever", "hybrid", "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["hits"] and "BM25 only" in res["note"]
    assert run_cli("index", "--json") == 0  # embeds them
    capsys.readouterr()
    assert run_cli("search", "bread", "--retriever", "dense", "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["hits"] and "note" not in res


def test_cli_text_output_escapes_file_names_and_snippets(cli_on, tmp_path, capsys):
    run_cli, _ = cli_on
    docs = tmp_path / "docs"
    docs.mkdir()
    evil = "invoice\u202efdp.exe\x1b[2J\nnext.txt"
    (docs / evil).write_text("zebra \u202e reversed \x1b[31m red text", encoding="utf-8")
    assert run_cli("index", str(docs)) == 0
    capsys.readouterr()
    assert run_cli("search", "zebra", "--retriever", "bm25") == 0
    out = capsys.readouterr().out
    assert "invoice\\u202efdp.exe\\x1b[2J\\nnext.txt" in out and "\\u202e reversed" in out
    assert "\u202e" not in out and "\x1b" not in out and out.count("\n") == 2  # two lines: path, snippet
    assert run_cli("compare", "zebra", "-k", "1") == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x1b" not in out
    assert run_cli("status") == 0
    assert "\u202e" not in capsys.readouterr().out
    assert run_cli("search", "zebra", "--retriever", "bm25", "--json") == 0  # JSON keeps the real name
    assert json.loads(capsys.readouterr().out)["hits"][0]["name"] == evil


def test_cli_judge_with_undecodable_query_and_a_non_utf8_file_name(cli_on, tmp_path, capsys):
    from fixtures_bad_files import make_bytes_named_file

    run_cli, _ = cli_on
    docs = tmp_path / "docs"
    docs.mkdir()
    path = make_bytes_named_file(docs, b"caf\xe9.txt", b"espresso and cake")
    assert run_cli("index", str(docs), "--json") == 0
    capsys.readouterr()
    assert run_cli("judge", "add", ESCAPED_BYTES, path, "--json") == 0  # the file found by its bytes
    out = json.loads(capsys.readouterr().out)
    assert out["query"] == "lic\ufffd\ufffdense" and out["grade"] == 1
    assert run_cli("judge", "list") == 0
    listed = capsys.readouterr().out
    assert "lic\ufffd\ufffdense" in listed and "caf\ufffd.txt" in listed


def test_cli_error_naming_a_hostile_path_is_escaped(cli_on, tmp_path, capsys):
    run_cli, _ = cli_on
    evil = tmp_path / "gone\u202etxt.exe\x1b[2J"
    assert run_cli("index", str(evil)) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "\\u202e" in err and "\x1b" not in err and "\u202e" not in err


def test_filters_with_undecodable_bytes_are_no_traceback(service, tmp_path):
    import os

    from desktop_search.retrievers.base import Filters

    folder = tmp_path / "docs"
    sub = os.fsdecode(os.path.join(os.fsencode(folder), b"d\xff"))  # a non-UTF-8 folder, as argv gives it
    os.makedirs(sub)
    with open(os.path.join(sub, "x.txt"), "w") as f:
        f.write("pangolin scales")
    run(service.index([folder]))
    for r in RETRIEVERS:
        assert [h.name for h in service.search("pangolin", r, 5, Filters(folder=sub))] == ["x.txt"]
        assert service.search("pangolin", r, 5, Filters(exts=("\udcff",))) == []
