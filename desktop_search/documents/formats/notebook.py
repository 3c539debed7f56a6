"""Jupyter notebooks (.ipynb): the markdown and code cells in order; outputs are not indexed
(they repeat data, tracebacks and base64 images more than they say what the notebook is about)."""

from __future__ import annotations

import json
import re

from ..base import ExtractionFailed, short

_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def extract_ipynb(data: bytes, max_chars: int) -> tuple[str, str | None]:
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ExtractionFailed(short(f"not a valid notebook (JSON: {err})")) from None
    if not isinstance(notebook, dict):
        raise ExtractionFailed("not a valid notebook (no cells)")
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3
        cells = [c for ws in notebook.get("worksheets") or [] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        raise ExtractionFailed("not a valid notebook (no cells)")
    parts: list[str] = []
    title = None
    total = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("markdown", "code", "raw"):
            continue
        source = cell.get("source", cell.get("input", ""))
        text = "".join(source) if isinstance(source, list) else str(source)
        if not text.strip():
            continue
        if title is None and cell.get("cell_type") == "markdown":
            match = _HEADING.search(text)
            title = match.group(1) if match else None
        parts.append(text.strip("\n"))
        total += len(text) + 2
        if total > max_chars:
            break
    meta = notebook.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("title"), str) and meta["title"].strip():
        title = meta["title"].strip()
    return "\n\n".join(parts), title
