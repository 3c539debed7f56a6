"""Where exports of a model (desktop_search.onnx_export) are kept, and reading them back.

Cheap on purpose (stat calls and one small JSON file, no imports of torch or a runtime): an
encoder plans its backend, and so names its vectors, before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1
META = "export.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
# the files that define a model's vectors (not metrics.json, which training rewrites)
_DEFINING = ("config.json", "modules.json", "tokenizer.json", "tokenizer_config.json", "sentence_bert_config.json",
             "model.safetensors", "pytorch_model.bin", "1_Pooling/config.json")


@dataclass
class Export:
    """A checked export of one model folder (what `export.json` says)."""

    folder: Path
    source: str
    fingerprint: str
    inputs: list[str]
    max_seq_length: int
    dim: int
    pad_id: int
    pad_token: str
    variants: dict[str, dict] = field(default_factory=dict)  # "fp32"/"int8" -> {"file", "min_cosine"} or {"error"}

    def file(self, variant: str) -> Path | None:
        """The graph of a usable variant ("fp32" or "int8"), or None."""
        v = self.variants.get(variant) or {}
        if "file" not in v or "error" in v:
            return None
        p = self.folder / v["file"]
        return p if p.is_file() else None

    def problem(self, variant: str) -> str | None:
        """Why a variant is not usable (None: it is)."""
        v = self.variants.get(variant)
        if v is None:
            return f"no {variant} export was made"
        if "error" in v:
            return v["error"]
        return None if self.file(variant) is not None else f"{v.get('file')} is missing"


# -- where exports live ------------------------------------------------------------------------
def cache_root() -> Path:
    """Exports of models that are not trained versions: DESKTOP_SEARCH_EXPORTS, else the user's cache folder."""
    env = os.environ.get("DESKTOP_SEARCH_EXPORTS")
    if env:
        return Path(env)
    import platformdirs

    from .config import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "exports"


def is_trained_version(model_dir: Path) -> bool:
    """A folder made by training.versions (it has settings.json and metrics.json beside the model)."""
    return (model_dir / "settings.json").is_file() and (model_dir / "metrics.json").is_file()


def fingerprint(model_dir: str | os.PathLike) -> str:
    """Changes when the folder moves or a file that defines its vectors changes (stat only: cheap)."""
    d = Path(model_dir).resolve()
    h = hashlib.blake2b(str(d).encode("utf-8", "surrogateescape"), digest_size=8)
    for name in _DEFINING:
        try:
            st = (d / name).stat()
        except OSError:
            continue
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def export_folder(model_dir: str | os.PathLike) -> Path:
    """Where the export of `model_dir` is (or would be) kept."""
    d = Path(model_dir).resolve()
    if is_trained_version(d):
        return d / "export"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", d.name)[:40] or "model"
    return cache_root() / f"{slug}-{fingerprint(d)}"


def tool_versions() -> dict:
    """Versions that decide whether a recorded failure is worth retrying (read from metadata: no imports)."""
    from importlib import metadata

    out = {}
    for dist in ("torch", "onnxruntime", "onnx"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / META).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def find_export(model_dir: str | os.PathLike) -> Export | None:
    """The checked export of `model_dir` if one is there and still matches the folder (never exports)."""
    folder = export_folder(model_dir)
    meta = read_meta(folder)
    if not meta or meta.get("format") != FORMAT or "error" in meta or meta.get("fingerprint") != fingerprint(model_dir):
        return None
    try:
        return Export(folder=folder, source=meta["source"], fingerprint=meta["fingerprint"], inputs=list(meta["inputs"]),
                      max_seq_length=int(meta["max_seq_length"]), dim=int(meta["dim"]), pad_id=int(meta["pad_id"]),
                      pad_token=str(meta["pad_token"]), variants=dict(meta.get("variants", {})))
    except (KeyError, TypeError, ValueError):
        return None


def recorded_failure(model_dir: str | os.PathLike) -> str | None:
    """Why the last export of this folder failed, if it did with today's torch/onnxruntime (else None)."""
    meta = read_meta(export_folder(model_dir))
    if not meta or "error" not in meta or meta.get("fingerprint") != fingerprint(model_dir):
        return None
    return meta["error"] if meta.get("versions") == tool_versions() else None
