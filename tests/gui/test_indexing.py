"""Indexing from the window in a child process: drag-and-drop, progress, cancel and resume, watching."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop_search.gui.indexing import IndexRequest, child_command

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _drop(window, paths) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_drop_folder_indexes_in_child_process(qtbot, make_window, empty_service, tmp_path, search):
    docs = tmp_path / "dropped"
    docs.mkdir()
    (docs / "alpha.txt").write_text("The aardvark digs burrows at night and eats ants.", encoding="utf-8")
    (docs / "beta.md").write_text("# Comets\n\nA comet's tail always points away from the sun.", encoding="utf-8")
    (docs / "broken.docx").write_bytes(b"not a zip file")
    single = tmp_path / "single.txt"
    single.write_text("A lonely file about lighthouses on rocky coasts.", encoding="utf-8")
    w = make_window(empty_service)
    progress = []
    w.runner.progressed.connect(progress.append)
    with qtbot.waitSignal(w.indexing_finished, timeout=60000) as blocker:
        assert _drop(w, [docs, single])
        assert w.runner.running  # the child runs in the background...
        assert w.indexing_panel.isVisible()
        hits_meanwhile = search(w, "aardvark")  # ...and the window keeps answering
        assert isinstance(hits_meanwhile, tuple)
    out = blocker.args[0]
    assert out.status == "done", (out.message, out.details)
    assert out.stats["indexed"] == 3 and out.stats["failed"] == 1
    assert {p["phase"] for p in progress} >= {"scan", "extract", "done"}
    ex = [p for p in progress if p["phase"] == "extract"][-1]
    assert ex["done"] == ex["total"] == 4 and ex["current"]
    assert not w.indexing_panel.isVisible()
    # the library view refreshed after the run: folders, counts and the failed file with its reason
    qtbot.waitUntil(lambda: w.library_tab.folders_model.rowCount() == 2, timeout=5000)
    w.library_tab.set_status_filter("failed")
    failed = w.library_tab.visible_files()
    assert [f.name for f in failed] == ["broken.docx"] and failed[0].reason
    hits = search(w, "aardvark burrows")
    assert hits[0].name == "alpha.txt"
    assert search(w, "lighthouses")[0].name == "single.txt"
    # dense vectors come from an in-process embed with the test's fake encoder (the child ran --no-embed)
    for _ in empty_service.embed():
        pass
    assert search(w, "comet tail sun", "dense")[0].name == "beta.md"
    assert set(w.saved_folders()) == {str(docs), str(single)}
    assert w.pending_adds() == []  # registered by the child


def test_cancel_stops_child_and_rerun_resumes(qtbot, make_window, empty_service, tmp_path):
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(300):
        (docs / f"note{i:03d}.txt").write_text(f"note number {i} about topic {i % 7}", encoding="utf-8")
    w = make_window(empty_service)
    with qtbot.waitSignal(w.runner.progressed, timeout=30000):
        w.add_paths([docs])
    with qtbot.waitSignal(w.indexing_finished, timeout=30000) as blocker:
        w.indexing_panel.cancel_button.click()
    assert blocker.args[0].status == "cancelled"
    assert not w.runner.running and not w.indexing_panel.isVisible()
    # a rerun (what the app does on its next start) resumes and completes
    with qtbot.waitSignal(w.indexing_finished, timeout=60000) as blocker:
        w.runner.enqueue(IndexRequest(reason="resume"))
    assert blocker.args[0].status == "done"
    assert blocker.args[0].stats["indexed"] == 300


def test_resume_on_start_and_queueing(qtbot, make_window, indexed_service, corpus_dir, tmp_path):
    w = make_window(indexed_service, resume_on_start=True)
    qtbot.waitUntil(lambda: w.runner.running or w.runner.queued, timeout=5000)
    assert w.runner.current is not None and w.runner.current.reason == "resume"
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("xylophone music", encoding="utf-8")
    assert w.add_paths([other])
    assert not w.runner.enqueue(IndexRequest((str(other),), reason="add"))  # already waiting
    assert len(w.runner.queued) == 1  # one child at a time; the rest waits
    outcomes = []
    w.indexing_finished.connect(outcomes.append)
    qtbot.waitUntil(lambda: len(outcomes) == 2, timeout=60000)
    assert [o.status for o in outcomes] == ["done", "done"]


def test_a_locked_store_makes_the_request_wait_not_fail(qtbot, make_window, empty_service, tmp_path):
    """Another indexer holds the store: the request waits for it and runs after (issue 15 #2)."""
    from desktop_search.util import ProcessLock

    w = make_window(empty_service)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("hello", encoding="utf-8")
    outcomes = []
    w.indexing_finished.connect(outcomes.append)
    with ProcessLock(empty_service.data_dir / "indexing.lock"):  # as if another indexer were running
        with qtbot.waitSignal(w.runner.waiting, timeout=30000):
            w.add_paths([tmp_path / "d"])
        assert "Another desktop-search process" in w.store_busy.message
        assert not w.banner.isVisible() and not outcomes
    qtbot.waitUntil(lambda: len(outcomes) == 1, timeout=30000)
    assert outcomes[0].status == "done", (outcomes[0].message, outcomes[0].details)
    assert not w.store_busy.isVisible()


def test_watched_folder_change_triggers_update(qtbot, make_window, empty_service, tmp_path, search):
    docs = tmp_path / "watched"
    docs.mkdir()
    (docs / "first.txt").write_text("first file about owls", encoding="utf-8")
    for _ in empty_service.index([docs]):
        pass
    w = make_window(empty_service, watch=True, watch_debounce_ms=300)
    started = []
    w.folder_watched.connect(started.append)  # scheduling runs on a helper thread; delivery is queued
    qtbot.waitUntil(lambda: started == [str(docs)], timeout=10000)
    assert w.watcher.roots == [str(docs)]
    with qtbot.waitSignal(w.indexing_finished, timeout=60000) as blocker:
        (docs / "second.txt").write_text("a second file about badgers", encoding="utf-8")
    assert blocker.args[0].status == "done"
    assert search(w, "badgers")[0].name == "second.txt"
    with qtbot.waitSignal(w.indexing_finished, timeout=60000):
        (docs / "first.txt").unlink()
    assert search(w, "owls") == ()


def test_child_command_plain_and_frozen(monkeypatch, tmp_path):
    req = IndexRequest(("/a", "/b"), retry_failed=True)
    prog, *args = child_command(tmp_path, "my-model", req)
    assert prog == sys.executable
    assert args == ["-m", "desktop_search", "--data-dir", str(tmp_path), "--model", "my-model", "index", "/a", "/b",
                    "--json-progress", "--retry-failed"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    prog, *args = child_command(tmp_path, None, IndexRequest())
    assert prog == sys.executable and args[:2] == ["--data-dir", str(tmp_path)] and "-m" not in args


def test_vectors_written_by_another_process_reach_the_window(qtbot, make_window, indexed_service, tmp_path, search):
    """The GUI's loaded vector index is reconciled with the store after a child run adds vectors."""
    from desktop_search.gui.main_window import refresh_vectors
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    w = make_window(indexed_service)
    assert search(w, "quantum particles", "dense")  # loads the vector index in the GUI process
    new = tmp_path / "new"
    new.mkdir()
    (new / "walrus.txt").write_text("walrus tusks ivory arctic walrus", encoding="utf-8")
    with SearchService(indexed_service.data_dir, encoder=HashingEncoder()) as other:  # as the child would
        for _ in other.index([new]):
            pass
    refresh_vectors(indexed_service)
    hits = search(w, "walrus tusks", "dense")
    assert hits and hits[0].name == "walrus.txt"


def test_killed_child_resumes_when_the_app_reopens(qtbot, make_window, empty_service, tmp_path):
    docs = tmp_path / "killme"
    docs.mkdir()
    for i in range(200):
        (docs / f"page{i:03d}.txt").write_text(f"page {i} of the manual, chapter {i % 9}", encoding="utf-8")
    w = make_window(empty_service)
    with qtbot.waitSignal(w.runner.progressed, timeout=30000):
        w.add_paths([docs])
    with qtbot.waitSignal(w.indexing_finished, timeout=30000) as blocker:
        w.runner._proc.kill()  # as if the process died (kill -9, power cut)
    out = blocker.args[0]
    assert out.status == "failed" and "resumes" in out.message
    assert "resumes" in w.banner.message
    w.close()
    # the next start: pending adds and registered folders are brought up to date
    w2 = make_window(empty_service, resume_on_start=True)
    with qtbot.waitSignal(w2.indexing_finished, timeout=60000) as blocker:
        pass
    assert blocker.args[0].status == "done"
    qtbot.waitUntil(lambda: not w2.runner.running and not w2.runner.queued, timeout=60000)
    assert empty_service.store.counts()["indexed"] == 200


def test_pending_add_is_registered_after_a_crash(qtbot, make_window, empty_service, tmp_path, qsettings):
    docs = tmp_path / "pending"
    docs.mkdir()
    (docs / "a.txt").write_text("added just before the crash", encoding="utf-8")
    qsettings.setValue("library/pending", [str(docs)])
    w = make_window(empty_service, resume_on_start=True)
    assert w.runner.current is not None and w.runner.current.paths == (str(docs),)
    with qtbot.waitSignal(w.indexing_finished, timeout=60000) as blocker:
        pass
    assert blocker.args[0].status == "done"
    qtbot.waitUntil(lambda: w.pending_adds() == [], timeout=5000)
    assert w.saved_folders() == [str(docs)]
