"""What every tab shares: the service, the worker pool, error reporting, model state, library snapshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from ..documents import on_disk_path
from ..errors import StoreDamaged
from ..retrievers.registry import needs_model
from .errors import ErrorReporter, known_message
from .models import FileRow, FolderRow
from .opener import FileOpener
from .workers import Worker, WorkerPool


@dataclass(frozen=True)
class LibrarySnapshot:
    """The library as the Library tab, the filters and the status bar show it (built off the GUI thread)."""

    folders: tuple[FolderRow, ...] = ()
    files: tuple[FileRow, ...] = ()
    counts: dict = field(default_factory=dict)
    size_bytes: dict = field(default_factory=dict)
    models: tuple[dict, ...] = ()
    exts: tuple[tuple[str, int], ...] = ()  # (extension, indexed files), most common first
    model_key: str = ""
    data_dir: str = ""

    @property
    def model_vectors(self) -> int:
        return next((m["vectors"] for m in self.models if m["key"] == self.model_key), 0)

    @property
    def total_bytes(self) -> int:
        return int(sum(self.size_bytes.values()))


def load_library_snapshot(svc) -> LibrarySnapshot:
    """Worker-thread function: SearchService.status() and .files() as immutable rows."""
    st = svc.status(problems=False)  # the files' own rows below carry their statuses and reasons
    folders = tuple(FolderRow(f["id"], f["path"], f["files"], f["indexed"], f["skipped"], f["failed"], f["chunks"],
                              bool(f["exists"]), int(f.get("index_bytes", 0))) for f in st["folders"])
    docs = svc.files()
    rows = [FileRow(d.path, d.name, d.ext, d.size, d.mtime_ns / 1e9, d.status, d.reason or "", d.id) for d in docs]
    known = {d.path for d in docs}
    for p in st.get("problems", ()):
        if p["path"] not in known:  # unreadable folders and other scan problems have no document row
            rows.append(FileRow(p["path"], os.path.basename(p["path"].rstrip("/\\")) or p["path"], "", 0, 0.0,
                                p.get("status", "failed"), p.get("reason") or "", None))
    exts: dict[str, int] = {}
    for d in docs:
        if d.status == "indexed" and d.ext:
            exts[d.ext] = exts.get(d.ext, 0) + 1
    try:
        key = svc.encoder.key
    except Exception:  # noqa: BLE001 - a model that cannot be described is reported when it is used
        key = ""
    return LibrarySnapshot(folders, tuple(rows), dict(st["counts"]), dict(st["size_bytes"]),
                           tuple(st.get("models", ())), tuple(sorted(exts.items(), key=lambda x: (-x[1], x[0]))),
                           key, st.get("data_dir", ""))


def load_library_counts(svc) -> tuple[dict, tuple[dict, ...]]:
    """Worker-thread function: just the counts and the vectors per model (no file rows): cheap enough
    to re-read every few seconds while a job embeds."""
    return dict(svc.store.counts()), tuple(svc.store.model_rows())


class AppContext(QObject):
    """Shared by the main window and its tabs."""

    service_attached = Signal(object)
    status_posted = Signal(str, int)  # message, timeout in ms (0: until replaced)
    known_error_raised = Signal(str)
    store_damaged = Signal(str)  # the index database is damaged: the message, with Repair to offer
    model_state_changed = Signal(str)  # "unloaded", "loading", "ready"
    library_updated = Signal(object)  # LibrarySnapshot
    counts_updated = Signal(object)  # LibrarySnapshot whose counts and models changed (same folders and files)
    marks_changed = Signal(str, object)  # the query whose marks changed, and who changed them (a tab, or None)
    open_failed = Signal(str, str)  # path, why no application opened it

    def __init__(self, pool: WorkerPool, reporter: ErrorReporter, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = pool
        self.reporter = reporter
        self.service = None
        self.library = LibrarySnapshot()
        self.model_state = "unloaded"
        self.opener = FileOpener(self)
        self.opener.failed.connect(self.open_failed)

    def attach(self, service) -> None:
        self.service = service
        enc = service.models.loaded_encoder()  # never touch `encoder.model`: that loads torch
        if enc is not None and getattr(enc, "loaded", True):
            self.model_state = "ready"  # an injected (fake) or already loaded encoder needs no loading
        self.service_attached.emit(service)
        # every page of the database and every vector file, in the background (seconds on a large
        # library): a damaged store is told in the banner, never served from silently
        self.submit(service.check_health, on_result=self._on_health_checked)

    def _on_health_checked(self, health: dict) -> None:
        if not health.get("ok", True) and health.get("messages"):
            self.store_damaged.emit(health["messages"][0])

    # -- work -------------------------------------------------------------------------------
    def submit(self, fn: Callable, *args, on_result=None, on_error=None, on_finished=None, **kwargs) -> Worker:
        return self.pool.submit(fn, *args, on_result=on_result, on_error=on_error or self.handle_error,
                                on_finished=on_finished, **kwargs)

    def handle_error(self, exc: BaseException) -> None:
        if self.service is not None:
            exc = self.service.store.known(exc)  # a damaged database or a full disk: its message (store/health.py)
        if isinstance(exc, StoreDamaged):
            self.store_damaged.emit(str(exc))
            return
        msg = known_message(exc)
        if msg is not None:
            self.known_error_raised.emit(msg)
        else:
            self.reporter.show_bug(exc)

    def post_status(self, message: str, timeout_ms: int = 0) -> None:
        self.status_posted.emit(message, timeout_ms)

    # -- relevance marks ----------------------------------------------------------------------
    def mark(self, query: str, hit, grade: int | None, retriever: str, source=None, on_done=None) -> None:
        """Save (grade 1 or 0) or clear (None) the mark of `hit`'s file for `query`, in a worker; then
        marks_changed(query, source). `retriever` names what showed it ("hybrid", "dense:<version id>")."""
        from .marks import write_mark

        svc = self.service
        if svc is None or not query.strip():
            return

        def done(_):
            self.marks_changed.emit(query, source)
            if on_done is not None:
                on_done()

        def failed(exc: BaseException) -> None:
            self.handle_error(exc)
            self.marks_changed.emit(query, None)  # every view (the one that made it too) shows what was stored

        self.submit(write_mark, svc, query, hit.doc_id, grade, retriever, hit.chunk_id, on_result=done,
                    on_error=failed)

    def notify_marks_changed(self, query: str = "", source=None) -> None:
        """Marks changed elsewhere (the Judgments view, an import): every view showing them looks again."""
        self.marks_changed.emit(query, source)

    # -- the embedding model: loaded on the first dense search, in a worker -------------------
    def needs_model(self, retrievers: Sequence[str]) -> bool:
        return needs_model(retrievers)

    def model_use_started(self, retrievers: Sequence[str]) -> None:
        if self.needs_model(retrievers) and self.model_state == "unloaded":
            self._set_model_state("loading")

    def model_use_finished(self, retrievers: Sequence[str], ok: bool) -> None:
        if self.needs_model(retrievers) and self.model_state == "loading":
            self._set_model_state("ready" if ok else "unloaded")

    def warm_model(self) -> None:
        """Load the embedding model and vector index in a worker now, so the first dense search is quick."""
        svc = self.service
        if svc is None or self.model_state != "unloaded":
            return
        self.model_use_started(["dense"])

        def failed(exc: BaseException) -> None:
            self.model_use_finished(["dense"], False)
            self.handle_error(exc)

        self.submit(svc.search, "warm up", "dense", 1,
                    on_result=lambda _: self.model_use_finished(["dense"], True), on_error=failed)

    def _set_model_state(self, state: str) -> None:
        self.model_state = state
        self.model_state_changed.emit(state)

    def set_library(self, snap: LibrarySnapshot) -> None:
        self.library = snap
        self.library_updated.emit(snap)

    def update_counts(self, counts: dict, models) -> None:
        """New counts and vector numbers (from `load_library_counts`) into the current snapshot."""
        self.library = replace(self.library, counts={**self.library.counts, **counts}, models=tuple(models))
        self.counts_updated.emit(self.library)

    # -- files ------------------------------------------------------------------------------
    def open_path(self, path: str) -> None:
        """Open with the system's application; `open_failed(path, reason)` when none could (gui.opener)."""
        path = on_disk_path(path)  # an archive member opens its archive
        if not os.path.exists(path):
            self.known_error_raised.emit(f"{path} no longer exists; it leaves the index on the next update.")
            return
        self.opener.open(path)

    def reveal_path(self, path: str) -> None:
        from .preview import reveal_in_file_manager

        path = on_disk_path(path)  # an archive member: its archive's folder
        if not os.path.exists(os.path.dirname(path) or path):
            self.known_error_raised.emit(f"The folder of {path} no longer exists.")
            return
        reveal_in_file_manager(path)

    def copy_path(self, path: str) -> None:
        QGuiApplication.clipboard().setText(path)
        self.post_status(f"Copied {path}", 3000)
