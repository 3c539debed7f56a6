"""The indexing job: scan folders, extract and chunk changed files, BM25 segments, then embeddings.

Every step commits in small transactions, so a job killed at any moment (kill -9 too)
leaves a consistent store; the next run picks up what is missing: files whose size or
mtime differ are re-read, chunks without vectors for the active model are embedded,
and the HNSW file is reconciled with the store when opened.

Faults end a job cleanly, with what to do: below `settings.min_free_mb` free on the disk holding
the index (checked before the job and every few seconds during it) the job stops with
`DiskFull` before SQLite runs out of room; a full disk met anyway rolls the open transaction
back (store.write) and says the same. A run ends with `PRAGMA quick_check` when it did not start
from a checked state, rewrote much of the store, or the last read-through is a day old
(Store.check_after_run): a damaged database raises `StoreDamaged` (and is remembered:
store/health.py) instead of reporting success.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from ..lazy import np

from ..config import IndexSettings
from ..documents import ExtractorPool, FileEntry, ScanProblem, iter_files
from ..documents.extract import ARCHIVE_SEPARATOR, EXTRACTION_VERSIONS, MEMBER_KINDS, extract_text, kind_for
from ..documents.worker import Outcome, run_extractor
from ..documents.scan import DEFAULT_EXCLUDED_DIRS
from ..errors import Cancelled, StoreDamaged
from ..exclusions import exclusions_for
from ..library import Library
from ..model_registry import ModelRegistry
from ..passages import PassageSpec, cut
from ..retrievers.bm25 import BM25Index
from ..store import Store
from ..store.health import check_free_space, damaged_message
from ..util import display_path, from_raw, raw_path
from .progress import Progress, RateMeter

# bigger batches: fewer segments, commits and checkpoints (SciFact: 78 -> 56 MB written at 512). At
# 2,048 small files a batch's segment is past tier 0, so the end of a run has no small segments to
# merge (SciFact: 4 segments left instead of a 0.3-0.5 s merge into one; the time and the text
# limits below close most batches first)
COMMIT_EVERY_FILES = 2048
COMMIT_EVERY_S = 3.0
# or once this much text waits: two texts at max_chars chunked in one batch held 0.35 GB here
COMMIT_EVERY_CHARS = 2_000_000
EMBED_BATCH = 256
FREE_SPACE_EVERY_S = 2.0  # how often a running job looks at the free space
# A few small plain-text files (a re-index after some edits) are read in this process: what the
# extraction child guards against (a parser that crashes, hangs or eats memory) cannot happen in
# decoding at most READ_HERE_MAX_BYTES of text, and starting the child (a fresh interpreter with
# the readers) was a third of a 50-file re-index. More files, or any other kind, go to the child,
# which then also reads on the other core while this process cuts and analyses.
READ_HERE_KINDS = frozenset({"text", "code", "markdown", "rst", "csv", "org"})
READ_HERE_MAX_BYTES = 1_000_000
READ_HERE_MAX_FILES = 64
# The extraction child reads (and cuts) this far ahead of the indexing process: far enough to keep
# reading through a batch write (16 files ahead left it idle for 3.5 s of a 9 s index of Python's
# documentation); the texts read ahead wait in this process, hence the bound on their size.
# a run that read (or embedded the passages of) this many files, or a quarter of the library, reads
# the database through at its end (Store.check_after_run); a smaller one only when a day has passed
REWROTE_MUCH_FILES = 1000
PASSAGES_PER_FILE = 4
READ_AHEAD_FILES = 256
READ_AHEAD_BYTES = 32 * 1024 * 1024


def _read_here(entry: FileEntry) -> bool:
    return entry.size <= READ_HERE_MAX_BYTES and kind_for(entry.path) in READ_HERE_KINDS


class _ReadHere:
    """`ExtractorPool`'s reading, done in this process (for READ_HERE_KINDS only)."""

    def __init__(self, max_bytes: int, max_chars: int):
        self.max_bytes, self.max_chars = max_bytes, max_chars

    def __enter__(self) -> _ReadHere:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def extract_many(self, paths, ahead: int = 0, ahead_bytes: int | None = None, size_of=None) -> Iterator[Outcome]:
        for path in paths:
            yield Outcome(path, *run_extractor(extract_text, path, self.max_bytes, self.max_chars))


@dataclass
class _Pending:
    entry: FileEntry
    folder_id: int
    old_id: int | None  # existing document row (changed file)


def truncated_reason(max_chars: int) -> str:
    """What the status of a file longer than max_chars says: only its beginning is searchable."""
    return f"first {max_chars:,} characters only (the rest is past the max_chars limit)"


def _versions_key(folder_id: int) -> str:
    """The meta key holding the extractor versions a folder's files were last read with."""
    return f"extraction_versions:{folder_id}"


def _hash_text(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Indexer:
    """Runs the indexing phases over a store, its BM25 index and the model registry's vector indexes."""

    def __init__(self, store: Store, bm25: BM25Index, models: ModelRegistry, library: Library,
                 settings: IndexSettings, cancel: Callable[[], bool] | None = None):
        self.store = store
        self.bm25 = bm25
        self.models = models
        self.library = library
        self.settings = settings
        self.cancel = cancel or (lambda: False)
        self._moved_hashes: set[str] = set()
        self._excluded = 0
        self._files_seen = 0  # by the scan: how large the library is (check_after_run)
        self._ocr = [0, 0.0]  # pages (or images) read by OCR in this run, and the seconds it took
        self._left: dict[int, str] = {}  # folders removed from the library while this run read them
        self._folder_paths: dict[int, str] = {}
        self._space_checked = 0.0
        self._pool: ExtractorPool | None = None  # prestarted by the scan, taken by _extract_all
        self._to_read = self._heavy = 0  # files the scan found to read, and those only the child reads
        self._cut_by_reader = 0  # files whose passages the extraction child cut

    def _check(self) -> None:
        if self.cancel():
            raise Cancelled("indexing cancelled")
        if time.monotonic() - self._space_checked >= FREE_SPACE_EVERY_S:
            self.check_space()

    def check_space(self) -> None:
        """Stop (DiskFull) when the disk holding the index is below the configured free space."""
        self._space_checked = time.monotonic()
        check_free_space(self.store.path, getattr(self.settings, "min_free_mb", 0))

    # -- the whole job --------------------------------------------------------------------
    def run(self, folder_ids: list[int] | None = None, *, retry_failed: bool = False,
            embed: bool = True) -> Iterator[Progress]:
        try:
            yield from self._run(folder_ids, retry_failed, embed)
        finally:
            self._close_pool()  # a scan that stopped (cancelled, failed) may have started one

    def _run(self, folder_ids: list[int] | None, retry_failed: bool, embed: bool) -> Iterator[Progress]:
        folders = [f for f in self.store.folders() if folder_ids is None or f["id"] in folder_ids]
        self._folder_paths = {f["id"]: f["path"] for f in folders}
        todo: list[_Pending] = []
        missing: dict[int, list] = {}
        t0 = time.monotonic()
        self.check_space()
        self.store.save_folder_list()
        yield Progress("scan", message=f"Scanning {len(folders)} folder(s)")
        for f in folders:
            self._check()
            todo_f, missing_f = yield from self._scan(f, retry_failed)
            todo.extend(todo_f)
            missing[f["id"]] = missing_f
        stats = {"scan_s": round(time.monotonic() - t0, 3), "to_read": len(todo), "excluded": self._excluded}
        t1 = time.monotonic()
        first_segment = BM25Index.last_segment(self.store.conn)  # the run settles only its own (maybe_merge)
        moved = yield from self._extract_all(todo, missing)
        stats.update(extract_s=round(time.monotonic() - t1, 3), moved=moved, cut_by_reader=self._cut_by_reader)
        if self._ocr[0]:  # what OCR cost, beside what reading cost in all (extract_s)
            stats.update(ocr_pages=self._ocr[0], ocr_s=round(self._ocr[1], 3))
        self._check()
        removed = self._remove_missing(missing)
        stats["removed"] = removed
        versions = json.dumps(EXTRACTION_VERSIONS, sort_keys=True)
        for f in folders:  # every file of these folders is now read with today's extractors
            if self.store.get_meta(_versions_key(f["id"])) != versions:
                self.store.set_meta(_versions_key(f["id"]), versions)
        if self._left:
            stats["folders_removed"] = sorted(self._left.values())
        with self.store.write() as w:
            if BM25Index.maybe_merge(w, settle=True, since=first_segment):
                self.store.bump_generation(w)
        if embed:
            t2 = time.monotonic()
            n = yield from self.embed_missing()
            stats.update(embed_s=round(time.monotonic() - t2, 3), embedded=n)
        self.bm25.invalidate()
        rewritten = len(todo) + removed + stats.get("embedded", 0) // PASSAGES_PER_FILE
        problems = self.store.check_after_run(
            rewrote_much=rewritten >= min(REWROTE_MUCH_FILES, max(1, self._files_seen // 4)))
        if problems:
            raise StoreDamaged(damaged_message(self.store.path, "; ".join(problems)[:500]))
        counts = self.store.counts()
        stats.update(counts)
        notices = self.models.notices()
        if notices:
            stats["notices"] = notices
        message = "Index up to date"
        if self._left:
            message += (f"; {', '.join(sorted(self._left.values()))} left the library during the run, "
                        "so none of its files were indexed")
        yield Progress("done", counts["indexed"], counts["indexed"], message=message, stats=stats)

    # -- scan -------------------------------------------------------------------------------
    def _scan(self, folder, retry_failed: bool):
        root = from_raw(bytes(folder["raw_path"]))
        fid = folder["id"]
        known = self.store.docs_under(fid)
        problems: list[ScanProblem] = []
        seen: set[bytes] = set()
        todo: list[_Pending] = []
        if not os.path.exists(root):
            with self.store.write() as w:
                self.store.replace_scan_problems(
                    w, fid, [(display_path(root), "folder not found (unplugged or removed?); its entries are kept")])
            return todo, []
        excluded = DEFAULT_EXCLUDED_DIRS | frozenset(self.settings.extra_excluded_dirs)
        exclusions = exclusions_for(root, self.settings, folder["path"])
        stale = self._stale_kinds(fid)
        n = 0
        exclude = exclusions.excluded if exclusions.active else None
        own = os.path.dirname(os.path.abspath(self.store.path))  # this library's own data folder
        if own.startswith(os.path.join(os.path.abspath(root), "")):
            # inside an indexed folder: its database, WAL and lock change on every run, so they were
            # "changed files" to read again each time (and listed as skipped); the scan leaves it out
            def exclude(path: str, is_dir: bool, _patterns=exclude) -> bool:
                if is_dir and os.path.abspath(path) == own:
                    return True
                return _patterns is not None and _patterns(path, is_dir)
        for entry in iter_files(
            [root], excluded_dirs=excluded, include_hidden=self.settings.include_hidden,
            follow_symlinks=self.settings.follow_symlinks, on_problem=problems.append, cancel=self.cancel,
            exclude=exclude, files_may_be_excluded=exclusions.may_exclude_files_in if exclude else None,
        ):
            raw = raw_path(entry.path)
            seen.add(raw)
            row = known.get(raw)  # (id, size, mtime_ns, status)
            if row is None:
                todo.append(_Pending(entry, fid, None))
                self._note_to_read(entry)
            elif row[1] != entry.size or row[2] != entry.mtime_ns or (
                retry_failed and row[3] == "failed"
            ) or (stale and kind_for(entry.path) in stale):
                todo.append(_Pending(entry, fid, row[0]))
                self._note_to_read(entry)
            n += 1
            self._files_seen += 1
            if n % 500 == 0:
                yield Progress("scan", n, 0, display_path(entry.path), message=f"Found {n} files")
        # an archive's members (raw path: the archive's, NUL, the member's name) stay while it does;
        # a changed archive is read again and its members replaced then
        for raw in known:
            if b"\x00" in raw and raw.split(b"\x00", 1)[0] in seen:
                seen.add(raw)
        self._check()
        self._excluded += exclusions.count
        if problems or self.store.has_scan_problems(fid):
            with self.store.write() as w:
                self.store.replace_scan_problems(w, fid, [(display_path(p.path), p.reason) for p in problems])
        # deleted, or excluded now: their whole rows (a moved file is found again by its hash)
        missing = self.store.docs_by_id([r[0] for raw, r in known.items() if raw not in seen])
        return todo, missing

    def _stale_kinds(self, folder_id: int) -> set[str]:
        """Kinds whose extractor changed since the folder was last scanned: their files are read again."""
        try:
            done = json.loads(self.store.get_meta(_versions_key(folder_id)) or "{}")
        except ValueError:
            done = {}
        return {kind for kind, v in EXTRACTION_VERSIONS.items() if done.get(kind) != v}

    # -- extract, chunk, BM25 ----------------------------------------------------------
    def _extract_all(self, todo: list[_Pending], missing: dict[int, list]):
        if not todo:
            return 0
        by_hash: dict[str, object] = {}
        for rows in missing.values():
            for r in rows:
                if r["content_hash"] and r["status"] == "indexed":
                    by_hash.setdefault(r["content_hash"], r)
        meter = RateMeter(len(todo))
        batch: list[tuple] = []  # _prepare()d files
        last_commit = time.monotonic()
        batch_chars = 0
        moved = 0
        tokenize = self.models.tokenizer
        s = self.settings
        # every file but a few small plain-text ones (READ_HERE_KINDS) goes through the child
        # process, so a stuck read or parser is stopped
        with self._take_pool(todo) as pool:
            # the child reads ahead while this process chunks and analyses (extract_many)
            sizes = {p.entry.path: p.entry.size for p in todo}
            outcomes = pool.extract_many((p.entry.path for p in todo), ahead=READ_AHEAD_FILES,
                                         ahead_bytes=READ_AHEAD_BYTES, size_of=lambda path: sizes.get(path, 0))
            for i, (p, out) in enumerate(zip(todo, outcomes)):
                self._check()
                # cut as each file arrives, not when its batch is written: the child reads (and
                # cuts its share of) the next files meanwhile, so the two processes overlap
                batch.append(self._prepare(p, out, by_hash, tokenize))
                batch_chars += len(out.extracted.text) if out.extracted is not None else 0
                if (len(batch) >= COMMIT_EVERY_FILES or batch_chars >= COMMIT_EVERY_CHARS
                        or time.monotonic() - last_commit > COMMIT_EVERY_S):
                    moved += self._commit(batch, by_hash, tokenize)
                    batch, batch_chars = [], 0
                    last_commit = time.monotonic()
                    yield meter.report("extract", i + 1, display_path(p.entry.path))
            if batch:
                moved += self._commit(batch, by_hash, tokenize)
                yield meter.report("extract", len(todo), display_path(todo[-1].entry.path))
        # the moved documents are no longer missing
        for fid, rows in missing.items():
            missing[fid] = [r for r in rows if r["content_hash"] not in self._moved_hashes]
        return moved

    def _note_to_read(self, entry: FileEntry) -> None:
        """Count a file the scan found to read; start the child once one is needed."""
        self._to_read += 1
        if not _read_here(entry):
            self._heavy += 1
        if self._heavy or self._to_read > READ_HERE_MAX_FILES:
            self._prestart_pool()

    def _prestart_pool(self) -> None:
        """Start the extraction child as soon as the scan finds a file to read, so its start-up
        overlaps with the rest of the scan (a quarter of a 50-file re-index was that wait)."""
        if self._pool is None:
            s = self.settings
            self._pool = ExtractorPool(timeout_s=s.file_timeout_s, max_bytes=s.max_file_bytes, max_chars=s.max_chars,
                                       memory_limit_bytes=s.extract_memory_mb * 1024 * 1024,
                                       options={"ocr": s.ocr}, prepare=self._passage_spec())
            self._pool.prestart()

    def _passage_spec(self) -> PassageSpec | None:
        """How the extraction child cuts passages the way this process does (None: it does not)."""
        source = getattr(self.models, "tokenizer_source", False)
        if source is False:  # a registry that cannot say which tokenizer it cuts with
            return None
        return PassageSpec(source, self.settings.chunk_tokens, self.settings.chunk_overlap,
                           getattr(self.models, "tokenizer_cache", None))

    def _take_pool(self, todo: list[_Pending]) -> ExtractorPool | _ReadHere:
        """The prestarted pool (the caller closes it), a new one, or this process for a few small
        plain-text files."""
        if self._pool is None and len(todo) <= READ_HERE_MAX_FILES and all(_read_here(p.entry) for p in todo):
            s = self.settings
            return _ReadHere(s.max_file_bytes, s.max_chars)
        self._prestart_pool()
        pool, self._pool = self._pool, None
        assert pool is not None
        return pool

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _prepare(self, p: _Pending, out, by_hash, tokenize) -> tuple:
        """One extracted file with its text's hash, passages and their terms (none for a file that
        may be a moved one: its chunks are kept)."""
        chunks, terms = [], []
        h = None
        if out.status == "ok":
            text = out.extracted.text
            h = _hash_text(text)
            if out.passages is not None:  # cut in the extraction child
                chunks, terms = out.passages
                self._cut_by_reader += 1
            elif not (h in by_hash and p.old_id is None):
                s = self.settings
                chunks, terms = cut(text, tokenize, s.chunk_tokens, s.chunk_overlap)
        return p, out, h, chunks, terms

    def _commit(self, prepared, by_hash, tokenize) -> int:
        """Write one batch of extracted files (`_prepare`d): documents, chunks and a BM25 segment."""
        s = self.settings
        moved = 0
        removed_chunks: list[int] = []
        now = time.time()
        with self.store.write() as w:
            # a folder removed meanwhile (`remove` from another process) must not come back as orphans
            live = {r[0] for r in w.execute("SELECT id FROM folders")}
            seg: dict[int, list[str]] = {}
            for p, out, h, chunks, terms in prepared:
                if p.folder_id not in live:
                    self._left.setdefault(p.folder_id, self._folder_paths.get(p.folder_id, "a folder"))
                    continue
                e = p.entry
                raw = raw_path(e.path)
                name = os.path.basename(e.path)
                ext = os.path.splitext(name)[1].lower().lstrip(".")
                common = dict(raw_path=raw, path=display_path(e.path), folder_id=p.folder_id,
                              name=display_path(name), ext=ext, size=e.size, mtime_ns=e.mtime_ns, inode=e.inode)
                if p.old_id is not None:
                    removed_chunks += self.store.take_chunks(w, p.old_id)
                if kind_for(e.path) in MEMBER_KINDS:  # an earlier read's archive members (or attachments) go
                    removed_chunks += self.store.take_members(w, raw)
                if out.status != "ok":
                    self.store.write_document(w, p.old_id, dict(
                        common, status=out.status, reason=out.reason, kind=None, encoding=None, title=None,
                        text=None, content_hash=None, indexed_at=now))
                    continue
                x = out.extracted
                src = by_hash.get(h) if p.old_id is None else None
                if src is not None and h not in self._moved_hashes and not x.members:
                    # a moved or renamed file: keep its chunks and vectors, change its path
                    self.store.move_document(w, src["id"], common)
                    self._moved_hashes.add(h)
                    moved += 1
                    continue
                if src is not None and not chunks:  # a second copy of a moved file: index it normally
                    chunks, terms = cut(x.text, tokenize, s.chunk_tokens, s.chunk_overlap)
                status, reason = ("indexed", None) if chunks else ("skipped", "no searchable text")
                if chunks and x.truncated:
                    reason = truncated_reason(s.max_chars)
                elif chunks and x.ocr_note:  # OCR stopped at its time limit: later pages not searchable
                    reason = x.ocr_note
                self._ocr[0] += x.ocr_pages
                self._ocr[1] += x.ocr_s
                doc_id = self.store.write_document(w, p.old_id, dict(
                    common, status=status, reason=reason, kind=x.kind, encoding=x.encoding, title=x.title,
                    text=x.text, content_hash=h, indexed_at=now))
                ids = self.store.add_chunks(w, doc_id, [(c.start, c.end, c.n_tokens, len(t))
                                                        for c, t in zip(chunks, terms)])
                seg.update(zip(ids, terms))
                for m in x.members:
                    seg.update(self._write_member(w, common, m, now, tokenize))
            BM25Index.write_segment(w, seg)
            self.store.bump_generation(w)
        self.models.forget_vectors(removed_chunks)
        return moved

    def _write_member(self, w, archive: dict, m, now: float, tokenize) -> dict[int, list[str]]:
        """One member of an archive as a document of its own: `archive.zip › folder/member.pdf`."""
        s = self.settings
        name = m.name.rsplit(ARCHIVE_SEPARATOR, 1)[-1].rsplit("/", 1)[-1]
        values = dict(raw_path=archive["raw_path"] + b"\x00" + m.name.encode("utf-8", "surrogateescape"),
                      path=archive["path"] + ARCHIVE_SEPARATOR + m.name, folder_id=archive["folder_id"],
                      name=name, ext=os.path.splitext(name)[1].lower().lstrip("."), size=m.size,
                      mtime_ns=archive["mtime_ns"], inode=0, indexed_at=now)
        x = m.extracted
        if m.status != "ok" or x is None:
            self.store.write_document(w, None, dict(values, status=m.status, reason=m.reason, kind=None,
                                                    encoding=None, title=None, text=None, content_hash=None))
            return {}
        chunks, terms = cut(x.text, tokenize, s.chunk_tokens, s.chunk_overlap)
        status, reason = ("indexed", None) if chunks else ("skipped", "no searchable text")
        if chunks and x.truncated:
            reason = truncated_reason(s.max_chars)
        elif chunks and x.ocr_note:
            reason = x.ocr_note
        self._ocr[0] += x.ocr_pages
        self._ocr[1] += x.ocr_s
        doc_id = self.store.write_document(w, None, dict(
            values, status=status, reason=reason, kind=x.kind, encoding=x.encoding, title=x.title, text=x.text,
            content_hash=_hash_text(x.text)))
        ids = self.store.add_chunks(w, doc_id, [(c.start, c.end, c.n_tokens, len(t)) for c, t in zip(chunks, terms)])
        return dict(zip(ids, terms))

    # -- deletions ----------------------------------------------------------------------
    def _remove_missing(self, missing: dict[int, list]) -> int:
        ids = [r["id"] for rows in missing.values() for r in rows]
        return self.library.delete_documents(ids)

    # -- embeddings ---------------------------------------------------------------------
    def embed_missing(self, encoder=None, vindex=None) -> Iterator[Progress]:
        """Embed every chunk that has no vector for the encoder's model yet."""
        encoder = encoder or self.models.encoder
        vindex = vindex or self.models.vector_index(encoder)
        vindex.open()  # verifies the HNSW file, rebuilding a damaged one from the store
        if vindex.notice:
            yield Progress("embed", message=vindex.notice, kind="repaired")
        todo = self.store.chunks_without_vector(encoder.key)
        if not todo:
            return 0
        self.check_space()
        meter = RateMeter(len(todo))
        yield meter.report("embed", 0, message=f"Embedding {len(todo)} passages with {encoder.name}")
        done = 0
        for i in range(0, len(todo), EMBED_BATCH):
            self._check()
            ids = todo[i : i + EMBED_BATCH]
            texts = self.store.chunk_texts(ids)
            vecs = encoder.encode(texts, batch_size=self.settings.embed_batch)
            self._check()
            with self.store.write() as w:
                live = self.store.live_chunk_ids(w, ids)
                self.store.put_vectors(w, encoder.key, [(cid, vecs[j].astype(np.float16).tobytes())
                                                        for j, cid in enumerate(ids) if cid in live])
                self.store.bump_generation(w)
            keep = [j for j, cid in enumerate(ids) if cid in live]
            if keep:
                vindex.add(np.array([ids[j] for j in keep]), vecs[keep])
            vindex.save(min_interval_s=30.0)
            done += len(ids)
            yield meter.report("embed", done, f"{done} of {len(todo)} passages")
        vindex.save()
        return done
