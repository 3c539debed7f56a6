"""Repairing a damaged index: keep the damaged database aside, rebuild from the files, salvage.

The files on disk are the source of the index; the database only caches what was read from
them (plus the folder list and the relevance marks). So a repair moves the damaged database
(with its WAL) and the vector files into `damaged-<time>/` in the data folder (kept, never
deleted), reads what SQLite can still read from it (store/salvage.py), and rebuilds a fresh
store by indexing every folder again; the salvaged vectors are put back on the passages with
the same text, and only the rest is embedded again. Progress all the way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

from ..store import Store
from ..store.health import clear_damage, marker_path, record_damage
from ..store.salvage import Salvage, folder_list_path, restore_marks, restore_vectors, salvage
from .progress import Progress

ASIDE_PREFIX = "damaged-"


def move_aside(db_path: Path, vectors_dir: Path) -> Path:
    """Move the database, its WAL and shared-memory files, its damage note and the vector files
    into a new `damaged-<time>` folder beside it; returns that folder."""
    db_path = Path(db_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = db_path.parent / f"{ASIDE_PREFIX}{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = db_path.parent / f"{ASIDE_PREFIX}{stamp}-{n}"
    dest.mkdir(parents=True)
    for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), marker_path(db_path)):
        if p.exists():
            os.replace(p, dest / p.name)
    folders = folder_list_path(db_path)
    if folders.exists():
        (dest / folders.name).write_bytes(folders.read_bytes())  # a copy: the new store keeps its own
    if Path(vectors_dir).is_dir():
        (dest / "vectors").mkdir()
        for p in Path(vectors_dir).iterdir():
            if p.is_file():
                os.replace(p, dest / "vectors" / p.name)
    return dest


def read_salvage(aside: Path, db_name: str) -> Salvage:
    return salvage(aside / db_name, aside / folder_list_path(Path(db_name)).name)


def rebuild(aside: Path, salv: Salvage, store: Store, indexer, encoder=None) -> Iterator[Progress]:
    """Index the salvaged folders into the fresh `store` through `indexer` (an Indexer on it),
    put the salvaged vectors and marks back, and embed what is left; the last report is "done"
    with what was salvaged in its stats. Until it is done, the new store carries a damage note
    ("a repair was interrupted"): a repair killed half-way is told, and run again."""
    record_damage(store.path, "a repair was interrupted before it finished", "repair")
    yield Progress("repair", message=f"Kept the damaged index in {aside}; salvaged {len(salv.folders)} folder(s), "
                                     f"{len(salv.vectors)} vectors and {len(salv.marks)} relevance marks")
    for raw, display in salv.folders:
        store.add_folder(raw, display)
    stats: dict = {}
    for pr in indexer.run(embed=False):
        if pr.phase == "done":
            stats = dict(pr.stats)
        else:
            yield pr
    restored = restore_vectors(store, salv)
    marks = restore_marks(store, salv)
    yield Progress("repair", message=f"Restored {restored} vectors and {marks} relevance marks; "
                                     "embedding the passages that had none")
    embedded = yield from indexer.embed_missing(encoder)
    clear_damage(store.path)
    counts = store.counts()
    stats.update(counts, aside=str(aside), folders=len(salv.folders), salvaged_vectors=restored,
                 embedded=embedded or 0, marks=marks, salvage_problems=list(salv.problems))
    yield Progress("done", counts["indexed"], counts["indexed"],
                   message=f"Repaired: {counts['indexed']} files indexed again, {restored} vectors salvaged, "
                           f"{embedded or 0} passages embedded again; the damaged index is kept in {aside}",
                   stats=stats)
