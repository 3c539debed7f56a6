"""Relevance judgments as BEIR files: export for backup or sharing, import from a test collection.

Export writes `queries.jsonl` ({"_id", "text"}) and `qrels/test.tsv` (query-id, corpus-id, score)
with the file's path as corpus-id. Import matches each corpus-id to an indexed file: by its
path, by its path inside an indexed folder, or by its file name without the extension (a BEIR
corpus written as one file per document, named by its id, as `desktop-search eval` does).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .errors import KnownError
from .store import Store
from .store.judgments import normalize_query, query_key
from .textsafe import clean_text
from .util import atomic_write_text


def query_id(query: str) -> str:
    """A stable id for a query in exported files."""
    return "q" + hashlib.blake2b(query_key(query).encode("utf-8"), digest_size=6).hexdigest()


def export_beir(store: Store, folder: str | Path, split: str = "test") -> dict:
    """Write every judgment as BEIR files in `folder`; returns counts."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    qrels = store.qrels()
    paths = {d.id: d.path for d in store.docs()}
    queries, lines = [], ["query-id\tcorpus-id\tscore"]
    for q, docs in sorted(qrels.items()):
        qid = query_id(q)
        queries.append(json.dumps({"_id": qid, "text": q}, ensure_ascii=False))
        for doc_id, grade in sorted(docs.items(), key=lambda x: paths.get(x[0], "")):
            path = paths.get(doc_id)
            if path is not None:
                lines.append(f"{qid}\t{path}\t{grade}")
    atomic_write_text(folder / "queries.jsonl", "\n".join(queries) + ("\n" if queries else ""))
    atomic_write_text(folder / "qrels" / f"{split}.tsv", "\n".join(lines) + "\n")
    return {"queries": len(queries), "judgments": len(lines) - 1, "folder": str(folder)}


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class _DocResolver:
    """corpus-id -> document id, by path, by path under an indexed folder, or by file name."""

    def __init__(self, store: Store):
        docs = [d for d in store.docs() if d.status == "indexed"]
        self.by_path = {d.path: d.id for d in docs}
        self.roots = [f["path"] for f in store.folders()]
        self.by_stem: dict[str, int] = {}
        self.ambiguous: set[str] = set()
        for d in docs:
            stem = os.path.splitext(d.name)[0]
            keys = {stem}
            m = re.match(r"^(.*)_\d+$", stem)  # `eval` writes BEIR documents as "<id>_<n>.txt"
            if m:
                keys.add(m.group(1))
            for key in keys:
                if key in self.by_stem and self.by_stem[key] != d.id:
                    self.ambiguous.add(key)
                self.by_stem[key] = d.id

    def __call__(self, corpus_id: str) -> int | None:
        if corpus_id in self.by_path:
            return self.by_path[corpus_id]
        for root in self.roots:
            p = os.path.join(root, corpus_id)
            if p in self.by_path:
                return self.by_path[p]
        for key in (corpus_id, _SAFE.sub("_", corpus_id)[:80]):
            if key in self.by_stem and key not in self.ambiguous:
                return self.by_stem[key]
        return None


def read_beir_judgments(folder: str | Path, split: str = "test") -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(queries {id: text}, qrels {query id: {corpus id: grade}}) of a BEIR folder, with clear errors."""
    folder = Path(folder)
    qpath, rpath = folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    for p in (qpath, rpath):
        if not p.is_file():
            raise KnownError(f"{p} not found: a BEIR folder has queries.jsonl and qrels/{split}.tsv")
    queries: dict[str, str] = {}
    with open(qpath, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                queries[str(d["_id"])] = normalize_query(clean_text(str(d["text"])))  # JSON may hold "\ud800"
            except (ValueError, KeyError, TypeError):
                raise KnownError(f"{qpath}, line {n}: not a query object with _id and text") from None
    qrels: dict[str, dict[str, int]] = {}
    with open(rpath, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[-1].strip().lstrip("-").isdigit():
                if n == 1 or not line.strip():
                    continue  # the header, or a blank line
                raise KnownError(f"{rpath}, line {n}: expected query-id, corpus-id and an integer score")
            qrels.setdefault(parts[0], {})[clean_text(parts[1])] = int(parts[-1])
    return queries, qrels


def import_beir(store: Store, folder: str | Path, split: str = "test") -> dict:
    """Add the judgments of a BEIR folder to the store; returns what was imported and what was not found."""
    queries, qrels = read_beir_judgments(folder, split)
    resolve = _DocResolver(store)
    imported, unmatched, unknown_queries = 0, [], []
    for qid, docs in qrels.items():
        text = queries.get(qid)
        if not text:
            unknown_queries.append(qid)
            continue
        for corpus_id, grade in docs.items():
            doc_id = resolve(corpus_id)
            if doc_id is None:
                unmatched.append(corpus_id)
                continue
            store.set_judgment(text, doc_id, grade, retriever="import")
            imported += 1
    return {"imported": imported, "queries": len({q for q in qrels if q in queries}),
            "unmatched_files": len(unmatched), "unmatched_examples": unmatched[:5],
            "unknown_queries": len(unknown_queries)}
