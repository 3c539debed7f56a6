"""Training units and independent crops (Contriever / ReContriever "one document, many pairs")."""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "CropConfig",
    "Unit",
    "CropBatch",
    "CropSampler",
    "tokenize_texts",
    "build_units",
    "crop_tokens",
    "collate",
    "passages_fingerprint",
]


@dataclass(frozen=True)
class CropConfig:
    """How crops are cut from a unit (all lengths in tokens, special tokens excluded)."""

    n_positives: int = 4
    ratio_min: float = 0.1
    ratio_max: float = 0.5
    min_crop_tokens: int = 5
    max_crop_tokens: int = 64
    deletion_p: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio_min <= self.ratio_max <= 1.0:
            raise ValueError(f"need 0 < ratio_min <= ratio_max <= 1, got {self.ratio_min}, {self.ratio_max}")
        if self.n_positives < 1:
            raise ValueError("n_positives must be >= 1")
        if not 1 <= self.min_crop_tokens <= self.max_crop_tokens:
            raise ValueError("need 1 <= min_crop_tokens <= max_crop_tokens")
        if not 0.0 <= self.deletion_p < 1.0:
            raise ValueError("deletion_p must be in [0, 1)")


@dataclass(frozen=True)
class Unit:
    """One chunk of one passage: the text that anchor and positive crops are cut from."""

    group: str
    token_ids: tuple[int, ...]


@dataclass
class CropBatch:
    """Crops for one step: anchors[i] and positives[i][j] come from unit i."""

    anchors: list[list[int]]  # B crops
    positives: list[list[list[int]]]  # B x n crops
    groups: list[str]  # B group ids, all distinct
    unit_indices: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.anchors)


def tokenize_texts(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids without special tokens.

    `tokenizer` is a Hugging Face tokenizer or any callable `texts -> list[list[int]]`.
    """
    if not texts:
        return []
    if hasattr(tokenizer, "convert_tokens_to_ids"):  # Hugging Face tokenizer
        out: list[list[int]] = []
        step = 256
        for i in range(0, len(texts), step):
            enc = tokenizer(
                list(texts[i : i + step]),
                add_special_tokens=False,
                truncation=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
            out.extend(list(ids) for ids in enc["input_ids"])
        return out
    return [list(ids) for ids in tokenizer(list(texts))]


def build_units(
    passages: Iterable[tuple[str, str]],
    tokenizer: Any,
    *,
    chunk_tokens: int = 256,
    min_tokens: int = 8,
) -> list[Unit]:
    """Tokenise (group_id, text) passages into units of at most `chunk_tokens` tokens.

    Longer passages are split into consecutive chunks; passages (and trailing
    chunks) shorter than `min_tokens` are skipped, since they are too short to crop.
    """
    passages = [(str(g), t) for g, t in passages if t and t.strip()]
    ids_list = tokenize_texts(tokenizer, [t for _, t in passages])
    units: list[Unit] = []
    for (group, _), ids in zip(passages, ids_list):
        for start in range(0, len(ids), chunk_tokens):
            chunk = ids[start : start + chunk_tokens]
            if len(chunk) >= min_tokens:
                units.append(Unit(group, tuple(int(t) for t in chunk)))
    return units


def passages_fingerprint(passages: Iterable[tuple[str, str]]) -> str:
    """A stable hash of the training input, to tell whether a checkpoint belongs to it."""
    h = hashlib.sha256()
    for group, text in passages:
        for part in (str(group), text):
            b = part.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def crop_tokens(tokens: Sequence[int], rng: np.random.Generator, cfg: CropConfig) -> list[int]:
    """One independent crop: a random span, then token deletion.

    Span length = round(ratio * len(tokens)) with ratio ~ U[ratio_min, ratio_max],
    raised to `min_crop_tokens` and capped at `max_crop_tokens` and the unit length.
    Each token of the span is then dropped with probability `deletion_p`
    (at least one token is always kept).
    """
    n = len(tokens)
    if n == 0:
        raise ValueError("cannot crop an empty unit")
    ratio = rng.uniform(cfg.ratio_min, cfg.ratio_max)
    length = int(round(ratio * n))
    length = max(length, cfg.min_crop_tokens)
    length = min(length, cfg.max_crop_tokens, n)
    start = int(rng.integers(0, n - length + 1))
    span = list(tokens[start : start + length])
    if cfg.deletion_p > 0.0:
        keep = rng.random(len(span)) >= cfg.deletion_p
        kept = [t for t, k in zip(span, keep) if k]
        span = kept if kept else [span[int(rng.integers(0, len(span)))]]
    return span


def _pack_batches(groups: Sequence[str], order: Sequence[int], batch_size: int) -> list[list[int]]:
    """Greedily pack unit indices (in `order`) into full batches with distinct groups.

    A unit whose group is already in the batch being filled waits for the next
    batch. Units that cannot complete a full batch at the end are left out.
    """
    remaining = deque(order)
    batches: list[list[int]] = []
    while remaining:
        batch: list[int] = []
        seen: set[str] = set()
        skipped: list[int] = []
        while remaining and len(batch) < batch_size:
            u = remaining.popleft()
            if groups[u] in seen:
                skipped.append(u)
            else:
                batch.append(u)
                seen.add(groups[u])
        if len(batch) < batch_size:
            break
        remaining.extendleft(reversed(skipped))
        batches.append(batch)
    return batches


class CropSampler:
    """Deterministic batches of fresh crops, addressed by step number.

    Units are shuffled once per epoch (RNG seeded by (seed, epoch)) and packed
    into batches with no two units of the same group; crops for step s are cut
    with an RNG seeded by (seed, s). So the crops are fresh every step, runs are
    reproducible, and a resumed run sees exactly the batches it would have seen
    without the interruption (no sampler state to checkpoint).
    """

    def __init__(self, units: Sequence[Unit], batch_size: int, crop: CropConfig, seed: int = 0) -> None:
        if not units:
            raise ValueError("no passages long enough to train on")
        self.units = list(units)
        self.crop = crop
        self.seed = int(seed)
        self._groups = [u.group for u in self.units]
        n_groups = len(set(self._groups))
        if n_groups < 2:
            raise ValueError("need passages from at least 2 different files to have negatives")
        self.batch_size = max(2, min(int(batch_size), n_groups))
        self._epoch_cache: dict[int, list[list[int]]] = {}
        self._epoch_lengths: dict[int, int] = {}
        self.batches_per_epoch = len(self._epoch_batches(0))

    @property
    def n_groups(self) -> int:
        return len(set(self._groups))

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        cached = self._epoch_cache.get(epoch)
        if cached is None:
            rng = np.random.default_rng([self.seed, 0, epoch])
            order = rng.permutation(len(self.units)).tolist()
            cached = _pack_batches(self._groups, order, self.batch_size)
            self._epoch_cache = {epoch: cached}  # keep only the current epoch
        return cached

    def _batch_indices(self, step: int) -> list[int]:
        # Epoch lengths differ slightly with the shuffle; their lengths are
        # remembered so each epoch is packed once on a forward walk.
        if step < 0:
            raise ValueError("step must be >= 0")
        epoch, s = 0, step
        while True:
            n = self._epoch_lengths.get(epoch)
            if n is None:
                n = len(self._epoch_batches(epoch))
                self._epoch_lengths[epoch] = n
            if n == 0:
                raise RuntimeError("could not form a batch")  # cannot happen with n_groups >= batch_size
            if s < n:
                return self._epoch_batches(epoch)[s]
            s -= n
            epoch += 1

    def batch(self, step: int) -> CropBatch:
        """The crops for 0-based `step`."""
        idx = self._batch_indices(step)
        rng = np.random.default_rng([self.seed, 1, step])
        anchors: list[list[int]] = []
        positives: list[list[list[int]]] = []
        for u in idx:
            toks = self.units[u].token_ids
            anchors.append(crop_tokens(toks, rng, self.crop))
            positives.append([crop_tokens(toks, rng, self.crop) for _ in range(self.crop.n_positives)])
        return CropBatch(anchors, positives, [self._groups[u] for u in idx], list(idx))


def collate(
    crops: Sequence[Sequence[int]],
    *,
    cls_id: int,
    sep_id: int,
    pad_id: int = 0,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Pad `[CLS] crop [SEP]` sequences into input_ids / attention_mask tensors of shape [N, L]."""
    seqs = [[cls_id, *c, sep_id] for c in crops]
    max_len = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), max_len), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), max_len), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        attention_mask[i, : len(s)] = 1
    if device is not None:
        input_ids = input_ids.to(device)
        attention_mask = attention_mask.to(device)
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def special_ids(tokenizer: Any) -> dict[str, int]:
    """cls / sep / pad ids of a Hugging Face tokenizer (BERT names, RoBERTa-style fallbacks)."""
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if cls_id is None or sep_id is None:
        raise ValueError("tokenizer has no CLS/BOS or SEP/EOS token")
    return {"cls_id": int(cls_id), "sep_id": int(sep_id), "pad_id": int(pad_id)}


CollateFn = Callable[[Sequence[Sequence[int]]], dict[str, torch.Tensor]]
