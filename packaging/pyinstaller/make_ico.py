"""Pack PNG images into a Windows .ico file without Pillow (PNG-compressed icon entries, Vista+).

    python packaging/pyinstaller/make_ico.py OUT.ico a-32.png a-64.png a-256.png

`build.spec` calls `make_ico()` on Windows with resources/icons/desktop-search-*.png, so no
binary .ico is kept in the repository and Pillow is not a build dependency.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Sequence

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != _PNG_MAGIC or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def make_ico(pngs: Sequence[Path | str], out: Path | str) -> Path:
    """Write an .ico holding each PNG (each at most 256 x 256) as one entry, smallest first."""
    images = []
    for p in pngs:
        data = Path(p).read_bytes()
        w, h = png_size(data)
        if w > 256 or h > 256:
            raise ValueError(f"{p}: {w}x{h} is larger than the 256 px an icon entry can hold")
        images.append((w, h, data))
    if not images:
        raise ValueError("no images")
    images.sort(key=lambda t: t[0])
    header = struct.pack("<HHH", 0, 1, len(images))  # reserved, type 1 = icon, count
    offset = 6 + 16 * len(images)
    entries, blobs = b"", b""
    for w, h, data in images:
        # width/height 0 means 256; colour count 0, reserved 0, planes 1, 32 bits per pixel
        entries += struct.pack("<BBBBHHII", w % 256, h % 256, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(header + entries + blobs)
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print(make_ico(sys.argv[2:], sys.argv[1]))
