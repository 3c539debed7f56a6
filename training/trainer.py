"""Continued contrastive training of a sentence-transformers model on the user's passages, then WiSE-FT interpolation."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import shutil
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer

from .data import CropConfig, CropSampler, build_units, collate, passages_fingerprint, special_ids
from .losses import MoCoQueue, contrastive_loss, momentum_update

__all__ = [
    "TrainConfig",
    "TrainingCancelled",
    "defaults_for",
    "resolve_device",
    "resolve_precision",
    "load_model",
    "train",
    "interpolate",
    "interpolate_state",
    "load_trained_state",
    "save_model",
]

Progress = Callable[[dict], None]
ShouldStop = Callable[[], bool]

CHECKPOINT_FORMAT = 1
_ENCODE_CHUNK_CPU = 40  # sequences per forward pass on CPU

# Settings that do not change what training computes: a checkpoint made under
# different values of these is still resumable.
_NOT_TRAINING_KEYS = frozenset({"checkpoint_every", "interpolation_alpha", "device"})


@dataclass
class TrainConfig:
    """All training settings; `defaults_for` picks CPU / GPU values."""

    # schedule
    steps: int = 200
    batch_size: int = 16  # units (anchors) per step
    lr: float = 2e-5
    warmup_ratio: float = 0.1  # then linear decay to ~0
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    # crops (tokens, special tokens excluded)
    n_positives: int = 4
    ratio_min: float = 0.1
    ratio_max: float = 0.5
    min_crop_tokens: int = 5
    max_crop_tokens: int = 64
    deletion_p: float = 0.1
    chunk_tokens: int = 256  # passages longer than this are split into several units
    min_passage_tokens: int = 8  # shorter passages are skipped
    # loss
    temperature: float = 0.05
    weighting: str = "relevance"  # "relevance" (ReContriever) | "uniform"
    pair_alpha: float = 0.0  # PAIR passage-centric weight a; 0 = off, 0.1 in the PAIR code
    normalize: bool = True  # cosine similarity (MiniLM); False = raw dot product
    negatives: str = "in_batch"  # "in_batch" | "moco"
    queue_size: int = 4096  # MoCo only
    momentum: float = 0.999  # MoCo only
    # runtime
    device: str = "auto"  # auto = cuda > mps > cpu
    precision: str = "auto"  # auto | fp32 | fp16 | bf16 (autocast; auto = bf16/fp16 on CUDA, fp32 elsewhere)
    checkpoint_every: int = 50  # steps; 0 = only on stop
    # output
    interpolation_alpha: float = 0.5  # WiSE-FT: theta = (1 - a) * base + a * trained

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be >= 1")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (in-batch negatives)")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.weighting not in ("relevance", "uniform"):
            raise ValueError(f"weighting must be 'relevance' or 'uniform', got {self.weighting!r}")
        if self.negatives not in ("in_batch", "moco"):
            raise ValueError(f"negatives must be 'in_batch' or 'moco', got {self.negatives!r}")
        if not 0.0 <= self.pair_alpha <= 1.0:
            raise ValueError("pair_alpha must be in [0, 1]")
        if not 0.0 <= self.interpolation_alpha <= 1.0:
            raise ValueError("interpolation_alpha must be in [0, 1]")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("momentum must be in [0, 1]")
        if self.precision not in ("auto", "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be auto/fp32/fp16/bf16, got {self.precision!r}")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0")
        if self.queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        if self.min_passage_tokens < 1 or self.chunk_tokens < self.min_passage_tokens:
            raise ValueError("need 1 <= min_passage_tokens <= chunk_tokens")
        self.crop_config()  # validates the crop settings

    def crop_config(self) -> CropConfig:
        return CropConfig(
            n_positives=self.n_positives,
            ratio_min=self.ratio_min,
            ratio_max=self.ratio_max,
            min_crop_tokens=self.min_crop_tokens,
            max_crop_tokens=self.max_crop_tokens,
            deletion_p=self.deletion_p,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Build from a dict; unknown keys are an error (catches typos in settings files)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**dict(d))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def training_key(self) -> dict[str, Any]:
        """The settings that decide what a checkpoint contains."""
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_TRAINING_KEYS}


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' if available, else 'mps' if available, else 'cpu'."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def cpu_bf16_native() -> bool:
    """True when the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX tiles).

    There, bf16 autocast makes a training step about 30 % faster and encoding about twice as
    fast as fp32 (measured on a 2-core AMD EPYC); elsewhere bf16 is emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(cpu, name)()) for name in checks if hasattr(cpu, name))
    except Exception:  # noqa: BLE001 - private probes; without them, fp32
        return False


def resolve_precision(precision: str, device: str) -> str:
    """'auto' -> bf16 on CUDA with bf16 support, fp16 on other CUDA, bf16 on CPUs with native
    bf16, fp32 elsewhere."""
    if precision != "auto":
        if precision in ("fp16", "bf16") and not device.startswith("cuda"):
            if precision == "bf16" and device == "cpu":
                return "bf16"  # CPU autocast supports bf16 (slow without AMX, but allowed)
            return "fp32"
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu" and cpu_bf16_native():
        return "bf16"
    return "fp32"


def defaults_for(device: str = "auto", n_passages: int = 5000) -> TrainConfig:
    """Sensible settings for a device and corpus size.

    GPU: 128 units x 4 positives, crops <= 128 tokens, 600 steps from about
    5,000 passages up (the measured reference: about 35 s on an H100), fewer
    (>= 100) on small corpora.

    CPU: 32 units x 4 positives, crops <= 64 tokens (the CPU-sized setting
    measured in TRAINING.md), lr 5e-5 (with so few steps, 2e-5 barely moves the
    model), about three passes over the corpus between 50 and 180 steps, or up to
    360 on a CPU with native bf16, where a step costs about a third of an fp32 one.
    MoCo negatives: the positive crops go through the momentum (key) encoder
    without gradient, so a step costs about half, and the slowly moving key
    encoder keeps the targets close to the base model. SciFact through the real
    job on a 2-core Zen 4 (bf16), seeds 0-2: 360 steps +1.26 / +1.35 / +1.18
    nDCG@10 (about 9 min per version, re-embedding included), 180 steps +1.42 /
    +1.12 / +0.57; seed 0 with in-batch negatives +0.52 (README, ablation table).
    The GPU defaults keep in-batch negatives: MoCo has not been measured there.
    """
    dev = resolve_device(device)
    n = max(int(n_passages), 0)
    if dev.startswith("cuda"):
        steps = int(min(600, max(100, math.ceil(16 * n / 128))))  # ~16 passes, at most 600 steps
        return TrainConfig(steps=steps, batch_size=128, max_crop_tokens=128, device=dev, checkpoint_every=100)
    batch = 32
    cap = 360 if dev == "cpu" and cpu_bf16_native() else 180
    steps = int(min(cap, max(50, math.ceil(3 * n / batch))))
    return TrainConfig(steps=steps, batch_size=batch, lr=5e-5, max_crop_tokens=64, negatives="moco", device=dev,
                       checkpoint_every=25)


class TrainingCancelled(Exception):
    """Raised by `train` after it checkpointed because `should_stop()` returned True."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"training cancelled at step {step}")
        self.step = step
        self.checkpoint = checkpoint


# ---------------------------------------------------------------- model I/O


def load_model(path: str | os.PathLike, device: str = "cpu") -> SentenceTransformer:
    """Load a local sentence-transformers folder without touching the network or remote code."""
    return SentenceTransformer(str(path), device=device, local_files_only=True, trust_remote_code=False)


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def save_model(model: SentenceTransformer, dest: Path) -> Path:
    """Save a complete sentence-transformers folder (safetensors) atomically at `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    model.save(str(tmp), safe_serialization=True, create_model_card=False)
    _replace_dir(tmp, dest)
    return dest


def _replace_dir(tmp: Path, dest: Path) -> None:
    """Move the finished folder `tmp` to `dest`, replacing an existing one.

    os.replace cannot overwrite a non-empty directory, so the old one is first
    moved aside, then removed; a crash in between leaves `<dest>.old`, which
    `_find_checkpoint` still accepts.
    """
    old = dest.parent / f"{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------ interpolation


def interpolate_state(
    base_state: Mapping[str, torch.Tensor], trained_state: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """WiSE-FT: (1 - alpha) * base + alpha * trained, key by key.

    alpha = 0 returns the base tensors themselves (exactly), alpha = 1 the
    trained ones; non-floating tensors are taken from the base.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    if set(base_state) != set(trained_state):
        missing = sorted(set(base_state) ^ set(trained_state))[:5]
        raise ValueError(f"base and trained weights differ in keys: {missing}")
    out: dict[str, torch.Tensor] = {}
    for k, b in base_state.items():
        t = trained_state[k]
        if t.shape != b.shape:
            raise ValueError(f"shape mismatch for {k}: {tuple(b.shape)} vs {tuple(t.shape)}")
        if alpha == 0.0 or not b.is_floating_point():
            out[k] = b.clone()
        elif alpha == 1.0:
            out[k] = t.to(b.dtype).clone()
        else:
            out[k] = torch.lerp(b.float(), t.to(b.device).float(), alpha).to(b.dtype)
    return out


def interpolate(
    base_model: str | os.PathLike | SentenceTransformer,
    trained_state: Mapping[str, torch.Tensor],
    alpha: float,
    device: str = "cpu",
) -> SentenceTransformer:
    """A base-model copy whose weights are (1 - alpha) * base + alpha * trained."""
    if isinstance(base_model, SentenceTransformer):
        model = copy.deepcopy(base_model)
    else:
        model = load_model(base_model, device)
    base_state = _cpu_state(model)
    model.load_state_dict(interpolate_state(base_state, trained_state, alpha), strict=True)
    return model


def load_trained_state(work_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The raw (not interpolated) trained weights that `train` left in `work_dir`."""
    return load_file(str(Path(work_dir) / "trained.safetensors"))


# ----------------------------------------------------------------- training


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then linear decay; never exactly 0 while training."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lname = name.lower()
        if p.dim() < 2 or "layernorm" in lname or "layer_norm" in lname or name.endswith(".bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _meta(config: TrainConfig, base_model: str, fingerprint: str) -> dict[str, Any]:
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


def _find_checkpoint(work_dir: Path) -> Path | None:
    for name in ("checkpoint", "checkpoint.old"):
        d = work_dir / name
        if (d / "meta.json").is_file() and (d / "model.safetensors").is_file() and (d / "state.pt").is_file():
            return d
    return None


def _autocast(device: str, precision: str):
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def _emit(progress: Progress | None, event: dict) -> None:
    if progress is not None:
        progress(event)


def train(
    config: TrainConfig,
    passages: Sequence[tuple[str, str]],
    base_model: str | os.PathLike,
    work_dir: str | os.PathLike,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> Path:
    """Train a copy of `base_model` on `passages` [(group_id, text)] and save the result.

    Returns `work_dir/model`: a complete sentence-transformers folder holding
    (1 - a) * base + a * trained with a = config.interpolation_alpha. The raw
    trained weights stay in `work_dir/trained.safetensors` (see
    `load_trained_state`) for a later choice of a. Resumes from
    `work_dir/checkpoint` when it was made with the same settings, base model
    and passages; if training with these already finished, only the
    interpolation is redone. Raises `TrainingCancelled` (after checkpointing)
    when `should_stop()` turns True. The base model folder is only read.
    """
    config.validate()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    base_model = str(base_model)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    should_stop = should_stop or (lambda: False)
    passages = [(str(g), str(t)) for g, t in passages]
    meta = _meta(config, base_model, passages_fingerprint(passages))

    for stale in work_dir.glob(".*.tmp-*"):  # left by a crash in the middle of a save
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)

    model = load_model(base_model, device)
    base_state = _cpu_state(model)

    done_meta = _read_json(work_dir / "trained.json")
    if done_meta == meta and (work_dir / "trained.safetensors").is_file():
        _emit(progress, {"event": "already_trained", "steps": config.steps})
        trained_state = load_trained_state(work_dir)
    else:
        trained_state = _train_loop(config, passages, model, work_dir, meta, device, precision, progress, should_stop)

    model.load_state_dict(interpolate_state(base_state, trained_state, config.interpolation_alpha), strict=True)
    out = save_model(model, work_dir / "model")
    _emit(progress, {"event": "saved", "path": str(out), "alpha": config.interpolation_alpha})
    return out


def _train_loop(
    config: TrainConfig,
    passages: list[tuple[str, str]],
    model: SentenceTransformer,
    work_dir: Path,
    meta: dict,
    device: str,
    precision: str,
    progress: Progress | None,
    should_stop: ShouldStop,
) -> dict[str, torch.Tensor]:
    tokenizer = model.tokenizer
    ids = special_ids(tokenizer)
    units = build_units(
        passages, tokenizer, chunk_tokens=config.chunk_tokens, min_tokens=config.min_passage_tokens
    )
    sampler = CropSampler(units, config.batch_size, config.crop_config(), seed=config.seed)
    total = config.steps
    warmup = int(round(config.warmup_ratio * total))

    torch.manual_seed(config.seed)
    model.train()
    key_model: SentenceTransformer | None = None
    queue: MoCoQueue | None = None
    if config.negatives == "moco":
        key_model = copy.deepcopy(model)
        key_model.eval()  # Contriever's key encoder: no dropout, no gradient
        for p in key_model.parameters():
            p.requires_grad_(False)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        queue = MoCoQueue(config.queue_size, int(dim), device=device)

    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total, warmup))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    start_step = 0
    ckpt = _find_checkpoint(work_dir)
    if ckpt is not None:
        ckpt_meta = _read_json(ckpt / "meta.json") or {}
        if {k: v for k, v in ckpt_meta.items() if k != "step"} == meta:
            start_step = _load_checkpoint(ckpt, model, key_model, optimizer, scheduler, scaler, queue, device)
            _emit(progress, {"event": "resumed", "step": start_step, "steps": total})
        else:
            shutil.rmtree(ckpt, ignore_errors=True)  # made with other settings or data: start over

    _emit(
        progress,
        {
            "event": "train_start",
            "step": start_step,
            "steps": total,
            "units": len(units),
            "groups": sampler.n_groups,
            "batch_size": sampler.batch_size,
            "device": device,
            "precision": precision,
        },
    )

    # Crops vary a lot in length (ratio 0.1-0.5): on CPU, encoding them in a few
    # length-sorted chunks avoids most of the padding. The result is the same.
    chunk = _ENCODE_CHUNK_CPU if device == "cpu" else 1 << 30

    def encode(m: SentenceTransformer, crops: list[list[int]]) -> torch.Tensor:
        order = sorted(range(len(crops)), key=lambda i: len(crops[i]))
        parts = []
        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            feats = collate([crops[i] for i in idx], device=device, **ids)
            with _autocast(device, precision):
                parts.append(m(feats)["sentence_embedding"])  # [chunk, D]
        sorted_emb = torch.cat(parts, dim=0)  # [N, D] in length order
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        return sorted_emb[inverse.to(sorted_emb.device)]  # [N, D] in input order

    t0 = time.monotonic()
    done_here = 0
    step = start_step
    while step < total:
        if should_stop():
            path = _save_checkpoint(work_dir, meta, step, model, key_model, optimizer, scheduler, scaler, queue)
            _emit(progress, {"event": "checkpoint", "step": step, "path": str(path)})
            raise TrainingCancelled(step, path)

        batch = sampler.batch(step)
        B, n = len(batch), config.n_positives
        flat_pos = [c for crops in batch.positives for c in crops]
        lr_now = optimizer.param_groups[0]["lr"]
        if key_model is None:
            emb = encode(model, batch.anchors + flat_pos)  # [B + B*n, D]
            anchor, positives = emb[:B], emb[B:].reshape(B, n, -1)  # [B, D], [B, n, D]
            q = None
        else:
            anchor = encode(model, batch.anchors)  # [B, D]
            with torch.no_grad():
                positives = encode(key_model, flat_pos).reshape(B, n, -1).detach()  # [B, n, D]
            q = queue.tensor() if queue is not None else None
        loss, stats = contrastive_loss(
            anchor,
            positives,
            config.temperature,
            config.weighting,  # type: ignore[arg-type]
            q,
            pair_alpha=config.pair_alpha,
            normalize=config.normalize,
        )

        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
        scheduler.step()
        if key_model is not None and queue is not None:
            momentum_update(model, key_model, config.momentum)
            keys = positives.reshape(B * n, -1).float()
            queue.enqueue(torch.nn.functional.normalize(keys, dim=-1) if config.normalize else keys)

        step += 1
        done_here += 1
        elapsed = time.monotonic() - t0
        sps = done_here / elapsed if elapsed > 0 else 0.0
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss became {loss_value} at step {step}")
        _emit(
            progress,
            {
                "event": "step",
                "step": step,
                "steps": total,
                "loss": loss_value,
                "lr": lr_now,
                "steps_per_s": sps,
                "eta_s": (total - step) / sps if sps > 0 else None,
                "pos_sim": stats.get("pos_sim"),
                "accuracy": stats.get("accuracy"),
            },
        )
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
            path = _save_checkpoint(work_dir, meta, step, model, key_model, optimizer, scheduler, scaler, queue)
            _emit(progress, {"event": "checkpoint", "step": step, "path": str(path)})

    model.eval()
    trained_state = _cpu_state(model)
    tmp = work_dir / f".trained.safetensors.tmp-{uuid.uuid4().hex[:8]}"
    save_file(trained_state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, work_dir / "trained.safetensors")
    _write_json(work_dir / "trained.json", meta)
    for name in ("checkpoint", "checkpoint.old"):
        shutil.rmtree(work_dir / name, ignore_errors=True)  # optimizer state is no longer needed
    return trained_state


def _save_checkpoint(
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
    save_file(_cpu_state(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    if key_model is not None:
        save_file(_cpu_state(key_model), str(tmp / "key_model.safetensors"), metadata={"format": "pt"})
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
    _replace_dir(tmp, dest)
    return dest


def _load_checkpoint(
    ckpt: Path,
    model: torch.nn.Module,
    key_model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    queue: MoCoQueue | None,
    device: str,
) -> int:
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
