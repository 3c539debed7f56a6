"""Training settings: `TrainConfig` and the per-device defaults `defaults_for`.

The crop settings are a `CropConfig` (training.data) held in `TrainConfig.crop`; to the
outside (dicts, JSON, overrides, `replace`) they stay flat keys such as `max_crop_tokens`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import device as hardware
from .data import CropConfig

__all__ = ["TrainConfig", "CROP_KEYS", "defaults_for"]

# The flat keys that belong to `TrainConfig.crop`.
CROP_KEYS = frozenset(f.name for f in dataclasses.fields(CropConfig))

# Settings that do not change what training computes: a checkpoint made under
# different values of these is still resumable.
_NOT_TRAINING_KEYS = frozenset({"checkpoint_every", "interpolation_alpha", "device"})
# Settings that only matter with judged pairs: the pairs' fingerprint carries them
# (training.trainer), so runs without marks keep their checkpoints across versions.
SUPERVISED_KEYS = frozenset({"supervised_weight", "supervised_batch"})


@dataclass
class TrainConfig:
    """All training settings; `defaults_for` picks CPU / GPU values.

    Build one from flat keys with `from_dict` (or change some with `replace`):
    `TrainConfig.from_dict({"steps": 4, "max_crop_tokens": 16})`.
    """

    # schedule
    steps: int = 200
    batch_size: int = 16  # units (anchors) per step
    lr: float = 2e-5
    warmup_ratio: float = 0.1  # then linear decay to ~0
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    # crops (tokens, special tokens excluded): n_positives, ratio_min/max, min/max_crop_tokens, deletion_p
    crop: CropConfig = field(default_factory=CropConfig)
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
    # few-shot: (query, marked passage) pairs from the user's judgments, when there are any
    supervised_weight: float = 1.0  # L = L_unsupervised + w * L_supervised
    supervised_batch: int = 16  # judged pairs per step
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
        if self.supervised_weight < 0:
            raise ValueError("supervised_weight must be >= 0")
        if self.supervised_batch < 1:
            raise ValueError("supervised_batch must be >= 1")
        if not isinstance(self.crop, CropConfig):  # CropConfig validates its own values
            raise TypeError(f"crop must be a CropConfig, got {type(self.crop).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """All settings as flat keys (the crop settings in place of `crop`), in field order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "crop":
                out.update(dataclasses.asdict(self.crop))
            else:
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Build from flat keys; unknown keys are an error (catches typos in settings files)."""
        names = {f.name for f in dataclasses.fields(cls) if f.name != "crop"} | CROP_KEYS
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        own = {k: v for k, v in d.items() if k not in CROP_KEYS}
        crop = CropConfig(**{k: v for k, v in d.items() if k in CROP_KEYS})
        return cls(crop=crop, **own)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some settings changed; crop settings may be given as flat keys."""
        crop_changes = {k: changes.pop(k) for k in list(changes) if k in CROP_KEYS}
        if crop_changes:
            changes["crop"] = dataclasses.replace(changes.get("crop", self.crop), **crop_changes)
        return dataclasses.replace(self, **changes)

    def training_key(self) -> dict[str, Any]:
        """The settings that decide what a checkpoint contains."""
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_TRAINING_KEYS | SUPERVISED_KEYS}


CPU_PASSES = 6.5  # passes over the corpus on a CPU, within the step cap (Cranfield: 360 steps, measured)


def defaults_for(device: str = "auto", n_passages: int = 5000) -> TrainConfig:
    """Sensible settings for a device and corpus size.

    GPU: 128 units x 4 positives, crops <= 128 tokens, 600 steps from about
    5,000 passages up (the measured reference: about 35 s on an H100), fewer
    (>= 100) on small corpora.

    CPU: 32 units x 4 positives, crops <= 64 tokens (the CPU-sized setting
    measured in TRAINING.md), lr 5e-5 (with so few steps, 2e-5 barely moves the
    model), about six and a half passes over the corpus between 50 and 180 steps, or up
    to 360 on a CPU with native bf16, where a step costs about a third of an fp32 one.
    Small corpora gain from more passes: Cranfield (1,854 passages) through the real job,
    bf16, seeds 0-2: 360 steps (6.2 passes) +1.25 / +1.13 / base kept, mean +0.79 nDCG@10
    (+1.15 on seed 2 at 0.3, which the alpha rule now takes: mean +1.18); 174 steps (3 passes)
    +0.92 / +0.76 / base kept, mean +0.56 (README).
    MoCo negatives: the positive crops go through the momentum (key) encoder
    without gradient, so a step costs about half, and the slowly moving key
    encoder keeps the targets close to the base model. SciFact through the real
    job on a 2-core Zen 4 (bf16), seeds 0-2: 360 steps +1.26 / +1.35 / +1.18
    nDCG@10 (about 9 min per version, re-embedding included), 180 steps +1.42 /
    +1.12 / +0.57; seed 0 with in-batch negatives +0.52 (README, ablation table).
    The GPU defaults keep in-batch negatives: MoCo has not been measured there.
    Judged pairs (few-shot): 8 per step on a CPU, 32 on a GPU; with MoCo the marked passages
    go through the key encoder, so a SciFact version with 8-128 marks took 7.6-9.3 min on a
    2-core bf16 CPU, about what an unsupervised one does (README, few-shot table).
    """
    dev = hardware.resolve_device(device)
    n = max(int(n_passages), 0)
    if dev.startswith("cuda"):
        steps = int(min(600, max(100, math.ceil(16 * n / 128))))  # ~16 passes, at most 600 steps
        return TrainConfig(steps=steps, batch_size=128, crop=CropConfig(max_crop_tokens=128), device=dev,
                           checkpoint_every=100, supervised_batch=32)
    batch = 32
    cap = 360 if dev == "cpu" and hardware.cpu_bf16_native() else 180
    steps = int(min(cap, max(50, math.ceil(CPU_PASSES * n / batch))))
    return TrainConfig(steps=steps, batch_size=batch, lr=5e-5, crop=CropConfig(max_crop_tokens=64),
                       negatives="moco", device=dev, checkpoint_every=25, supervised_batch=8)
