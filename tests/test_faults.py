"""Fault injection on the store: every file of it damaged, truncated or deleted, a full disk, a kill -9
while a trained version is embedded.

Each test asserts: no crash and no traceback (the command line run in this process, its exit
code 0 or 2), a clear message that says what to do, and, once that is done, the same results as a
store built cleanly from the same files (bm25, dense and hybrid, names and scores).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run, write_corpus
from desktop_search import cli
from desktop_search import service as service_module
from desktop_search.entry import main
from desktop_search.errors import Cancelled, DiskFull, StoreDamaged
from desktop_search.jobs import training as training_job
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import SearchService
from desktop_search.store import Store

QUERIES = ("quantum particles", "bake bread in an oven", "sorting lists")
RETRIEVERS = ("bm25", "dense", "hybrid")
FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")
EMBED_KILL_HELPER = Path(__file__).with_name("kill_train_helper.py")
REPAIR_KILL_HELPER = Path(__file__).with_name("kill_repair_helper.py")


# -- helpers ------------------------------------------------------------------------------------
class Results(dict):
    """{(query, retriever): {name: score}} of every file found (k=1000); equal to another when the
    same files are found with scores that agree to 3e-3 (so in the same order, up to ties): a
    vector index rebuilt from the store's float16 vectors scores 0.7499 where the one built from
    the encoder's float32 output said 0.75. Files scored 0 (no word shared, with the fake
    encoder) are left out: which of them fill the list is arbitrary."""

    def __eq__(self, other):
        if set(self) != set(other):
            return False
        for key, hits in self.items():
            theirs = other[key]
            if set(hits) != set(theirs) or any(abs(hits[n] - theirs[n]) > 3e-3 for n in hits):
                return False
        return True

    __hash__ = None


def results(svc: SearchService) -> Results:
    return Results({(q, r): {h.name: round(h.score, 4) for h in svc.search(q, r, k=1000) if h.score > 1e-3}
                    for q in QUERIES for r in RETRIEVERS})


def results_of(data: Path) -> Results:
    with SearchService(data, encoder=HashingEncoder()) as svc:
        return results(svc)


@pytest.fixture
def fake_cli(monkeypatch):
    """The command line in this process with the fake encoder: (exit code, stdout, stderr)."""
    real_service, real_repair = cli._service, service_module.repair_library
    monkeypatch.setattr(cli, "_service", lambda args, **kw: real_service(args, encoder=HashingEncoder(), **kw))
    monkeypatch.setattr(service_module, "repair_library",
                        lambda data_dir=None, **kw: real_repair(data_dir, **{**kw, "encoder": HashingEncoder()}))

    def call(capsys, data: Path, *argv: str):
        capsys.readouterr()
        code = main(["--data-dir", str(data), *argv])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert code in (0, 2), (code, out, err)
        return code, out, err

    return call


@pytest.fixture
def library(tmp_path):
    """A corpus, a store indexed from it (closed), and the results of a clean store of it."""
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    with SearchService(data, encoder=HashingEncoder()) as svc:
        run(svc.index([docs]))
        clean = results(svc)
    return docs, data, clean


def scribble(path: Path, at: int | None = None, n: int | None = None) -> None:
    """Random bytes inside the file, its size unchanged."""
    size = path.stat().st_size
    at = size // 3 if at is None else at
    n = max(1, min(size - at, size // 3)) if n is None else n
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(os.urandom(n))


def truncate(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def damage(path: Path, how: str) -> None:
    {"scribble": scribble, "truncate": truncate, "delete": Path.unlink}[how](path)


def page_of(db: Path, table: str) -> tuple[int, int]:
    """(offset, page size) of a table's root page."""
    c = sqlite3.connect(db)
    try:
        size = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    finally:
        c.close()
    return (root - 1) * size, size


# -- the HNSW file and its metadata -------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".hnsw", ".json"])
@pytest.mark.parametrize("how", ["scribble", "truncate", "delete"])
def test_damaged_vector_file_is_rebuilt_not_loaded(library, fake_cli, capsys, suffix, how):
    docs, data, clean = library
    f = next((data / "vectors").glob(f"*{suffix}"))
    damage(f, how)
    code, out, err = fake_cli(capsys, data, "search", "quantum particles", "--retriever", "dense", "--json")
    assert code == 0 and json.loads(out)["hits"][0]["name"] == "quantum.txt"
    if how != "delete" or suffix == ".json":
        assert "rebuilt from the 6 vectors in the database" in err and "nothing was lost" in err
    assert results_of(data) == clean
    with SearchService(data, encoder=HashingEncoder()) as svc:  # the rebuilt file is trusted again
        vi = svc.vector_index().open()
        assert vi.problem is None and len(vi) == 6


def test_scribbled_vector_file_never_reaches_hnswlib(library):
    """The reproduction of the segfault: random bytes inside the file, same size, in a child process."""
    docs, data, clean = library
    f = next((data / "vectors").glob("*.hnsw"))
    scribble(f, at=64, n=f.stat().st_size - 128)
    code = ("import sys; from desktop_search.service import SearchService\n"
            "from desktop_search.retrievers.encoder import HashingEncoder\n"
            f"svc = SearchService({str(data)!r}, encoder=HashingEncoder())\n"
            "print([h.name for h in svc.search('quantum particles', 'hybrid')][0]); print(svc.notices()[0])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent)))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "quantum.txt" and "checksum does not match" in lines[1]


def test_index_repairs_a_damaged_vector_file_and_says_so(library, fake_cli, capsys):
    docs, data, clean = library
    scribble(next((data / "vectors").glob("*.hnsw")))
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 0 and "rebuilt" in err
    assert results_of(data) == clean


def test_status_tells_of_a_damaged_vector_file(library, fake_cli, capsys):
    docs, data, clean = library
    scribble(next((data / "vectors").glob("*.hnsw")))
    with SearchService(data, encoder=HashingEncoder()) as svc:
        h = svc.check_health()
    assert h["ok"] and list(h["vector_files"].values()) == ["its checksum does not match what was saved"]
    assert "rebuilt from the vectors in the database" in h["messages"][0]
    code, out, err = fake_cli(capsys, data, "status")
    assert code == 0 and "hashing-fake.hnsw will not be used: its checksum does not match" in err
    code, out, err = fake_cli(capsys, data, "status", "--json")
    assert json.loads(out)["health"]["messages"], "status --json carries it too"


# -- the database -------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["documents", "bm25_postings", "chunks"])
def test_damaged_database_page_is_detected_told_and_repaired(library, fake_cli, capsys, table):
    docs, data, clean = library
    db = data / "library.sqlite3"
    with SearchService(data, encoder=HashingEncoder()) as svc:  # a mark, to be salvaged
        svc.mark("quantum", svc.search("quantum", "bm25")[0].doc_id, 1)
    at, size = page_of(db, table)
    scribble(db, at=at + 16, n=size - 32)
    # status reads every page: told, with what to do (a banner in the window: service.health)
    code, out, err = fake_cli(capsys, data, "status")
    assert "is damaged" in err and "desktop-search repair" in err and "Your files are not affected" in err
    with SearchService(data, encoder=HashingEncoder()) as svc:
        h = svc.health()
        assert not h["ok"] and h["action"] == "repair" and "is damaged" in h["messages"][0]
        try:
            assert not svc.status()["health"]["ok"]
        except StoreDamaged as e:  # the page held rows status reads: the same message, as a KnownError
            assert "desktop-search repair" in str(e)
    # every later search says so until repaired (never served from silently)
    code, out, err = fake_cli(capsys, data, "search", "quantum", "--retriever", "bm25")
    assert "is damaged" in err
    # index ends in the same message, exit code 2, not in success
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 2 and "is damaged" in err and "repair" in err
    code, out, err = fake_cli(capsys, data, "repair")
    assert code == 0 and "Repaired: 6 files indexed again" in out
    aside = list(data.glob("damaged-*"))
    assert len(aside) == 1 and (aside[0] / "library.sqlite3").exists(), "the damaged file is kept"
    assert results_of(data) == clean
    with SearchService(data, encoder=HashingEncoder()) as svc:
        assert svc.health()["ok"] and not svc.store.quick_check()
        assert [j.query for j in svc.store.judgments(None)] == ["quantum"]
    code, out, err = fake_cli(capsys, data, "search", "quantum", "--retriever", "bm25")
    assert "damaged" not in err


def test_search_right_after_the_damage_says_so(library, fake_cli, capsys, monkeypatch):
    """A command-line run reads the database through when its files changed since the last check
    that passed, so the first search after the damage already warns (BM25 kept serving silently)."""
    from desktop_search.store import health

    docs, data, clean = library
    checks = []
    real = health.quick_check
    monkeypatch.setattr(health, "quick_check", lambda conn, *a: checks.append(1) or real(conn, *a))
    fake_cli(capsys, data, "search", "quantum", "--retriever", "bm25")
    fake_cli(capsys, data, "search", "bread", "--retriever", "bm25")
    assert checks == [], "an unchanged database is not read through again"
    at, size = page_of(data / "library.sqlite3", "chunks")
    scribble(data / "library.sqlite3", at=at + 16, n=size - 32)
    code, out, err = fake_cli(capsys, data, "search", "quantum", "--retriever", "bm25")
    assert checks == [1] and "is damaged" in err and "desktop-search repair" in err


def test_an_index_run_reads_the_database_through_when_due(library, fake_cli, capsys, monkeypatch):
    """A run that changed a few files of a checked store does not read every page again (a large
    library would pay seconds each time); one that rewrote a quarter of it, or a day after the
    last read-through, does; and damage from outside is still found first (check_if_changed)."""
    from desktop_search.store import health

    docs, data, clean = library
    for i in range(14):  # 20 files: a quarter is 5
        (docs / f"extra{i}.txt").write_text(f"An extra note number {i} about gardening and tomatoes.\n")
    checks = []
    real = health.quick_check
    monkeypatch.setattr(health, "quick_check", lambda conn, *a: checks.append(1) or real(conn, *a))
    fake_cli(capsys, data, "index")
    assert checks == [1], "14 new files of 20 rewrote much: read through"

    def touch(n: int) -> None:
        for i in range(n):
            p = docs / f"extra{i}.txt"
            p.write_text(p.read_text() + f"More about tomatoes {time.time()}.\n")

    touch(2)
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 0 and checks == [1], "2 changed files of 20 on a checked store: nothing read through"
    touch(5)
    fake_cli(capsys, data, "index")
    assert checks == [1, 1], "5 of 20 is a quarter"
    db = data / "library.sqlite3"
    note = health.read_checked(db)
    assert note["stamp"] == health.file_stamp(db), "close() noted the state it left"
    note["read_through_at"] -= health.READ_THROUGH_EVERY_S + 1
    health.checked_path(db).write_text(json.dumps(note))
    touch(1)
    fake_cli(capsys, data, "index")
    assert checks == [1, 1, 1], "a day after the last read-through"
    touch(1)
    at, size = page_of(db, "chunks")
    scribble(db, at=at + 16, n=size - 32)
    code, out, err = fake_cli(capsys, data, "index")
    assert checks == [1, 1, 1, 1] and code == 2 and "is damaged" in err and "repair" in err


@pytest.mark.parametrize("how", ["header", "truncate"])
def test_database_that_cannot_be_opened_is_repaired_from_the_files(library, fake_cli, capsys, how):
    docs, data, clean = library
    db = data / "library.sqlite3"
    if how == "header":
        scribble(db, at=0, n=100)
    else:
        truncate(db)
    code, out, err = fake_cli(capsys, data, "search", "quantum", "--retriever", "hybrid")
    assert "is damaged" in err and "repair" in err
    code, out, err = fake_cli(capsys, data, "repair")
    assert code == 0 and "Repaired" in out, err
    assert results_of(data) == clean


def test_repair_salvages_readable_vectors_and_embeds_the_rest(library):
    docs, data, clean = library
    db = data / "library.sqlite3"
    at, size = page_of(db, "bm25_postings")  # the vectors, chunks and documents stay readable
    scribble(db, at=at + 16, n=size - 32)
    encoder = HashingEncoder()
    with SearchService(data, encoder=encoder) as svc:
        calls = encoder.calls
        reports = list(svc.repair())
        assert any(p.phase == "extract" for p in reports), "the rebuild shows its progress"
        done = reports[-1]
        assert done.stats["salvaged_vectors"] == 6 and done.stats["embedded"] == 0
        assert encoder.calls == calls, "salvaged vectors are not embedded again"
        assert results(svc) == clean


def _child_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).parent.parent)]))


@pytest.mark.parametrize("phase", ["extract", "embed"])
def test_kill_9_during_repair_is_told_and_repair_finishes_it(tmp_path, fake_cli, capsys, phase):
    docs = _many_docs(tmp_path / "docs", 80)
    data = tmp_path / "data"
    with SearchService(data, encoder=HashingEncoder()) as svc:
        run(svc.index([docs]))
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        clean = results(ref)
    db = data / "library.sqlite3"
    at, size = page_of(db, "vectors" if phase == "embed" else "bm25_postings")  # lost vectors: embedded again
    scribble(db, at=at + 16, n=size - 32)
    p = subprocess.Popen([sys.executable, str(REPAIR_KILL_HELPER), str(data)], stdout=subprocess.PIPE, text=True,
                         env=_child_env())
    for line in p.stdout:
        ev = json.loads(line)
        if ev["phase"] == phase and ev["done"] > 0:
            os.kill(p.pid, signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "the repair finished before it could be killed"
    code, out, err = fake_cli(capsys, data, "search", "quantum", "--retriever", "bm25")
    assert "a repair was interrupted" in err and "desktop-search repair" in err
    code, out, err = fake_cli(capsys, data, "repair")
    assert code == 0 and "Repaired" in out
    assert len(list(data.glob("damaged-*"))) == 2, "both the damaged store and the half-repaired one are kept"
    assert results_of(data) == clean


def test_free_space_running_out_during_a_run(tmp_path, fake_cli, capsys, monkeypatch):
    from desktop_search.jobs import indexing
    from desktop_search.store import health

    docs = _many_docs(tmp_path / "docs", 150)
    data = tmp_path / "data"
    monkeypatch.setattr(indexing, "FREE_SPACE_EVERY_S", 0.0)
    monkeypatch.setattr(indexing, "COMMIT_EVERY_FILES", 8)
    looks = []
    monkeypatch.setattr(health, "free_mb", lambda path: looks.append(1) or (10_000.0 if len(looks) < 40 else 150.0))
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 2 and "150 MB free" in err and "below the 200 MB" in err and "nothing indexed so far was lost" in err
    with SearchService(data, encoder=HashingEncoder()) as svc:
        assert 0 < svc.store.counts()["indexed"] < 150, "stopped during the run, what was done is kept"
        assert svc.store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    monkeypatch.setattr(health, "free_mb", lambda path: 10_000.0)
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 0
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        assert results_of(data) == results(ref)


def test_deleted_database_starts_empty_and_index_restores_it(library, fake_cli, capsys):
    docs, data, clean = library
    (data / "library.sqlite3").unlink()
    code, out, err = fake_cli(capsys, data, "status", "--json")
    assert code == 0 and json.loads(out)["counts"]["indexed"] == 0
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 0
    assert results_of(data) == clean


# -- the WAL (a crash image: the files as a process left them while it had the store open) ----------
@pytest.mark.parametrize("how", ["scribble", "truncate", "delete"])
def test_damaged_wal_loses_at_most_the_last_commits(tmp_path, fake_cli, capsys, how):
    docs = write_corpus(tmp_path / "docs")
    data, image = tmp_path / "data", tmp_path / "image"
    with SearchService(data, encoder=HashingEncoder()) as svc:
        run(svc.index([docs]))
        clean = results(svc)
        assert (data / "library.sqlite3-wal").stat().st_size > 0
        shutil.copytree(data, image, ignore=shutil.ignore_patterns("*.lock"))
    damage(image / "library.sqlite3-wal", how)
    code, out, err = fake_cli(capsys, image, "status")
    assert code == 0
    code, out, err = fake_cli(capsys, image, "index", str(docs))
    assert code == 0
    assert results_of(image) == clean


# -- a full disk --------------------------------------------------------------------------------
class _FullAtCommit:
    """A connection whose COMMIT fails as on a full disk: SQLite rolls back, then reports SQLITE_FULL."""

    def __init__(self, conn: sqlite3.Connection, state: dict):
        self._conn, self._state = conn, state

    def execute(self, sql, *args):
        if sql == "COMMIT" and self._state["full"]:
            self._conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _many_docs(root: Path, n: int = 120) -> Path:
    from conftest import CORPUS

    root.mkdir(parents=True)
    texts = list(CORPUS.values())
    for i in range(n):
        (root / f"doc{i:03d}.txt").write_text(f"Note {i} of {n}, item{i}. " + (texts[i % len(texts)] + " ") * (3 + i % 5))
    return root


def test_disk_full_at_commit_is_a_clear_message_and_nothing_is_lost(tmp_path, fake_cli, capsys, monkeypatch):
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    state = {"full": False}
    real_connect = Store._connect
    monkeypatch.setattr(Store, "_connect", lambda self: _FullAtCommit(real_connect(self), state))
    code, out, err = fake_cli(capsys, data, "status")
    state["full"] = True
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 2
    assert "The disk holding the index" in err and "MB free; nothing indexed so far was lost" in err
    assert "run `desktop-search index` again" in err and "cannot rollback" not in err
    state["full"] = False
    c = sqlite3.connect(data / "library.sqlite3")
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 0
    monkeypatch.setattr(Store, "_connect", real_connect)
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        assert results_of(data) == results(ref)


def test_disk_full_inside_a_statement(tmp_path, fake_cli, capsys, monkeypatch):
    """SQLITE_FULL from an INSERT (the database may not grow: max_page_count at the connection)."""
    docs = _many_docs(tmp_path / "docs")
    data = tmp_path / "data"
    limit = {"pages": 0}
    real_connect = Store._connect

    def small_disk(self):
        conn = real_connect(self)
        if limit["pages"]:
            conn.execute(f"PRAGMA max_page_count={limit['pages']}")
        return conn

    monkeypatch.setattr(Store, "_connect", small_disk)
    fake_cli(capsys, data, "status")
    c = sqlite3.connect(data / "library.sqlite3")
    limit["pages"] = c.execute("PRAGMA page_count").fetchone()[0] + 8
    c.close()
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 2 and "The disk holding the index" in err and "nothing indexed so far was lost" in err
    limit["pages"] = 0
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 0
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        assert results_of(data) == results(ref)


def test_free_space_floor_stops_indexing_cleanly(tmp_path, fake_cli, capsys, monkeypatch):
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    with SearchService(data, encoder=HashingEncoder()) as svc:
        svc.settings.min_free_mb = 10 ** 12  # more than any disk has
        svc.settings.save(svc.settings_path)
        with pytest.raises(DiskFull, match="below the .* MB the index keeps free"):
            run(svc.index([docs]))
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 2 and "min_free_mb" in err and "MB free" in err
    with SearchService(data, encoder=HashingEncoder()) as svc:
        svc.settings.min_free_mb = 0
        svc.settings.save(svc.settings_path)
    fake_cli(capsys, data, "index")
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        assert results_of(data) == results(ref)


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs; needs root, as in CI), or skip."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_real_full_disk(tmp_path, small_disk, fake_cli, capsys):
    docs = _many_docs(tmp_path / "docs", 800)  # an index well past the 1 MB disk (postings append now)
    data = small_disk / "data"
    with SearchService(data, encoder=HashingEncoder()) as svc:
        svc.settings.min_free_mb = 0  # let SQLite meet the full disk itself
        svc.settings.save(svc.settings_path)
    code, out, err = fake_cli(capsys, data, "index", str(docs))
    assert code == 2 and "The disk holding the index" in err and "nothing indexed so far was lost" in err, err
    c = sqlite3.connect(data / "library.sqlite3")
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    # free space (a larger filesystem), then index again
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    code, out, err = fake_cli(capsys, data, "index")
    assert code == 0, err
    with SearchService(tmp_path / "clean", encoder=HashingEncoder()) as ref:
        run(ref.index([docs]))
        assert results_of(data) == results(ref)


# -- training: killed while embedding the new version ---------------------------------------------
def _factory(path, key, display_name=None):
    return HashingEncoder(key=key)


class _Trainers:
    """Counts the trainer children started."""

    def __init__(self, monkeypatch, tmp_path):
        self.log = tmp_path / "trainer-runs"
        log = self.log

        def command(module, *args):
            return [sys.executable, "-c", f"open({str(log)!r}, 'a').write('run\\n'); import runpy, sys; "
                    f"sys.argv = [{str(FAKE_TRAINER)!r}, *sys.argv[1:]]; runpy.run_path(sys.argv[0], run_name='__main__')",
                    *args]

        monkeypatch.setattr(training_job, "module_command", command)

    @property
    def runs(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


def test_train_after_a_stop_in_embedding_finishes_the_version(tmp_path, corpus, monkeypatch):
    trainers = _Trainers(monkeypatch, tmp_path)
    svc = SearchService(tmp_path / "data", encoder_factory=_factory)
    try:
        run(svc.index([corpus]))
        real_embed = svc.embed

        def dies_in_embedding(encoder=None, *, cancel=None):
            gen = real_embed(encoder, cancel=cancel)
            yield next(gen)
            raise Cancelled("killed")

        monkeypatch.setattr(svc, "embed", dies_in_embedding)
        with pytest.raises(Cancelled):
            run(svc.train({"steps": 3}, select_alpha=False))
        assert trainers.runs == 1 and len(svc.versions.list()) == 1
        vid = svc.versions.list()[0].id
        assert svc.versions.active_id() == "base"
        monkeypatch.setattr(svc, "embed", real_embed)
        reports = list(svc.train({"steps": 3}, select_alpha=False))
        assert trainers.runs == 1, "no second training"
        assert [v.id for v in svc.versions.list()] == [vid], "no duplicate version"
        assert any(p.kind == "already_trained" and "finishing its embedding" in p.message for p in reports)
        done = reports[-1].stats
        assert done["version"] == vid and done["resumed_embedding"] and done["activated"]
        assert svc.versions.active_id() == vid
        assert svc.store.vector_count(svc.encoder_for(vid).key) == svc.store.counts()["chunks"]
        # and a third run with the same settings trains again (the version was finished)
        run(svc.train({"steps": 3}, select_alpha=False))
        assert trainers.runs == 2
    finally:
        svc.close()


def test_kill_9_while_embedding_a_trained_version(tmp_path):
    docs = tmp_path / "docs"
    _many_docs(docs, 60)
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).parent.parent)]))
    p = subprocess.Popen([sys.executable, str(EMBED_KILL_HELPER), str(data), str(docs), str(FAKE_TRAINER)],
                         stdout=subprocess.PIPE, text=True, env=env)
    for line in p.stdout:
        ev = json.loads(line)
        if ev["phase"] == "embed" and ev["job"] == "train" and ev["done"] >= 16:
            os.kill(p.pid, signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    with SearchService(data, encoder_factory=_factory) as svc:
        (vid,) = [v.id for v in svc.versions.list()]
        key = svc.encoder_for(vid).key
        assert 0 < svc.store.vector_count(key) < svc.store.counts()["chunks"]
        monkeypatch_command = training_job.module_command
        try:
            training_job.module_command = lambda *a: pytest.fail("trained again")
            done = run(svc.train({"steps": 3}, select_alpha=False))
        finally:
            training_job.module_command = monkeypatch_command
        assert done.stats["resumed_embedding"] and [v.id for v in svc.versions.list()] == [vid]
        assert svc.store.vector_count(key) == svc.store.counts()["chunks"]
        assert svc.versions.active_id() == vid
        vi = svc.vector_index(svc.encoder_for(vid)).open()
        assert len(vi) == svc.store.counts()["chunks"]


def test_activating_a_version_with_missing_vectors_embeds_the_rest_with_progress(tmp_path, corpus, monkeypatch):
    _Trainers(monkeypatch, tmp_path)
    with SearchService(tmp_path / "data", encoder_factory=_factory) as svc:
        run(svc.index([corpus]))
        vid = run(svc.train({"steps": 3}, select_alpha=False, activate=False, embed=False)).stats["version"]
        enc = svc.encoder_for(vid)
        assert svc.store.vector_count(enc.key) == 0
        reports = list(svc.embed(enc))
        assert reports[0].message.startswith("Embedding 6 passages") and reports[-1].done == 6
        svc.activate_version(vid)
        assert svc.store.vector_count(enc.key) == 6 and svc.search("quantum particles", "dense")[0].name == "quantum.txt"


def test_damage_errors_are_known_errors(tmp_path):
    db = tmp_path / "x.sqlite3"
    db.write_bytes(os.urandom(8192))
    with pytest.raises(StoreDamaged, match="repair"):
        Store(db)
    assert (tmp_path / "x.sqlite3.damaged.json").exists()
