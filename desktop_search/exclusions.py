"""Exclusion patterns: which files and folders of an indexed folder stay out of the index.

Patterns use gitignore syntax (as sist2's `.sist2ignore` and ripgrep's `.ignore` do), read with
the `pathspec` package: `genindex-*.html` anywhere, `/search.html` at the folder's top only,
`_sources/` a folder anywhere, `!keep.html` to take a file back. They come from three places,
applied in this order so that the more specific wins: `.gitignore` files inside the indexed folder
(each relative to its own folder; on by default, `use_gitignore` turns them off), the global
patterns (relative to every indexed folder), then the folder's own patterns. An excluded folder is
not walked at all. Excluded files that were indexed leave the index on the next scan, as deleted
files do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Mapping

from .errors import KnownError

if TYPE_CHECKING:  # pathspec loads when a folder is scanned, not for a search
    import pathspec

GITIGNORE = ".gitignore"
MAX_GITIGNORE_BYTES = 1_000_000  # larger ones are not gitignore files anyone wrote by hand


def check_pattern(pattern: str) -> str:
    """A pattern as stored (surrounding spaces removed); KnownError if it is empty or not gitignore syntax."""
    p = pattern.strip()
    if not p or p.startswith("#"):
        raise KnownError(f"not an exclusion pattern: {pattern!r} (use gitignore syntax, e.g. 'genindex-*.html')")
    try:
        compile_patterns([p])
    except ValueError as e:  # pathspec's pattern errors are ValueErrors
        raise KnownError(f"not an exclusion pattern: {pattern!r} ({e})") from None
    return p


def compile_patterns(lines: Iterable[str]) -> pathspec.GitIgnoreSpec | None:
    """A gitignore matcher for the lines, or None when they hold no pattern."""
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return None  # without importing pathspec (16 ms of a re-index's start-up)
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _decide(spec: pathspec.GitIgnoreSpec | None, rel: str, current: bool | None) -> bool | None:
    """The verdict of one set of patterns on a relative path: True excluded, False taken back, else unchanged."""
    if spec is None:
        return current
    include = spec.check_file(rel).include  # pathspec's "include" means "matched an ignore pattern"
    return current if include is None else bool(include)


class Exclusions:
    """Decides, for paths under one indexed folder, whether they are excluded."""

    def __init__(self, root: str, patterns: Iterable[str] = (), folder_patterns: Iterable[str] = (),
                 *, use_gitignore: bool = True):
        self.root = os.path.abspath(root)
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self.global_spec = compile_patterns(patterns)
        self.folder_spec = compile_patterns(folder_patterns)
        self.use_gitignore = use_gitignore
        self._gitignores: dict[str, pathspec.GitIgnoreSpec | None] = {}
        self._quiet: dict[str, bool] = {}  # folder -> no .gitignore from the root down to it
        self.count = 0  # paths excluded so far (a folder counts once)

    @property
    def active(self) -> bool:
        return self.use_gitignore or self.global_spec is not None or self.folder_spec is not None

    def _gitignore(self, folder: str) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._gitignores:
            spec = None
            path = os.path.join(folder, GITIGNORE)
            try:
                if os.path.isfile(path) and os.path.getsize(path) <= MAX_GITIGNORE_BYTES:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        spec = compile_patterns(f.read().splitlines())
            except (OSError, ValueError):
                spec = None  # an unreadable or broken .gitignore excludes nothing
            self._gitignores[folder] = spec
        return self._gitignores[folder]

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Whether `path` (a file or folder under the root) is excluded; counts the exclusions."""
        if not self._plain(path):
            path = os.path.abspath(path)
        elif self._nothing_applies(path):
            return False  # the common case: no patterns, and no .gitignore from the root down to here
        if self._excluded(path, is_dir):
            self.count += 1
            return True
        return False

    def may_exclude_files_in(self, folder: str) -> bool:
        """Whether a file directly in `folder` (below the root) can be excluded: False when no
        pattern and no .gitignore applies there, so the scan asks once a folder, not once a file."""
        probe = os.path.join(folder, "x")
        return not (self._plain(probe) and self._nothing_applies(probe))

    def _plain(self, path: str) -> bool:
        """Whether `path` is already absolute and normal below the root (what the scan yields),
        so its relative part is a slice: os.path.abspath and relpath were a fifth of a re-scan."""
        sep = os.sep
        return (path.startswith(self._prefix) and sep + sep not in path and sep + "." + sep not in path
                and sep + ".." not in path and not path.endswith(sep + ".") and not path.endswith(sep))

    def _nothing_applies(self, path: str) -> bool:
        """Whether no pattern can apply below `path`'s folder: no global or folder patterns, and no
        .gitignore in the folders from the root down to it (remembered a folder)."""
        if self.global_spec is not None or self.folder_spec is not None:
            return False
        if not self.use_gitignore:
            return True
        parent = path[: path.rfind(os.sep)]
        quiet = self._quiet.get(parent)
        if quiet is None:
            if len(parent) < len(self._prefix):  # the root itself
                quiet = self._gitignore(self.root) is None
            else:
                quiet = self._nothing_applies(parent) and self._gitignore(parent) is None
            self._quiet[parent] = quiet
        return quiet

    def _excluded(self, path: str, is_dir: bool) -> bool:
        rel = path[len(self._prefix):] if self._plain(path) else os.path.relpath(path, self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return False  # the root itself, or outside it: taken as given
        parts = rel.split(os.sep)
        suffix = "/" if is_dir else ""
        verdict: bool | None = None
        if self.use_gitignore:
            folder = self.root
            for i in range(len(parts)):
                verdict = _decide(self._gitignore(folder), "/".join(parts[i:]) + suffix, verdict)
                folder = os.path.join(folder, parts[i])
        whole = "/".join(parts) + suffix
        verdict = _decide(self.global_spec, whole, verdict)
        verdict = _decide(self.folder_spec, whole, verdict)
        return bool(verdict)


def exclusions_for(root: str, settings, folder_key: str | None = None) -> Exclusions:
    """The exclusions of one indexed folder from the settings (global and per-folder patterns, .gitignore)."""
    per_folder: Mapping[str, list[str]] = settings.folder_exclude_patterns or {}
    return Exclusions(root, settings.exclude_patterns or (), per_folder.get(folder_key or root, ()),
                      use_gitignore=settings.use_gitignore)


class ExclusionRules:
    """The library's exclusion settings: list, add and remove patterns (global or of one indexed folder),
    and the `.gitignore` switch; saved to the settings file at once (an indexing child reads them there)."""

    def __init__(self, settings, settings_path, store):
        self.settings = settings
        self.settings_path = settings_path
        self.store = store

    FIELDS = ("exclude_patterns", "folder_exclude_patterns", "use_gitignore")

    def _reload(self) -> None:
        """Take the patterns another process (the CLI, the window) saved since we loaded the settings."""
        fresh = type(self.settings).load(self.settings_path)
        for name in self.FIELDS:
            setattr(self.settings, name, getattr(fresh, name))

    def _save(self) -> None:
        """Write the exclusion settings only: other settings in memory may be this run's own (--model)."""
        fresh = type(self.settings).load(self.settings_path)
        for name in self.FIELDS:
            setattr(fresh, name, getattr(self.settings, name))
        fresh.save(self.settings_path)

    def folder_key(self, folder: str) -> str:
        """The indexed folder a path names (as the store shows it); KnownError if it is none."""
        from .util import display_path, raw_path

        ap = os.path.abspath(os.fspath(folder))
        for f in self.store.folders():
            if bytes(f["raw_path"]) == raw_path(ap):
                return f["path"]
        raise KnownError(f"{display_path(ap)} is not an indexed folder (see `desktop-search status`); "
                         "patterns of a folder apply to everything inside it, e.g. 'sub/dir/*.html'")

    def listing(self) -> dict:
        """{"global": [...], "folders": {folder path: [...]}, "use_gitignore": bool}."""
        self._reload()
        return {"global": list(self.settings.exclude_patterns),
                "folders": {k: list(v) for k, v in sorted(self.settings.folder_exclude_patterns.items()) if v},
                "use_gitignore": bool(self.settings.use_gitignore)}

    def _patterns(self, folder: str | None, create: bool = False) -> list[str]:
        if folder is None:
            return self.settings.exclude_patterns
        key = self.folder_key(folder)
        if create:
            return self.settings.folder_exclude_patterns.setdefault(key, [])
        return self.settings.folder_exclude_patterns.get(key, [])

    def add(self, pattern: str, folder: str | None = None) -> bool:
        """Add a pattern (False if it was there already). Matching files leave the index on the next scan."""
        p = check_pattern(pattern)
        self._reload()
        patterns = self._patterns(folder, create=True)
        if p in patterns:
            return False
        patterns.append(p)
        self._save()
        return True

    def remove(self, pattern: str, folder: str | None = None) -> None:
        """Remove a pattern; KnownError (naming the patterns there are) if it is not there."""
        p = pattern.strip()
        self._reload()
        patterns = self._patterns(folder)
        if p not in patterns:
            where = "for that folder" if folder is not None else "for every folder"
            there = ", ".join(repr(x) for x in patterns) or "none"
            raise KnownError(f"{p!r} is not an exclusion pattern {where} (there are: {there})")
        patterns.remove(p)
        if folder is not None and not patterns:
            self.settings.folder_exclude_patterns.pop(self.folder_key(folder), None)
        self._save()

    def set_use_gitignore(self, on: bool) -> None:
        self._reload()
        self.settings.use_gitignore = bool(on)
        self._save()

    def forget_removed_folders(self) -> None:
        """Drop the patterns of folders no longer in the library (a folder added again starts without them)."""
        self._reload()
        indexed = {f["path"] for f in self.store.folders()}
        stale = [k for k in self.settings.folder_exclude_patterns if k not in indexed]
        if stale:
            for k in stale:
                del self.settings.folder_exclude_patterns[k]
            self._save()
