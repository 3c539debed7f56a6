"""The training loop: continued contrastive training of a sentence-transformers model on the
user's passages, then WiSE-FT interpolation of the result (`train`).

Settings live in training.config, device detection in training.device, what is written to
disk in training.checkpoints and the interpolation in training.interpolation; the names
other code has long imported from here are re-exported (`__all__`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Sequence

import torch
from sentence_transformers import SentenceTransformer

from .checkpoints import (
    cpu_state,
    drop_checkpoints,
    is_trained,
    load_checkpoint,
    load_model,
    load_trained_state,
    matching_checkpoint,
    remove_stale_tmp,
    save_checkpoint,
    save_model,
    save_trained_state,
    training_meta,
)
from .config import TrainConfig, defaults_for
from .data import CropSampler, build_units, collate, passages_fingerprint, special_ids
from .device import cpu_bf16_native, resolve_device, resolve_precision
from .interpolation import interpolate, interpolate_state
from .losses import MoCoQueue, contrastive_loss, momentum_update
from .supervised import JudgedPair, PairSampler, supervised_info_nce, tokenize_pairs

__all__ = [
    "TrainingCancelled",
    "train",
    "lr_factor",
    # re-exported from the modules they live in
    "TrainConfig",
    "defaults_for",
    "resolve_device",
    "resolve_precision",
    "cpu_bf16_native",
    "load_model",
    "save_model",
    "load_trained_state",
    "interpolate",
    "interpolate_state",
]

Progress = Callable[[dict], None]
ShouldStop = Callable[[], bool]

_ENCODE_CHUNK_CPU = 40  # sequences per forward pass on CPU


class TrainingCancelled(Exception):
    """Raised by `train` after it checkpointed because `should_stop()` returned True."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"training cancelled at step {step}")
        self.step = step
        self.checkpoint = checkpoint


def lr_factor(step: int, total: int, warmup: int) -> float:
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


def _autocast(device: str, precision: str):
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def _checkpoint_activations(model: torch.nn.Module) -> bool:
    """Recompute the transformer's activations in the backward pass instead of keeping them (CPU).

    The training child's peak was about 2.2 GB on SciFact's 9,836 passages, over the 2 GB a laptop
    can spare; keeping the layers' activations of the anchor batch was about 0.3 GB of it, and
    recomputing them measured no slower here (6 steps: 8.5 s against 9.3 s), because with MoCo only
    the 32 anchors pass through the model that learns. Dropout's random state is replayed
    (non-reentrant checkpointing), so the weights trained are the same. Models without support
    simply keep their activations."""
    done = False
    for m in model.modules():
        if not getattr(m, "supports_gradient_checkpointing", False):
            continue
        new = getattr(m, "activation_checkpointing_enable", None)  # transformers >= 5 (the old name warns)
        try:
            if new is not None:
                new(activation_checkpointing_kwargs={"use_reentrant": False})
            elif hasattr(m, "gradient_checkpointing_enable"):
                m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            else:
                continue
            done = True
        except (TypeError, ValueError):
            continue
    return done


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
    pairs: Sequence[JudgedPair] = (),
) -> Path:
    """Train a copy of `base_model` on `passages` [(group_id, text)] and save the result.

    With `pairs` (judged query-passage pairs), each step also takes a batch of them
    (training.supervised), weighted by config.supervised_weight.

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
    pairs = list(pairs)
    meta = training_meta(config, base_model, passages_fingerprint(passages) + pairs_fingerprint(config, pairs))

    remove_stale_tmp(work_dir)

    model = load_model(base_model, device)
    base_state = cpu_state(model)

    if is_trained(work_dir, meta):
        _emit(progress, {"event": "already_trained", "steps": config.steps})
        trained_state = load_trained_state(work_dir)
    else:
        trained_state = _train_loop(config, passages, model, work_dir, meta, device, precision, progress, should_stop,
                                    pairs)

    model.load_state_dict(interpolate_state(base_state, trained_state, config.interpolation_alpha), strict=True)
    out = save_model(model, work_dir / "model")
    _emit(progress, {"event": "saved", "path": str(out), "alpha": config.interpolation_alpha})
    return out


def pairs_fingerprint(config: TrainConfig, pairs: Sequence[JudgedPair]) -> str:
    """What the judged pairs add to a run's identity ("" without pairs, so older runs still match)."""
    if not pairs or config.supervised_weight <= 0:
        return ""
    h = hashlib.blake2b(digest_size=12)
    h.update(json.dumps([config.supervised_weight, config.supervised_batch]).encode())
    for p in pairs:
        h.update(json.dumps([p.query, p.positive, p.group, list(p.negatives)]).encode("utf-8", "surrogatepass"))
    return f"+pairs:{len(pairs)}:{h.hexdigest()}"


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
    pairs: list[JudgedPair],
) -> dict[str, torch.Tensor]:
    tokenizer = model.tokenizer
    ids = special_ids(tokenizer)
    units = build_units(
        passages, tokenizer, chunk_tokens=config.chunk_tokens, min_tokens=config.min_passage_tokens
    )
    sampler = CropSampler(units, config.batch_size, config.crop, seed=config.seed)
    pair_sampler = None
    if pairs and config.supervised_weight > 0:
        pair_sampler = PairSampler(tokenize_pairs(pairs, tokenizer, max_passage_tokens=config.chunk_tokens),
                                   config.supervised_batch, seed=config.seed)
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

    if device == "cpu":
        _checkpoint_activations(model)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    start_step = 0
    ckpt = matching_checkpoint(work_dir, meta)  # one made with other settings or data is removed
    if ckpt is not None:
        start_step = load_checkpoint(ckpt, model, key_model, optimizer, scheduler, scaler, queue, device)
        _emit(progress, {"event": "resumed", "step": start_step, "steps": total})

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
            "judged_pairs": len(pairs) if pair_sampler is not None else 0,
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
            path = save_checkpoint(work_dir, meta, step, model, key_model, optimizer, scheduler, scaler, queue)
            _emit(progress, {"event": "checkpoint", "step": step, "path": str(path)})
            raise TrainingCancelled(step, path)

        batch = sampler.batch(step)
        B, n = len(batch), config.crop.n_positives
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
        if pair_sampler is not None:
            pb = pair_sampler.batch(step)
            S = len(pb.queries)
            if key_model is None:  # in-batch: both sides learn
                emb = encode(model, pb.queries + pb.positives + pb.hard)
                qe, docs = emb[:S], emb[S:]
            else:  # MoCo: the marked passages go through the key encoder, as the positive crops do
                qe = encode(model, pb.queries)
                with torch.no_grad():
                    docs = encode(key_model, pb.positives + pb.hard).detach()
            sup, sup_stats = supervised_info_nce(
                qe, docs[:S], config.temperature, groups=pb.groups,
                hard=docs[S:] if pb.hard else None, queue=q, normalize=config.normalize)
            loss = loss + config.supervised_weight * sup
            stats.update(sup_stats)

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
                "loss_sup": stats.get("loss_sup"),
            },
        )
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
            path = save_checkpoint(work_dir, meta, step, model, key_model, optimizer, scheduler, scaler, queue)
            _emit(progress, {"event": "checkpoint", "step": step, "path": str(path)})

    model.eval()
    trained_state = cpu_state(model)
    save_trained_state(work_dir, trained_state, meta)
    drop_checkpoints(work_dir)
    return trained_state
