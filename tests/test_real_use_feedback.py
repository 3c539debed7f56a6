"""Issue 15, items 2-4, 13 and 14 outside the window: who holds the store, how much is embedded, the
counts beside a result list, `search --help`, and CLI progress without a terminal."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import run
from desktop_search import cli
from desktop_search.activity import describe_progress, lock_holder, store_progress
from desktop_search.entry import main
from desktop_search.jobs import Progress, run_job
from desktop_search.search_info import Coverage, dense_coverage, matching_files
from desktop_search.util import ProcessLock


@pytest.fixture
def indexed(service, corpus):
    run(service.index([corpus]))
    return service


def _drop_half(data_dir) -> tuple[int, int]:
    with sqlite3.connect(str(data_dir / "library.sqlite3")) as db:
        db.execute("DELETE FROM vectors WHERE chunk_id % 2 = 0")
        return (db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


# -- item 4: coverage -----------------------------------------------------------------------------------
def test_coverage_line_reads_like_the_issue():
    assert Coverage(2816, 14851).line() == "Dense: 2,816 of 14,851 passages embedded (18 %)"
    assert Coverage(14850, 14851).line().endswith("(99 %)")  # never "100 %" while one is missing
    assert Coverage(14851, 14851).line() == "" and Coverage(0, 0).complete


def test_dense_coverage_of_a_half_built_index(indexed):
    cov = dense_coverage(indexed, "hybrid")
    assert cov.complete and cov.passages == indexed.store.counts()["chunks"]
    assert dense_coverage(indexed, "bm25") is None
    embedded, passages = _drop_half(indexed.data_dir)
    cov = dense_coverage(indexed, "dense")
    assert (cov.embedded, cov.passages) == (embedded, passages) and not cov.complete


def test_cli_status_and_search_say_how_much_is_embedded(indexed, monkeypatch, capsys, fake_encoder):
    from desktop_search.service import SearchService

    embedded, passages = _drop_half(indexed.data_dir)
    data = indexed.data_dir
    indexed.close()
    monkeypatch.setattr(cli, "_service", lambda args, **kw: SearchService(data, encoder=fake_encoder))
    line = f"Dense: {embedded:,} of {passages:,} passages embedded ({100 * embedded // passages} %)"
    capsys.readouterr()
    assert main(["status"]) == 0
    assert line in capsys.readouterr().out
    assert main(["search", "bread oven", "--retriever", "dense"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == line  # before the results it qualifies
    assert main(["search", "bread oven", "--retriever", "hybrid", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dense_coverage"] == {"embedded": embedded, "passages": passages, "complete": False}
    assert main(["search", "bread oven", "--retriever", "bm25"]) == 0
    assert "passages embedded" not in capsys.readouterr().out


# -- item 13: counts and --help ------------------------------------------------------------------------------
def test_matching_files_counts_beyond_k(indexed):
    q = "quicksort sorting proteins tomatoes"
    assert matching_files(indexed, q) == len(indexed.search(q, "bm25", 100)) >= 3
    assert matching_files(indexed, '"sorts lists"') == 1  # a phrase counts the files that have it
    assert matching_files(indexed, "sort -quicksort") == len(indexed.search("sort -quicksort", "bm25", 100)) == 1
    assert matching_files(indexed, "zzzz") == 0


def test_search_help_describes_every_option():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")  # noqa: SLF001
    for name in ("search", "compare"):
        sp = sub.choices[name]
        undescribed = [a.dest for a in sp._actions if not a.help]  # noqa: SLF001
        assert undescribed == [], (name, undescribed)
    text = " ".join(sub.choices["search"].format_help().split())
    for needle in ("bm25: files with the words", "dense: files close in meaning", "rrf", '"an exact phrase"'):
        assert needle in text, needle


# -- items 2 and 3: who holds the store ---------------------------------------------------------------------
HOLD = ("import sys\nfrom pathlib import Path\nfrom desktop_search.util import ProcessLock\n"
        "lock = ProcessLock(Path(sys.argv[1]) / 'indexing.lock', 'embedding')\nlock.acquire()\n"
        "print('held', flush=True)\nsys.stdin.read()\n")


def test_lock_holder_follows_the_lock_and_ignores_a_dead_holder(tmp_path):
    assert lock_holder(tmp_path) is None
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        h = lock_holder(tmp_path)
        assert h is not None and h.pid == p.pid and h.what == "embedding" and h.command.startswith("-c ")
        assert lock_holder(tmp_path, exclude_pid=p.pid) is None  # the window's own child is not "another"
    finally:
        p.kill()  # kill -9: the note stays behind, the lock dies with the process
        p.wait(10)
    assert ProcessLock(tmp_path / "indexing.lock").holder()["pid"] == p.pid
    assert lock_holder(tmp_path) is None


def test_cli_status_names_the_process_indexing_now(indexed, monkeypatch, capsys, fake_encoder):
    from desktop_search.service import SearchService

    data = indexed.data_dir
    indexed.close()
    monkeypatch.setattr(cli, "_service", lambda args, **kw: SearchService(data, encoder=fake_encoder))
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert main(["status"]) == 0
        out = capsys.readouterr().out
        assert f"Another desktop-search process (pid {p.pid}) is embedding this library now: -c {data}" in out
        assert main(["status", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["busy"]["pid"] == p.pid
    finally:
        p.stdin.close()
        p.wait(10)
    assert main(["status"]) == 0
    assert "Another desktop-search process" not in capsys.readouterr().out


def test_describe_progress_says_which_process_what_and_how_far(indexed):
    from desktop_search.activity import LockHolder

    h = LockHolder(4242, "indexing", "desktop-search index ~/docs", time.time() - 75)
    prog = store_progress(indexed.store)
    n = indexed.store.counts()["chunks"]
    assert prog["passages"] == n and prog["embedded"] == n and prog["files"] == 6
    lines = describe_progress(h, prog)
    assert lines[:2] == ["Process: pid 4242", "Command: desktop-search index ~/docs"]
    assert lines[2].startswith("Doing: indexing, for 1 min 1")
    assert f"Passages embedded: {n:,} of {n:,} (100 %)" in lines
    assert h.describe() == "Another desktop-search process (pid 4242) is indexing this library"


# -- item 14: progress without a terminal ------------------------------------------------------------------------
def _job():
    yield Progress("scan", 0, 0, "a")
    yield Progress("scan", 3, 0, "c")
    for i in range(1, 4):
        yield Progress("extract", i, 3, f"f{i}")
    for i in (10, 20):
        yield Progress("embed", i, 20)
    yield Progress("done", 3, 3, message="Indexed 3 files")


def test_progress_without_a_terminal_is_one_line_per_stage(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # not a terminal
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    last = run_job(_job())
    err = sys.stderr.getvalue()
    assert last.phase == "done" and sys.stdout.getvalue() == ""
    lines = err.splitlines()
    assert len(lines) == 3 and all(ln.strip() for ln in lines), err  # no blank lines, one per stage
    assert lines[0].startswith("Looking for new and changed files: 3 files in ")
    assert lines[1].startswith("Reading files: 3 of 3 files in ")
    assert lines[2].startswith("Embedding passages: 20 of 20 passages in ")
    assert "\r" not in err


def test_json_lines_and_no_bar_print_no_stage_lines(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    run_job(_job(), bar=False)
    assert sys.stderr.getvalue() == ""
    run_job(_job(), json_lines=True)
    assert sys.stderr.getvalue() == "" and sys.stdout.getvalue().count("\n") == 8


def test_cli_index_into_a_pipe_prints_stages(tmp_path, corpus, monkeypatch, capsys, fake_encoder):
    from desktop_search.service import SearchService

    monkeypatch.setattr(cli, "_service", lambda args, **kw: SearchService(tmp_path / "store", encoder=fake_encoder))
    assert main(["index", str(corpus)]) == 0
    cap = capsys.readouterr()
    assert "Indexed 6 files" in cap.out
    stages = cap.err.splitlines()
    assert [s.split(":")[0] for s in stages] == ["Looking for new and changed files", "Reading files",
                                                 "Embedding passages"], cap.err
