"""A damaged store in the window: the check at start puts it in the banner, a "malformed" error from
any query becomes the same clear message (never the bug dialog), and the window stays up."""

from __future__ import annotations

import os
import sqlite3

import pytest

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _scribble_table(db, table: str) -> None:
    c = sqlite3.connect(db)
    size = c.execute("PRAGMA page_size").fetchone()[0]
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    c.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size + 16)
        f.write(os.urandom(size - 32))


def test_damaged_database_is_told_in_the_banner_at_start(qtbot, make_window, indexed_service):
    _scribble_table(indexed_service.store.path, "bm25_postings")
    w = make_window(indexed_service, wait_library=False)
    qtbot.waitUntil(lambda: "is damaged" in w.banner.message, timeout=10000)
    assert "desktop-search repair" in w.banner.message and w.isVisible()
    assert not indexed_service.health()["ok"]


def test_malformed_error_in_a_search_is_a_banner_not_a_bug(qtbot, make_window, indexed_service, monkeypatch):
    w = make_window(indexed_service)
    shown = []
    monkeypatch.setattr(w.ctx.reporter, "show_bug", lambda exc: shown.append(exc))

    def malformed(*a, **k):
        raise sqlite3.DatabaseError("database disk image is malformed")

    indexed_service.search = malformed
    w.search_tab.query.setText("bread")
    w.search_tab.search_now()
    qtbot.waitUntil(lambda: "is damaged" in w.banner.message, timeout=5000)
    assert not shown and w.isVisible()


def test_repair_from_the_banner(qtbot, make_window, indexed_service, monkeypatch):
    import sys
    from pathlib import Path

    from desktop_search.gui import repair as repair_module

    fake = Path(__file__).with_name("fake_repair.py")
    monkeypatch.setattr(repair_module, "cli_command", lambda args: [sys.executable, str(fake), *args])
    before = [h.name for h in indexed_service.search("bread oven", "hybrid")]
    _scribble_table(indexed_service.store.path, "bm25_postings")
    w = make_window(indexed_service, wait_library=False)
    qtbot.waitUntil(lambda: "is damaged" in w.banner.message, timeout=10000)
    assert w.banner.action_button.isVisible() and w.banner.action_button.text() == "Repair…"
    w.start_repair()
    with qtbot.waitSignal(w.repair_runner.repair_finished, timeout=60000) as done:
        pass
    ok, message = done.args
    assert ok and message.startswith("Repaired"), message
    assert "Repaired" in w.banner.message and not w.banner.action_button.isVisible()
    assert indexed_service.health()["ok"]
    assert [h.name for h in indexed_service.search("bread oven", "hybrid")] == before
    assert list(indexed_service.data_dir.glob("damaged-*"))
