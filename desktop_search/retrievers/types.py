"""The result type shared by every retriever, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

RETRIEVERS = ("bm25", "dense", "hybrid")


class Deferred:
    """What a hit shows of its passage, (snippet, spans, section), computed when first read.

    A search ranks up to k files but a list shows the first few dozen: `SearchService` gives the
    rest their snippets this way, so a k = 100 search does not build 100 of them. A failure while
    computing (the store closed meanwhile, say) shows an empty snippet rather than raising from
    a paint or a print."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], tuple[str, tuple, str]]):
        self._make = make
        self._value: tuple[str, tuple, str] | None = None

    def get(self) -> tuple[str, tuple, str]:
        if self._value is None:
            make, self._make = self._make, None
            try:
                self._value = make() if make is not None else ("", (), "")
            except Exception:  # noqa: BLE001 - a snippet is never worth an error in a result list
                self._value = ("", (), "")
        return self._value


class _Shown:
    """A Hit field that may be given a `Deferred`: read, it is that part of the deferred value."""

    def __init__(self, index: int, default):
        self.index = index
        self.default = default

    def __set_name__(self, owner, name: str) -> None:
        self.attr = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.default  # what dataclasses takes as the field's default
        v = obj.__dict__.get(self.attr, self.default)
        if isinstance(v, Deferred):
            v = v.get()[self.index]
            obj.__dict__[self.attr] = v
        return v

    def __set__(self, obj, value) -> None:  # only dataclass __init__ (object.__setattr__) gets here
        obj.__dict__[self.attr] = value


_SHOWN = ("snippet", "spans", "section")


@dataclass(frozen=True)
class Hit:
    """One file in a ranking, with its best passage."""

    rank: int
    doc_id: int
    path: str
    name: str
    folder: str
    score: float
    chunk_id: int
    start: int  # passage offsets in the document's extracted text
    end: int
    snippet: str = _Shown(0, "")  # a str, or a Deferred (snippet, spans and section computed when read)
    spans: tuple[tuple[int, int], ...] = _Shown(1, ())  # matched words, offsets into `snippet`
    kind: str | None = None
    mtime: float = 0.0
    retriever: str = ""
    section: str = _Shown(2, "")  # where the passage is in its file: "page 12", "slide 3" ("" for unsectioned kinds)
    title: str = ""  # the document's title (HTML <title> or first heading, PDF / DOCX metadata), if it has one
    extra: dict = field(default_factory=dict, compare=False)

    def __getstate__(self) -> dict:
        """Pickled and copied with the snippet computed (a Deferred holds the store)."""
        for name in _SHOWN:
            getattr(self, name)
        return dict(self.__dict__)

    @property
    def label(self) -> str:
        """What a result list names the file by: its title, else its file name."""
        return self.title or self.name

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spans"] = [list(s) for s in self.spans]
        return d

    def marked_snippet(self, left: str = "[", right: str = "]") -> str:
        """The snippet with matched words wrapped in markers (for terminals and JSON)."""
        out, pos = [], 0
        for a, b in self.spans:
            out.append(self.snippet[pos:a])
            out.append(left + self.snippet[a:b] + right)
            pos = b
        out.append(self.snippet[pos:])
        return "".join(out)


class SearchResult(list):
    """The hits of one search, best first (a plain list to every caller), and how the query was read.

    `query` is what was ranked (the words only, when the operators filtered everything away or the
    query was long natural text: see query_plan.py) and `notice` says so ("" when the query was read
    as typed); the CLI and the window show the notice above the hits."""

    def __init__(self, hits=(), *, query: str = "", notice: str = ""):
        super().__init__(hits)
        self.query = query
        self.notice = notice
