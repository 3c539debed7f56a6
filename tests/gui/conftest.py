"""GUI fixtures: a small corpus indexed once per session (fake encoder), copied per test, and a window factory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

GUI_CORPUS = {
    "recipes/bread.md": "# Sourdough bread\n\nMix flour, water and salt with the starter. Knead the dough, let it "
                        "rise overnight and bake the loaf in a very hot oven until the crust is dark.",
    "recipes/pancakes.txt": "Pancakes: whisk eggs, milk and flour into a smooth batter. Fry thin pancakes in "
                            "butter and serve them with lemon and sugar.",
    "recipes/soup.txt": "Tomato soup. Roast tomatoes with garlic and onion, blend with stock and season with "
                        "basil. A bowl of warm soup with fresh bread is a good supper.",
    "garden/tomatoes.txt": "Tomatoes need sun, warmth and regular water. Plant them in spring, tie the stems "
                           "to canes and prune the side shoots in summer for a better harvest.",
    "garden/roses.md": "Roses like rich soil. Prune roses in late winter, feed them in spring and remove dead "
                       "flowers through the summer.",
    "science/quantum.txt": "Quantum entanglement links the states of two particles; measuring one particle fixes "
                           "the state of the other, however far apart they are.",
    "science/proteins.txt": "Protein folding determines what a protein does. Misfolded proteins clump together "
                            "and cause diseases such as Alzheimer's and Parkinson's.",
    "science/stars.md": "Stars fuse hydrogen into helium in their cores. Massive stars end as supernovae and "
                        "leave neutron stars or black holes behind.",
    "code/sort.py": "def quicksort(items):\n    \"\"\"Sort a list of items with quicksort.\"\"\"\n    if len(items) < 2:\n"
                    "        return items\n    pivot, *rest = items\n    return quicksort([x for x in rest if x < pivot])"
                    " + [pivot] + quicksort([x for x in rest if x >= pivot])\n",
    "code/README.rst": "Sorting utilities\n=================\n\nThis package sorts lists quickly: quicksort and "
                       "merge sort, both stable enough for daily use.",
    "notes/meeting.txt": "Meeting notes: the budget for the garden project was approved. Buy tomato plants, "
                         "compost and a new hose before the spring planting.",
    "notes/travel.md": "Travel plans: take the night train to Vienna, visit the museums and eat cake in a "
                       "coffee house. Bring a warm coat for the cold evenings.",
}


def write_gui_corpus(root: Path) -> Path:
    for rel, text in GUI_CORPUS.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (root / "broken").mkdir(parents=True, exist_ok=True)
    (root / "broken" / "report.docx").write_bytes(b"this is not a zip archive at all")
    (root / "broken" / "scan.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref\n")
    return root


@pytest.fixture(scope="session")
def _indexed_template(tmp_path_factory):
    """Corpus and store indexed once (fake encoder, in-process); tests get copies of the store."""
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    base = tmp_path_factory.mktemp("gui_template")
    corpus = write_gui_corpus(base / "docs")
    with SearchService(base / "store", encoder=HashingEncoder()) as svc:
        for _ in svc.index([corpus]):
            pass
    return corpus, base / "store"


@pytest.fixture
def corpus_dir(_indexed_template) -> Path:
    return _indexed_template[0]


@pytest.fixture
def indexed_service(_indexed_template, tmp_path):
    """A SearchService (fake encoder) on a copy of the indexed store."""
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    _, store = _indexed_template
    shutil.copytree(store, tmp_path / "store")
    svc = SearchService(tmp_path / "store", encoder=HashingEncoder())
    yield svc
    svc.close()


@pytest.fixture
def empty_service(tmp_path):
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    svc = SearchService(tmp_path / "empty_store", encoder=HashingEncoder())
    yield svc
    svc.close()


@pytest.fixture
def qsettings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, qsettings):
    """Build a MainWindow on a service; the index child runs with --no-embed (the test's encoder is a fake)."""
    from desktop_search.gui.indexing import IndexRunner
    from desktop_search.gui.main_window import MainWindow

    windows = []

    def make(service, *, wait_library: bool = True, **kw):
        kw.setdefault("settings", qsettings)
        kw.setdefault("runner", IndexRunner(service.data_dir, extra_args=("--no-embed",)))
        kw.setdefault("resume_on_start", False)
        kw.setdefault("watch", False)
        w = MainWindow(None, **kw)
        qtbot.addWidget(w)
        windows.append(w)
        if kw["settings"].value("window/geometry") is None:
            w.resize(1200, 780)
        w.show()
        if wait_library:
            with qtbot.waitSignal(w.library_refreshed, timeout=10000):
                w.attach_service(service)
        else:
            w.attach_service(service)
        return w

    yield make
    for w in windows:
        w.close()


@pytest.fixture
def search(qtbot):
    """search(window, query, retriever=None): type a query, press Enter, wait for the results table."""

    def run(window, query: str, retriever: str | None = None, timeout: int = 15000) -> tuple:
        if retriever:
            window.set_retriever(retriever)
        with qtbot.waitSignal(window.search_tab.results_shown, timeout=timeout):
            window.search_tab.query.setText(query)
            window.search_tab.search_now()
        return window.search_tab.last_hits

    return run
