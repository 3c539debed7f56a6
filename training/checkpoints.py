"""What training leaves on disk, written atomically.

Model folders (`load_model`, `save_model`), the resumable checkpoint (weights, optimizer,
scheduler, RNG and MoCo queue), the finished trained weights with the meta (settings, base
model, passages fingerprint) they were made from, and the clean-up of temp files a crash left.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer

from .config import TrainConfig
from .losses import MoCoQueue

__all__ = [
    "CHECKPOINT_FORMAT",
    "load_model",
    "save_model",
    "cpu_state",
    "replace_dir",
    "training_meta",
    "remove_stale_tmp",
    "save_checkpoint",
    "load_checkpoint",
    "matching_checkpoint",
    "drop_checkpoints",
    "save_trained_state",
    "load_trained_state",
    "is_trained",
]

CHECKPOINT_FORMAT = 1
_CHECKPOINT_NAMES = ("checkpoint", "checkpoint.old")


# ------------------------------------------------------------- model folders


def load_model(path: str | os.PathLike, device: str = "cpu") -> SentenceTransformer:
    """Load a local sentence-transformers folder without touching the network or remote code."""
    return SentenceTransformer(str(path), device=device, local_files_only=True, trust_remote_code=False)


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as independent CPU tensors."""
    # clone: safetensors refuses tensors that share storage
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def save_model(model: SentenceTransformer, dest: Path) -> Path:
    """Save a complete sentence-transformers folder (safetensors) atomically at `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    model.save(str(tmp), safe_serialization=True, create_model_card=False)
    replace_dir(tmp, dest)
    return dest


def replace_dir(tmp: Path, dest: Path) -> None:
    """Move the finished folder `tmp` to `dest`, replacing an existing one.

    os.replace cannot overwrite a non-empty directory, so the old one is first
    moved aside, then removed; a crash in between leaves `<dest>.old`, which
    `matching_checkpoint` still accepts.
    """
    old = dest.parent / f"{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------ meta and files


def training_meta(config: TrainConfig, base_model: str, fingerprint: str) -> dict[str, Any]:
    """What a checkpoint or trained state was made from; resuming needs an exact match."""
    return {
        "format": CHECKPOINT_FORMAT,
        "config": config.training_key(),
        "base_model": str(base_model),
        "passages": fingerprint,
    }


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def remove_stale_tmp(work_dir: Path) -> None:
    """Remove the `.<name>.tmp-*` files and folders a crash in the middle of a save left."""
    for stale in Path(work_dir).glob(".*.tmp-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


# ---------------------------------------------------------------- checkpoint


def _find_checkpoint(work_dir: Path) -> Path | None:
    for name in _CHECKPOINT_NAMES:
        d = work_dir / name
        if (d / "meta.json").is_file() and (d / "model.safetensors").is_file() and (d / "state.pt").is_file():
            return d
    return None


def matching_checkpoint(work_dir: Path, meta: dict) -> Path | None:
    """The complete checkpoint in `work_dir` made with `meta`, if any.

    One made with other settings or data is removed (training starts over)."""
    ckpt = _find_checkpoint(work_dir)
    if ckpt is None:
        return None
    ckpt_meta = _read_json(ckpt / "meta.json") or {}
    if {k: v for k, v in ckpt_meta.items() if k != "step"} == meta:
        return ckpt
    shutil.rmtree(ckpt, ignore_errors=True)
    return None


def drop_checkpoints(work_dir: Path) -> None:
    """Remove the checkpoint (and a left-over `.old` one): once trained, optimizer state is not needed."""
    for name in _CHECKPOINT_NAMES:
        shutil.rmtree(work_dir / name, ignore_errors=True)


def save_checkpoint(
    work_dir: Path,
    meta: dict,
    step: int,
    model: torch.nn.Module,
    key_model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    queue: MoCoQueue | None,
) -> Path:
    """Write weights (safetensors), optimizer/scheduler/RNG/step state to a temp folder, then swap it in."""
    tmp = work_dir / f".checkpoint.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    save_file(cpu_state(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    if key_model is not None:
        save_file(cpu_state(key_model), str(tmp / "key_model.safetensors"), metadata={"format": "pt"})
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "queue": queue.state_dict() if queue is not None else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save(state, tmp / "state.pt")
    (tmp / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=2, sort_keys=True), encoding="utf-8")
    dest = work_dir / "checkpoint"
    replace_dir(tmp, dest)
    return dest


def load_checkpoint(
    ckpt: Path,
    model: torch.nn.Module,
    key_model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    queue: MoCoQueue | None,
    device: str,
) -> int:
    """Restore everything `save_checkpoint` wrote into the given objects; returns the step."""
    model.load_state_dict(load_file(str(ckpt / "model.safetensors"), device="cpu"), strict=True)
    if key_model is not None:
        key_path = ckpt / "key_model.safetensors"
        key_model.load_state_dict(load_file(str(key_path if key_path.exists() else ckpt / "model.safetensors")), strict=True)
    state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if queue is not None and state.get("queue") is not None:
        queue.load_state_dict(state["queue"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        except (RuntimeError, ValueError):
            pass  # a different GPU count: dropout noise differs, training is still valid
    return int(state["step"])


# ------------------------------------------------------------- trained state


def save_trained_state(work_dir: Path, trained_state: dict[str, torch.Tensor], meta: dict) -> None:
    """Write the raw trained weights, then the meta they were made from (`is_trained` reads both)."""
    tmp = work_dir / f".trained.safetensors.tmp-{uuid.uuid4().hex[:8]}"
    save_file(trained_state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, work_dir / "trained.safetensors")
    _write_json(work_dir / "trained.json", meta)


def load_trained_state(work_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The raw (not interpolated) trained weights that `train` left in `work_dir`."""
    return load_file(str(Path(work_dir) / "trained.safetensors"))


def is_trained(work_dir: Path, meta: dict) -> bool:
    """True when `work_dir` holds trained weights made with exactly `meta`."""
    return _read_json(work_dir / "trained.json") == meta and (work_dir / "trained.safetensors").is_file()
