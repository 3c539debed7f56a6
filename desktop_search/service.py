"""SearchService: one library in one data folder, wired from its rooms; search, compare, preview.

The CLI, the window and the tests use this facade. What it holds:
store (SQLite), bm25 (the segment index), models (versions, encoders, vector indexes),
library (folders, removal, status), exclusions (patterns of files left out) and retrievers
(chosen by name). Jobs (indexing,
training) get those pieces, never the service.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .compare import agreement
from .config import IndexSettings, default_data_dir
from .exclusions import ExclusionRules
from .jobs.progress import Progress
from .library import Library
from .model_registry import BASE, ModelRegistry
from .query_plan import plan_query, rank_with_fallback
from .retrievers.base import Filters, Ranked
from .retrievers.bm25 import BM25Index
from .retrievers.registry import RetrieverRegistry, parse_name
from .retrievers.types import Deferred, Hit, SearchResult
from .snippets import preview_window, query_targets, shown_passage
from .store import Store
from .store.health import damaged_message
from .textsafe import clean_text, is_blank
from .util import ProcessLock

__all__ = ["Filters", "SearchService", "repair_library"]

DB_NAME = "library.sqlite3"
SNIPPETS_NOW = 20  # hits whose snippet a search computes at once (a list's first screen); the rest lazily


class SearchService:
    """One library in one data folder."""

    def __init__(self, data_dir: str | Path | None = None, *, encoder=None, model: str | None = None,
                 settings: IndexSettings | None = None, hybrid_method: str = "minmax", encoder_factory=None):
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings_path = self.data_dir / "settings.json"
        self.settings = settings or IndexSettings.load(self.settings_path)
        if model:
            self.settings.model = model
        self._wiring = dict(encoder=encoder, encoder_factory=encoder_factory, hybrid_method=hybrid_method)
        self._wire()

    def _wire(self) -> None:
        """Open the store and make the rooms on it (again after a repair replaced the database)."""
        w = self._wiring
        self.store = Store(self.data_dir / DB_NAME)
        self.bm25 = BM25Index(self.store)
        self.models = ModelRegistry(self.data_dir, self.store, self.settings, encoder=w["encoder"],
                                    encoder_factory=w["encoder_factory"])
        self.library = Library(self.data_dir, self.store, self.models)
        self.exclusions = ExclusionRules(self.settings, self.settings_path, self.store)
        self.retrievers = RetrieverRegistry(self.store, self.bm25, self.models, w["hybrid_method"])
        self._vector_notes: list[str] = []  # vector files check_health found that will be rebuilt

    # -- the model (details in ModelRegistry) ------------------------------------------------
    @property
    def hybrid_method(self) -> str:
        return self.retrievers.hybrid_method

    @property
    def encoder(self):
        """The encoder of the active model version."""
        return self.models.encoder

    @property
    def versions(self):
        return self.models.versions

    def encoder_for(self, version_id: str = BASE):
        return self.models.encoder_for(version_id)

    def vector_index(self, encoder=None):
        return self.models.vector_index(encoder)

    def base_model_path(self) -> str | None:
        return self.models.base_model_path()

    def activate_version(self, version_id: str) -> None:
        """Search with another model version from now on (its vectors must exist: see `embed`)."""
        self.models.activate(version_id)

    def rollback(self) -> None:
        self.models.activate(BASE)

    def delete_version(self, version_id: str) -> None:
        self.models.delete(version_id)

    def refresh(self) -> None:
        """See what another process (an indexing or training child) wrote: chunks, vectors, versions."""
        self.bm25.invalidate()
        self.models.refresh()

    # -- library (details in Library) ------------------------------------------------------------
    def add_folders(self, paths: Sequence[str | Path]) -> list[int]:
        return self.library.add_folders(paths)

    def remove_folder(self, path_or_id: str | int) -> int:
        n = self.library.remove_folder(path_or_id)
        self.exclusions.forget_removed_folders()
        return n

    def status(self, *, problems: bool = True) -> dict:
        """Folders, counts, models, sizes, problems, and `health` (see `health`); a damaged
        database raises StoreDamaged (a KnownError: the window shows it in its banner)."""
        try:
            st = self.library.status(problems=problems)
        except sqlite3.DatabaseError as e:
            raise self.store.known(e) from e
        st["health"] = self.health()
        st["exclusions"] = self.exclusions.listing()
        return st

    # -- health and repair (store/health.py, jobs/repair.py) -------------------------------------------
    def notices(self) -> list[str]:
        """What a person should be told besides the results: a damaged database (until repaired),
        vector files found damaged and rebuilt in this process."""
        out = []
        damage = self.store.damage()
        if damage is not None:
            out.append(damaged_message(self.store.path, damage.get("detail", "")))
        return out + self._vector_notes + self.models.notices()

    def health(self) -> dict:
        """{"ok", "database": the damage note or None, "messages": [...], "action": "repair" or None}:
        what the window's banner and `status` show. Cheap: reads the damage note, checks nothing."""
        damage = self.store.damage()
        return {"ok": damage is None, "database": damage, "messages": self.notices(),
                "action": "repair" if damage is not None else None}

    def check_health(self) -> dict:
        """Check the database (PRAGMA quick_check: reads every page) and every vector file (its
        checksum); a damaged database is remembered until repaired. Returns `health()` with
        "vector_files": {model key: why its file will be rebuilt on next use}."""
        self.store.quick_check()
        try:
            problems = self.models.vector_file_problems()
        except Exception as e:  # noqa: BLE001 - a store too damaged to list its models
            known = self.store.known(e)
            if known is e:
                raise
            problems = {}
        self._vector_notes = [
            f"The vector index file {key}.hnsw will not be used: {why}. It is rebuilt from the vectors "
            "in the database at the next dense search or `desktop-search index`; nothing is lost."
            for key, why in problems.items()]
        h = self.health()
        h["vector_files"] = problems
        return h

    def start_health_check(self, on_done: Callable[[dict], None] | None = None) -> threading.Thread:
        """`check_health` in a background thread (at start: a large database takes seconds to read);
        `on_done(health)` is called from that thread."""
        def work():
            try:
                h = self.check_health()
            except Exception as e:  # noqa: BLE001 - reported as an unhealthy result, never raised in a thread
                h = {**self.health(), "ok": False, "messages": [str(self.store.known(e))], "action": "repair"}
            if on_done is not None:
                on_done(h)

        t = threading.Thread(target=work, name="health-check", daemon=True)
        t.start()
        return t

    def reopen(self) -> None:
        """Close the store and open it again: after another process (a repair) replaced the database."""
        self.close()
        self._wire()

    def repair(self, *, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
        """Rebuild a damaged index from the files (see `repair_library`); this service then uses
        the new database."""
        self.close()
        try:
            yield from repair_library(self.data_dir, settings=self.settings, cancel=cancel, **self._wiring)
        finally:
            self._wire()

    def files(self, status: str | None = None):
        return self.library.files(status)

    # -- jobs ---------------------------------------------------------------------------------------
    def _indexer(self, cancel):
        from .jobs.indexing import Indexer

        return Indexer(self.store, self.bm25, self.models, self.library, self.settings, cancel)

    def index(self, paths: Sequence[str | Path] | None = None, *, cancel: Callable[[], bool] | None = None,
              retry_failed: bool = False, embed: bool = True) -> Iterator[Progress]:
        """Add `paths` (if given) and bring the index up to date; a generator of Progress.

        Without paths every registered folder is rescanned. Holds the store's indexing lock.
        """
        folder_ids = self.add_folders(paths) if paths else None
        with ProcessLock(self.data_dir / "indexing.lock", "indexing"):
            try:
                yield from self._indexer(cancel).run(folder_ids, retry_failed=retry_failed, embed=embed)
            finally:
                self.models.save_indexes()

    def embed(self, encoder=None, *, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
        """Embed every chunk that lacks a vector for `encoder` (another model version, say)."""
        with ProcessLock(self.data_dir / "indexing.lock", "embedding"):
            yield from self._indexer(cancel).embed_missing(encoder)

    def train(self, overrides: dict | None = None, **kw) -> Iterator[Progress]:
        """Train a new model version on the library (see jobs.training.train_job)."""
        from .jobs.training import train_job

        return train_job(self.data_dir, self.store, self.models, overrides, embed_with=self.embed, **kw)

    # -- search -------------------------------------------------------------------------------------
    def _allowed(self, filters: Filters | None) -> set[int] | None:
        if filters is None or not filters.active:
            return None
        # undecodable bytes as the store's paths show them (U+FFFD): SQLite refuses surrogates
        folder = clean_text(filters.folder) if filters.folder else filters.folder
        return self.store.filtered_doc_ids(folder, tuple(clean_text(e) for e in filters.exts),
                                           filters.modified_after, filters.modified_before)

    def search(self, query: str, retriever: str = "bm25", k: int = 10, filters: Filters | None = None,
               *, encoder=None, hybrid_method: str | None = None) -> list[Hit]:
        """Ranked files for a query; each with its best passage, a snippet and matched spans.

        `retriever` is a name of the retriever registry: "bm25", "dense", "hybrid", "dense:VERSION".
        The list is a SearchResult: its `notice` says when the query was read as plain words.
        Undecodable bytes in the query become U+FFFD; an empty or blank query finds nothing
        (callers say so: see `textsafe.is_blank`), whichever the retriever."""
        query = clean_text(query)
        kind = parse_name(retriever).kind
        if is_blank(query) or k < 1:
            return []
        r = self.retrievers.get(retriever, encoder=encoder, hybrid_method=hybrid_method)
        allowed = self._allowed(filters)
        # operators that filter everything away, or a long pasted text: the words are ranked (query_plan.py)
        ranking, used, notice = rank_with_fallback(plan_query(query), lambda q: r.rank(q, k, allowed))
        return SearchResult(self._hits(used, ranking, kind), query=used, notice=notice)

    def _hits(self, query: str, ranking: list[Ranked], retriever: str) -> list[Hit]:
        """The ranking as hits; the first SNIPPETS_NOW get their snippet (and spans, section) now, the
        rest when first read (a Deferred: the window paints, the CLI prints or JSON holds them), so a
        k = 100 search builds the few dozen a list shows, not 100."""
        if not ranking:
            return []
        want, phrases = query_targets(query)
        rows = self.store.chunk_rows([r.chunk_id for r in ranking])
        hits = []
        for doc_id, score, cid in ranking:
            doc = self.store.doc(doc_id)
            r = rows.get(cid)
            if doc is None or r is None:
                continue
            shown = Deferred(partial(self._shown, doc_id, r["start"], r["end"], want, phrases, doc.kind))
            if len(hits) < SNIPPETS_NOW:
                shown.get()
            hits.append(Hit(
                rank=len(hits) + 1, doc_id=doc_id, path=doc.path, name=doc.name,
                folder=os.path.dirname(doc.path), score=float(score), chunk_id=cid, start=r["start"],
                end=r["end"], snippet=shown, spans=shown, kind=doc.kind, mtime=doc.mtime_ns / 1e9,
                retriever=retriever, title=doc.title or "", section=shown,
            ))
        return hits

    def _shown(self, doc_id: int, start: int, end: int, want, phrases, kind):
        return shown_passage(self.store.doc_text(doc_id), start, end, want, phrases, kind)

    def preview(self, doc_id: int, chunk_id: int, query: str, context_chars: int = 4000) -> dict:
        """The passage in its context: text around it, the passage range and matched spans in that text."""
        text = self.store.doc_text(doc_id)
        r = self.store.chunk_rows([chunk_id]).get(chunk_id)
        return preview_window(text, (r["start"], r["end"]) if r else None, clean_text(query), context_chars)

    def compare(self, query: str, retrievers: Sequence[str] = ("bm25", "dense", "hybrid"), k: int = 10,
                filters: Filters | None = None, columns: dict[str, str] | None = None) -> dict:
        """The same query through several retrievers; pairwise overlap@k, Jaccard, Kendall's tau.

        `columns` adds columns by label: {"dense:v2": "dense:<version id>"} (any retriever name)."""
        query = clean_text(query)
        named = {name: name for name in retrievers}
        named.update(columns or {})
        results = {label: self.search(query, name, k, filters) for label, name in named.items()}
        names = list(results)
        pairs = {}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a = [h.doc_id for h in results[names[i]]]
                b = [h.doc_id for h in results[names[j]]]
                pairs[f"{names[i]}|{names[j]}"] = agreement(a, b, k)
        notices = {label: hs.notice for label, hs in results.items() if getattr(hs, "notice", "")}
        return {"query": query, "k": k, "columns": results, "pairs": pairs, "notices": notices}

    # -- relevance judgments (store/judgments.py) ---------------------------------------------------
    def mark(self, query: str, doc_id: int, grade: int, *, retriever: str = "", chunk_id: int | None = None,
             passage: str | None = None) -> int:
        """Mark a file relevant (grade 1) or not (0) for a query, noting which retriever and model
        version showed it; marking the same file for the same query again replaces the mark."""
        query = clean_text(query)
        version = ""
        try:
            rn = parse_name(retriever)
        except ValueError:  # not a retriever: where the mark came from ("cli", "import")
            rn = None
        if rn is not None and rn.needs_model:
            version = rn.version or self.models.active_id()
        passage = clean_text(passage) if passage is not None else None
        return self.store.set_judgment(query, doc_id, grade, chunk_id=chunk_id, passage=passage,
                                       retriever=retriever, model_version=version)

    def unmark(self, query: str, doc_id: int | None = None) -> int:
        return self.store.remove_judgment(clean_text(query), doc_id)

    def marks_for(self, query: str) -> dict[int, int]:
        """{doc_id: grade} of the query's marks: what a result list shows beside each file."""
        return self.store.marks_for(clean_text(query))

    # -- lifetime -------------------------------------------------------------------------------------
    def close(self) -> None:
        self.models.close()
        self.store.close()

    def __enter__(self) -> "SearchService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def repair_library(data_dir: str | Path | None = None, *, cancel: Callable[[], bool] | None = None,
                   **service_kw) -> Iterator[Progress]:
    """Move the (damaged) database and vector files of a data folder aside into
    `damaged-<time>/` (kept), rebuild the index from the files with progress, and put back the
    vectors and marks that could still be read. Works when the database cannot even be opened;
    holds the indexing lock. `service_kw` are SearchService's (encoder, model, settings...)."""
    from .jobs.repair import move_aside, read_salvage, rebuild

    data_dir = Path(data_dir) if data_dir else default_data_dir()
    db = data_dir / DB_NAME
    with ProcessLock(data_dir / "indexing.lock", "repairing"):
        aside = move_aside(db, data_dir / "vectors")
        salv = read_salvage(aside, db.name)
        with SearchService(data_dir, **service_kw) as svc:
            try:
                yield from rebuild(aside, salv, svc.store, svc._indexer(cancel))
            finally:
                svc.models.save_indexes()
