"""WiSE-FT weight interpolation: (1 - alpha) * base + alpha * trained, on state dicts or whole models."""

from __future__ import annotations

import copy
import os
from typing import Mapping

import torch
from sentence_transformers import SentenceTransformer

from .checkpoints import cpu_state, load_model

__all__ = ["interpolate_state", "interpolate"]


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
    base_state = cpu_state(model)
    model.load_state_dict(interpolate_state(base_state, trained_state, alpha), strict=True)
    return model
