"""Rich Text Format through striprtf (control words dropped, \\'xx and \\u escapes decoded)."""

from __future__ import annotations

from ..base import ExtractionFailed, short


def extract_rtf(data: bytes, max_chars: int) -> tuple[str, str | None]:
    from striprtf.striprtf import rtf_to_text

    head = data[:64].lstrip()
    if not head.startswith(b"{\\rtf"):
        raise ExtractionFailed("not a valid RTF file (no {\\rtf header)")
    # RTF is 7-bit text; 8-bit bytes of old writers are the ANSI code page's (\ansicpg, mostly 1252)
    raw = data.decode("cp1252", errors="replace")
    try:
        text = rtf_to_text(raw, encoding="cp1252", errors="replace")
    except (ValueError, LookupError, IndexError) as err:
        raise ExtractionFailed(short(f"not a valid RTF file: {err}")) from None
    return text[: max_chars + 1], None
