"""Reading zip members without trusting the sizes a hostile file claims (zip bombs)."""

from __future__ import annotations

import io
import zipfile

from ..base import ExtractionFailed, SkipFile, short

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # of the compound file that wraps an encrypted package
MAX_RATIO = 200  # inflated / compressed; real documents stay far below (text XML: 5-30)
_RATIO_FLOOR_BYTES = 1_000_000  # small members may compress as well as they like


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The zip container of a document; a clear failure if it is not one."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as err:
        raise ExtractionFailed(short(f"not a valid {what} (damaged zip container: {err})")) from None


def check_member(info: zipfile.ZipInfo, max_bytes: int) -> str | None:
    """Why a member must not be inflated (too large, suspicious ratio, encrypted), or None."""
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > max_bytes:
        return f"too large when unpacked ({info.file_size} bytes > limit)"
    if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(1, info.compress_size):
        return f"compression ratio {info.file_size // max(1, info.compress_size)}:1 (a zip bomb?)"
    return None


def read_member(zf: zipfile.ZipFile, name: str, max_bytes: int, what: str) -> bytes:
    """A member's bytes, reading at most ``max_bytes`` whatever its header claims."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ExtractionFailed(f"not a valid {what} ({name} is missing)") from None
    problem = check_member(info, max_bytes)
    if problem == "encrypted":
        raise ExtractionFailed(f"encrypted {what}")
    if problem is not None:
        raise SkipFile(f"{what}: {name} {problem}")
    try:
        with zf.open(info) as f:
            data = f.read(max_bytes + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as err:
        raise ExtractionFailed(short(f"not a valid {what} ({name}: {err})")) from None
    except RuntimeError as err:  # zipfile: "File is encrypted, password required"
        raise ExtractionFailed(short(f"encrypted {what} ({err})")) from None
    if len(data) > max_bytes:
        raise SkipFile(f"{what}: {name} is larger than its header says (a zip bomb?)")
    return data


MAX_PACKAGE_FACTOR = 4  # all members of a package together may inflate to this many times max_bytes


def check_package(data: bytes, max_bytes: int, what: str) -> None:
    """Refuse an Office package (DOCX, PPTX, XLSX) before its library inflates every part whole.

    python-docx, python-pptx and openpyxl read parts without a limit: a 3 MB DOCX holding 1 GiB
    of XML took 15 GB. Each member must pass `check_member`, and all of them together stay within
    MAX_PACKAGE_FACTOR x max_bytes (zipfile never reads more than a member's declared size).
    A password-protected Office file is an OLE compound file, not a zip: said so first."""
    if data.startswith(OLE_SIGNATURE):
        raise ExtractionFailed(f"encrypted {what} (password-protected), or an old binary Office file renamed")
    with open_zip(data, what) as zf:
        total = 0
        for info in zf.infolist():
            problem = check_member(info, max_bytes)
            if problem == "encrypted":
                raise ExtractionFailed(f"encrypted {what}")
            if problem is not None:
                raise SkipFile(f"{what}: {info.filename} {problem}")
            total += info.file_size
        if total > MAX_PACKAGE_FACTOR * max_bytes:
            raise SkipFile(f"{what}: {total} bytes when unpacked (more than {MAX_PACKAGE_FACTOR} x the size "
                           "limit; a zip bomb?)")
