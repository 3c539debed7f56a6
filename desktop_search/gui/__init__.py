"""The PySide6 desktop window: search, compare, library and training tabs wired to SearchService."""

from ._compat import pin_singletons

pin_singletons()
