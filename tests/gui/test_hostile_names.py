"""File names, titles, contents and queries that look like markup show literally in every tab.

A library of hostile files is indexed, then every tab is filled (search, preview, compare,
library, judgments, training) and every label, tooltip and item tooltip of the window is read
the way Qt shows it: as plain text when the label is PlainText (or Qt does not take the text
for rich text), else through Qt's own HTML reader. Wherever a hostile word is shown, its
markup must be shown with it, character for character.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6 import QtGui
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QAbstractItemView, QLabel, QMessageBox, QWidget

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]

# a word that appears when markup is rendered, and the literal text the user must see instead
MARKERS = {
    "INVOICE-PAID": "<font size=7 color=red>INVOICE-PAID<font>",
    "Jerry": "Tom &amp; Jerry",
    "BOLD-TITLE": "<b>BOLD-TITLE</b>",
    "BROKEN": "<h1>BROKEN<h1>",
    "DIR-NAME": "<u>DIR-NAME<u>",
    "QUERY-WORD": "<i>QUERY-WORD</i>",
}
HOSTILE_QUERY = "<i>QUERY-WORD</i> zebra"


def _shown(text: str, fmt: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What Qt displays for `text` in a label of format `fmt` (tooltips behave as AutoText)."""
    if fmt == Qt.TextFormat.PlainText or (fmt == Qt.TextFormat.AutoText and not QtGui.Qt.mightBeRichText(text)):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def _check(where: str, raw: str, shown: str, seen: dict[str, list[str]]) -> None:
    for word, literal in MARKERS.items():
        if word not in raw and word not in shown:
            continue
        seen.setdefault(word, []).append(where)
        # the literal is shown, or (a text cut short, elided) at least the text is shown as it is
        assert word in shown and (literal in shown or shown == raw), \
            f"{where} renders markup: {raw!r} shows as {shown!r}"


def _item_tooltips(view: QAbstractItemView):
    model = view.model()
    if model is None:
        return
    for r in range(min(model.rowCount(QModelIndex()), 200)):
        for c in range(32):
            index = model.index(r, c)
            if not index.isValid():
                break
            tip = index.data(Qt.ItemDataRole.ToolTipRole)
            if isinstance(tip, str) and tip:
                yield f"{type(model).__name__}[{r},{c}]", tip


def _check_window(w, seen: dict[str, list[str]]) -> int:
    n = 0
    for label in w.findChildren(QLabel):
        _check(f"label {label.objectName() or type(label.parent()).__name__}", label.text(),
               _shown(label.text(), label.textFormat()), seen)
        n += 1
    for widget in w.findChildren(QWidget):
        tip = widget.toolTip()
        if tip:
            _check(f"tooltip of {type(widget).__name__}", tip, _shown(tip), seen)
            n += 1
    for view in w.findChildren(QAbstractItemView):
        for where, tip in _item_tooltips(view):
            _check(where, tip, _shown(tip), seen)
            n += 1
    _check("window title", w.windowTitle(), w.windowTitle(), seen)
    return n


@pytest.fixture
def hostile_library(tmp_path, empty_service):
    from fixtures_bad_files import make_corrupt_pdf

    root = tmp_path / "hostile" / "<u>DIR-NAME<u>"  # names cannot hold "/"
    root.mkdir(parents=True)
    (root / "<font size=7 color=red>INVOICE-PAID<font>.txt").write_text(
        "zebra invoice paid in full, <b>markup in the text</b> &amp; an entity", encoding="utf-8")
    (root / "Tom &amp; Jerry.txt").write_text("zebra cartoon with a cat and a mouse", encoding="utf-8")
    (root / "title.md").write_text("# <b>BOLD-TITLE</b>\n\nzebra <img src=x onerror=alert(1)> stripes\n",
                                   encoding="utf-8")
    make_corrupt_pdf(root / "<h1>BROKEN<h1>.pdf")
    svc = empty_service
    for _ in svc.index([root]):
        pass
    docs = {d.name: d for d in svc.files()}
    svc.mark(HOSTILE_QUERY, docs["Tom &amp; Jerry.txt"].id, 1, retriever="bm25", passage="zebra <b>cartoon</b>")
    svc.mark(HOSTILE_QUERY, docs["<font size=7 color=red>INVOICE-PAID<font>.txt"].id, 0, retriever="hybrid")
    return svc


def test_every_tab_shows_hostile_names_literally(qtbot, make_window, search, hostile_library):
    svc = hostile_library
    w = make_window(svc)
    seen: dict[str, list[str]] = {}
    st = w.search_tab
    for retriever in ("bm25", "hybrid"):
        hits = search(w, HOSTILE_QUERY, retriever)
        assert {h.name for h in hits} >= {"<font size=7 color=red>INVOICE-PAID<font>.txt", "Tom &amp; Jerry.txt"}
        for row in range(st.proxy.rowCount()):
            st.table.selectRow(row)
            hit = st.current_hit()
            qtbot.waitUntil(lambda: st.preview.hit == hit, timeout=10000)
            _check_window(w, seen)
    assert st.preview.title.textFormat() == Qt.TextFormat.PlainText

    ct = w.compare_tab
    w.tabs.setCurrentWidget(ct)
    with qtbot.waitSignal(ct.compared, timeout=15000):
        ct.query.setText(HOSTILE_QUERY)
        ct.compare_now()
    _check_window(w, seen)

    w.tabs.setCurrentWidget(w.library_tab)
    qtbot.waitUntil(lambda: w.library_tab.files_model.rowCount() == 4, timeout=10000)
    _check_window(w, seen)
    w.library_tab.folders_view.selectRow(0)
    dialog = w.library_tab.edit_exclusions(modal=False)  # names the selected folder
    assert dialog is not None and dialog.folder_list is not None
    _check_window(w, seen)
    dialog.close()

    jt = w.judgments_tab
    with qtbot.waitSignal(jt.marks_loaded, timeout=30000):
        w.tabs.setCurrentWidget(jt)
    qtbot.waitUntil(lambda: jt.marks_model.rowCount() == 2, timeout=10000)
    _check_window(w, seen)

    w.tabs.setCurrentWidget(w.training_tab)
    checked = _check_window(w, seen)
    assert checked > 50
    # each hostile word was shown somewhere, so the checks above did look at it
    for word in MARKERS:
        assert seen.get(word), f"{word} was never shown: the test did not reach it"


def test_remove_folder_question_is_plain_text(qtbot, make_window, hostile_library, monkeypatch):
    w = make_window(hostile_library)
    shown: list[QMessageBox] = []

    def fake_exec(box):
        shown.append(box)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    folder = w.library_tab.folders_model.rows[0].path
    w.library_tab.remove_folder(folder)
    assert shown and shown[0].textFormat() == Qt.TextFormat.PlainText
    assert "<u>DIR-NAME<u>" in shown[0].text()


def test_plain_tip_shows_text_exactly():
    from desktop_search.gui.plain import escaped, plain_tip

    for text in ("<font size=7 color=red>INVOICE-PAID<font>.txt", "Tom &amp; Jerry.txt", "a\n<b>b</b>", "plain"):
        assert _shown(plain_tip(text)).replace("\u2028", "\n") == text
    assert plain_tip("") == "" and plain_tip(None) is None
    assert escaped("<b>&") == "&lt;b&gt;&amp;"


@pytest.mark.parametrize("query", ["", "   ", "\t "])
def test_blank_query_shows_no_results_and_says_what_to_do(qtbot, make_window, indexed_service, search, query):
    w = make_window(indexed_service)
    st = w.search_tab
    assert search(w, "bread", "hybrid")  # results first: a blank query must clear them
    for retriever in ("bm25", "dense", "hybrid"):
        w.set_retriever(retriever)
        st.query.setText(query)
        st.search_now()
        qtbot.wait(50)
        assert st.model.rowCount() == 0 and st.last_hits == ()
        assert st.table.placeholder.startswith("Type to search")


def test_library_says_a_long_file_was_indexed_in_part(qtbot, make_window, tmp_path):
    from desktop_search.config import IndexSettings
    from desktop_search.gui.models import FilesModel
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text("narwhal tusks " * 500)
    with SearchService(tmp_path / "store", encoder=HashingEncoder(), settings=IndexSettings(max_chars=1000)) as svc:
        for _ in svc.index([docs], embed=False):
            pass
        w = make_window(svc)
        w.tabs.setCurrentWidget(w.library_tab)
        model = w.library_tab.files_model
        qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=10000)
        assert model.index(0, FilesModel.STATUS).data() == "indexed"
        assert model.index(0, FilesModel.REASON).data().startswith("first 1,000 characters only")
        w.close()
