"""The Training tab (placeholder): adapting the embedding model to the user's files comes in a later version."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


class TrainingTab(QWidget):
    """A self-contained tab; the main window only constructs it with the shared context and adds it.

    A later version replaces this class (same constructor) with the real training controls,
    which will run training in a child process the way indexing does.
    """

    title = "Training"

    def __init__(self, ctx=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        head = QLabel("Adapting the model to your files arrives in a later version")
        f = head.font()
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        head.setFont(f)
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        head.setWordWrap(True)
        body = QLabel(
            "The dense retriever will learn from the documents in your library, without labels and on this "
            "computer, in the background. The current model stays available, so you can compare the two in the "
            "Compare tab and go back at any time.")
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        body.setMaximumWidth(560)
        lay.addWidget(head)
        row = QHBoxLayout()  # (an alignment flag on a word-wrapped label breaks its height-for-width)
        row.addStretch(1)
        row.addWidget(body, 4)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)
