"""Marks in Search and Compare, the Judgments tab (change, remove, export and import) and the judged evaluation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_search.gui.models import HIT_ROLE, MARK_ROLE, ResultsModel

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]

JUDGED = {"sourdough bread": "bread.md", "tomato garden": "tomatoes.txt", "quantum particles": "quantum.txt",
          "protein folding": "proteins.txt", "night train to vienna": "travel.md"}


def _activate(qtbot, w) -> None:
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=30000)


def _doc(svc, name: str) -> int:
    return next(d.id for d in svc.files() if d.name == name)


def _marks_column(st) -> list[str]:
    return [st.proxy.index(r, ResultsModel.MARK).data() or "" for r in range(st.proxy.rowCount())]


def test_marking_in_search_is_stored_with_its_retriever_and_shown_again(qtbot, search, make_window, indexed_service):
    w = make_window(indexed_service)
    _activate(qtbot, w)
    hits = search(w, "tomato soup", "hybrid")
    st = w.search_tab
    assert len(hits) >= 3 and _marks_column(st) == [""] * len(hits)
    st.table.setFocus()
    st.table.selectRow(0)
    # "+" marks the selected result relevant
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        qtbot.keyClick(st.table, Qt.Key.Key_Plus)
    assert indexed_service.marks_for("tomato soup") == {hits[0].doc_id: 1}
    j = indexed_service.store.judgments("tomato soup")[0]
    assert (j.retriever, j.model_version, j.chunk_id) == ("hybrid", "base", hits[0].chunk_id)
    assert _marks_column(st)[0] == "\u2713"
    # a click on the Mark column cycles: relevant, then not relevant
    idx = st.proxy.index(1, ResultsModel.MARK)
    for _ in range(2):
        with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
            qtbot.mouseClick(st.table.viewport(), Qt.MouseButton.LeftButton, pos=st.table.visualRect(idx).center())
    assert indexed_service.marks_for("tomato soup")[hits[1].doc_id] == 0
    assert _marks_column(st)[:2] == ["\u2713", "\u2717"]
    # "-" on the third, then "0" clears it again
    st.table.selectRow(2)
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        qtbot.keyClick(st.table, Qt.Key.Key_Minus)
    assert indexed_service.marks_for("tomato soup")[hits[2].doc_id] == 0
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        qtbot.keyClick(st.table, Qt.Key.Key_0)
    assert hits[2].doc_id not in indexed_service.marks_for("tomato soup")
    # the context menu's entries, and their tooltips name the keys
    assert [a.text() for a in st.mark_actions.actions.values()] == ["Mark relevant", "Mark not relevant", "Clear mark"]
    assert "+ relevant" in st.model.headerData(ResultsModel.MARK, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    # another query shows no marks; the same query typed differently shows them again
    search(w, "pancakes")
    assert set(_marks_column(st)) == {""}
    with qtbot.waitSignal(st.marks_shown, timeout=30000):
        st.query.setText("  Tomato   SOUP ")
        st.search_now()
    shown = {st.proxy.index(r, 0).data(HIT_ROLE).doc_id: st.proxy.index(r, 0).data(MARK_ROLE)
             for r in range(st.proxy.rowCount())}
    assert shown[hits[0].doc_id] == 1 and shown[hits[1].doc_id] == 0 and shown[hits[2].doc_id] is None


def test_context_menu_entries_mark_the_file_under_the_mouse(qtbot, search, make_window, indexed_service):
    from PySide6.QtWidgets import QMenu

    from desktop_search.gui.marks import add_mark_entries

    w = make_window(indexed_service)
    hits = search(w, "quantum")
    st = w.search_tab
    menu = QMenu(st)
    add_mark_entries(menu, hits[0], st.mark_of(hits[0].doc_id), st.mark_hit)
    entries = {a.text(): a for a in menu.actions()}
    assert not entries["Clear mark"].isEnabled()
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        entries["Mark not relevant"].trigger()
    assert indexed_service.marks_for("quantum") == {hits[0].doc_id: 0}
    menu.deleteLater()


def test_a_mark_in_one_compare_column_shows_in_every_column(qtbot, make_window, indexed_service):
    from desktop_search.gui.delegates import CompareDelegate

    w = make_window(indexed_service)
    w.tabs.setCurrentWidget(w.compare_tab)
    ct = w.compare_tab
    with qtbot.waitSignal(ct.compared, timeout=30000):
        ct.query.setText("tomato garden")
        ct.compare_now()
    cols = ct.columns
    shared = next(h for h in cols["bm25"].model.hits if len(ct.twins_of(h.doc_id)) >= 2)
    col = cols["dense"]
    row = col.model.row_of(shared.doc_id)
    assert row >= 0
    idx = col.model.index(row, 0)
    rect = CompareDelegate.mark_rect(col.view.visualRect(idx), col.view.fontMetrics())
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        qtbot.mouseClick(col.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert indexed_service.marks_for("tomato garden") == {shared.doc_id: 1}
    assert indexed_service.store.judgments("tomato garden")[0].retriever == "dense"
    for name, r in ct.twins_of(shared.doc_id).items():
        assert cols[name].model.index(r, 0).data(MARK_ROLE) == 1, name
    # a keyboard mark in another column changes it everywhere
    cols["bm25"].view.setFocus()
    cols["bm25"].view.setCurrentIndex(cols["bm25"].model.index(cols["bm25"].model.row_of(shared.doc_id), 0))
    _activate(qtbot, w)
    with qtbot.waitSignal(w.ctx.marks_changed, timeout=30000):
        qtbot.keyClick(cols["bm25"].view, Qt.Key.Key_Minus)
    assert indexed_service.marks_for("tomato garden") == {shared.doc_id: 0}
    assert indexed_service.store.judgments("tomato garden")[0].retriever == "bm25"
    for name, r in ct.twins_of(shared.doc_id).items():
        assert cols[name].model.index(r, 0).data(MARK_ROLE) == 0, name
    # the Search tab shows the Compare tab's marks for the same query
    with qtbot.waitSignal(w.search_tab.marks_shown, timeout=30000):
        w.search_tab.query.setText("TOMATO garden")
        w.search_tab.search_now()
    assert w.search_tab.model.mark_of(shared.doc_id) == 0


def _open_judgments(qtbot, w):
    jt = w.judgments_tab
    with qtbot.waitSignal(jt.marks_loaded, timeout=30000):
        w.tabs.setCurrentWidget(jt)
    return jt


def test_judgments_tab_lists_changes_removes_and_round_trips(qtbot, make_window, indexed_service, corpus_dir,
                                                            tmp_path):
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    svc = indexed_service
    svc.mark("Sourdough bread", _doc(svc, "bread.md"), 1, retriever="dense:base")
    svc.mark("sourdough bread", _doc(svc, "soup.txt"), 0, retriever="bm25")
    svc.mark("tomato garden", _doc(svc, "tomatoes.txt"), 1, retriever="hybrid")
    w = make_window(svc)
    jt = _open_judgments(qtbot, w)
    rows = {r.query.casefold(): (r.relevant, r.not_relevant) for r in jt.queries_model.rows}
    assert rows == {"sourdough bread": (1, 1), "tomato garden": (1, 0)}
    assert jt.queries_model.index(0, 3).data()[:2] == "20"
    with qtbot.waitSignal(jt.marks_loaded, timeout=30000):
        assert jt.select_query("SOURDOUGH bread")
    shown = {jt.marks_model.index(r, 0).data(): jt.marks_model.index(r, 1).data()
             for r in range(jt.marks_model.rowCount())}
    assert shown == {"bread.md": "\u2713 relevant", "soup.txt": "\u2717 not relevant"}
    bread = next(r for r in range(jt.marks_proxy.rowCount()) if jt.marks_proxy.index(r, 0).data() == "bread.md")
    assert jt.marks_proxy.index(bread, 2).data() == "Dense (base)"
    assert jt.marks_proxy.index(bread, 3).data() == "base"
    # change bread.md to not relevant: its retriever and version stay
    jt.marks_view.selectRow(bread)
    with qtbot.waitSignal(jt.marks_loaded, timeout=30000):
        jt.not_relevant_button.click()
    assert svc.marks_for("sourdough bread")[_doc(svc, "bread.md")] == 0
    j = next(j for j in svc.store.judgments("sourdough bread") if j.path.endswith("bread.md"))
    assert (j.retriever, j.model_version) == ("dense:base", "base")
    # remove soup.txt's mark
    soup = next(r for r in range(jt.marks_proxy.rowCount()) if jt.marks_proxy.index(r, 0).data() == "soup.txt")
    jt.marks_view.selectRow(soup)
    with qtbot.waitSignal(jt.marks_loaded, timeout=30000):
        jt.remove_button.click()
    assert svc.marks_for("sourdough bread") == {_doc(svc, "bread.md"): 0}
    assert {r.query.casefold(): (r.relevant, r.not_relevant) for r in jt.queries_model.rows}["sourdough bread"] == (0, 1)
    # export, then import into a fresh store of the same files
    out = tmp_path / "beir"
    with qtbot.waitSignal(jt.message_shown, timeout=30000) as blocker:
        jt.export_to(str(out))
    assert "Exported 2 marks for 2 queries" in blocker.args[0]
    assert (out / "queries.jsonl").is_file() and (out / "qrels" / "test.tsv").is_file()
    fresh = SearchService(tmp_path / "fresh", encoder=HashingEncoder())
    try:
        for _ in fresh.index([corpus_dir], embed=False):
            pass
        w2 = make_window(fresh)
        jt2 = w2.judgments_tab
        with qtbot.waitSignal(jt2.message_shown, timeout=30000) as blocker:
            jt2.import_from(str(out))
        assert blocker.args[0].startswith("Imported 2 marks for 2 queries")
        by_path = lambda s: {(q.casefold(), p, g) for q, docs in s.store.qrels().items()  # noqa: E731
                             for p, g in ((s.store.doc(d).path, g) for d, g in docs.items())}
        assert by_path(fresh) == by_path(svc)
        with qtbot.waitSignal(jt2.queries_loaded, timeout=30000):
            w2.tabs.setCurrentWidget(jt2)
        assert len(jt2.queries_model.rows) == 2
        w2.close()
    finally:
        fresh.close()


def test_hostile_names_and_queries_show_literally(qtbot, make_window, indexed_service, tmp_path):
    svc = indexed_service
    folder = tmp_path / "hostile" / "<b>X<"
    folder.mkdir(parents=True)
    (folder / "b>.txt").write_text("hostile bold markup in a file name", encoding="utf-8")  # path: …/<b>X</b>.txt
    (folder / "<img src=x>&amp;.txt").write_text("an image tag in a file name", encoding="utf-8")
    for _ in svc.index([tmp_path / "hostile"], embed=False):
        pass
    docs = {d.name: d for d in svc.files()}
    svc.mark("<i>hostile</i> query", docs["b>.txt"].id, 1, retriever="bm25")
    svc.mark("<i>hostile</i> query", docs["<img src=x>&amp;.txt"].id, 0, retriever="bm25")
    w = make_window(svc)
    jt = _open_judgments(qtbot, w)
    assert jt.queries_model.index(0, 0).data() == "<i>hostile</i> query"
    files = {jt.marks_model.index(r, 0).data() for r in range(jt.marks_model.rowCount())}
    assert files == {"b>.txt", "<img src=x>&amp;.txt"}
    tips = [jt.marks_model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole) for r in range(jt.marks_model.rowCount())]
    assert any("&lt;b&gt;X&lt;/b&gt;.txt" in t for t in tips)  # escaped: shown as it is (gui/plain.py)
    assert jt.marks_title.text() == "2 marks for \u201c<i>hostile</i> query\u201d"
    assert jt.marks_title.textFormat() == Qt.TextFormat.PlainText
    # the preview's title and the import message are plain text too
    from desktop_search.gui.judgments_tab import import_message

    jt._show(import_message({"imported": 0, "queries": 0, "unmatched_files": 1,
                             "unmatched_examples": ["<b>X</b>.txt"]}, "/tmp/<b>"))
    assert jt.message.text.textFormat() == Qt.TextFormat.PlainText
    assert "<b>X</b>.txt" in jt.message.text.text()
    assert w.search_tab.preview.title.textFormat() == Qt.TextFormat.PlainText


def _mark_judged(svc) -> None:
    for q, name in JUDGED.items():
        svc.mark(q, _doc(svc, name), 1, retriever="bm25")
    svc.mark("sourdough bread", _doc(svc, "soup.txt"), 0, retriever="bm25")


def test_training_tab_shows_the_judged_evaluation(qtbot, make_window, indexed_service):
    from desktop_search.judged_eval import evaluate_judgments

    _mark_judged(indexed_service)
    w = make_window(indexed_service)
    panel = w.training_tab.judged
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        w.tabs.setCurrentWidget(w.training_tab)
    expected = evaluate_judgments(indexed_service)
    assert expected["enough"] and panel.view.isVisible()
    rows = {r.name: r for r in panel.model.rows}
    assert list(rows) == list(expected["columns"]) == ["bm25", "dense:base", "hybrid:base"]
    for r, (name, c) in zip(range(panel.model.rowCount()), expected["columns"].items()):
        got = rows[name]
        assert (got.ndcg, got.mrr, got.recall, got.n_queries) == pytest.approx(
            (c["ndcg@10"], c["mrr@10"], c["recall@10"], c["n_queries"]))
        assert [panel.model.index(r, col).data() for col in range(1, 5)] == [
            f"{c['ndcg@10']:.3f}", f"{c['mrr@10']:.3f}", f"{c['recall@10']:.3f}", "5"]
    assert panel.model.index(0, 0).data() == "BM25" and panel.model.index(1, 0).data() == "Dense (base)"
    assert "Unjudged results count as not relevant." in panel.summary.text()
    assert "5 judged queries" in panel.summary.text()
    # a mark changed elsewhere makes it compute again while shown
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        w.ctx.notify_marks_changed("sourdough bread")


def test_training_tab_asks_for_five_judged_queries(qtbot, make_window, indexed_service):
    svc = indexed_service
    svc.mark("sourdough bread", _doc(svc, "bread.md"), 1, retriever="bm25")
    svc.mark("tomato garden", _doc(svc, "tomatoes.txt"), 1, retriever="bm25")
    w = make_window(svc)
    panel = w.training_tab.judged
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        w.tabs.setCurrentWidget(w.training_tab)
    text = panel.summary.text()
    assert "at least 5" in text and "pseudo-query" in text
    assert not panel.view.isVisible() and panel.model.rowCount() == 0


def test_versus_base_and_held_out_wording():
    from desktop_search.gui.training.judged import HELD_OUT_NOTE, column_label, summary_text, versus_text

    v = {"delta": 0.021, "low": -0.004, "high": 0.046, "n": 12, "held_out": True}
    assert versus_text(v) == "+2.1 (\u22120.4 to +4.6) on 12 queries it did not train on"
    assert versus_text({**v, "held_out": False, "n": 1}) == "+2.1 (\u22120.4 to +4.6) on 1 query"
    assert column_label("hybrid:v3-20260101-120000") == "Hybrid (v3)"
    res = {"enough": True, "n_queries": 14, "note": "Unjudged results count as not relevant.",
           "columns": {"dense:v3-x": {"ndcg@10": 0.5, "mrr@10": 0.5, "recall@10": 0.5, "n_queries": 12,
                                      "held_out": True}},
           "versus_base": {"dense:v3-x": v}, "skipped": {},
           "verdict": {"v3-x": {"source": "training_check", "delta": 0.01, "text": "12 held-out queries cannot tell"}}}
    text = summary_text(res)
    assert HELD_OUT_NOTE in text and "95% interval" in text
    assert "Did v3 help? 12 held-out queries cannot tell." in text
    assert "scored only on judged queries they did not train on" in text
