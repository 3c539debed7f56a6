"""Documents: folder scanning, per-type text extraction and the time-limited extraction worker."""

from desktop_search.documents.base import on_disk_path
from desktop_search.documents.extract import (
    SUPPORTED_EXTENSIONS,
    Extracted,
    ExtractionFailed,
    SkipFile,
    extract_text,
    kind_for,
)
from desktop_search.documents.scan import DEFAULT_EXCLUDED_DIRS, FileEntry, ScanProblem, iter_files
from desktop_search.documents.worker import ExtractorPool, Outcome

__all__ = [
    "DEFAULT_EXCLUDED_DIRS",
    "SUPPORTED_EXTENSIONS",
    "Extracted",
    "ExtractionFailed",
    "ExtractorPool",
    "FileEntry",
    "Outcome",
    "ScanProblem",
    "SkipFile",
    "extract_text",
    "iter_files",
    "kind_for",
    "on_disk_path",
]
