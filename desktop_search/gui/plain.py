"""Text derived from files, shown so that it is never read as markup.

Qt guesses: a QLabel, a tooltip or a message box whose text "might be rich text" (a tag on its
first line, an entity) renders it as HTML, so a file named `<font size=7 color=red>PAID.txt`
would show big and red, and `Tom &amp; Jerry.txt` as `Tom & Jerry.txt`. Labels get
`Qt.PlainText`; tooltips have no plain format, so their text is escaped inside a paragraph of
our own (`plain_tip`); rich labels that add their own tags escape every piece from a file
(`escaped`). Item views, the status bar and painted text are plain already.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def escaped(text: str) -> str:
    """`text` for a rich-text label that adds its own tags: every <, > and & shown as itself."""
    return html.escape(text, quote=False)


def plain_tip(text: str | None) -> str | None:
    """A tooltip that shows `text` exactly, line breaks included (None and "" stay: no tooltip)."""
    if not text:
        return text
    return f"<p style='white-space:pre-wrap'>{escaped(text)}</p>"


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows its text as it is, never as markup."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def make_plain(*labels: QLabel) -> None:
    """Show these labels' texts as they are, never as markup."""
    for label in labels:
        label.setTextFormat(Qt.TextFormat.PlainText)


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes / Cancel question whose text (naming folders or files) is shown as it is; True for Yes."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes
