"""Tests for desktop_search.documents.scan: order, exclusions, links, vanishing and odd names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from desktop_search.documents.extract import extract_text
from desktop_search.documents.scan import DEFAULT_EXCLUDED_DIRS, FileEntry, ScanProblem, iter_files
from fixtures_bad_files import make_bytes_named_file


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(entries: list[FileEntry], root: Path) -> list[str]:
    return [os.path.relpath(e.path, root) for e in entries]


def scan(*roots: Path, **kwargs: object) -> tuple[list[FileEntry], list[ScanProblem]]:
    problems: list[ScanProblem] = []
    entries = list(iter_files(roots, on_problem=problems.append, **kwargs))  # type: ignore[arg-type]
    return entries, problems


def test_default_excluded_dirs() -> None:
    expected = {
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
    assert expected == DEFAULT_EXCLUDED_DIRS


def test_depth_first_sorted_order_and_entry_fields(tmp_path: Path) -> None:
    touch(tmp_path / "b.txt", "bbb")
    touch(tmp_path / "a" / "z.md")
    touch(tmp_path / "a" / "y" / "deep.txt")
    touch(tmp_path / "c.pdf")
    entries, problems = scan(tmp_path)
    assert names(entries, tmp_path) == ["a/y/deep.txt", "a/z.md", "b.txt", "c.pdf"]
    assert problems == []
    b = entries[2]
    st = os.stat(tmp_path / "b.txt")
    assert b == FileEntry(str(tmp_path / "b.txt"), 3, st.st_mtime_ns, st.st_ino)
    assert all(os.path.isabs(e.path) for e in entries)


def test_hidden_and_excluded_dirs_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "keep.txt")
    touch(tmp_path / ".hidden.txt")
    touch(tmp_path / ".secret" / "a.txt")
    touch(tmp_path / "node_modules" / "pkg" / "index.js")
    touch(tmp_path / "__pycache__" / "m.pyc")
    touch(tmp_path / "venv" / "lib.py")
    touch(tmp_path / "build" / "out.txt")
    touch(tmp_path / "proj" / "site-packages" / "x.py")
    touch(tmp_path / "env" / "notes.txt")  # a folder called env that is not a virtualenv
    touch(tmp_path / "proj" / "env" / "pyvenv.cfg")
    touch(tmp_path / "proj" / "env" / "lib.py")
    entries, problems = scan(tmp_path)
    assert names(entries, tmp_path) == ["env/notes.txt", "keep.txt"]
    assert problems == []


def test_include_hidden_and_custom_exclusions(tmp_path: Path) -> None:
    touch(tmp_path / ".hidden.txt")
    touch(tmp_path / ".git" / "config")
    touch(tmp_path / "build" / "out.txt")
    touch(tmp_path / "private" / "p.txt")
    entries, _ = scan(tmp_path, include_hidden=True, excluded_dirs=frozenset({"private"}))
    assert names(entries, tmp_path) == [".git/config", ".hidden.txt", "build/out.txt"]


def test_roots_may_be_files_and_are_taken_as_given(tmp_path: Path) -> None:
    single = touch(tmp_path / ".hidden_root.txt")
    build = touch(tmp_path / "build" / "explicit.txt").parent
    entries, problems = scan(single, build)
    assert names(entries, tmp_path) == [".hidden_root.txt", "build/explicit.txt"]
    assert problems == []


def test_missing_root_reported(tmp_path: Path) -> None:
    entries, problems = scan(tmp_path / "nope")
    assert entries == []
    assert problems == [ScanProblem(str(tmp_path / "nope"), "not found")]


def test_overlapping_roots_yield_each_file_once(tmp_path: Path) -> None:
    touch(tmp_path / "sub" / "a.txt")
    touch(tmp_path / "b.txt")
    entries, _ = scan(tmp_path / "sub", tmp_path)
    assert names(entries, tmp_path) == ["sub/a.txt", "b.txt"]


def test_symlinks_skipped_silently_by_default(tmp_path: Path) -> None:
    target = touch(tmp_path / "outside" / "real.txt")
    root = tmp_path / "root"
    touch(root / "own.txt")
    (root / "file_link.txt").symlink_to(target)
    (root / "dir_link").symlink_to(target.parent, target_is_directory=True)
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")
    entries, problems = scan(root)
    assert names(entries, root) == ["own.txt"]
    assert problems == []


def test_symlinks_followed_on_request(tmp_path: Path) -> None:
    target = touch(tmp_path / "outside" / "real.txt")
    root = tmp_path / "root"
    touch(root / "own.txt")
    (root / "dir_link").symlink_to(target.parent, target_is_directory=True)
    (root / "file_link.txt").symlink_to(target)
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")
    entries, problems = scan(root, follow_symlinks=True)
    assert names(entries, root) == ["dir_link/real.txt", "file_link.txt", "own.txt"]
    assert problems == [ScanProblem(str(root / "broken.txt"), "broken symbolic link")]


@pytest.mark.parametrize("follow", [False, True])
def test_symlink_loop_terminates(tmp_path: Path, follow: bool) -> None:
    root = tmp_path / "root"
    touch(root / "a" / "f.txt")
    (root / "a" / "back_to_root").symlink_to(root, target_is_directory=True)
    (root / "a" / "self").symlink_to(root / "a", target_is_directory=True)
    (root / "x").symlink_to(root / "y")
    (root / "y").symlink_to(root / "x")
    entries, problems = scan(root, follow_symlinks=follow)
    assert names(entries, root) == ["a/f.txt"]
    if follow:
        reasons = {os.path.relpath(p.path, root): p.reason for p in problems}
        assert reasons == {
            "a/back_to_root": "symbolic link loop not followed",
            "a/self": "symbolic link loop not followed",
            "x": "symbolic link loop not followed",
            "y": "symbolic link loop not followed",
        }
    else:
        assert problems == []


def test_folder_vanishing_during_scan_is_reported_not_raised(tmp_path: Path) -> None:
    touch(tmp_path / "a.txt")
    touch(tmp_path / "b" / "inner.txt")
    touch(tmp_path / "c.txt")
    problems: list[ScanProblem] = []
    seen: list[str] = []
    for entry in iter_files([tmp_path], on_problem=problems.append):
        seen.append(os.path.relpath(entry.path, tmp_path))
        if seen == ["a.txt"]:
            shutil.rmtree(tmp_path / "b")  # listed already, not yet entered
    assert seen == ["a.txt", "c.txt"]
    assert problems == [ScanProblem(str(tmp_path / "b"), "folder vanished during scan")]


def test_file_vanishing_between_listing_and_stat_is_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "a.txt")
    touch(tmp_path / "b.txt")
    seen: list[str] = []
    for entry in iter_files([tmp_path]):
        seen.append(os.path.basename(entry.path))
        (tmp_path / "b.txt").unlink(missing_ok=True)
    assert seen == ["a.txt"]


def test_unreadable_folder_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "locked" / "secret.txt")
    touch(tmp_path / "open.txt")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries, problems = scan(tmp_path)
    assert names(entries, tmp_path) == ["open.txt"]
    assert problems == [ScanProblem(str(tmp_path / "locked"), "permission denied")]


def test_non_utf8_and_long_names_scanned_and_extracted(tmp_path: Path) -> None:
    odd = make_bytes_named_file(tmp_path, b"caf\xe9.txt", b"latin name")
    long_name = "l" * 246 + ".txt"
    touch(tmp_path / long_name, "long name")
    entries, problems = scan(tmp_path)
    assert problems == []
    paths = [e.path for e in entries]
    assert odd in paths and str(tmp_path / long_name) in paths
    assert os.fsencode(odd).endswith(b"caf\xe9.txt")
    assert {extract_text(p).text for p in paths} == {"latin name", "long name"}


def test_cancel_stops_the_scan(tmp_path: Path) -> None:
    for i in range(10):
        touch(tmp_path / f"f{i}.txt")
    seen: list[FileEntry] = []
    for entry in iter_files([tmp_path], cancel=lambda: len(seen) >= 3):
        seen.append(entry)
    assert len(seen) == 3


def test_deep_tree_has_no_recursion_limit(tmp_path: Path) -> None:
    depth = 120  # deeper than many recursive walkers like, and still within PATH_MAX
    folder = tmp_path
    for _ in range(depth):
        folder = folder / "d"
    touch(folder / "bottom.txt")
    entries, problems = scan(tmp_path)
    assert [os.path.basename(e.path) for e in entries] == ["bottom.txt"]
    assert problems == []


def test_exclusions_are_asked_once_a_folder_where_nothing_applies(tmp_path: Path) -> None:
    """With no pattern and no .gitignore the scan asks about each folder, not each of its files;
    a folder whose .gitignore applies still has its files checked and left out."""
    from desktop_search.exclusions import Exclusions

    (tmp_path / "quiet").mkdir()
    (tmp_path / "loud").mkdir()
    for i in range(20):
        (tmp_path / "quiet" / f"n{i}.txt").write_text("x")
    (tmp_path / "loud" / ".gitignore").write_text("*.log\n")
    (tmp_path / "loud" / "keep.txt").write_text("x")
    (tmp_path / "loud" / "drop.log").write_text("x")
    ex = Exclusions(str(tmp_path))
    asked: list[str] = []

    def exclude(path: str, is_dir: bool) -> bool:
        asked.append(path)
        return ex.excluded(path, is_dir)

    entries, _ = scan(tmp_path, exclude=exclude, files_may_be_excluded=ex.may_exclude_files_in)
    assert sorted(names(entries, tmp_path)) == ["loud/keep.txt"] + [f"quiet/n{i}.txt" for i in sorted(range(20), key=str)]
    assert not [p for p in asked if "quiet" + os.sep in p]  # no file of the quiet folder was asked about
    assert {os.path.basename(p) for p in asked} >= {"keep.txt", "drop.log"}
