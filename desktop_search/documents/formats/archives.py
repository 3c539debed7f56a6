"""Archives (.zip, .tar, .tar.gz/.bz2/.xz): every member is read like a file of its own and becomes
its own document, shown as ``archive.zip › folder/member.pdf`` (see jobs/indexing.py).

Nothing is unpacked to disk, and at most one member is in memory at a time, read with a bound
whatever its header claims. Limits: members per archive, bytes unpacked per archive, compression
ratio (a member that would inflate more than MAX_RATIO times is skipped with a reason, never
inflated), text per archive, and depth (an archive inside an archive is opened, one level more
is listed but not opened). The archive's own text is the list of its members' names.
"""

from __future__ import annotations

import io
import lzma
import posixpath
import tarfile
import time
import zipfile
import zlib
from typing import Callable, Iterator

from ..base import Extracted, ExtractionFailed, Member, SkipFile, short
from .zipsafe import MAX_RATIO, check_member, open_zip

MAX_ARCHIVE_DEPTH = 2  # archives opened along one path: the file itself and one inside it
MAX_MEMBERS = 5_000
MAX_TOTAL_BYTES = 1_000_000_000  # unpacked, per archive
MAX_TOTAL_CHARS = 20_000_000  # of the members' text, per archive
_RATIO_FLOOR_BYTES = 10_000_000  # a small tarball may compress as well as it likes
TIME_BUDGET_S = 40.0  # members not read by then are listed as such: below the child's default 60 s timeout
SEPARATOR = " › "  # between an archive and a member inside it, in names (as extract.ARCHIVE_SEPARATOR)

ReadMember = Callable[..., Extracted]  # (data, name, *, depth, max_bytes, max_chars) -> Extracted

_deadline = 0.0  # of the outermost archive being read (the child reads one file at a time)
_open = 0  # archives being read now, the outermost included


def extract_archive(data: bytes, kind: str, *, depth: int, max_bytes: int, max_chars: int,
                    read_member: ReadMember) -> Extracted:
    """The archive's listing as its text, and its members (nested archives' members flattened in)."""
    global _deadline, _open
    if depth >= MAX_ARCHIVE_DEPTH:
        raise SkipFile(f"archive inside {depth} archives: not opened (limit {MAX_ARCHIVE_DEPTH - 1})")
    if _open == 0:  # an archive inside another shares its time
        _deadline = time.monotonic() + TIME_BUDGET_S
    _open += 1
    try:
        return _read_archive(data, kind, depth=depth, max_bytes=max_bytes, max_chars=max_chars,
                             read_member=read_member)
    finally:
        _open -= 1


def _read_archive(data: bytes, kind: str, *, depth: int, max_bytes: int, max_chars: int,
                  read_member: ReadMember) -> Extracted:
    entries = _zip_entries(data, max_bytes) if kind == "zip" else _tar_entries(data, max_bytes)
    members: list[Member] = []
    notes: list[str] = []
    chars = 0
    for name, size, content, problem in entries:
        if isinstance(content, str):  # a note about the archive itself, not a member
            notes.append(content)
            continue
        if problem is not None:
            members.append(Member(name, size, *problem, None))
            continue
        if chars > MAX_TOTAL_CHARS:
            members.append(Member(name, size, "skipped", "not read: the archive's text limit was reached", None))
            continue
        if time.monotonic() > _deadline:
            members.append(Member(name, size, "skipped",
                                  f"not read: the archive took more than {TIME_BUDGET_S:.0f} s", None))
            continue
        try:
            extracted = read_member(content, name, depth=depth + 1, max_bytes=max_bytes, max_chars=max_chars)
        except SkipFile as err:
            members.append(Member(name, size, "skipped", err.reason, None))
            continue
        except ExtractionFailed as err:
            members.append(Member(name, size, "failed", err.reason, None))
            continue
        inner, extracted.members = extracted.members, []
        members.append(Member(name, size, "ok", None, extracted))
        chars += len(extracted.text)
        for m in inner:  # an archive inside: its members follow it, named through it
            members.append(Member(name + SEPARATOR + m.name, m.size, m.status, m.reason, m.extracted))
            chars += len(m.extracted.text) if m.extracted is not None else 0
    if not members and not notes:
        raise SkipFile("empty archive")
    listing = [f"{len(members)} file{'s' if len(members) != 1 else ''}:"] + [m.name for m in members] + notes
    return Extracted(text="\n".join(listing), kind=kind, encoding=None, title=None, members=members)


# an entry: (name, size, bytes, None) to read, (name, size, None, (status, reason)) not to,
# or ("", 0, note, None) for a note about the archive
_Entry = tuple[str, int, "bytes | str | None", "tuple[str, str] | None"]


def _clean_name(name: str) -> str:
    name = name.replace("\\", "/").replace("\x00", "")
    return posixpath.normpath(name).lstrip("/") if name.strip("/.") else name


def _zip_entries(data: bytes, max_bytes: int) -> Iterator[_Entry]:
    zf = open_zip(data, "zip archive")
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise SkipFile(f"zip archive unpacks to {declared:,} bytes (limit {MAX_TOTAL_BYTES:,}; a zip bomb?)")
        for n, info in enumerate(infos):
            name = _clean_name(info.filename)
            if n >= MAX_MEMBERS:
                yield "", 0, f"(further {len(infos) - n} files not read: more than {MAX_MEMBERS})", None
                return
            problem = check_member(info, max_bytes)
            if problem == "encrypted":
                yield name, info.file_size, None, ("failed", "encrypted (needs a password)")
                continue
            if problem is not None:
                yield name, info.file_size, None, ("skipped", problem)
                continue
            try:
                with zf.open(info) as f:
                    content = f.read(max_bytes + 1)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, zlib.error,
                    lzma.LZMAError, RuntimeError) as err:
                yield name, info.file_size, None, ("failed", short(f"damaged in the archive: {err}"))
                continue
            if len(content) > max_bytes:
                yield name, info.file_size, None, ("skipped", "larger than its header says (a zip bomb?)")
                continue
            yield name, info.file_size, content, None


def _tar_entries(data: bytes, max_bytes: int) -> Iterator[_Entry]:
    errors = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except errors as err:
        raise ExtractionFailed(short(f"not a valid tar archive: {err}")) from None
    total = 0
    n = 0
    with tf:
        while True:
            try:
                info = tf.next()
            except errors as err:
                if n == 0:
                    raise ExtractionFailed(short(f"not a valid tar archive: {err}")) from None
                yield "", 0, short(f"(damaged after {n} files: {err})"), None
                return
            if info is None:
                return
            if not info.isfile():
                continue  # folders, links, devices
            name = _clean_name(info.name)
            if n >= MAX_MEMBERS:
                yield "", 0, f"(further files not read: more than {MAX_MEMBERS})", None
                return
            n += 1
            if info.size > max_bytes:
                yield name, info.size, None, ("skipped", f"too large when unpacked ({info.size} bytes > limit)")
                continue
            total += info.size
            if total > MAX_TOTAL_BYTES or (total > _RATIO_FLOOR_BYTES and total > MAX_RATIO * len(data)):
                yield "", 0, (f"(further files not read: the archive unpacks to more than "
                              f"{min(total, MAX_TOTAL_BYTES):,} bytes; a bomb?)"), None
                return
            try:
                f = tf.extractfile(info)
                content = f.read(max_bytes + 1) if f is not None else b""
            except errors as err:
                yield name, info.size, None, ("failed", short(f"damaged in the archive: {err}"))
                continue
            yield name, info.size, content, None
