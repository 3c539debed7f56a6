"""Guards against binding bugs: keep CPython's None/True/False alive under PySide6's lost references.

pyproject.toml pins PySide6 below 6.12 for this reason; this guard only acts if 6.12 is
installed anyway (measured: 6.10.1 and 6.11.3 keep the counts steady over 1,000 emits).

PySide6 6.12 on CPython 3.11 drops one reference to True on every `Signal.emit()` called from
Python, and one to None whenever an invalid QVariant comes back to Python (`index.data()` of an
empty role, `QComboBox.currentData()` of an item without data). These singletons start with a
few hundred to a few thousand references, so a window that emits signals all day would abort
with "Fatal Python error: bool_dealloc: deallocating True or False" within minutes.
CPython 3.12+ makes them immortal (nothing to do there); on older CPython we give them a
reference count no leak can exhaust. The singletons are never freed anyway, so this is safe.
"""

from __future__ import annotations

import ctypes
import sys

_PINNED = False


def pin_singletons() -> bool:
    """Make None, True and False effectively immortal on CPython < 3.12 (release builds)."""
    global _PINNED
    if _PINNED:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):
        return False  # immortal already, or a debug build whose object header differs
    import PySide6

    if not PySide6.__version__.startswith("6.12."):
        return False  # pyproject pins <6.12; only the known-bad release needs the guard
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40  # ob_refcnt is the header's first field
    _PINNED = True
    return True
