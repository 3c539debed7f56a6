"""A folder full of bad files beside good ones: each bad file gets a clear status, every good file is found."""

from __future__ import annotations

import os

import pytest

from conftest import before_each_extraction, run
from desktop_search.service import SearchService
from fixtures_bad_files import (
    make_binary_file,
    make_blank_pdf,
    make_bytes_named_file,
    make_corrupt_pdf,
    make_docx,
    make_encrypted_pdf,
    make_sparse_file,
    make_text_pdf,
)

GOOD = {
    "good-plain.txt": "aardvark burrows at night",
    "good-notes.md": "# Notes\n\nbadger setts are underground",
    "sub/good-code.py": "def capybara():\n    return 'largest rodent'\n",
}


def _build(root):
    for rel, text in GOOD.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "empty.txt").write_text("")
    make_binary_file(root / "binary.txt")
    make_corrupt_pdf(root / "corrupt.pdf")
    make_encrypted_pdf(root / "encrypted.pdf", user_password="secret")
    make_blank_pdf(root / "scanned.pdf")
    make_text_pdf(root / "good-paper.pdf", ["dromedary caravans cross deserts"])
    make_docx(root / "good-report.docx")
    (root / "notazip.docx").write_bytes(b"this is not a zip archive")
    make_sparse_file(root / "huge.txt", 200 * 1024 * 1024)
    (root / "latin1.txt").write_bytes("Le garçon mangea une crème brûlée à l'hôtel élégant".encode("latin-1"))
    (root / "utf16.txt").write_text("echidna spines and platypus venom", encoding="utf-16")
    (root / "sjis.txt").write_bytes(("東京の天気は晴れです。" * 20).encode("shift_jis"))
    make_bytes_named_file(root, b"caf\xe9-menu.txt", b"espresso macchiato cortado")
    (root / ("n" * 240 + ".txt")).write_text("longname flamingo")
    loop = root / "loop"
    loop.mkdir()
    os.symlink(root, loop / "back")  # a symlink loop
    return root


@pytest.mark.parametrize("follow", [False, True])
def test_bad_files_get_status_good_files_are_found(tmp_path, fake_encoder, follow):
    from desktop_search.config import IndexSettings

    root = _build(tmp_path / "docs")
    settings = IndexSettings(follow_symlinks=follow, max_file_bytes=50_000_000)
    with SearchService(tmp_path / "store", encoder=fake_encoder, settings=settings) as svc:
        last = run(svc.index([root]))
        assert last.phase == "done"
        by_name = {d.name: d for d in svc.files()}
        expect = {
            "empty.txt": ("skipped", "empty"),
            "binary.txt": ("skipped", "binary"),
            "corrupt.pdf": ("failed", "PDF"),
            "encrypted.pdf": ("failed", "encrypted"),
            "scanned.pdf": ("skipped", "no text layer"),
            "notazip.docx": ("failed", "DOCX"),
            "huge.txt": ("skipped", "too large"),
        }
        for name, (status, words) in expect.items():
            d = by_name[name]
            assert d.status == status, (name, d.status, d.reason)
            assert words.lower() in (d.reason or "").lower(), (name, d.reason)
        for q, name in [("aardvark", "good-plain.txt"), ("badger", "good-notes.md"), ("capybara", "good-code.py"),
                        ("dromedary", "good-paper.pdf"), ("crème brûlée", "latin1.txt"), ("platypus", "utf16.txt"),
                        ("東京の天気", "sjis.txt"), ("macchiato", "caf\ufffd-menu.txt"), ("flamingo", "n" * 240 + ".txt")]:
            for r in ("bm25", "hybrid"):
                hits = svc.search(q, r, k=3)
                assert hits and hits[0].name == name, (q, r, [h.name for h in hits])
        assert svc.search("report", "bm25") or by_name["good-report.docx"].status == "indexed"
        # nothing indexed twice through the loop
        paths = [d.path for d in svc.files()]
        assert len(paths) == len(set(paths))
        # a second run reads nothing again, failed files included
        assert run(svc.index()).stats["to_read"] == 0
        # retry failed re-reads only the failed ones
        again = run(svc.index(retry_failed=True))
        assert again.stats["to_read"] == sum(1 for d in svc.files() if d.status == "failed")


def test_folder_vanishing_during_indexing(tmp_path, fake_encoder, monkeypatch):
    import shutil

    root = tmp_path / "docs"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    for i in range(5):
        (root / "a" / f"a{i}.txt").write_text(f"alpha file {i}")
        (root / "b" / f"b{i}.txt").write_text(f"beta file {i}")
    def vanish(path):
        if os.path.isdir(root / "b"):
            shutil.rmtree(root / "b")  # the folder disappears after the listing

    with monkeypatch.context() as m, SearchService(tmp_path / "store", encoder=fake_encoder) as svc:
        before_each_extraction(m, vanish)
        last = run(svc.index([root]))
        assert last.phase == "done"
        st = {d.name: d for d in svc.files()}
        assert all(st[f"a{i}.txt"].status == "indexed" for i in range(5))
        assert all(st[f"b{i}.txt"].status == "failed" and "vanish" in st[f"b{i}.txt"].reason for i in range(5))
        assert svc.search("alpha", "bm25", k=10)
        m.undo()
        run(svc.index())  # the next run forgets the vanished files
        assert not any(d.name.startswith("b") for d in svc.files())


def test_text_past_max_chars_is_reported(tmp_path, fake_encoder, capsys, monkeypatch):
    from desktop_search import cli
    from desktop_search.config import IndexSettings
    from desktop_search.entry import main
    from fixtures_bad_files import make_text_pdf

    root = tmp_path / "docs"
    root.mkdir()
    (root / "long.txt").write_text("wombat " * 400 + "quokka at the very end")
    (root / "short.txt").write_text("wombat in a short file")
    make_text_pdf(root / "pages.pdf", ["numbat page %d " % i + "x" * 300 for i in range(10)])
    settings = IndexSettings(max_chars=1000)
    with SearchService(tmp_path / "store", encoder=fake_encoder, settings=settings) as svc:
        run(svc.index([root]))
        docs = {d.name: d for d in svc.files()}
        for name in ("long.txt", "pages.pdf"):
            assert docs[name].status == "indexed"
            assert "first 1,000 characters" in docs[name].reason
        assert docs["short.txt"].reason is None
        assert svc.search("wombat", "bm25") and not svc.search("quokka", "bm25")
        partial = {os.path.basename(p["path"]): p["reason"] for p in svc.status()["partial"]}
        assert set(partial) == {"long.txt", "pages.pdf"}
    monkeypatch.setattr(cli, "_service",
                        lambda args, **kw: SearchService(tmp_path / "store", encoder=fake_encoder, settings=settings))
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Indexed in part:" in out and "indexed (first 1,000 characters" in out and "long.txt" in out


def test_folder_removed_during_indexing_is_reported_not_indexed(tmp_path, fake_encoder, monkeypatch, capsys):
    from desktop_search import cli
    from desktop_search.entry import main

    root_a, root_b = tmp_path / "a", tmp_path / "b"
    for root, word in ((root_a, "alpha"), (root_b, "beta")):
        root.mkdir()
        for i in range(30):
            (root / f"{word}{i}.txt").write_text(f"{word} file {i}")
    store = tmp_path / "store"
    with SearchService(store, encoder=fake_encoder) as svc:
        svc.add_folders([root_a, root_b])
    removed = []

    def remove(path):
        if "beta" in os.path.basename(path) and not removed:
            with SearchService(store, encoder=fake_encoder) as other:  # `remove` in another process
                removed.append(other.remove_folder(str(root_b)))

    before_each_extraction(monkeypatch, remove)
    monkeypatch.setattr(cli, "_service", lambda args, **kw: SearchService(store, encoder=fake_encoder))
    capsys.readouterr()
    assert main(["index"]) == 0
    out = capsys.readouterr().out
    assert removed == [0]
    assert "Indexed 30 files" in out
    assert f"{root_b} was removed from the library while indexing ran" in out
    with SearchService(store, encoder=fake_encoder) as svc:
        assert {d.name for d in svc.files()} == {f"alpha{i}.txt" for i in range(30)}
        assert [f["path"] for f in svc.status()["folders"]] == [str(root_a)]
        assert not svc.search("beta", "bm25")
        last = run(svc.index())
        assert last.stats["indexed"] == 30 and "folders_removed" not in last.stats


def test_hostile_files_get_a_status_under_a_small_memory_cap(tmp_path, fake_encoder):
    """Small versions of the bad-input benchmark's files (benchmarks/bad_input_memory.py), indexed
    with a 768 MB cap on the worker: each gets a clear status and the good file is still found."""
    from desktop_search.config import IndexSettings
    from fixtures_bad_files import (make_cyclic_pdf, make_many_pages_pdf, make_nested_html, make_single_line_text,
                                    make_zip_bomb_docx)

    root = tmp_path / "docs"
    root.mkdir()
    make_zip_bomb_docx(root / "bomb.docx", inflated_bytes=64 * 1024**2)  # > max_file_bytes when inflated
    make_zip_bomb_docx(root / "ratio.docx", inflated_bytes=8 * 1024**2)  # within it, but 300:1
    make_nested_html(root / "nested.html", size_bytes=3 * 1024**2)
    make_many_pages_pdf(root / "pages.pdf", n_pages=3000)
    make_cyclic_pdf(root / "cyclic.pdf")
    make_single_line_text(root / "line.txt", size_bytes=2 * 1024**2)
    (root / "good.txt").write_text("okapi in the forest")
    settings = IndexSettings(max_file_bytes=20 * 1024**2, max_chars=200_000, extract_memory_mb=768)
    with SearchService(tmp_path / "store", encoder=fake_encoder, settings=settings) as svc:
        last = run(svc.index([root]))
        assert last.phase == "done"
        d = {x.name: x for x in svc.files()}
        assert (d["bomb.docx"].status, d["ratio.docx"].status) == ("skipped", "skipped")
        assert "too large when unpacked" in d["bomb.docx"].reason
        assert "compression ratio" in d["ratio.docx"].reason
        for name in ("nested.html", "line.txt"):
            assert d[name].status == "indexed" and "first 200,000 characters" in d[name].reason, d[name]
        assert d["pages.pdf"].status == "indexed"
        assert d["cyclic.pdf"].status in ("failed", "skipped") and d["cyclic.pdf"].reason
        assert svc.search("okapi", "bm25")[0].name == "good.txt"


def test_html_reading_stops_at_max_chars():
    from desktop_search.documents.html import FEED_CHARS, html_text

    page = "<html><body>" + "<p>wombat burrow</p>" * (3 * FEED_CHARS // 20) + "<p>THE END</p></body></html>"
    whole, _ = html_text(page)
    cut, _ = html_text(page, max_chars=10_000)
    assert whole.endswith("THE END") and "THE END" not in cut
    assert 10_000 < len(cut) < len(whole) / 2  # one slice read, not the whole page


def test_worker_is_replaced_after_a_file_that_left_it_big(tmp_path, monkeypatch):
    from desktop_search.documents import worker

    for i in range(3):
        (tmp_path / f"f{i}.json").write_text('{"a": "b"}')
    with worker.ExtractorPool() as pool:
        pool.extract(str(tmp_path / "f0.json"))
        first = pool.child_pid
        assert pool.extract(str(tmp_path / "f1.json")).status == "ok" and pool.child_pid == first  # kept
        monkeypatch.setattr(worker, "RECYCLE_ABOVE_BYTES", 1)  # every worker is "big" now
        assert pool.extract(str(tmp_path / "f2.json")).status == "ok"
        assert pool.child_pid is None  # stopped after its file; the next one starts afresh
        assert pool.extract(str(tmp_path / "f0.json")).status == "ok" and pool.child_pid != first
        # read ahead, each worker replaced after its file: the queued files go to the next one
        paths = [str(tmp_path / f"f{i}.json") for i in (0, 1, 2, 0, 1)]
        outs = list(pool.extract_many(paths, ahead=3))
        assert [o.path for o in outs] == paths and all(o.status == "ok" for o in outs)


def test_big_texts_are_written_one_batch_at_a_time(tmp_path, fake_encoder, monkeypatch):
    """Chunking holds a batch's texts at once: a batch closes once COMMIT_EVERY_CHARS of text wait."""
    from desktop_search.jobs import indexing

    root = tmp_path / "docs"
    root.mkdir()
    for i in range(3):
        (root / f"t{i}.txt").write_text(f"tapir {i} " * 50)
    batches = []
    orig = indexing.Indexer._commit
    monkeypatch.setattr(indexing, "COMMIT_EVERY_CHARS", 100)
    monkeypatch.setattr(indexing.Indexer, "_commit", lambda self, batch, *a: batches.append(len(batch)) or orig(
        self, batch, *a))
    with SearchService(tmp_path / "store", encoder=fake_encoder) as svc:
        run(svc.index([root]))
        assert batches == [1, 1, 1] and len(svc.search("tapir", "bm25")) == 3


def test_token_offsets_are_a_compact_array_and_chunks_unchanged(model_path):
    """1.8 million tokens are 29 MB as a flat array of 8-byte offsets, 226 MB as tuples; the passages are
    the same."""
    from array import array

    from desktop_search.chunking import HFTokenizer, RegexTokenizer, chunk_text

    text = "The otter swims. " * 30_000 + "\n\nA last line without an end"
    for tok in (RegexTokenizer(), HFTokenizer(model_path)):
        offs = tok(text)
        assert isinstance(offs, array) and offs.itemsize == 8 and len(offs) % 2 == 0 and len(offs) > 120_000
        assert all(e > s for s, e in zip(offs[::2], offs[1::2])) and text[offs[0]:offs[1]].lower() == "the"
        chunks = chunk_text(text, tok, 64, 8)
        assert all(type(c.start) is int and type(c.end) is int for c in chunks)
        assert chunks[0].start == 0 and chunks[-1].end == len(text)
        assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))  # they overlap
    assert chunk_text("", RegexTokenizer()) == [] and len(RegexTokenizer()("")) == 0
