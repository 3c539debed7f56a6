"""Issue 15 in the window: titles in the results (#8), the notice when a query is read as words (#6), and the
Library tab's Exclusions dialog (#11)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QFont, QFontMetrics

from desktop_search.gui.delegates import TitleDelegate
from desktop_search.gui.models import ResultsModel
from desktop_search.retrievers.types import Hit

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _hit(name: str, title: str = "") -> Hit:
    return Hit(rank=1, doc_id=1, path=f"/docs/{name}", name=name, folder="/docs", score=1.0, chunk_id=1, start=0,
               end=5, snippet="words", title=title)


def _shots() -> Path:
    out = Path(os.environ.get("GUI_SCREENSHOT_DIR") or "/tmp/ds-shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_results_show_the_title_with_the_file_name_beneath_elided_in_the_middle(qapp):
    m = ResultsModel()
    m.set_hits([_hit("inputoutput.html", "7. Input and Output"), _hit("notes.txt")])
    assert m.index(0, ResultsModel.NAME).data() == "7. Input and Output"
    assert m.index(1, ResultsModel.NAME).data() == "notes.txt"  # no title: the name
    font = QFont()
    bold = QFont(font)
    bold.setBold(True)
    fm, bfm = QFontMetrics(font), QFontMetrics(bold)
    assert TitleDelegate.lines(_hit("inputoutput.html", "7. Input and Output"), bfm, fm, 2000) == (
        "7. Input and Output", "inputoutput.html")
    assert TitleDelegate.lines(_hit("notes.txt"), bfm, fm, 2000) == ("notes.txt", "")
    long = "a-very-long-generated-file-name-that-goes-on-and-on-2024-report-final.html"
    first, second = TitleDelegate.lines(_hit(long, "Report"), bfm, fm, fm.horizontalAdvance("m") * 12)
    assert first == "Report"
    assert "\u2026" in second and second.startswith("a-") and second.endswith(".html")  # the middle goes


def test_search_tab_titles_and_the_words_notice(qtbot, make_window, indexed_service, search):
    w = make_window(indexed_service)
    hits = search(w, "sourdough loaf")
    assert hits and hits[0].title == "Sourdough bread" and hits[0].name == "bread.md"
    assert not w.search_tab.notice_label.isVisible()
    hits = search(w, '"loaf sourdough"')  # the words are there, never in this order
    assert hits and hits[0].name == "bread.md"
    label = w.search_tab.notice_label
    assert label.isVisible()
    assert label.text() == "No file contains the phrase \u201cloaf sourdough\u201d; showing results for the words."
    hits = search(w, '"loaf sourdough"', "hybrid")
    assert label.isVisible() and hits[0].name == "bread.md"
    assert "1 contain the words" in w.search_tab.summary.text()  # counted for the words that were ranked
    qtbot.wait(100)
    assert w.search_tab.grab().save(str(_shots() / "search-title-notice.png"))
    w.search_tab.query.setText("")
    assert not label.isVisible()


def test_library_tab_exclusions_dialog_edits_patterns_and_rescans(qtbot, make_window, indexed_service, corpus_dir):
    w = make_window(indexed_service)
    tab = w.library_tab
    folder = tab.selected_folder()
    assert folder is not None
    dialog = tab.edit_exclusions(modal=False)
    assert dialog is not None and dialog.folder_list is not None and dialog.gitignore.isChecked()
    dialog.global_list.edit.setText("*.docx")
    dialog.global_list.add_button.click()
    dialog.folder_list.edit.setText("notes/")
    dialog.folder_list.edit.returnPressed.emit()
    dialog.global_list.edit.setText("!")  # not a pattern: a message, the box keeps the text
    dialog.global_list.add_button.click()
    assert "not an exclusion pattern" in dialog.message.text()
    assert dialog.global_list.edit.text() == "!"
    assert dialog.global_list.patterns() == ["*.docx"] and dialog.folder_list.patterns() == ["notes/"]
    assert indexed_service.exclusions.listing()["folders"] == {folder: ["notes/"]}
    dialog.resize(620, 520)
    qtbot.wait(50)
    assert dialog.grab().save(str(_shots() / "exclusions-dialog.png"))
    with qtbot.waitSignal(tab.rescan_requested, timeout=5000):
        dialog.reject()
    # the rescan the window runs drops the excluded files
    qtbot.waitUntil(lambda: not any(f.path.endswith(("meeting.txt", "report.docx")) for f in w.library_tab.files_model.rows),
                    timeout=30000)


def test_compare_tab_shows_the_words_notice(qtbot, make_window, indexed_service):
    from desktop_search.gui.compare_tab import notice_text

    w = make_window(indexed_service)
    w.tabs.setCurrentWidget(w.compare_tab)
    with qtbot.waitSignal(w.compare_tab.compared, timeout=15000):
        w.compare_tab.query.setText('"loaf sourdough"')
        w.compare_tab.compare_now()
    label = w.compare_tab.notice_label
    assert label.isVisible()
    assert label.text() == "No file contains the phrase \u201cloaf sourdough\u201d; showing results for the words."
    with qtbot.waitSignal(w.compare_tab.compared, timeout=15000):
        w.compare_tab.query.setText("sourdough loaf")
        w.compare_tab.compare_now()
    assert not label.isVisible()
    assert notice_text({"bm25": "a", "dense": "b"}) == "BM25: a\nDense: b"
