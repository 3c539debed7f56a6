"""Tests for desktop_search.documents.worker: the child process, its time limit and crash recovery."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fixtures_bad_files
from desktop_search.documents.worker import ExtractorPool, Outcome
from fixtures_bad_files import make_bytes_named_file, make_corrupt_pdf, make_text_pdf

MISBEHAVING = f"{fixtures_bad_files.misbehaving_extract.__module__}:misbehaving_extract"
TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(timeout_s=TIMEOUT_S, _extract_fn=MISBEHAVING) as p:
        yield p


def write(path: Path, text: str = "plain words") -> str:
    path.write_text(text)
    return str(path)


def test_ok_skipped_and_failed_outcomes(tmp_path: Path) -> None:
    # a pool of its own with a generous limit: the first PDF loads PDFium in the child, which on a
    # busy machine took longer than the 1 s the time-limit tests use
    with ExtractorPool(timeout_s=30, _extract_fn=MISBEHAVING) as pool:
        _check_outcomes(pool, tmp_path)


def _check_outcomes(pool: ExtractorPool, tmp_path: Path) -> None:
    ok = pool.extract(write(tmp_path / "a.txt", "hello from the child"))
    assert ok.status == "ok" and ok.reason is None
    assert ok.extracted is not None and ok.extracted.text == "hello from the child"

    empty = pool.extract(write(tmp_path / "empty.txt", ""))
    assert (empty.status, empty.reason, empty.extracted) == ("skipped", "empty", None)

    corrupt = pool.extract(str(make_corrupt_pdf(tmp_path / "bad.pdf")))
    assert corrupt.status == "failed" and corrupt.reason is not None
    assert corrupt.reason.startswith("corrupt PDF: ")

    unsupported = pool.extract(str(tmp_path / "sound.wav"))
    assert (unsupported.status, unsupported.reason) == ("skipped", "unsupported file type (.wav)")

    vanished = pool.extract(str(tmp_path / "never-existed.txt"))
    assert (vanished.status, vanished.reason) == ("failed", "file vanished before it could be read")


def test_non_utf8_file_name_round_trips(pool: ExtractorPool, tmp_path: Path) -> None:
    odd = make_bytes_named_file(tmp_path, b"r\xe9sum\xe9.txt", b"odd name")
    outcome = pool.extract(odd)
    assert outcome.path == odd and outcome.status == "ok"
    assert outcome.extracted is not None and outcome.extracted.text == "odd name"


def test_large_text_passes_back(pool: ExtractorPool, tmp_path: Path) -> None:
    text = "lorem ipsum " * 300_000  # 3.6 MB
    outcome = pool.extract(write(tmp_path / "big.txt", text))
    assert outcome.status == "ok" and outcome.extracted is not None
    assert outcome.extracted.text == text


def test_hanging_parser_is_killed_and_next_file_works(pool: ExtractorPool, tmp_path: Path) -> None:
    assert pool.extract(write(tmp_path / "warm.txt")).status == "ok"  # child is up
    old_pid = pool.child_pid
    assert old_pid is not None
    started = time.monotonic()
    outcome = pool.extract(write(tmp_path / "HANG.txt"))
    elapsed = time.monotonic() - started
    assert outcome == Outcome(str(tmp_path / "HANG.txt"), "failed", "timed out after 1 s", None)
    assert elapsed < TIMEOUT_S + 2
    assert pool.child_pid is None  # killed, restarted lazily

    after = pool.extract(str(make_text_pdf(tmp_path / "after.pdf")))
    assert after.status == "ok" and after.extracted is not None
    assert "Hello" in after.extracted.text
    assert pool.child_pid not in (None, old_pid)


def test_crashing_parser_reported_and_next_file_works(pool: ExtractorPool, tmp_path: Path) -> None:
    outcome = pool.extract(write(tmp_path / "CRASH.txt"))
    assert outcome.status == "failed"
    assert outcome.reason == "parser crashed (exit code 1)"
    after = pool.extract(write(tmp_path / "next.txt", "still fine"))
    assert after.status == "ok" and after.extracted is not None
    assert after.extracted.text == "still fine"


def test_extractor_exception_is_a_failed_outcome(pool: ExtractorPool, tmp_path: Path) -> None:
    outcome = pool.extract(write(tmp_path / "BUG.txt"))
    assert (outcome.status, outcome.reason) == (
        "failed",
        "extractor error: RuntimeError: simulated extractor bug",
    )
    assert pool.extract(write(tmp_path / "fine.txt")).status == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory cap is Linux-only")
def test_out_of_memory_is_a_crash_and_next_file_works(pool: ExtractorPool, tmp_path: Path) -> None:
    outcome = pool.extract(write(tmp_path / "OOM.txt"))
    assert outcome.status == "failed" and outcome.reason.startswith("parser crashed (out of memory)")
    assert "extract_memory_mb" in outcome.reason  # names the setting that allows more
    assert pool.extract(write(tmp_path / "fine.txt")).status == "ok"


def test_close_from_another_thread_abandons_a_stuck_file(tmp_path: Path) -> None:
    p = ExtractorPool(timeout_s=30, _extract_fn=MISBEHAVING)
    assert p.extract(write(tmp_path / "warm.txt")).status == "ok"
    results: list[Outcome] = []
    worker = threading.Thread(target=lambda: results.append(p.extract(write(tmp_path / "HANG.txt"))))
    worker.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "HANG.txt.started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    p.close()
    worker.join(5)
    assert time.monotonic() - started < 3
    assert [(r.status, r.reason) for r in results] == [("failed", "extraction cancelled")]
    assert p.child_pid is None


def test_child_that_cannot_start_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Present in this process only: the spawned child cannot import it.
    monkeypatch.setattr(
        fixtures_bad_files, "parent_only", fixtures_bad_files.misbehaving_extract, raising=False
    )
    spec = f"{fixtures_bad_files.__name__}:parent_only"
    with ExtractorPool(_extract_fn=spec) as p:
        outcomes = [p.extract(write(tmp_path / f"{i}.md", "# x")) for i in range(5)]
        module = fixtures_bad_files.__name__
        reason = f"extractor unavailable: AttributeError: module '{module}' has no attribute 'parent_only'"
        assert {(o.status, o.reason) for o in outcomes} == {("failed", reason)}
        assert p._start_failures == 3


def test_in_process_kinds_skip_the_child(tmp_path: Path) -> None:
    with ExtractorPool(in_process_kinds=frozenset({"text"}), _extract_fn=MISBEHAVING) as p:
        outcome = p.extract(write(tmp_path / "quick.txt", "fast path"))
        assert outcome.status == "ok" and outcome.extracted is not None
        assert outcome.extracted.text == "fast path"
        assert p.child_pid is None


def test_close_is_idempotent_and_stops_the_child(tmp_path: Path) -> None:
    p = ExtractorPool()
    assert p.extract(write(tmp_path / "a.md", "# T\nbody")).status == "ok"
    assert p.child_pid is not None
    p.close()
    assert p.child_pid is None
    p.close()
    with pytest.raises(RuntimeError):
        p.extract(write(tmp_path / "b.md", "# T\nbody"))


def test_bad_extractor_spec_rejected_early() -> None:
    with pytest.raises(ValueError):
        ExtractorPool(_extract_fn="no_colon_here")


def test_extract_many_reads_ahead_and_keeps_order_through_a_hang(tmp_path: Path) -> None:
    paths = [write(tmp_path / "a.txt", "first"), write(tmp_path / "b.txt", "second"),
             write(tmp_path / "HANG.txt"), write(tmp_path / "c.txt", "after the hang")]
    with ExtractorPool(timeout_s=TIMEOUT_S, _extract_fn=MISBEHAVING) as pool:
        outcomes = pool.extract_many(paths, ahead=4)
        first = next(outcomes)
        assert (first.path, first.status, first.extracted.text) == (paths[0], "ok", "first")
        # the child went on to b and then to the hanging file before anyone asked for them
        deadline = time.monotonic() + 30
        while not (tmp_path / "HANG.txt.started").exists():
            assert time.monotonic() < deadline, "the child did not read ahead"
            time.sleep(0.02)
        rest = list(outcomes)
    assert [o.path for o in rest] == paths[1:]
    assert rest[0].extracted.text == "second"
    assert (rest[1].status, rest[1].reason) == ("failed", "timed out after 1 s")
    assert rest[2].status == "ok" and rest[2].extracted.text == "after the hang"  # re-sent to a new child


def test_extract_many_gives_what_extract_gives(tmp_path: Path) -> None:
    names = ["one.txt", "CRASH.txt", "two.txt", "BUG.txt", "never-existed.txt", "sound.wav", "CRASH2.txt",
             "three.txt"]
    paths = []
    for n in names:
        if n != "never-existed.txt":
            (tmp_path / n).write_bytes(b"RIFF....WAVE" if n.endswith(".wav") else n.encode())
        paths.append(str(tmp_path / n))
    with ExtractorPool(timeout_s=30, _extract_fn=MISBEHAVING) as pool:
        one_by_one = [pool.extract(p) for p in paths]
        for ahead in (1, 3, 16):
            assert list(pool.extract_many(paths, ahead=ahead)) == one_by_one
    assert [o.status for o in one_by_one] == ["ok", "failed", "ok", "failed", "failed", "skipped", "failed", "ok"]


def test_prestarted_child_is_the_one_that_reads(tmp_path: Path) -> None:
    with ExtractorPool() as p:
        p.prestart()
        started = p.child_pid
        assert started is not None  # launched before any file was asked for
        p.prestart()  # a second call keeps the child it has
        assert p.child_pid == started
        outcome = p.extract(write(tmp_path / "a.md", "# Title\nbody words"))
        assert outcome.status == "ok" and "body words" in outcome.extracted.text
        assert p.child_pid == started
        assert [o.status for o in p.extract_many([write(tmp_path / "b.md"), write(tmp_path / "c.md")])] == ["ok"] * 2


def test_prestart_after_close_starts_nothing() -> None:
    p = ExtractorPool()
    p.close()
    p.prestart()
    assert p.child_pid is None


def test_prestarted_child_that_cannot_start_fails_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        fixtures_bad_files, "parent_only", fixtures_bad_files.misbehaving_extract, raising=False
    )
    with ExtractorPool(_extract_fn=f"{fixtures_bad_files.__name__}:parent_only") as p:
        p.prestart()
        outcome = p.extract(write(tmp_path / "a.md", "# x"))
        assert outcome.status == "failed" and outcome.reason.startswith("extractor unavailable")
        assert p._start_failures >= 1


# -- passages cut in the child (ExtractorPool(prepare=...)) ---------------------------------------

PASSAGE_TEXTS = {
    "plain.txt": "Plain ASCII words, numbers 3.14 and punctuation; " * 40,
    "accents.md": "Café au lait — “curly quotes”, naïve résumé and 東京 CJK text. " * 25,
    "code.py": "def f(x):\n    return x ** 2  # square\n\n" * 30,
    "short.rst": "One line.",
}


def _write_passage_texts(tmp_path: Path) -> list[str]:
    return [write(tmp_path / name, text) for name, text in PASSAGE_TEXTS.items()]


def test_passages_cut_in_the_child_are_the_ones_cut_here(tmp_path: Path, model_path: str) -> None:
    from desktop_search.passages import PassageSpec, cut

    spec = PassageSpec(model_path, 64, 8)
    paths = _write_passage_texts(tmp_path)
    with ExtractorPool(prepare=spec) as pool:
        outcomes = [pool.extract(p) for p in paths]  # one at a time: nothing else waits, the child cuts
    tokenize = spec.tokenize()
    for o in outcomes:
        assert o.status == "ok" and o.passages is not None, o.path
        here = cut(o.extracted.text, tokenize, 64, 8)
        assert o.passages == here, o.path
        assert len(here[0]) >= 1 and all(here[1])
    assert len(outcomes[0].passages[0]) > 1  # a text of several passages


def test_without_prepare_the_child_cuts_nothing(tmp_path: Path) -> None:
    with ExtractorPool() as pool:
        outcomes = list(pool.extract_many(_write_passage_texts(tmp_path)))
    assert [o.status for o in outcomes] == ["ok"] * len(PASSAGE_TEXTS)
    assert all(o.passages is None for o in outcomes)


def test_the_child_cuts_when_it_would_wait_and_leaves_it_when_files_wait(tmp_path: Path) -> None:
    """A caller slower than the child (so no file waits in the child) gets its texts cut; a child
    slower than the caller (files wait for it) leaves the cutting to the caller, so a slow reader
    (PDFs) is not held up more."""
    from desktop_search.passages import PassageSpec

    spec = PassageSpec(None, 64, 8)
    fast = [write(tmp_path / f"fast{i}.txt", f"quick text number {i}") for i in range(30)]
    with ExtractorPool(prepare=spec, _extract_fn=MISBEHAVING) as pool:
        cut_there = []
        for o in pool.extract_many(fast, ahead=4):
            time.sleep(0.03)  # the caller's own work on each file
            cut_there.append(o.passages is not None)
    assert sum(cut_there[10:]) >= 18  # after the first files read ahead, nearly all
    slow = [write(tmp_path / f"SLOW{i}.txt", f"slow text number {i}") for i in range(30)]
    with ExtractorPool(prepare=spec, _extract_fn=MISBEHAVING) as pool:
        outcomes = list(pool.extract_many(slow, ahead=8))
    assert [o.extracted.text for o in outcomes] == [f"slow text number {i}" for i in range(30)]
    assert sum(o.passages is not None for o in outcomes[:20]) <= 2  # the queue drains only at the end


def test_extract_many_reads_ahead_within_a_byte_budget(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"f{i}.txt", "x" * 1000) for i in range(6)]
    with ExtractorPool() as pool:
        sent = []
        orig = pool._send

        def spy(path, may_start):
            sent.append(path)
            return orig(path, may_start)

        pool._send = spy
        outcomes = pool.extract_many(paths, ahead=16, ahead_bytes=2500)
        next(outcomes)
        assert len(sent) == 3  # 3,000 bytes queued reach the budget: no fourth before the first is taken
        assert [o.status for o in outcomes] == ["ok"] * 5
