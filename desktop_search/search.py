"""The service facade used by the CLI, the GUI and the tests: library, indexing, search, compare."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .compare import agreement
from .config import DEFAULT_MODEL, IndexSettings, default_data_dir, resolve_model
from .errors import KnownError
from .jobs import Progress
from .retrievers.analysis import analyze_with_offsets, parse_query, phrase_pattern
from .retrievers.bm25 import BM25Index
from .retrievers.fusion import minmax_fusion, rrf_fusion
from .retrievers.types import RETRIEVERS, Hit
from .store import Store
from .util import ProcessLock, display_path, raw_path

SNIPPET_CHARS = 240
HYBRID_DEPTH = 100


@dataclass
class Filters:
    """Restrict results to a folder (prefix), file types (extensions) and a modified-date range."""

    folder: str | None = None
    exts: tuple[str, ...] = ()
    modified_after: float | None = None  # seconds since the epoch
    modified_before: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.folder or self.exts or self.modified_after or self.modified_before)


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
        self.store = Store(self.data_dir / "library.sqlite3")
        self.bm25 = BM25Index(self.store)
        self.hybrid_method = hybrid_method
        self._encoder = encoder
        # makes the encoder of a model folder: in-process by default; the GUI passes EncoderProcess
        self.encoder_factory = encoder_factory
        self._encoders: dict[str, object] = {}
        self._vindexes: dict[str, object] = {}
        self._tokenizer = None
        self._lock = threading.RLock()

    # -- lazy heavy parts ------------------------------------------------------------------
    @property
    def encoder(self):
        """The encoder of the active model version (the base model unless one was activated)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self.encoder_for(self.versions.active_id())
            return self._encoder

    # -- model versions (made by training; see adaptation.py) ------------------------------
    def base_model_key(self) -> str:
        """Names the vectors of the base model; the same wherever the model files are installed
        (source checkout, frozen bundle), so moving the app or the data folder keeps them."""
        from .retrievers.encoder import model_key

        name = self.settings.model or DEFAULT_MODEL
        if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
            return DEFAULT_MODEL
        return model_key(name)

    def base_model_path(self) -> str | None:
        p = resolve_model(self.settings.model)
        return p if os.path.isdir(p) else None

    @property
    def versions(self):
        from training.versions import VersionStore

        return VersionStore(self.data_dir, base_model=resolve_model(self.settings.model))

    def encoder_for(self, version_id: str = "base"):
        """An encoder for a model version ("base" = the configured model); cached per version."""
        from .retrievers.encoder import SentenceTransformerEncoder

        factory = self.encoder_factory or SentenceTransformerEncoder
        with self._lock:
            enc = self._encoders.get(version_id)
            if enc is None:
                base_key = self.base_model_key()
                if version_id == "base":
                    enc = factory(resolve_model(self.settings.model), key=base_key, display_name=self.settings.model)
                else:
                    v = self.versions.get(version_id)
                    enc = factory(str(v.path), key=f"{base_key}.{v.id}", display_name=f"{self.settings.model} {v.id}")
                self._encoders[version_id] = enc
            return enc

    def activate_version(self, version_id: str) -> None:
        """Search with another model version from now on (its vectors must exist: see `embed`)."""
        self.versions.activate(version_id)
        with self._lock:
            self._encoder = None

    def rollback(self) -> None:
        self.activate_version("base")

    def delete_version(self, version_id: str) -> None:
        """Delete a trained version with its vectors and HNSW file (not the active one)."""
        enc = self.encoder_for(version_id)
        self.versions.delete(version_id)
        with self.store.write() as w:
            w.execute("DELETE FROM vectors WHERE model=?", (enc.key,))
            w.execute("DELETE FROM models WHERE key=?", (enc.key,))
        with self._lock:
            vi = self._vindexes.pop(enc.key, None)
            self._encoders.pop(version_id, None)
        if vi is not None:
            vi.discard()
        for suffix in (".hnsw", ".json"):
            (self.data_dir / "vectors" / f"{enc.key}{suffix}").unlink(missing_ok=True)

    def train(self, overrides: dict | None = None, **kw) -> Iterator[Progress]:
        from .adaptation import train_job

        return train_job(self, overrides, **kw)

    def refresh(self) -> None:
        """See what another process (the indexing child) wrote: vectors, chunks, versions."""
        self.bm25.invalidate()
        with self._lock:
            for vi in self._vindexes.values():
                vi.reconcile()

    @property
    def tokenizer(self):
        with self._lock:
            if self._tokenizer is None:
                from .chunking import tokenizer_for

                path = getattr(self.encoder, "path", None)
                self._tokenizer = tokenizer_for(path)
            return self._tokenizer

    def vector_index(self, encoder=None):
        from .index import VectorIndex

        encoder = encoder or self.encoder
        with self._lock:
            vi = self._vindexes.get(encoder.key)
            if vi is None:
                vi = VectorIndex(self.store, self.data_dir / "vectors", encoder.key, encoder.dim)
                self._vindexes[encoder.key] = vi
                with self.store.write() as w:
                    w.execute("INSERT OR IGNORE INTO models(key, name, dim, created_at) VALUES (?, ?, ?, ?)",
                              (encoder.key, encoder.name, encoder.dim, time.time()))
            return vi

    def close(self) -> None:
        for enc in list(self._encoders.values()):
            close = getattr(enc, "close", None)
            if close is not None:
                close()
        for vi in list(self._vindexes.values()):
            try:
                vi.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
        self._vindexes.clear()
        self.store.close()

    def __enter__(self) -> "SearchService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- library ---------------------------------------------------------------------------
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
                with self.store.write() as w:
                    for _, i in inner:
                        w.execute("UPDATE documents SET folder_id=? WHERE folder_id=?", (fid, i))
                        w.execute("DELETE FROM folders WHERE id=?", (i,))
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
        ids = [r[0] for r in self.store.conn.execute("SELECT id FROM documents WHERE folder_id=?", (fid,))]
        n = self.delete_documents(ids)
        with self.store.write() as w:
            w.execute("DELETE FROM folders WHERE id=?", (fid,))
            self.store.bump_generation(w)
        return n

    def delete_documents(self, doc_ids: Sequence[int]) -> int:
        if not doc_ids:
            return 0
        chunk_ids: list[int] = []
        with self.store.write() as w:
            for i in range(0, len(doc_ids), 500):
                part = list(doc_ids[i : i + 500])
                q = ",".join("?" * len(part))
                chunk_ids += [r[0] for r in w.execute(f"SELECT id FROM chunks WHERE doc_id IN ({q})", part)]
                w.execute(f"DELETE FROM chunks WHERE doc_id IN ({q})", part)
                w.execute(f"DELETE FROM documents WHERE id IN ({q})", part)
            self.store.bump_generation(w)
        self.forget_vectors(chunk_ids)
        return len(doc_ids)

    def forget_vectors(self, chunk_ids: Sequence[int]) -> None:
        """Drop chunks from the vector indexes loaded in this process (the rows are already gone)."""
        if chunk_ids:
            for vi in self._vindexes.values():
                vi.remove(chunk_ids)

    # -- indexing --------------------------------------------------------------------------
    def index(self, paths: Sequence[str | Path] | None = None, *, cancel: Callable[[], bool] | None = None,
              retry_failed: bool = False, embed: bool = True) -> Iterator[Progress]:
        """Add `paths` (if given) and bring the index up to date; a generator of Progress.

        Without paths every registered folder is rescanned. Holds the store's indexing lock.
        """
        from .indexer import Indexer

        folder_ids = self.add_folders(paths) if paths else None
        lock = ProcessLock(self.data_dir / "indexing.lock")
        lock.acquire()
        try:
            yield from Indexer(self, cancel).run(folder_ids, retry_failed=retry_failed, embed=embed)
        finally:
            lock.release()
            for vi in self._vindexes.values():
                vi.save()

    def embed(self, encoder=None, *, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
        """Embed every chunk that lacks a vector for `encoder` (another model version, say)."""
        from .indexer import Indexer

        with ProcessLock(self.data_dir / "indexing.lock"):
            yield from Indexer(self, cancel).embed_missing(encoder)

    # -- status -------------------------------------------------------------------------------
    def status(self, *, problems: bool = True) -> dict:
        """Folders, counts, models and size on disk. Each folder's `index_bytes` is its share of
        the library's size by passages (database and vector files together): an estimate, since
        postings and HNSW links are shared. `problems=False` leaves out the per-file list of
        skipped and failed files (scan problems stay), for callers that read every file anyway."""
        c = self.store.counts()
        folders = []
        for f in self.store.folders():
            row = self.store.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status='indexed'), 0), COALESCE(SUM(status='skipped'), 0), "
                "COALESCE(SUM(status='failed'), 0) FROM documents WHERE folder_id=?", (f["id"],)).fetchone()
            chunks = self.store.conn.execute(
                "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id=c.doc_id WHERE d.folder_id=?",
                (f["id"],)).fetchone()[0]
            folders.append({"id": f["id"], "path": f["path"], "files": row[0], "indexed": row[1],
                            "skipped": row[2], "failed": row[3], "chunks": chunks,
                            "exists": os.path.exists(os.fsdecode(bytes(f["raw_path"])))})
        vec_bytes = sum(p.stat().st_size for p in (self.data_dir / "vectors").glob("*") if p.is_file()) \
            if (self.data_dir / "vectors").is_dir() else 0
        scan_problems = [dict(path=r["path"], status="failed", reason=r["reason"]) for r in self.store.conn.execute(
            "SELECT path, reason FROM scan_problems ORDER BY path")]
        not_indexed = [dict(path=d.path, status=d.status, reason=d.reason)
                       for d in self.store.docs() if d.status in ("skipped", "failed")] if problems else []
        db_bytes = self.store.size_on_disk()
        total_chunks = sum(f["chunks"] for f in folders)
        for f in folders:
            f["index_bytes"] = round((db_bytes + vec_bytes) * f["chunks"] / total_chunks) if total_chunks else 0
        models = [dict(key=r[0], name=r[1], vectors=r[2]) for r in self.store.conn.execute(
            "SELECT m.key, m.name, (SELECT COUNT(*) FROM vectors v WHERE v.model=m.key) FROM models m")]
        return {
            "data_dir": str(self.data_dir),
            "folders": folders,
            "counts": c,
            "models": models,
            "size_bytes": {"database": db_bytes, "vectors": vec_bytes},
            "problems": scan_problems + not_indexed,
        }

    def files(self, status: str | None = None):
        return self.store.docs(status=status)

    # -- search ---------------------------------------------------------------------------------
    def _allowed_docs(self, filters: Filters | None) -> set[int] | None:
        if filters is None or not filters.active:
            return None
        cond, args = ["status='indexed'"], []
        if filters.folder:
            folder = os.path.abspath(filters.folder).rstrip(os.sep)
            cond.append("(path = ? OR substr(path, 1, ?) = ?)")
            args += [folder, len(folder) + 1, folder + os.sep]
        if filters.exts:
            exts = [e.lower().lstrip(".") for e in filters.exts]
            cond.append(f"ext IN ({','.join('?' * len(exts))})")
            args += exts
        if filters.modified_after:
            cond.append("mtime_ns >= ?")
            args.append(int(filters.modified_after * 1e9))
        if filters.modified_before:
            cond.append("mtime_ns <= ?")
            args.append(int(filters.modified_before * 1e9))
        return {r[0] for r in self.store.conn.execute(f"SELECT id FROM documents WHERE {' AND '.join(cond)}", args)}

    def _phrase_filter(self, phrases: Sequence[str]):
        if not phrases:
            return None
        pats = [phrase_pattern(p) for p in phrases]

        def check(chunk_ids: np.ndarray) -> np.ndarray:
            texts = self.store.chunk_texts([int(c) for c in chunk_ids])
            return np.array([all(p.search(t) for p in pats) for t in texts], dtype=bool)

        return check

    def _bm25_ranking(self, query: str, k: int, allowed: set[int] | None) -> list[tuple[int, float, int]]:
        pq = parse_query(query)
        if pq.empty:
            return []
        return self.bm25.top_docs(list(pq.terms), k, required=pq.required, excluded=pq.excluded,
                                  allowed_docs=allowed, chunk_filter=self._phrase_filter(pq.phrases))

    def _dense_ranking(self, query: str, k: int, allowed: set[int] | None, encoder=None) -> list[tuple[int, float, int]]:
        encoder = encoder or self.encoder
        vi = self.vector_index(encoder)
        if len(vi.open()) == 0:
            return []
        qv = encoder.encode_query(query)
        allowed_chunks = None
        if allowed is not None:
            allowed_chunks = set()
            docs = list(allowed)
            for i in range(0, len(docs), 900):
                part = docs[i : i + 900]
                allowed_chunks.update(r[0] for r in self.store.conn.execute(
                    f"SELECT id FROM chunks WHERE doc_id IN ({','.join('?' * len(part))})", part))
        pq = parse_query(query)
        best: dict[int, tuple[float, int]] = {}
        depth = max(50, 5 * k)
        while True:
            found = vi.search(qv, depth, allowed_chunks)
            rows = self.store.chunk_rows([c for c, _ in found])
            for cid, sim in found:
                r = rows.get(cid)
                if r is None:
                    continue
                d = r["doc_id"]
                if d not in best or sim > best[d][0]:
                    best[d] = (sim, cid)
            if len(best) >= k or len(found) < depth or depth >= 4000:
                break
            depth *= 4
        ranking = sorted(((d, s, c) for d, (s, c) in best.items()), key=lambda x: -x[1])
        if pq.excluded or pq.phrases or pq.required:  # honour query operators in dense mode too
            keep = self._operator_filter(pq, [c for _, _, c in ranking])
            ranking = [x for x, ok in zip(ranking, keep) if ok]
        return ranking[:k]

    def _operator_filter(self, pq, chunk_ids: list[int]) -> list[bool]:
        from .retrievers.analysis import analyze

        texts = self.store.chunk_texts(chunk_ids)
        pats = [phrase_pattern(p) for p in pq.phrases]
        out = []
        for t in texts:
            terms = set(analyze(t))
            ok = all(p.search(t) for p in pats) and all(r in terms for r in pq.required) and not any(
                e in terms for e in pq.excluded)
            out.append(ok)
        return out

    def search(self, query: str, retriever: str = "bm25", k: int = 10, filters: Filters | None = None,
               *, encoder=None, hybrid_method: str | None = None) -> list[Hit]:
        """Ranked files for a query; each with its best passage, a snippet and matched spans."""
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}; choose from {', '.join(RETRIEVERS)}")
        allowed = self._allowed_docs(filters)
        if retriever == "bm25":
            ranking = self._bm25_ranking(query, k, allowed)
        elif retriever == "dense":
            ranking = self._dense_ranking(query, k, allowed, encoder)
        else:
            ranking = self._hybrid_ranking(query, k, allowed, encoder, hybrid_method or self.hybrid_method)
        return self._hits(query, ranking, retriever)

    def _hybrid_ranking(self, query, k, allowed, encoder, method) -> list[tuple[int, float, int]]:
        depth = max(HYBRID_DEPTH, k)
        lex = self._bm25_ranking(query, depth, allowed)
        den = self._dense_ranking(query, depth, allowed, encoder)
        lists = [[(d, s) for d, s, _ in lex], [(d, s) for d, s, _ in den]]
        fused = rrf_fusion(lists) if method == "rrf" else minmax_fusion(lists)
        chunk_of = {d: c for d, _, c in reversed(lex)}
        chunk_of.update({d: c for d, _, c in den if d not in chunk_of})
        return [(d, s, chunk_of[d]) for d, s in fused[:k]]

    def _hits(self, query: str, ranking: list[tuple[int, float, int]], retriever: str) -> list[Hit]:
        if not ranking:
            return []
        pq = parse_query(query)
        want = set(pq.terms) | set(pq.required)
        rows = self.store.chunk_rows([c for _, _, c in ranking])
        hits = []
        for rank, (doc_id, score, cid) in enumerate(ranking, start=1):
            doc = self.store.doc(doc_id)
            r = rows.get(cid)
            if doc is None or r is None:
                continue
            text = self.store.doc_text(doc_id)
            snippet, spans = make_snippet(text, r["start"], r["end"], want, pq.phrases)
            hits.append(Hit(
                rank=len(hits) + 1, doc_id=doc_id, path=doc.path, name=doc.name,
                folder=os.path.dirname(doc.path), score=float(score), chunk_id=cid, start=r["start"],
                end=r["end"], snippet=snippet, spans=spans, kind=doc.kind, mtime=doc.mtime_ns / 1e9,
                retriever=retriever,
            ))
        return hits

    def preview(self, doc_id: int, chunk_id: int, query: str, context_chars: int = 4000) -> dict:
        """The passage in its context: text around it, the passage range and matched spans in that text."""
        text = self.store.doc_text(doc_id)
        r = self.store.chunk_rows([chunk_id]).get(chunk_id)
        a, b = (r["start"], r["end"]) if r else (0, min(len(text), 1000))
        lo = max(0, a - context_chars)
        hi = min(len(text), b + context_chars)
        pq = parse_query(query)
        want = set(pq.terms) | set(pq.required)
        window = text[lo:hi]
        spans = _match_spans(window, want, pq.phrases)
        return {"text": window, "offset": lo, "passage": (a - lo, b - lo), "spans": spans}

    def compare(self, query: str, retrievers: Sequence[str] = ("bm25", "dense", "hybrid"), k: int = 10,
                filters: Filters | None = None, encoders: dict | None = None) -> dict:
        """The same query through several retrievers; pairwise overlap@k, Jaccard, Kendall's tau.

        `encoders` maps extra column names (e.g. "dense:v2") to encoders for other model versions.
        """
        columns: dict[str, list[Hit]] = {}
        for name in retrievers:
            columns[name] = self.search(query, name, k, filters)
        for name, enc in (encoders or {}).items():
            columns[name] = self.search(query, "dense", k, filters, encoder=enc)
        names = list(columns)
        pairs = {}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a = [h.doc_id for h in columns[names[i]]]
                b = [h.doc_id for h in columns[names[j]]]
                pairs[f"{names[i]}|{names[j]}"] = agreement(a, b, k)
        return {"query": query, "k": k, "columns": columns, "pairs": pairs}


def _match_spans(text: str, want: set[str], phrases: Sequence[str]) -> tuple[tuple[int, int], ...]:
    spans = [(a, b) for t, a, b in analyze_with_offsets(text) if t in want]
    for p in phrases:
        spans += [(m.start(), m.end()) for m in phrase_pattern(p).finditer(text)]
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return tuple(merged)


def make_snippet(text: str, start: int, end: int, want: set[str], phrases: Sequence[str] = (),
                 size: int = SNIPPET_CHARS) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A window of about `size` characters of the passage, placed to hold the most matches."""
    passage = text[start:end]
    spans = _match_spans(passage, want, phrases)
    lo = 0
    if spans and len(passage) > size:
        best, best_n = spans[0][0], -1
        for a, _ in spans:
            n = sum(1 for x, y in spans if a <= x and y <= a + size)
            if n > best_n:
                best, best_n = a, n
        lo = max(0, min(best - size // 4, len(passage) - size))
        while lo > 0 and not passage[lo - 1].isspace() and lo > best - size // 4 - 20:
            lo -= 1
    hi = min(len(passage), lo + size)
    while hi < len(passage) and hi < lo + size + 20 and not passage[hi].isspace():
        hi += 1
    body = " ".join(passage[lo:hi].split())
    # recompute spans on the whitespace-normalised body so offsets are exact
    out_spans = _match_spans(body, want, phrases)
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(passage) else ""
    shift = len(prefix)
    return prefix + body + suffix, tuple((a + shift, b + shift) for a, b in out_spans)
