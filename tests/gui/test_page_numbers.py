"""The preview says where a passage is in its file ("passage on page 12"), not character offsets (issue 15 #10)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from desktop_search.retrievers.types import Hit  # noqa: E402

pytestmark = pytest.mark.gui


def _hit(section: str) -> Hit:
    return Hit(rank=1, doc_id=1, path="/docs/paper.pdf", name="paper.pdf", folder="/docs", score=1.0, chunk_id=1,
               start=11746, end=12611, snippet=f"{section} · bats find moths" if section else "bats find moths",
               kind="pdf" if section else "text", section=section)


def test_preview_names_the_page_of_a_sectioned_file_and_the_offsets_of_others(qtbot):
    from desktop_search.gui.preview import PreviewPane

    pane = PreviewPane()
    qtbot.addWidget(pane)
    pv = {"text": "bats find moths", "offset": 0, "passage": (0, 15), "spans": ((0, 4),)}
    pane.show_preview(_hit("page 12"), pv)
    assert "passage on page 12" in pane.info.text() and "characters" not in pane.info.text()
    pane.show_preview(_hit(""), pv)
    assert "passage at characters 11,746–12,611" in pane.info.text()
