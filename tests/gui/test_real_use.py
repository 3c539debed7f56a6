"""What a new user trips over in the window (issue 15): a busy store, half-built vectors, a file without
an application, the first meaning search, Compare's query and columns, counts and help."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence

from desktop_search.gui.help import METRIC_HELP, RETRIEVER_HELP
from desktop_search.retrievers.encoder import HashingEncoder

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]

HOLD_LOCK = ("import sys\nfrom pathlib import Path\nfrom desktop_search.util import ProcessLock\n"
             "lock = ProcessLock(Path(sys.argv[1]) / 'indexing.lock', 'indexing')\nlock.acquire()\n"
             "print('held', flush=True)\nsys.stdin.read()\nlock.release()\n")


def hold_store_lock(data_dir) -> subprocess.Popen:
    """Another desktop-search process holding the store's indexing lock until its stdin closes."""
    p = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data_dir)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


@pytest.fixture
def holder(indexed_service):
    p = hold_store_lock(indexed_service.data_dir)
    yield p
    if p.poll() is None:
        p.stdin.close()
        p.wait(10)


def drop_half_of_the_vectors(data_dir) -> tuple[int, int]:
    """Delete every second vector row, as if embedding had stopped part way; (embedded, passages)."""
    with sqlite3.connect(str(data_dir / "library.sqlite3")) as db:
        db.execute("DELETE FROM vectors WHERE chunk_id % 2 = 0")
        embedded = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        passages = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return embedded, passages


# -- items 2 and 3: another process indexing -----------------------------------------------------------
def test_folder_added_while_another_process_indexes_is_queued_and_indexed_when_it_is_done(
        qtbot, make_window, indexed_service, holder, tmp_path):
    w = make_window(indexed_service)
    new = tmp_path / "later"
    new.mkdir()
    (new / "kites.txt").write_text("Kites fly best in a steady breeze on an open hill.", encoding="utf-8")
    (new / "owls.md").write_text("# Owls\n\nOwls hunt mice at night and hear them under the snow.", encoding="utf-8")
    with qtbot.waitSignal(w.runner.waiting, timeout=60000):
        assert w.add_paths([new])
    # the window says so: the request waits (no error), the strip names the other process
    assert not w.banner.isVisible()
    assert w.indexing_panel.isVisible() and w.indexing_panel.title.text() == "Waiting to index later"
    assert f"pid {holder.pid}" in w.indexing_panel.counts.text()
    assert w.store_busy.isVisible()
    assert f"(pid {holder.pid}) is indexing this library" in w.store_busy.message
    assert "Adding later waits and starts as soon as it finishes." in w.store_busy.message
    with qtbot.waitSignal(w.indexing_finished, timeout=60000) as blocker:
        holder.stdin.close()  # the other process finishes
    out = blocker.args[0]
    assert out.status == "done", (out.message, out.details)
    qtbot.waitUntil(lambda: not w.store_busy.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: any(f.path == str(new) and f.indexed == 2 for f in w.ctx.library.folders), timeout=10000)
    assert not w.banner.isVisible()


def test_busy_banner_follows_the_lock_and_details_say_who_what_and_how_far(qtbot, make_window, indexed_service,
                                                                           holder):
    w = make_window(indexed_service)
    qtbot.waitUntil(lambda: w.store_busy.isVisible(), timeout=5000)  # it appears without any request of ours
    msg = w.store_busy.message
    assert msg.count("Another desktop-search process") == 1  # said once, not three times
    assert f"(pid {holder.pid}) is indexing this library" in msg
    qtbot.mouseClick(w.store_busy.details_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.store_busy.details_box is not None, timeout=5000)
    text = w.store_busy.details_box.text()
    passages = indexed_service.store.counts()["chunks"]
    assert f"Process: pid {holder.pid}" in text
    assert "Command: -c " in text and "Doing: indexing, for " in text  # the holder's own command line
    assert f"Passages embedded: {passages:,} of {passages:,} (100 %)" in text  # how far, from the store
    assert text.count("Another desktop-search process") == 0
    buttons = {b.text() for b in w.store_busy.details_box.buttons()}
    assert buttons == {"Wait", "Stop that process"}
    stop = next(b for b in w.store_busy.details_box.buttons() if b.text() == "Stop that process")
    stop.click()  # the way to stop it: SIGTERM
    assert holder.wait(10) != 0
    qtbot.waitUntil(lambda: not w.store_busy.isVisible(), timeout=5000)  # the lock died with it: the strip goes


def test_cancel_stops_waiting_for_the_other_process(qtbot, make_window, indexed_service, holder, tmp_path):
    w = make_window(indexed_service)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "a.txt").write_text("gulls over the harbour", encoding="utf-8")
    with qtbot.waitSignal(w.runner.waiting, timeout=60000):
        w.add_paths([tmp_path / "new"])
    with qtbot.waitSignal(w.indexing_finished, timeout=5000) as blocker:
        qtbot.mouseClick(w.indexing_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].status == "cancelled"
    assert not w.indexing_panel.isVisible() and w.runner.waiting_for is None and not w.runner.queued
    assert w.store_busy.isVisible()  # the other process still holds the store


def test_banner_clears_when_the_other_process_exits(qtbot, make_window, indexed_service, holder):
    w = make_window(indexed_service)
    qtbot.waitUntil(lambda: w.store_busy.isVisible(), timeout=5000)
    holder.stdin.close()
    holder.wait(10)
    qtbot.waitUntil(lambda: not w.store_busy.isVisible(), timeout=5000)
    assert w.store_busy.message == ""


# -- item 4: dense results from a half-built vector index -------------------------------------------------
def test_half_built_vector_index_is_said_wherever_dense_results_show(qtbot, make_window, indexed_service, search):
    embedded, passages = drop_half_of_the_vectors(indexed_service.data_dir)
    assert 0 < embedded < passages
    line = f"Dense: {embedded:,} of {passages:,} passages embedded ({100 * embedded // passages} %)"
    w = make_window(indexed_service)
    qtbot.waitUntil(lambda: w.coverage_label.isVisible(), timeout=5000)
    assert w.coverage_label.text() == line  # the status bar
    assert f"{embedded:,} of {passages:,} passages embedded" in w.library_tab.models_label.text()
    search(w, "tomato soup", "dense")
    assert w.search_tab.coverage_label.isVisible()
    assert w.search_tab.coverage_label.text().startswith(line)
    search(w, "tomato soup", "hybrid")
    assert w.search_tab.coverage_label.text().startswith(line)
    search(w, "tomato soup", "bm25")
    assert not w.search_tab.coverage_label.isVisible()  # keywords do not depend on vectors
    with qtbot.waitSignal(w.compare_tab.compared, timeout=15000):
        w.tabs.setCurrentWidget(w.compare_tab)
    assert w.compare_tab.coverage_label.isVisible() and w.compare_tab.coverage_label.text().startswith(line)


def test_vector_count_follows_embedding_live(qtbot, make_window, indexed_service):
    db_path = indexed_service.data_dir / "library.sqlite3"
    with sqlite3.connect(str(db_path)) as db:
        saved = db.execute("SELECT model, chunk_id, vec FROM vectors WHERE chunk_id % 2 = 0").fetchall()
    embedded, passages = drop_half_of_the_vectors(indexed_service.data_dir)
    w = make_window(indexed_service)
    assert f"{embedded:,} of {passages:,} passages embedded" in w.library_tab.models_label.text()
    with sqlite3.connect(str(db_path)) as db:  # the index child embeds the rest...
        db.executemany("INSERT INTO vectors(model, chunk_id, vec) VALUES (?, ?, ?)", saved)
    with qtbot.waitSignal(w.ctx.counts_updated, timeout=5000):
        w.runner.progressed.emit({"phase": "embed", "done": passages, "total": passages})  # ...and reports it
    assert w.library_tab.models_label.text().endswith(f"{passages:,} vectors")
    assert not w.coverage_label.isVisible()


# -- item 5: no application for a file --------------------------------------------------------------------
def test_open_without_a_handler_says_so_and_offers_folder_and_path(qtbot, make_window, indexed_service, search,
                                                                  monkeypatch):
    w = make_window(indexed_service)
    w.ctx.opener.command = [sys.executable, "-c", "import sys; sys.stderr.write('xdg-open: no method available for "
                            "opening this file\\n'); sys.exit(3)"]
    hits = search(w, "tomato")
    path = hits[0].path
    w.ctx.open_path(path)
    qtbot.waitUntil(lambda: w.open_failed_box is not None and w.open_failed_box.isVisible(), timeout=10000)
    box = w.open_failed_box
    assert "no method available for opening this file" in box.text() and path in box.text()
    assert box.textFormat() == Qt.TextFormat.PlainText
    buttons = {b.text(): b for b in box.buttons()}
    assert {"Show in folder", "Copy path"} <= set(buttons)
    assert "Could not open" in w.statusBar().currentMessage()
    buttons["Copy path"].click()
    assert QGuiApplication.clipboard().text() == path
    revealed = []
    monkeypatch.setattr(w.ctx, "reveal_path", revealed.append)
    w.ctx.open_path(path)
    qtbot.waitUntil(lambda: w.open_failed_box is not box and w.open_failed_box.isVisible(), timeout=10000)
    next(b for b in w.open_failed_box.buttons() if b.text() == "Show in folder").click()
    assert revealed == [path]


# -- item 7: the model starts in the background ---------------------------------------------------------------
class SlowStartEncoder(HashingEncoder):
    """A fake whose first use takes a while, like loading the real model in its child process."""

    LOAD_S = 1.5

    def __init__(self, *args, **kwargs):
        super().__init__()  # the vectors of the test store are under the fake's own key
        self.loaded = False

    def encode(self, texts, *, batch_size=64):
        if not self.loaded:
            time.sleep(self.LOAD_S)
            self.loaded = True
        return super().encode(texts, batch_size=batch_size)


def test_model_starts_in_the_background_after_the_window_shows(qtbot, make_window, _indexed_template, tmp_path,
                                                               search):
    from desktop_search.service import SearchService

    shutil.copytree(_indexed_template[1], tmp_path / "store")
    svc = SearchService(tmp_path / "store", encoder_factory=SlowStartEncoder)
    try:
        states = []
        w = make_window(svc, wait_library=False)
        w.ctx.model_state_changed.connect(states.append)
        assert w.search_tab.retriever == "bm25"  # nobody asked for a meaning search
        qtbot.waitUntil(lambda: w.ctx.model_state == "loading", timeout=10000)
        assert w.model_label.isVisible() and w.model_label.text() == "Loading the model…"
        qtbot.waitUntil(lambda: w.ctx.model_state == "ready", timeout=15000)
        assert states == ["loading", "ready"] and not w.model_label.isVisible()
        t = time.perf_counter()
        hits = search(w, "tomato soup", "dense")
        assert time.perf_counter() - t < 1.0  # the first dense search after that: no model load
        assert hits and {h.retriever for h in hits} == {"dense"}
    finally:
        w.close()
        svc.close()


# -- item 12: Compare -------------------------------------------------------------------------------------------
def test_compare_follows_the_search_query_until_the_user_types_one(qtbot, make_window, indexed_service, search):
    w = make_window(indexed_service)
    c = w.compare_tab
    search(w, "tomato")
    with qtbot.waitSignal(c.compared, timeout=15000):
        w.tabs.setCurrentWidget(c)
    assert c.query.text() == "tomato"
    w.tabs.setCurrentWidget(w.search_tab)
    search(w, "sourdough bread")
    with qtbot.waitSignal(c.compared, timeout=15000):
        w.tabs.setCurrentWidget(c)
    assert c.query.text() == "sourdough bread" and c.result["query"] == "sourdough bread"
    c.query.selectAll()
    qtbot.keyClicks(c.query, "night train")  # the user's own query from now on
    w.tabs.setCurrentWidget(w.search_tab)
    search(w, "roses")
    w.tabs.setCurrentWidget(c)
    assert c.query.text() == "night train"
    c.query.clear()
    qtbot.keyClicks(c.query, "x")
    qtbot.keyClick(c.query, Qt.Key.Key_Backspace)  # emptied by the user: follows Search again
    w.tabs.setCurrentWidget(w.search_tab)
    w.tabs.setCurrentWidget(c)
    assert c.query.text() == "roses"


def test_compare_snippets_readable_at_the_default_size_and_figures_explained(qtbot, make_window, indexed_service):
    from desktop_search.gui.delegates import CompareDelegate

    w = make_window(indexed_service)
    assert (w.width(), w.height()) == (1200, 780)
    c = w.compare_tab
    w.tabs.setCurrentWidget(c)
    c.query.setText("tomato garden")
    with qtbot.waitSignal(c.compared, timeout=15000):
        c.compare_now()
    for col in c.columns.values():
        view = col.view
        assert CompareDelegate.snippet_chars(view.viewport().width(), view.fontMetrics()) >= 80, col.name
        assert view.sizeHintForRow(0) >= view.fontMetrics().lineSpacing() * 4
    ph = c.pairs_model
    tips = [ph.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) for i in (1, 2, 3)]
    assert tips == [METRIC_HELP["overlap"], METRIC_HELP["jaccard"], METRIC_HELP["tau"]]
    assert "overlap@k" in tips[0] and "Jaccard" in tips[1] and "Kendall" in tips[2]
    assert all(t.count(".") == 1 and "\n" not in t for t in tips)  # one line each
    assert c.metrics_help.toolTip().splitlines() == list(METRIC_HELP.values())


# -- item 13: counts and help --------------------------------------------------------------------------------------
def test_search_summary_counts_every_matching_file(qtbot, make_window, indexed_service, search, monkeypatch):
    from desktop_search.gui import search_tab

    monkeypatch.setattr(search_tab, "RESULTS_K", 3)
    w = make_window(indexed_service)
    q = "tomato garden bread spring"
    n = len(indexed_service.search(q, "bm25", 100))
    assert n > 3
    search(w, q, "bm25")
    assert len(w.search_tab.last_hits) == 3
    assert w.search_tab.summary.text().startswith(f"{n} files, top 3 shown · ")
    assert "+" not in w.search_tab.summary.text()
    search(w, q, "dense")
    embedded = len({d.id for d in indexed_service.files("indexed")})
    assert w.search_tab.summary.text().startswith(f"3 nearest of {embedded} files · ")
    search(w, q, "hybrid")
    assert w.search_tab.summary.text().startswith(f"3 files · {n} contain the words · ")


def test_help_menu_has_query_syntax_on_f1_and_the_toggle_explains_retrievers(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    assert QKeySequence("F1") in w.help_action.shortcuts() or w.help_action.shortcut() == QKeySequence("F1")
    w.help_action.trigger()
    qtbot.waitUntil(lambda: w.help_dialog is not None and w.help_dialog.isVisible(), timeout=3000)
    text = w.help_dialog.browser.toPlainText()
    for needle in ('"sourdough bread"', "+starter", "-rye", "the exact phrase", "BM25", "Dense", "Hybrid",
                   "Kendall"):
        assert needle in text, needle
    for name, button in w.search_tab.retriever_buttons.items():
        assert button.toolTip().startswith(RETRIEVER_HELP[name])
    assert "keyword" in RETRIEVER_HELP["bm25"] and "meaning" in RETRIEVER_HELP["dense"]
    for name, button in w.compare_tab.buttons.items():
        assert RETRIEVER_HELP[name] in button.toolTip()
