"""Trained model versions on disk: `models/v{N}-{timestamp}/` folders plus `versions.json` (the active one)."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

__all__ = ["BASE", "ModelVersion", "VersionError", "VersionStore"]

BASE = "base"  # the pseudo-version "use the base model"
_VERSION_DIR = re.compile(r"^v(\d+)-(\d{8}-\d{6})$")
_STATE_FORMAT = 1


class VersionError(Exception):
    """An invalid request on the version store (unknown id, deleting the active version...)."""


@dataclass(frozen=True)
class ModelVersion:
    """One model version. For the base pseudo-version, `path` is the base model (or None if unknown)."""

    id: str
    path: Path | None
    created: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def is_base(self) -> bool:
        return self.id == BASE

    @property
    def number(self) -> int:
        m = _VERSION_DIR.match(self.id)
        return int(m.group(1)) if m else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path) if self.path is not None else None,
            "created": self.created,
            "settings": self.settings,
            "metrics": self.metrics,
        }


def _atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.urandom(4).hex()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # a damaged file reads as absent rather than crashing the app


class VersionStore:
    """Versions under `root/models/`; `root/models/versions.json` records the active one.

    The folders are the source of truth for which versions exist (a version is a
    `v{N}-{YYYYmmdd-HHMMSS}` folder with a settings.json); versions.json only holds
    the active id, written atomically. `base_model` (optional) is reported as the
    path of the "base" pseudo-version.
    """

    def __init__(self, root: str | os.PathLike, base_model: str | os.PathLike | None = None) -> None:
        self.root = Path(root)
        self.models_dir = self.root / "models"
        self.state_file = self.models_dir / "versions.json"
        self.base_model = str(base_model) if base_model is not None else None

    # ------------------------------------------------------------ reading

    def _base(self) -> ModelVersion:
        return ModelVersion(BASE, Path(self.base_model) if self.base_model else None, "", {}, {})

    def _load(self, folder: Path) -> ModelVersion | None:
        if not _VERSION_DIR.match(folder.name) or not folder.is_dir():
            return None
        settings = _read_json(folder / "settings.json")
        if not isinstance(settings, dict):
            return None  # unfinished or damaged
        metrics = _read_json(folder / "metrics.json")
        created = settings.get("created") or ""
        return ModelVersion(folder.name, folder, created, settings, metrics if isinstance(metrics, dict) else {})

    def list(self) -> list[ModelVersion]:
        """The trained versions, oldest first (the base pseudo-version is not included)."""
        if not self.models_dir.is_dir():
            return []
        found = [v for d in self.models_dir.iterdir() if (v := self._load(d)) is not None]
        return sorted(found, key=lambda v: v.number)

    def get(self, version_id: str) -> ModelVersion:
        if version_id == BASE:
            return self._base()
        if not _VERSION_DIR.match(version_id):
            raise VersionError(f"no such model version: {version_id}")
        v = self._load(self.models_dir / version_id)
        if v is None:
            raise VersionError(f"no such model version: {version_id}")
        return v

    def active_id(self) -> str:
        state = _read_json(self.state_file)
        vid = state.get("active") if isinstance(state, dict) else None
        if not vid or vid == BASE:
            return BASE
        if self._load(self.models_dir / vid) is None:
            return BASE  # the folder went missing: fall back to the base model
        return vid

    def active(self) -> ModelVersion:
        return self.get(self.active_id())

    # ------------------------------------------------------------ writing

    def _write_state(self, active: str) -> None:
        _atomic_write_json(self.state_file, {"format": _STATE_FORMAT, "active": active})

    def activate(self, version_id: str) -> ModelVersion:
        v = self.get(version_id)  # raises for unknown ids
        self._write_state(v.id)
        return v

    def rollback(self) -> ModelVersion:
        """Go back to the base model."""
        return self.activate(BASE)

    def _next_number(self) -> int:
        numbers = [0]
        if self.models_dir.is_dir():
            for d in self.models_dir.iterdir():
                m = _VERSION_DIR.match(d.name)
                if m:
                    numbers.append(int(m.group(1)))
        return max(numbers) + 1

    def create(
        self,
        model_dir: str | os.PathLike,
        settings: Mapping[str, Any],
        metrics: Mapping[str, Any] | None = None,
        *,
        move: bool = False,
        activate: bool = False,
    ) -> ModelVersion:
        """Store the sentence-transformers folder `model_dir` as a new version.

        `settings` should hold the TrainConfig dict, the base model id and the
        alpha; it is written to settings.json (with "created" added), `metrics`
        to metrics.json. The folder is copied (or moved, when `move`) into a
        temporary folder first and renamed into place last, so a crash never
        leaves a half-written version.
        """
        src = Path(model_dir)
        if not (src / "modules.json").is_file():
            raise VersionError(f"{src} is not a sentence-transformers model folder")
        self.models_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        tmp = self.models_dir / f".tmp-{os.urandom(4).hex()}"
        if move:
            shutil.move(str(src), str(tmp))
        else:
            shutil.copytree(src, tmp)
        try:
            settings_out = {**dict(settings), "created": now.isoformat(timespec="seconds")}
            _atomic_write_json(tmp / "settings.json", settings_out)
            _atomic_write_json(tmp / "metrics.json", dict(metrics or {}))
            stamp = now.strftime("%Y%m%d-%H%M%S")
            for _ in range(1000):
                dest = self.models_dir / f"v{self._next_number()}-{stamp}"
                try:
                    os.rename(tmp, dest)  # fails if dest exists (another writer took the number)
                    break
                except OSError:
                    if not dest.exists():
                        raise
            else:
                raise VersionError("could not allocate a version number")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        v = self.get(dest.name)
        if activate:
            self.activate(v.id)
        return v

    def update_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> ModelVersion:
        """Merge `metrics` into a version's metrics.json (e.g. benchmark results added later)."""
        v = self.get(version_id)
        if v.is_base or v.path is None:
            raise VersionError("the base model has no metrics file")
        _atomic_write_json(v.path / "metrics.json", {**v.metrics, **dict(metrics)})
        return self.get(version_id)

    def delete(self, version_id: str) -> None:
        """Remove a version; the active one and the base cannot be deleted."""
        if version_id == BASE:
            raise VersionError("the base model cannot be deleted")
        v = self.get(version_id)
        if self.active_id() == v.id:
            raise VersionError("the active model version cannot be deleted; activate another one first")
        # rename first so a partly deleted folder is never listed as a version
        trash = self.models_dir / f".deleting-{os.urandom(4).hex()}"
        os.rename(v.path, trash)
        shutil.rmtree(trash, ignore_errors=True)
