"""The result type shared by every retriever, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

RETRIEVERS = ("bm25", "dense", "hybrid")


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
    snippet: str
    spans: tuple[tuple[int, int], ...] = ()  # matched words, offsets into `snippet`
    kind: str | None = None
    mtime: float = 0.0
    retriever: str = ""
    section: str = ""  # where the passage is in its file: "page 12", "slide 3" ("" for unsectioned kinds)
    title: str = ""  # the document's title (HTML <title> or first heading, PDF / DOCX metadata), if it has one
    extra: dict = field(default_factory=dict, compare=False)

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
