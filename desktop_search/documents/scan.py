"""Walk folders iteratively and yield the regular files to index, reporting problems instead of raising."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

DEFAULT_EXCLUDED_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        "env",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".idea",
        ".vscode",
        "build",
        "dist",
        "site-packages",
        ".cache",
    }
)

# Generic names that are excluded only when the folder really is a virtualenv.
_EXCLUDED_ONLY_IF_VIRTUALENV: frozenset[str] = frozenset({"env"})


class FileEntry(NamedTuple):
    """A regular file found by the scan (a named tuple: made once a file, 5,000 a re-scan)."""

    path: str
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class ScanProblem:
    """Something the scan could not read; reported, never raised."""

    path: str
    reason: str


@dataclass
class _Frame:
    """One folder being walked: its identity and the entries not yet visited (sorted, reversed)."""

    path: str
    key: tuple[int, int] | None
    pending: list[os.DirEntry[str]] = field(default_factory=list)
    check_files: bool = True  # whether `exclude` is asked about each of its files


def _dir_key(st: os.stat_result) -> tuple[int, int] | None:
    """Identity of a folder, or None where the platform reports no inode (never deduplicated)."""
    return (st.st_dev, st.st_ino) if st.st_ino else None


def _entry_dir_key(entry: os.DirEntry[str], follow_symlinks: bool) -> tuple[int, int] | None:
    st = entry.stat(follow_symlinks=follow_symlinks)
    if not st.st_ino:  # Windows: DirEntry.stat() leaves st_ino and st_dev at zero
        st = os.stat(entry.path, follow_symlinks=follow_symlinks)
    return _dir_key(st)


def _os_reason(err: OSError, *, folder: bool) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, (FileNotFoundError, NotADirectoryError)):
        return "folder vanished during scan" if folder else "file vanished during scan"
    what = "folder" if folder else "file"
    return f"cannot read {what}: {err.strerror or err}"


def _is_excluded(name: str, path: str, excluded_dirs: frozenset[str] | set[str]) -> bool:
    if name not in excluded_dirs:
        return False
    if name in _EXCLUDED_ONLY_IF_VIRTUALENV:
        return os.path.isfile(os.path.join(path, "pyvenv.cfg"))
    return True


def _list_dir(path: str) -> list[os.DirEntry[str]]:
    """Entries of one folder, sorted by name and reversed so that pop() yields them in order."""
    with os.scandir(path) as it:
        entries = list(it)
    entries.sort(key=lambda e: e.name, reverse=True)
    return entries


def _file_entry(path: str, st: os.stat_result, entry: os.DirEntry[str] | None = None) -> FileEntry:
    inode = st.st_ino
    if not inode and entry is not None:
        try:
            inode = entry.inode()
        except OSError:
            inode = 0
    return FileEntry(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, inode=inode or 0)


def iter_files(
    roots: Iterable[str | Path],
    *,
    excluded_dirs: frozenset[str] | set[str] = DEFAULT_EXCLUDED_DIRS,
    include_hidden: bool = False,
    follow_symlinks: bool = False,
    on_problem: Callable[[ScanProblem], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    exclude: Callable[[str, bool], bool] | None = None,
    files_may_be_excluded: Callable[[str], bool] | None = None,
) -> Iterator[FileEntry]:
    """Yield regular files under ``roots`` depth-first, sorted by name within each folder.

    Roots may be folders or files and are taken as given (even if hidden, excluded or a
    symbolic link). Below them, hidden names and excluded folders are skipped, symbolic
    links are skipped silently unless ``follow_symlinks``, and every folder is walked at
    most once, so link loops and overlapping roots terminate without duplicates.
    ``exclude(path, is_dir)`` (exclusion patterns, see exclusions.py) leaves out files and
    whole folders below the roots; `files_may_be_excluded(folder)`, when given, is asked once a
    folder, and `exclude` is not asked about the files of a folder where it says no.
    """

    def frame(path: str, key: tuple[int, int] | None, listing: list[os.DirEntry[str]]) -> _Frame:
        check = exclude is not None and (files_may_be_excluded is None or files_may_be_excluded(path))
        return _Frame(path, key, listing, check)

    def report(path: str, reason: str) -> None:
        if on_problem is not None:
            on_problem(ScanProblem(path=path, reason=reason))

    def cancelled() -> bool:
        return cancel is not None and cancel()

    visited: set[tuple[int, int]] = set()

    for root in roots:
        if cancelled():
            return
        root_path = os.path.abspath(os.fsdecode(os.fspath(root)))
        try:
            st = os.stat(root_path)
        except FileNotFoundError:
            report(root_path, "not found")
            continue
        except OSError as err:
            report(root_path, _os_reason(err, folder=True))
            continue
        if stat.S_ISREG(st.st_mode):
            yield _file_entry(root_path, st)
            continue
        if not stat.S_ISDIR(st.st_mode):
            report(root_path, "not a regular file or folder")
            continue
        root_key = _dir_key(st)
        if root_key is not None and root_key in visited:
            continue  # already covered by an earlier, enclosing root
        try:
            listing = _list_dir(root_path)
        except OSError as err:
            report(root_path, _os_reason(err, folder=True))
            continue
        if root_key is not None:
            visited.add(root_key)
        stack = [frame(root_path, root_key, listing)]

        while stack:
            top = stack[-1]
            if not top.pending:
                stack.pop()
                continue
            if cancelled():
                return
            entry = top.pending.pop()
            name = entry.name
            if not include_hidden and name.startswith("."):
                continue
            path = entry.path  # the folder's path joined with the name, as os.path.join would
            try:
                is_link = entry.is_symlink()
            except OSError:
                continue  # vanished between listing and check
            if is_link and not follow_symlinks:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
                is_file = not is_dir and entry.is_file(follow_symlinks=follow_symlinks)
            except OSError as err:
                if is_link and err.errno == errno.ELOOP:
                    report(path, "symbolic link loop not followed")
                elif not isinstance(err, FileNotFoundError):
                    report(path, _os_reason(err, folder=False))
                continue
            if is_dir:
                if _is_excluded(name, path, excluded_dirs) or (exclude is not None and exclude(path, True)):
                    continue
                try:
                    key = _entry_dir_key(entry, follow_symlinks)
                except OSError as err:
                    report(path, _os_reason(err, folder=True))
                    continue
                if key is not None and key in visited:
                    if is_link:
                        on_stack = any(f.key == key for f in stack)
                        report(
                            path,
                            "symbolic link loop not followed"
                            if on_stack
                            else "symbolic link to a folder already scanned",
                        )
                    continue
                if key is not None:
                    visited.add(key)
                try:
                    listing = _list_dir(path)
                except OSError as err:
                    report(path, _os_reason(err, folder=True))
                    continue
                stack.append(frame(path, key, listing))
            elif is_file:
                if top.check_files and exclude(path, False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=follow_symlinks)
                except FileNotFoundError:
                    continue  # deleted after listing: the next scan notices
                except OSError as err:
                    report(path, _os_reason(err, folder=False))
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield _file_entry(path, st, entry)
            elif is_link and not os.path.exists(path):
                report(path, "broken symbolic link")  # only reachable with follow_symlinks
