"""One hnswlib index per model, beside the database: versioned header, atomic saves, repair on open.

The store's `vectors` table is the source of truth (vectors as float16 blobs); the HNSW
file is a cache of it. On open the labels in the file are compared with the live
vectors in SQLite: missing ones are added, stale ones marked deleted, and a file that
cannot be read or has the wrong header is rebuilt from SQLite, never trusted blindly.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..store import Store
from ..util import atomic_write_text

FORMAT_VERSION = 1
M = 32
EF_CONSTRUCTION = 200
EF_SEARCH = 96


class VectorIndex:
    def __init__(self, store: Store, folder: Path, key: str, dim: int):
        self.store = store
        self.key = key
        self.dim = dim
        self.file = Path(folder) / f"{key}.hnsw"
        self.header_file = Path(folder) / f"{key}.json"
        self._index = None
        self._labels: set[int] = set()
        self._lock = threading.RLock()
        self._dirty = False
        self._last_save = time.monotonic()
        self.repaired: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def _new(self, capacity: int):
        import hnswlib

        idx = hnswlib.Index(space="ip", dim=self.dim)
        idx.init_index(max_elements=max(capacity, 1024), ef_construction=EF_CONSTRUCTION, M=M,
                       allow_replace_deleted=True)
        idx.set_ef(EF_SEARCH)
        idx.set_num_threads(max(1, (os.cpu_count() or 2)))
        return idx

    def _load_file(self):
        import hnswlib

        try:
            header = json.loads(self.header_file.read_text("utf-8"))
            if header.get("format") != FORMAT_VERSION or header.get("dim") != self.dim or header.get("key") != self.key:
                return None
            idx = hnswlib.Index(space="ip", dim=self.dim)
            idx.load_index(str(self.file), max_elements=int(header.get("capacity", 1024)), allow_replace_deleted=True)
            idx.set_ef(EF_SEARCH)
            deleted = set(header.get("deleted", []))
            labels = set(int(x) for x in idx.get_ids_list()) - deleted
            return idx, labels
        except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt from SQLite
            return None

    def open(self) -> "VectorIndex":
        """Load the file (or start empty) and reconcile it with the store."""
        with self._lock:
            if self._index is not None:
                return self
            loaded = self._load_file() if self.file.exists() else None
            if loaded is None:
                self._index, self._labels = self._new(1024), set()
                self.repaired["rebuilt"] = 1 if self.file.exists() else 0
            else:
                self._index, self._labels = loaded
            self._reconcile()
            return self

    def _reconcile(self) -> None:
        live = {r[0] for r in self.store.conn.execute("SELECT chunk_id FROM vectors WHERE model=?", (self.key,))}
        extra = self._labels - live
        missing = live - self._labels
        for label in extra:
            try:
                self._index.mark_deleted(label)
            except RuntimeError:
                pass
        self._labels -= extra
        if missing:
            self._add_from_store(sorted(missing))
        self.repaired.update(added=len(missing), removed=len(extra))
        if extra or missing:
            self._dirty = True
            self.save()

    def _add_from_store(self, chunk_ids: list[int]) -> None:
        for i in range(0, len(chunk_ids), 900):
            part = chunk_ids[i : i + 900]
            q = ",".join("?" * len(part))
            rows = self.store.conn.execute(
                f"SELECT chunk_id, vec FROM vectors WHERE model=? AND chunk_id IN ({q})", [self.key, *part]
            ).fetchall()
            if rows:
                ids = np.array([r[0] for r in rows], dtype=np.int64)
                vecs = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
                self._add(ids, vecs)

    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        idx = self._index
        need = len(self._labels) + len(ids)
        if need > idx.get_max_elements():
            idx.resize_index(max(need, int(idx.get_max_elements() * 1.5)))
        idx.add_items(vecs, ids, replace_deleted=True)
        self._labels.update(int(i) for i in ids)
        self._dirty = True

    # -- updates (the store rows are written by the caller in its transaction) -----------
    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        with self._lock:
            self.open()
            self._add(np.asarray(ids, dtype=np.int64), np.asarray(vecs, dtype=np.float32))

    def remove(self, ids) -> None:
        with self._lock:
            if self._index is None:
                return
            for label in ids:
                label = int(label)
                if label in self._labels:
                    try:
                        self._index.mark_deleted(label)
                    except RuntimeError:
                        pass
                    self._labels.discard(label)
                    self._dirty = True

    def save(self, *, min_interval_s: float = 0.0) -> None:
        """Write the index atomically (temp file + rename), header last."""
        with self._lock:
            if self._index is None or not self._dirty:
                return
            if min_interval_s and time.monotonic() - self._last_save < min_interval_s:
                return
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.file.name + ".", suffix=".tmp", dir=self.file.parent)
            os.close(fd)
            try:
                self._index.save_index(tmp)
                all_ids = set(int(x) for x in self._index.get_ids_list())
                header = {
                    "format": FORMAT_VERSION, "key": self.key, "dim": self.dim, "space": "ip", "M": M,
                    "ef_construction": EF_CONSTRUCTION, "capacity": int(self._index.get_max_elements()),
                    "count": len(self._labels), "deleted": sorted(all_ids - self._labels), "saved_at": time.time(),
                }
                # Header first with the new count would be wrong if we die before the rename;
                # the reconcile on open catches any mismatch either way.
                os.replace(tmp, self.file)
                atomic_write_text(self.header_file, json.dumps(header))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            self._dirty = False
            self._last_save = time.monotonic()

    # -- queries ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._labels)

    def search(self, vec: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Nearest chunks by cosine similarity (vectors are normalised): [(chunk_id, sim)]."""
        with self._lock:
            self.open()
            n = len(self._labels)
            if n == 0:
                return []
            k = min(k, n)
            self._index.set_ef(max(EF_SEARCH, 2 * k))
            flt = None
            if allowed is not None:
                if not allowed:
                    return []
                flt = allowed.__contains__
                k = min(k, len(allowed & self._labels) if len(allowed) < 100_000 else k)
                if k == 0:
                    return []
            labels, dists = self._index.knn_query(np.asarray(vec, dtype=np.float32).reshape(1, -1), k=k, filter=flt)
            return [(int(l), float(1.0 - d)) for l, d in zip(labels[0], dists[0])]

    def reconcile(self) -> None:
        """Pick up vectors another process added or removed since this index was opened."""
        with self._lock:
            if self._index is not None:
                self._reconcile()

    def discard(self) -> None:
        """Forget the in-memory index without saving (its model version was deleted)."""
        with self._lock:
            self._index = None
            self._labels = set()
            self._dirty = False

    def close(self) -> None:
        with self._lock:
            self.save()
            self._index = None
            self._labels = set()
