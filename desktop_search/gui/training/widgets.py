"""Small widgets of the Training tab's settings and version list."""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import QSize, Slot
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox, QTableView, QWidget


class AutoSpinBox(QSpinBox):
    """A spin box whose lowest value reads "auto" (the default for this computer, decided when training starts)."""

    def __init__(self, lo: int, hi: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(lo - 1, hi)
        self.setSpecialValueText("auto")
        self.setValue(lo - 1)
        self.default: int | None = None
        self.user_set = False
        self._applying = False
        self.valueChanged.connect(self._on_self_value_changed)

    def is_auto(self) -> bool:
        return self.value() == self.minimum()

    def value_or_none(self) -> int | None:
        return None if self.is_auto() else self.value()

    def apply_default(self, value: int | None, *, force: bool = False) -> None:
        """Show the default unless the user chose a value (or `force`)."""
        self.default = value
        if self.user_set and not force:
            return
        self._applying = True
        try:
            self.setValue(self.minimum() if value is None else value)
        finally:
            self._applying = False
        self.user_set = False

    def stepBy(self, steps: int) -> None:
        if self.is_auto() and self.default is not None:
            self.setValue(self.default)  # from "auto", the arrows start at the default, not at 1
            return
        super().stepBy(steps)

    @Slot(int)
    def _on_self_value_changed(self, _value: int) -> None:
        if not self._applying:
            self.user_set = True


class CompactTable(QTableView):
    """A table that asks for a few rows' height only (the tab scrolls instead of outgrowing the window)."""

    def sizeHint(self) -> QSize:
        rows = self.verticalHeader().defaultSectionSize()
        return QSize(480, self.horizontalHeader().sizeHint().height() + 4 * rows + 2 * self.frameWidth())


def make_combo(items: Sequence[tuple[str, Any]], tip: str = "") -> QComboBox:
    c = QComboBox()
    for label, data in items:
        c.addItem(label, data)
    if tip:
        c.setToolTip(tip)
    return c


def bold(label: QLabel, scale: float = 1.0) -> QLabel:
    f = label.font()
    f.setBold(True)
    if scale != 1.0:
        f.setPointSizeF(f.pointSizeF() * scale)
    label.setFont(f)
    return label
