"""The main window with a fake encoder: search, retriever toggle, compare, library, errors, settings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop_search.errors import KnownError

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _hover(view, pos) -> None:
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    vp = view.viewport()
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(vp.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)


def _leave(view) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(view.viewport(), QEvent(QEvent.Type.Leave))


def test_search_fills_results_table_with_highlighted_snippets(qtbot, search, make_window, indexed_service):
    w = make_window(indexed_service)
    with qtbot.waitSignal(w.search_tab.preview_shown, timeout=10000):
        hits = search(w, "sourdough bread")
    assert hits and hits[0].name == "bread.md"
    st = w.search_tab
    assert st.proxy.rowCount() == len(hits)
    # columns: name, folder, snippet, score, modified
    row0 = {st.model.headerData(c, Qt.Orientation.Horizontal): st.proxy.index(0, c).data() for c in range(st.model.columnCount())}
    assert row0["Name"] == "Sourdough bread"  # the title (its file name is painted beneath: issue 15 #8)
    assert row0["Folder"].endswith("recipes")
    assert float(row0["Score"]) > 0
    assert row0["Modified"][:2] == "20"
    snippet, spans = hits[0].snippet, hits[0].spans
    assert any(snippet[a:b].lower() in ("sourdough", "bread") for a, b in spans)
    # the preview shows the passage with the query words highlighted
    assert "Sourdough" in st.preview.text.toPlainText()
    assert st.preview.title.text() == "Sourdough bread"
    # sorting by name through the proxy keeps the model's immutable hits
    from desktop_search.gui.models import ResultsModel

    st.table.sortByColumn(ResultsModel.NAME, Qt.SortOrder.AscendingOrder)
    names = [st.proxy.index(r, ResultsModel.NAME).data() for r in range(st.proxy.rowCount())]
    assert names == sorted(names, key=str.lower)


def test_searches_in_the_window_do_not_pile_up_database_connections(qtbot, search, make_window, indexed_service):
    # Qt's pool runs each task with a fresh Python thread state, which empties a threading.local:
    # one connection (and its page cache) per search stayed open until the store closed
    w = make_window(indexed_service)
    for i in range(12):
        assert search(w, ["sourdough bread", "tomato", "garden"][i % 3])
    assert indexed_service.store.open_connections() <= w.ctx.pool.pool.maxThreadCount() + 2


def test_typing_is_debounced_and_newest_query_wins(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    st = w.search_tab
    calls = []
    orig = indexed_service.search
    indexed_service.search = lambda q, *a, **k: (calls.append(q), orig(q, *a, **k))[1]
    with qtbot.waitSignal(st.results_shown, timeout=10000):
        for text in ("q", "qu", "qua", "quan", "quantum"):
            st.query.setText(text)  # search as you type: one search after the pause
    assert calls == ["quantum"]
    assert st.last_hits[0].name == "quantum.txt"


def test_toggle_and_shortcuts_change_the_retriever(qtbot, search, make_window, indexed_service, qsettings):
    w = make_window(indexed_service)
    search(w, "tomato garden")
    assert {h.retriever for h in w.search_tab.last_hits} == {"bm25"}
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=3000)
    with qtbot.waitSignal(w.search_tab.results_shown, timeout=10000):
        qtbot.keyClick(w.search_tab.query, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert w.search_tab.retriever == "dense"
    assert {h.retriever for h in w.search_tab.last_hits} == {"dense"}
    with qtbot.waitSignal(w.search_tab.results_shown, timeout=10000):
        w.search_tab.retriever_buttons["hybrid"].click()
    assert {h.retriever for h in w.search_tab.last_hits} == {"hybrid"}
    assert [a.isChecked() for a in w.retriever_actions.actions()] == [False, False, True]
    assert qsettings.value("search/retriever") == "hybrid"
    # Ctrl+F and Ctrl+L focus the query box
    w.library_tab.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert w.search_tab.query.hasFocus()


def test_filters_restrict_results(qtbot, search, make_window, indexed_service, corpus_dir):
    w = make_window(indexed_service)
    st = w.search_tab
    hits = search(w, "tomatoes")
    assert {h.name for h in hits} >= {"tomatoes.txt", "soup.txt"}
    with qtbot.waitSignal(st.results_shown, timeout=10000):
        st.folder_combo.setCurrentIndex(st.folder_combo.findData(str(corpus_dir)))
    i = st.type_combo.findData("md")
    assert i > 0
    with qtbot.waitSignal(st.results_shown, timeout=10000):
        st.type_combo.setCurrentIndex(i)
    assert all(h.name.endswith(".md") for h in st.last_hits)
    with qtbot.waitSignal(st.results_shown, timeout=10000):
        st.type_combo.setCurrentIndex(0)
    with qtbot.waitSignal(st.results_shown, timeout=10000):
        st.date_combo.setCurrentIndex(st.date_combo.findData(1))  # past 24 hours: the corpus is fresh
    assert st.last_hits
    assert st.filters().modified_after is not None


def test_compare_view_shows_overlap_of_retrievers(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    ct = w.compare_tab
    w.tabs.setCurrentWidget(ct)
    ct.set_retrievers(["bm25", "dense"])
    ct.k_spin.setValue(5)
    with qtbot.waitSignal(ct.compared, timeout=15000) as blocker:
        ct.query.setText("tomato soup bread")
        ct.compare_now()
    res = blocker.args[0]
    assert list(res["columns"]) == ["bm25", "dense"]
    expected = indexed_service.compare("tomato soup bread", ["bm25", "dense"], 5)["pairs"]["bm25|dense"]
    pr = ct.pairs_model.rows[0]
    assert (pr.first, pr.second) == ("bm25", "dense")
    assert pr.overlap == pytest.approx(expected["overlap_at_k"])
    assert pr.jaccard == pytest.approx(expected["jaccard"])
    shown = ct.pairs_proxy.index(0, 1).data()
    assert shown == f"{expected['overlap_at_k']:.2f}"
    assert ct.chart.pairs and ct.rank_plot.pair is not None
    # a file found by both is marked in each column and hovering it lights up its twin
    bm, de = ct.columns["bm25"].model, ct.columns["dense"].model
    shared = [h for h in bm.hits if de.row_of(h.doc_id) >= 0]
    assert shared, "the two retrievers should share some files on this corpus"
    from desktop_search.gui.models import ONLY_ROLE, TWINS_ROLE

    row = bm.row_of(shared[0].doc_id)
    assert bm.index(row).data(TWINS_ROLE) == {"dense": de.hits[de.row_of(shared[0].doc_id)].rank}
    assert bm.index(row).data(ONLY_ROLE) is False
    view = ct.columns["bm25"].view
    _hover(view, view.visualRect(bm.index(row)).center())
    assert ct.hover_doc_id == shared[0].doc_id
    _leave(view)
    assert ct.hover_doc_id is None
    _hover(view, view.visualRect(bm.index(row)).center())
    assert ct.twins_of(shared[0].doc_id).keys() == {"bm25", "dense"}
    # each column says what only it found
    for name, col in ct.columns.items():
        only = col.model.only_here()
        assert ("Only" in col.footer.text()) or not col.model.hits
        assert len(only) == (pr.only_first if name == "bm25" else pr.only_second)
    # clicking a result previews it
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(bm.index(0)).center())
    qtbot.waitUntil(lambda: ct.preview.title.text() == bm.hits[0].name and bool(ct.preview.text.toPlainText()), timeout=5000)


def test_compare_three_retrievers_has_three_pairs(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    ct = w.compare_tab
    with qtbot.waitSignal(ct.compared, timeout=15000):
        ct.query.setText("quicksort sorting")
        ct.compare_now()
    assert len(ct.pairs_model.rows) == 3
    assert len(ct.columns) == 3


def test_library_lists_failed_files_with_reason(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    lt = w.library_tab
    assert lt.folders_model.rowCount() == 1
    folder = lt.folders_model.rows[0]
    assert folder.indexed == 12 and folder.failed == 2 and folder.chunks >= 12
    assert "on disk" in lt.summary.text()
    lt.set_status_filter("failed")
    failed = {f.name: f.reason for f in lt.visible_files()}
    assert set(failed) == {"report.docx", "scan.pdf"}
    assert all(reason for reason in failed.values())
    assert "zip" in failed["report.docx"].lower() or "docx" in failed["report.docx"].lower()
    lt.set_status_filter("indexed")
    assert len(lt.visible_files()) == 12
    lt.filter_edit.setText("garden")
    assert {f.name for f in lt.visible_files()} == {"tomatoes.txt", "roses.md"}
    assert lt.retry_button.isEnabled()


def test_remove_folder_runs_in_worker_and_empties_the_library(qtbot, search, make_window, indexed_service, corpus_dir):
    w = make_window(indexed_service)
    search(w, "quantum")
    assert w.search_tab.last_hits
    with qtbot.waitSignal(w.folder_removed, timeout=10000):
        w.library_tab.remove_folder(str(corpus_dir), confirm=False)
    qtbot.waitUntil(lambda: w.library_tab.folders_model.rowCount() == 0, timeout=5000)
    qtbot.waitUntil(lambda: not w.search_tab.last_hits, timeout=5000)
    assert indexed_service.search("quantum", "dense") == []
    assert str(corpus_dir) not in w.saved_folders()


def test_known_error_becomes_a_banner_not_a_crash(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)

    def locked(*a, **k):
        raise KnownError("The index database is locked by another program; try again shortly.")

    indexed_service.search = locked
    w.search_tab.query.setText("bread")
    w.search_tab.search_now()
    qtbot.waitUntil(lambda: "locked" in w.banner.message, timeout=5000)
    assert "locked" in w.statusBar().currentMessage()
    assert w.isVisible()


def test_unexpected_error_shows_traceback_dialog(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)

    def bug(*a, **k):
        raise RuntimeError("boom in the search")

    indexed_service.search = bug
    w.search_tab.query.setText("bread")
    w.search_tab.search_now()
    qtbot.waitUntil(lambda: bool(w.reporter.bugs), timeout=5000)
    assert "boom in the search" in w.reporter.bugs[0] and "Traceback" in w.reporter.bugs[0]
    boxes = [b for b in w.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "boom" in boxes[0].detailedText()
    for b in boxes:
        b.close()


def test_settings_restore_geometry_retriever_and_tab(qtbot, make_window, indexed_service, empty_service, qsettings):
    w = make_window(indexed_service)
    w.resize(700, 595)  # within the offscreen screen (800x600): restoreGeometry clamps to the screen
    w.set_retriever("hybrid")
    w.tabs.setCurrentWidget(w.library_tab)
    w.close()
    assert qsettings.value("search/retriever") == "hybrid"
    assert str(indexed_service.store.folders()[0]["path"]) in w.saved_folders()
    w2 = make_window(empty_service)
    assert w2.search_tab.retriever == "hybrid"
    assert w2.tabs.currentWidget() is w2.library_tab
    assert (w2.width(), w2.height()) == (700, 595)


def test_empty_library_invites_to_drop(qtbot, make_window, empty_service):
    w = make_window(empty_service)
    assert "Drop folders" in w.search_tab.table.placeholder
    assert "No folders yet" in w.library_tab.summary.text()


def test_context_menu_and_copy_path(qtbot, search, make_window, indexed_service, monkeypatch):
    from PySide6.QtGui import QGuiApplication

    w = make_window(indexed_service)
    hits = search(w, "quantum")
    opened = []
    monkeypatch.setattr(w.ctx, "open_path", lambda p: opened.append(p))
    w.search_tab.table.setFocus()
    qtbot.keyClick(w.search_tab.table, Qt.Key.Key_Return)
    assert opened == [hits[0].path]
    w.search_tab.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == hits[0].path


def test_stall_meter_measures_blocked_event_loop(qtbot, make_window, empty_service):
    import time

    from PySide6.QtCore import QTimer

    w = make_window(empty_service)
    m = w.stall_meter
    m.start()
    qtbot.wait(60)
    QTimer.singleShot(0, lambda: time.sleep(0.15))
    qtbot.wait(200)
    m.stop()
    assert m.max_gap_ms >= 140
    assert m.summary()["stalls_over_100ms"] >= 1
