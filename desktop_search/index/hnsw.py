"""One hnswlib index per model, beside the database: versioned header, atomic saves, repair on open.

The store's `vectors` table is the source of truth (vectors as float16 blobs); the HNSW
file is a cache of it. On open the labels in the file are compared with the live
vectors in SQLite: missing ones are added, stale ones marked deleted, and a file that
cannot be read or has the wrong header is rebuilt from SQLite, never trusted blindly.

hnswlib reads its file without checks: random bytes inside it (same size) made `load_index`
or the first query end the process with a segmentation fault. So every save records the
file's size and BLAKE2b digest, and the digest of its header, with the dimension and the
number of elements, in the store's `meta` table (`vectors:<key>`), and `open` hands hnswlib
only a file that matches that record; anything else (a damaged, truncated, replaced or
missing file, a header edited by hand, a store restored from a backup) is rebuilt from the
vectors in SQLite, and `notice` says so. Hashing costs a read of the file at each open (the
load itself reads all of it too).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from ..lazy import np

from ..store import Store
from ..util import atomic_write_text

FORMAT_VERSION = 1
_HASH_BLOCK = 1 << 20


def _digest_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _digest_text(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def record_key(key: str) -> str:
    """The `meta` row holding the checksum record of model `key`'s HNSW file."""
    return f"vectors:{key}"
M = 32
EF_CONSTRUCTION = 200
EF_SEARCH = 96
EF_PER_VECTORS = 1250  # the search list grows with the index: one more entry each 1,250 vectors ...
EF_SEARCH_MAX = 1000  # ... up to this


def ef_for(n: int, k: int) -> int:
    """hnswlib's search list length for `k` results among `n` vectors. A fixed 96 gave Recall@10
    0.99 at 100,000 vectors but 0.82 at 1,250,225 (synthetic mixes of SciFact's vectors, whose
    neighbourhoods are as crowded as a big library's: benchmarks/million.py); 800 gave 0.93 there
    in 1.5 ms a query, beside 7 ms to encode it."""
    return max(EF_SEARCH, 2 * k, min(EF_SEARCH_MAX, -(-n // EF_PER_VECTORS)))


class LabelSet:
    """The chunk ids an index holds, as a bitmap over ids (a byte an id up to the largest).

    A Python set of a million ints is about 60 MB, and opening an index built two more (the
    file's labels and the store's live ids) to compare: a searching process's peak at 1.25M
    vectors (benchmarks/million.py). Chunk ids are SQLite rowids, dense from 1."""

    def __init__(self, ids=()):
        self._bits = np.zeros(0, dtype=bool)
        self._n = 0
        self.update(ids)

    @staticmethod
    def _ids(ids) -> np.ndarray:
        a = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).ravel()
        if len(a) and int(a.min()) < 0:
            raise ValueError("chunk ids are not negative")
        return a

    def update(self, ids) -> None:
        a = self._ids(ids)
        if not len(a):
            return
        top = int(a.max())
        if top >= len(self._bits):
            grown = np.zeros(max(top + 1, int(len(self._bits) * 1.5)), dtype=bool)
            grown[: len(self._bits)] = self._bits
            self._bits = grown
        self._bits[a] = True
        self._n = int(np.count_nonzero(self._bits))

    def discard_many(self, ids) -> None:
        a = self._ids(ids)
        a = a[a < len(self._bits)]
        if len(a):
            self._bits[a] = False
            self._n = int(np.count_nonzero(self._bits))

    def holds(self, ids) -> np.ndarray:
        """For each id, whether it is in the set (a boolean array)."""
        a = self._ids(ids)
        inside = a < len(self._bits)
        out = np.zeros(len(a), dtype=bool)
        out[inside] = self._bits[a[inside]]
        return out

    def array(self) -> np.ndarray:
        return np.flatnonzero(self._bits)

    def __contains__(self, label) -> bool:
        return 0 <= label < len(self._bits) and bool(self._bits[label])

    def __len__(self) -> int:
        return self._n


class VectorIndex:
    def __init__(self, store: Store, folder: Path, key: str, dim: int, on_notice=None):
        self.store = store
        self.key = key
        self.dim = dim
        self.file = Path(folder) / f"{key}.hnsw"
        self.header_file = Path(folder) / f"{key}.json"
        self._index = None
        self._labels = LabelSet()
        self._lock = threading.RLock()
        self._dirty = False
        self._last_save = time.monotonic()
        self.repaired: dict[str, int] = {}
        self.problem: str | None = None  # why the file on disk was not used (None: it was, or none was needed)
        self._on_notice = on_notice  # told each notice (the registry collects them for the CLI and status)

    # -- lifecycle ---------------------------------------------------------------------
    def _new(self, capacity: int):
        import hnswlib

        idx = hnswlib.Index(space="ip", dim=self.dim)
        idx.init_index(max_elements=max(capacity, 1024), ef_construction=EF_CONSTRUCTION, M=M,
                       allow_replace_deleted=True)
        idx.set_ef(EF_SEARCH)
        idx.set_num_threads(max(1, (os.cpu_count() or 2)))
        return idx

    def _record(self) -> dict | None:
        raw = self.store.get_meta(record_key(self.key))
        try:
            rec = json.loads(raw) if raw else None
        except ValueError:
            return None
        return rec if isinstance(rec, dict) else None

    def verify(self) -> str | None:
        """Why the file on disk must not be handed to hnswlib (None: it matches its record)."""
        if not self.file.exists():
            return "the file is missing"
        rec = self._record()
        if rec is None:
            return ("it was saved without a checksum (by an earlier version of desktop-search, "
                    "or the database was replaced)")
        try:
            size = self.file.stat().st_size
            if size != rec.get("size"):
                return f"it has {size} bytes, {rec.get('size')} were saved"
            header_text = self.header_file.read_text("utf-8")
            if _digest_text(header_text) != rec.get("header_blake2b"):
                return f"its metadata file {self.header_file.name} does not match what was saved"
            if _digest_file(self.file) != rec.get("blake2b"):
                return "its checksum does not match what was saved"
            header = json.loads(header_text)
        except (OSError, ValueError) as e:
            return f"it cannot be read ({e})"
        if header.get("format") != FORMAT_VERSION or header.get("key") != self.key:
            return "it was written by another version or for another model"
        if header.get("dim") != self.dim or rec.get("dim") != self.dim:
            return f"it holds vectors of dimension {header.get('dim')}, the model has {self.dim}"
        return None

    def _load_file(self):
        import hnswlib

        self.problem = self.verify()
        if self.problem is not None:
            return None
        try:
            header = json.loads(self.header_file.read_text("utf-8"))
            rec = self._record() or {}
            idx = hnswlib.Index(space="ip", dim=self.dim)
            # room for exactly what it holds: hnswlib allocates the capacity up front, and the saved
            # one (up to 1.5x the count after growth) took a searching process's peak to 4.7 GB at
            # 1.25M vectors (3.2 GB now; benchmarks/million.py); adding more resizes it (_add)
            idx.load_index(str(self.file), max_elements=int(rec.get("elements") or 0), allow_replace_deleted=True)
            if idx.get_current_count() != rec.get("elements"):
                self.problem = f"it holds {idx.get_current_count()} elements, {rec.get('elements')} were saved"
                return None
            idx.set_ef(EF_SEARCH)
            labels = LabelSet(np.array(idx.get_ids_list(), dtype=np.int64))
            labels.discard_many(header.get("deleted", []))
            return idx, labels
        except Exception as e:  # noqa: BLE001 - a damaged cache file is rebuilt from SQLite
            self.problem = f"it cannot be loaded ({e})"
            return None

    def open(self) -> "VectorIndex":
        """Load the file if it matches its checksum record (or start empty), and reconcile it
        with the store: a file that was not used is rebuilt from the vectors in SQLite."""
        with self._lock:
            if self._index is not None:
                return self
            existed = self.file.exists()
            loaded = self._load_file()
            if loaded is None:
                self._index, self._labels = self._new(1024), LabelSet()
                self.repaired["rebuilt"] = 1 if existed else 0
            else:
                self._index, self._labels = loaded
            self._reconcile()
            if loaded is None and (not self._labels or not existed):
                self.problem = None  # no file to distrust (first build, or deleted): nothing to tell
            if self.notice and self._on_notice is not None:
                self._on_notice(self.notice)
            return self

    @property
    def notice(self) -> str | None:
        """What a person should be told about this index's file (None: nothing happened)."""
        if self.problem is None:
            return None
        return (f"The vector index file {self.file.name} was not used: {self.problem}. "
                f"It was rebuilt from the {len(self._labels)} vectors in the database; nothing was lost.")

    def _reconcile(self) -> None:
        live = np.fromiter((r[0] for r in self.store.conn.execute(
            "SELECT chunk_id FROM vectors WHERE model=?", (self.key,))), dtype=np.int64)
        held = self._labels.array()
        extra = held[~LabelSet(live).holds(held)]
        missing = np.unique(live[~self._labels.holds(live)])
        for label in extra.tolist():
            try:
                self._index.mark_deleted(label)
            except RuntimeError:
                pass
        self._labels.discard_many(extra)
        if len(missing):
            self._add_from_store(missing.tolist())
        self.repaired.update(added=len(missing), removed=len(extra))
        if len(extra) or len(missing):
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
        self._labels.update(ids)
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
            ids = np.unique(np.asarray(list(ids), dtype=np.int64))
            held = ids[self._labels.holds(ids)]
            for label in held.tolist():
                try:
                    self._index.mark_deleted(label)
                except RuntimeError:
                    pass
            if len(held):
                self._labels.discard_many(held)
                self._dirty = True

    def save(self, *, min_interval_s: float = 0.0) -> None:
        """Write the index atomically (temp file + rename), header next, then its checksum record
        in the store: a death between any two steps leaves a file that does not match its
        record, so the next open rebuilds it instead of trusting it."""
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
                all_ids = np.array(self._index.get_ids_list(), dtype=np.int64)
                header = {
                    "format": FORMAT_VERSION, "key": self.key, "dim": self.dim, "space": "ip", "M": M,
                    "ef_construction": EF_CONSTRUCTION, "capacity": int(self._index.get_max_elements()),
                    "count": len(self._labels), "deleted": np.sort(all_ids[~self._labels.holds(all_ids)]).tolist(), "saved_at": time.time(),
                }
                header_text = json.dumps(header)
                record = {"format": FORMAT_VERSION, "dim": self.dim, "count": len(self._labels),
                          "elements": len(all_ids), "size": os.path.getsize(tmp), "blake2b": _digest_file(tmp),
                          "header_blake2b": _digest_text(header_text), "saved_at": header["saved_at"]}
                os.replace(tmp, self.file)
                atomic_write_text(self.header_file, header_text)
                self.store.set_meta(record_key(self.key), json.dumps(record))
            except OSError as e:
                raise self.store.known(e) from e
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
            self._index.set_ef(ef_for(n, k))
            flt = None
            if allowed is not None:
                if not allowed:
                    return []
                flt = allowed.__contains__
                k = min(k, int(self._labels.holds(list(allowed)).sum()) if len(allowed) < 100_000 else k)
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
            self._labels = LabelSet()
            self._dirty = False

    def close(self) -> None:
        with self._lock:
            self.save()
            self._index = None
            self._labels = LabelSet()
