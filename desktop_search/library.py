"""The library: which folders are indexed, removing them, and the status report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .errors import KnownError
from .model_registry import ModelRegistry
from .store import Store
from .util import display_path, raw_path


class Library:
    """Folders and documents of one store; removals reach every vector index through the registry."""

    def __init__(self, data_dir: Path, store: Store, models: ModelRegistry):
        self.data_dir = Path(data_dir)
        self.store = store
        self.models = models

    def add_folders(self, paths: Sequence[str | Path]) -> list[int]:
        """Register folders (or single files) to index; nested ones fold into their parent."""
        ids = []
        existing = {display_path(os.fsdecode(bytes(f["raw_path"]))): f["id"] for f in self.store.folders()}
        for p in paths:
            ap = os.path.abspath(os.fspath(p))
            if not os.path.exists(ap):
                raise KnownError(f"{display_path(ap)} does not exist")
            parent = next((fid for fp, fid in existing.items()
                           if ap == fp or ap.startswith(fp.rstrip(os.sep) + os.sep)), None)
            if parent is not None:
                ids.append(parent)
                continue
            fid = self.store.add_folder(raw_path(ap), display_path(ap))
            # folders inside the new one are absorbed
            inner = [(fp, i) for fp, i in existing.items() if fp.startswith(ap.rstrip(os.sep) + os.sep)]
            if inner:
                self.store.absorb_folders(fid, [i for _, i in inner])
                for fp, _ in inner:
                    existing.pop(fp)
            existing[ap] = fid
            ids.append(fid)
        return sorted(set(ids))

    def remove_folder(self, path_or_id: str | int) -> int:
        """Forget a folder: its documents leave the store, BM25 and every vector index."""
        fid = path_or_id if isinstance(path_or_id, int) else None
        if fid is None:
            ap = os.path.abspath(os.fspath(path_or_id))
            for f in self.store.folders():
                if bytes(f["raw_path"]) == raw_path(ap):
                    fid = f["id"]
        if fid is None:
            raise KnownError(f"{path_or_id} is not an indexed folder")
        n = self.delete_documents(self.store.folder_doc_ids(fid))
        self.store.delete_folder(fid)
        return n

    def delete_documents(self, doc_ids: Sequence[int]) -> int:
        if not doc_ids:
            return 0
        self.models.forget_vectors(self.store.delete_documents(doc_ids))
        return len(doc_ids)

    def files(self, status: str | None = None):
        return self.store.docs(status=status)

    def status(self, *, problems: bool = True) -> dict:
        """Folders, counts, models and size on disk. Each folder's `index_bytes` is its share of
        the library's size by passages (database and vector files together): an estimate, since
        postings and HNSW links are shared. `problems=False` leaves out the per-file list of
        skipped and failed files (scan problems stay) and of the files indexed in part (`partial`: text
        past max_chars), for callers that read every file anyway."""
        folders = []
        for f in self.store.folders():
            folders.append({"id": f["id"], "path": f["path"], **self.store.folder_stats(f["id"]),
                            "exists": os.path.exists(os.fsdecode(bytes(f["raw_path"])))})
        vec_dir = self.data_dir / "vectors"
        vec_bytes = sum(p.stat().st_size for p in vec_dir.glob("*") if p.is_file()) if vec_dir.is_dir() else 0
        docs = self.store.docs() if problems else []
        not_indexed = [dict(path=d.path, status=d.status, reason=d.reason)
                       for d in docs if d.status in ("skipped", "failed")]
        # indexed with a reason: only part of the file is searchable (longer than max_chars)
        partial = [dict(path=d.path, status=d.status, reason=d.reason) for d in docs
                   if d.status == "indexed" and d.reason]
        db_bytes = self.store.size_on_disk()
        total_chunks = sum(f["chunks"] for f in folders)
        for f in folders:
            f["index_bytes"] = round((db_bytes + vec_bytes) * f["chunks"] / total_chunks) if total_chunks else 0
        return {
            "data_dir": str(self.data_dir),
            "folders": folders,
            "counts": self.store.counts(),
            "models": self.store.model_rows(),
            "size_bytes": {"database": db_bytes, "vectors": vec_bytes},
            "problems": self.store.scan_problem_rows() + not_indexed,
            "partial": partial,
        }
