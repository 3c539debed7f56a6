"""Item models checked with qtmodeltester; every tab rendered to a PNG that is not blank."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSortFilterProxyModel
from PySide6.QtGui import QImage

from desktop_search.gui.models import (SORT_ROLE, CompareColumnModel, FileRow, FilesFilter, FilesModel, FolderRow,
                                       FoldersModel, PairRow, PairsModel, ResultsModel)
from desktop_search.retrievers.types import Hit

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _hits(n: int, retriever: str = "bm25") -> list[Hit]:
    return [Hit(rank=i + 1, doc_id=100 + i, path=f"/docs/f{i}.txt", name=f"f{i}.txt", folder="/docs", score=1.0 / (i + 1),
                chunk_id=i, start=0, end=10, snippet=f"word{i} and more words", spans=((0, 5),), mtime=1.7e9 + i,
                retriever=retriever) for i in range(n)]


def test_results_model(qapp, qtmodeltester):
    m = ResultsModel()
    m.set_hits(_hits(5))
    qtmodeltester.check(m, force_py=True)
    m.set_hits(())  # the tester stays connected and checks the resets
    m.set_hits(_hits(3))
    assert m.rowCount() == 3


def test_results_proxy_sorts_by_raw_values(qapp, qtmodeltester):
    m = ResultsModel()
    m.set_hits(_hits(12))
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(m)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(ResultsModel.SCORE)
    qtmodeltester.check(proxy, force_py=True)
    scores = [proxy.index(r, ResultsModel.SCORE).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert scores == sorted(scores)  # numerically, not as text ("0.083" < "1.000" < "0.100" would be wrong)


def test_compare_column_model(qapp, qtmodeltester):
    a, b = _hits(4, "bm25"), _hits(6, "dense")[2:]
    m = CompareColumnModel("bm25")
    m.set_hits(a, {"bm25": a, "dense": b})
    qtmodeltester.check(m, force_py=True)
    assert [h.doc_id for h in m.only_here()] == [100, 101]


def test_pairs_folders_and_files_models(qapp, qtmodeltester):
    pairs = PairsModel()
    pairs.set_rows([PairRow("bm25", "dense", 0.4, 0.25, 0.33, 6, 6, ((1, 2), (3, 1))),
                    PairRow("bm25", "hybrid", 0.8, 0.67, None, 2, 2, ())])
    qtmodeltester.check(pairs, force_py=True)
    folders = FoldersModel()
    folders.set_rows([FolderRow(1, "/docs", 10, 8, 1, 1, 40, True), FolderRow(2, "/gone", 3, 3, 0, 0, 9, False)])
    qtmodeltester.check(folders, force_py=True)
    files = FilesModel()
    files.set_rows([FileRow("/docs/a.txt", "a.txt", "txt", 10, 1.7e9, "indexed", "", 1),
                    FileRow("/docs/b.pdf", "b.pdf", "pdf", 99, 1.7e9, "failed", "not a valid PDF", 2),
                    FileRow("/docs/locked", "locked", "", 0, 0.0, "failed", "permission denied", None)])
    qtmodeltester.check(files, force_py=True)
    flt = FilesFilter()
    flt.setSourceModel(files)
    flt.set_status("failed")
    qtmodeltester.check(flt, force_py=True)
    assert flt.rowCount() == 2
    flt.set_text("permission")
    assert flt.rowCount() == 1


def test_window_models_pass_modeltester(qtbot, qtmodeltester, make_window, indexed_service, search):
    w = make_window(indexed_service)
    search(w, "bread oven")
    with qtbot.waitSignal(w.compare_tab.compared, timeout=15000):
        w.compare_tab.query.setText("bread oven")
        w.compare_tab.compare_now()
    models = [w.search_tab.model, w.search_tab.proxy, w.compare_tab.pairs_model, w.compare_tab.pairs_proxy,
              w.library_tab.folders_model, w.library_tab.folders_proxy, w.library_tab.files_model,
              w.library_tab.files_proxy] + [c.model for c in w.compare_tab.columns.values()]
    for m in models:
        qtmodeltester.check(m, force_py=True)


def _distinct_colours(img: QImage, step: int = 3) -> int:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    seen = set()
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            seen.add(img.pixel(x, y))
    return len(seen)


def test_every_tab_renders_to_a_non_blank_png(qtbot, make_window, indexed_service, tmp_path, search):
    out = Path(os.environ.get("GUI_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    w = make_window(indexed_service)
    with qtbot.waitSignal(w.search_tab.preview_shown, timeout=10000):
        search(w, "tomatoes in summer")
    w.tabs.setCurrentWidget(w.compare_tab)
    with qtbot.waitSignal(w.compare_tab.compared, timeout=15000):
        w.compare_tab.query.setText("tomatoes in summer")
        w.compare_tab.compare_now()
    col = next(iter(w.compare_tab.columns.values()))
    w.compare_tab.show_preview(col.model.hits[0])
    w.compare_tab.set_hover(col.model.hits[1].doc_id)
    qtbot.waitUntil(lambda: bool(w.compare_tab.preview.text.toPlainText()), timeout=5000)
    w.library_tab.set_status_filter("failed")
    counts = {}
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        name = w.tabs.tabText(i).lower()
        path = out / f"tab-{name}.png"
        assert w.grab().save(str(path))
        img = QImage(str(path))
        assert not img.isNull() and img.width() > 600
        counts[name] = _distinct_colours(img)
    # text, highlights and charts give many colours; a blank or single-colour render gives one or two
    assert all(n > 8 for n in counts.values()), counts
    assert counts["search"] > 30 and counts["compare"] > 30, counts
