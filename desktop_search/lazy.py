"""Modules imported when first used rather than when the module naming them is imported.

`np` stands for NumPy: its import is about 50 ms of a 2-core laptop's start, as much as the rest of
a command-line re-index of a few changed files, which never needs it (the passages are cut into
standard-library arrays and a small BM25 segment is written without it). Searching, embedding
and big indexing batches import it on their first use of an attribute, once; after that each
attribute is an ordinary one of the stand-in (it is copied there), so hot loops pay nothing."""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module `name`; the first attribute read imports it."""

    def __init__(self, name: str):
        self.__dict__["_lazy_name"] = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self.__dict__["_lazy_name"])

    def __getattr__(self, attr: str):
        value = getattr(self._module(), attr)
        self.__dict__[attr] = value  # later reads find it without __getattr__
        return value

    def __setattr__(self, attr: str, value) -> None:
        raise AttributeError(f"{self.__dict__['_lazy_name']} is read-only through its lazy stand-in")

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_name']!r}>"


np = LazyModule("numpy")
