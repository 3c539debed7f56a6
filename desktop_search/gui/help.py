"""Help texts: the query syntax (Help › Query syntax, F1) and one sentence per retriever and agreement figure.

Kept in one place so the tooltips, the help window and the tests say the same thing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

RETRIEVER_HELP = {
    "bm25": "BM25 (Ctrl+1): keyword search. Finds files that contain your words, rare words counting most; "
            "exact, fast, and blind to synonyms.",
    "dense": "Dense (Ctrl+2): meaning search. An embedding model compares the meaning of your query with every "
             "passage, so it finds files that say the same thing in other words.",
    "hybrid": "Hybrid (Ctrl+3): both at once. The BM25 and Dense rankings are merged, so a file that matches "
              "the words and the meaning comes first; usually the best choice.",
}

METRIC_HELP = {
    "overlap": "overlap@k: the share of the top k files that both retrievers found (1 = the same files, in any order).",
    "jaccard": "Jaccard: files found by both, divided by files found by either (1 = identical sets, 0 = nothing shared).",
    "tau": "Kendall's tau: how alike the order of the shared files is, from -1 (reversed) to 1 (the same order).",
}

# (syntax, what it does) rows of the query-syntax help
QUERY_SYNTAX = (
    ("bread oven", "files with any of the words; those with more of them, and rarer ones, rank higher"),
    ('"sourdough bread"', "the exact phrase: these words next to each other, in this order"),
    ("+starter", "the word must be in the file"),
    ("-rye", "files with this word are left out"),
    ('+"night train" -bus', "operators combine"),
)


def query_syntax_html() -> str:
    """The help page (fixed text written here: no document or file name goes into it)."""
    rows = "".join(f"<tr><td style='padding:2px 12px 2px 0'><code>{q.replace('<', '&lt;')}</code></td>"
                   f"<td>{what}</td></tr>" for q, what in QUERY_SYNTAX)
    retrievers = "".join(f"<li>{text}</li>" for text in RETRIEVER_HELP.values())
    return (
        "<h3>Writing a query</h3>"
        f"<table>{rows}</table>"
        "<p>Words are matched without regard to case, and common word endings are ignored "
        "(<i>bake</i> also finds <i>baking</i>). The operators narrow the results of every retriever; Dense "
        "and Hybrid also read the words for their meaning.</p>"
        "<h3>Retrievers</h3>"
        f"<ul>{retrievers}</ul>"
        "<h3>Filters and keys</h3>"
        "<ul><li>Folder, Type and Modified (below the query) narrow every retriever.</li>"
        "<li>Enter searches at once; Down moves into the results; Enter on a result opens it.</li>"
        "<li>+ marks a result relevant, \u2212 not relevant, 0 clears the mark (for training and evaluation).</li>"
        "<li>Compare (Ctrl+Shift+C) runs the same query through several retrievers side by side.</li></ul>"
        "<h3>Compare figures</h3>"
        "<ul>" + "".join(f"<li>{t}</li>" for t in METRIC_HELP.values()) + "</ul>"
    )


class QuerySyntaxDialog(QDialog):
    """Help › Query syntax (F1): a non-modal window that can stay open beside the search."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Query syntax")
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setHtml(query_syntax_html())
        lay.addWidget(self.browser, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(620, 560)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
