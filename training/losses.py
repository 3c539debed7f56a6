"""Contrastive losses on embeddings (pure tensor maths) and the MoCo queue / momentum update.

Encoding happens elsewhere (trainer.py); everything here takes embeddings:

- anchor:    [B, D]     one anchor crop per unit (the "query" side)
- positives: [B, n, D]  n positive crops per unit (the "document" side)
- queue:     [Q, D]     optional extra negatives (MoCo keys from earlier steps)

`multi_positive_info_nce` is the ReContriever loss ("one document, many pairs",
relevance-aware weights); `pair_passage_loss` is PAIR's passage-centric term;
`contrastive_loss` combines them as L = (1 - a) * L_Q + a * L_P.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "multi_positive_info_nce",
    "pair_passage_loss",
    "contrastive_loss",
    "relevance_weights",
    "MoCoQueue",
    "momentum_update",
]

Weighting = Literal["relevance", "uniform"]

# Relevance weights divide detached similarities by their sum, which needs them
# positive: cosine (or dot) similarities are clamped at this floor first, so a
# positive crop the model finds unrelated (sim <= 0) gets a tiny weight, never a
# negative one, and a row of all-negative sims falls back to uniform weights.
RELEVANCE_EPS = 1e-4


def _check_shapes(anchor: Tensor, positives: Tensor, queue: Tensor | None) -> tuple[int, int, int]:
    if anchor.dim() != 2 or positives.dim() != 3:
        raise ValueError(f"expected anchor [B, D] and positives [B, n, D], got {tuple(anchor.shape)}, {tuple(positives.shape)}")
    B, n, D = positives.shape
    if anchor.shape != (B, D):
        raise ValueError(f"anchor {tuple(anchor.shape)} does not match positives {tuple(positives.shape)}")
    if queue is not None and (queue.dim() != 2 or queue.shape[1] != D):
        raise ValueError(f"queue must be [Q, {D}], got {tuple(queue.shape)}")
    return B, n, D


def relevance_weights(
    anchor: Tensor,
    positives: Tensor,
    weighting: Weighting = "relevance",
    *,
    normalize: bool = True,
    eps: float = RELEVANCE_EPS,
) -> Tensor:
    """Per-pair weights w [B, n], rows summing to 1, never carrying gradient.

    relevance: w_ij = s(q_i, d_ij) / sum_k s(q_i, d_ik) with s the model's own
    similarity (cosine when `normalize`, else dot), detached and clamped at `eps`.
    uniform:   w_ij = 1 / n.
    """
    B, n, _ = _check_shapes(anchor, positives, None)
    if weighting == "uniform":
        return torch.full((B, n), 1.0 / n, device=anchor.device, dtype=torch.float32)
    if weighting != "relevance":
        raise ValueError(f"unknown weighting {weighting!r}")
    with torch.no_grad():
        a = anchor.detach().float()
        p = positives.detach().float()
        if normalize:
            a = F.normalize(a, dim=-1)
            p = F.normalize(p, dim=-1)
        sims = torch.einsum("bd,bnd->bn", a, p)  # [B, n]
        sims = sims.clamp_min(eps)
        return sims / sims.sum(dim=1, keepdim=True)  # [B, n]


def multi_positive_info_nce(
    anchor: Tensor,
    positives: Tensor,
    temperature: float = 0.05,
    weighting: Weighting = "relevance",
    queue: Tensor | None = None,
    *,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, float]]:
    """Relevance-aware multi-positive InfoNCE (ReContriever), query-centric (L_Q).

    For anchor i and positive j, InfoNCE_ij is a softmax cross-entropy over the
    candidates [all B*n positives (+ queue)], with target positive (i, j). The
    other positives of anchor i (its siblings, crops of the same unit) are masked
    out of row (i, j): they are not negatives. In-batch negatives are the other
    anchors' positives. L = mean_i sum_j w_ij * InfoNCE_ij with w from
    `relevance_weights` (detached).

    Returns (loss, stats) with stats as plain floats for logging.
    """
    B, n, D = _check_shapes(anchor, positives, queue)
    a = anchor.float()
    p = positives.float()
    q = queue.float() if queue is not None else None
    if normalize:
        a = F.normalize(a, dim=-1)
        p = F.normalize(p, dim=-1)
        q = F.normalize(q, dim=-1) if q is not None else None

    cand = p.reshape(B * n, D)  # [B*n, D], row i*n + j is positive (i, j)
    logits = a @ cand.T / temperature  # [B, B*n]
    if q is not None and q.shape[0] > 0:
        logits = torch.cat([logits, a @ q.T / temperature], dim=1)  # [B, B*n + Q]
    C = logits.shape[1]

    # One row per pair (i, j): [B, n, C]
    pair_logits = logits.unsqueeze(1).expand(B, n, C)
    col = torch.arange(C, device=a.device)  # [C]
    row_i = torch.arange(B, device=a.device).view(B, 1, 1)
    row_j = torch.arange(n, device=a.device).view(1, n, 1)
    is_own_unit = (col.view(1, 1, C) < B * n) & (col.view(1, 1, C) // n == row_i)  # [B, 1, C]
    sibling = is_own_unit & (col.view(1, 1, C) % n != row_j)  # [B, n, C]
    pair_logits = pair_logits.masked_fill(sibling, float("-inf"))

    targets = (torch.arange(B, device=a.device).view(B, 1) * n + torch.arange(n, device=a.device).view(1, n))  # [B, n]
    ce = F.cross_entropy(pair_logits.reshape(B * n, C), targets.reshape(B * n), reduction="none").view(B, n)  # [B, n]

    w = relevance_weights(anchor, positives, weighting, normalize=normalize).to(ce.dtype)  # [B, n], no grad
    loss = (w * ce).sum(dim=1).mean()

    with torch.no_grad():
        pos_sim = torch.einsum("bd,bnd->bn", a, p)  # [B, n]
        acc = (pair_logits.argmax(dim=-1) == targets).float().mean()
        w_entropy = -(w.clamp_min(1e-12) * w.clamp_min(1e-12).log()).sum(dim=1).mean()
    stats = {
        "loss_q": float(loss.detach()),
        "pos_sim": float(pos_sim.mean()),
        "accuracy": float(acc),
        "weight_entropy": float(w_entropy),
    }
    return loss, stats


def pair_passage_loss(
    anchor: Tensor,
    positives: Tensor,
    temperature: float = 0.05,
    weighting: Weighting = "relevance",
    queue: Tensor | None = None,
    *,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, float]]:
    """PAIR's passage-centric term L_P: the positive passage takes the query's place.

    For positive (i, j) require s(p_ij, q_i) > s(p_ij, p-) where p- are the
    positives of the other units in the batch (+ queue). The positive itself and
    its siblings (same unit) are not negatives. Per-pair terms are weighted like
    L_Q (relevance or uniform) and averaged over anchors.
    """
    B, n, D = _check_shapes(anchor, positives, queue)
    a = anchor.float()
    p = positives.float()
    q = queue.float() if queue is not None else None
    if normalize:
        a = F.normalize(a, dim=-1)
        p = F.normalize(p, dim=-1)
        q = F.normalize(q, dim=-1) if q is not None else None

    pf = p.reshape(B * n, D)  # [B*n, D]
    a_rep = a.repeat_interleave(n, dim=0)  # [B*n, D], row i*n + j is anchor i
    s_pos = (pf * a_rep).sum(dim=-1, keepdim=True) / temperature  # [B*n, 1]
    s_pp = pf @ pf.T / temperature  # [B*n, B*n]
    unit = torch.arange(B * n, device=a.device) // n  # [B*n]
    s_pp = s_pp.masked_fill(unit.view(-1, 1) == unit.view(1, -1), float("-inf"))  # own unit: self + siblings
    parts = [s_pos, s_pp]
    if q is not None and q.shape[0] > 0:
        parts.append(pf @ q.T / temperature)  # [B*n, Q]
    logits = torch.cat(parts, dim=1)  # [B*n, 1 + B*n (+ Q)], target column 0
    targets = torch.zeros(B * n, dtype=torch.long, device=a.device)
    ce = F.cross_entropy(logits, targets, reduction="none").view(B, n)  # [B, n]

    w = relevance_weights(anchor, positives, weighting, normalize=normalize).to(ce.dtype)  # [B, n]
    loss = (w * ce).sum(dim=1).mean()
    return loss, {"loss_p": float(loss.detach())}


def contrastive_loss(
    anchor: Tensor,
    positives: Tensor,
    temperature: float = 0.05,
    weighting: Weighting = "relevance",
    queue: Tensor | None = None,
    *,
    pair_alpha: float = 0.0,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, float]]:
    """L = (1 - a) * L_Q + a * L_P (PAIR); with a = 0 this is exactly `multi_positive_info_nce`."""
    if not 0.0 <= pair_alpha <= 1.0:
        raise ValueError("pair_alpha must be in [0, 1]")
    loss_q, stats = multi_positive_info_nce(
        anchor, positives, temperature, weighting, queue, normalize=normalize
    )
    if pair_alpha == 0.0:
        return loss_q, {"loss": stats["loss_q"], **stats}
    loss_p, stats_p = pair_passage_loss(anchor, positives, temperature, weighting, queue, normalize=normalize)
    loss = (1.0 - pair_alpha) * loss_q + pair_alpha * loss_p
    return loss, {"loss": float(loss.detach()), **stats, **stats_p}


class MoCoQueue:
    """Fixed-size ring buffer of detached, normalised keys (MoCo negatives)."""

    def __init__(self, size: int, dim: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> None:
        if size < 1 or dim < 1:
            raise ValueError("queue size and dim must be >= 1")
        self.size = int(size)
        self.dim = int(dim)
        self.keys = torch.zeros(self.size, self.dim, device=device, dtype=dtype)  # [Q, D]
        self.ptr = 0  # next slot to write
        self.filled = 0  # number of valid rows

    def __len__(self) -> int:
        return self.filled

    def tensor(self) -> Tensor | None:
        """The valid keys [filled, D] (order irrelevant for the loss), or None when empty."""
        if self.filled == 0:
            return None
        return self.keys[: self.filled] if self.filled < self.size else self.keys

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append keys [K, D] (detached), overwriting the oldest when full."""
        keys = keys.detach().to(self.keys.device, self.keys.dtype)
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be [K, {self.dim}], got {tuple(keys.shape)}")
        if keys.shape[0] >= self.size:  # only the newest `size` keys survive
            self.keys.copy_(keys[-self.size :])
            self.ptr = 0
            self.filled = self.size
            return
        k = keys.shape[0]
        end = self.ptr + k
        if end <= self.size:
            self.keys[self.ptr : end] = keys
        else:
            first = self.size - self.ptr
            self.keys[self.ptr :] = keys[:first]
            self.keys[: k - first] = keys[first:]
        self.ptr = end % self.size
        self.filled = min(self.size, self.filled + k)

    def state_dict(self) -> dict:
        return {"keys": self.keys.detach().cpu(), "ptr": self.ptr, "filled": self.filled}

    def load_state_dict(self, state: dict) -> None:
        keys = state["keys"]
        if tuple(keys.shape) != (self.size, self.dim):
            raise ValueError("queue state has a different shape")
        self.keys.copy_(keys.to(self.keys.device, self.keys.dtype))
        self.ptr = int(state["ptr"])
        self.filled = int(state["filled"])


@torch.no_grad()
def momentum_update(model_q: nn.Module, model_k: nn.Module, m: float = 0.999) -> None:
    """theta_k <- m * theta_k + (1 - m) * theta_q for parameters; floating buffers likewise."""
    if not 0.0 <= m <= 1.0:
        raise ValueError("momentum must be in [0, 1]")
    for pq, pk in zip(model_q.parameters(), model_k.parameters(), strict=True):
        pk.mul_(m).add_(pq.detach(), alpha=1.0 - m)
    for bq, bk in zip(model_q.buffers(), model_k.buffers(), strict=True):
        if bk.is_floating_point():
            bk.mul_(m).add_(bq.detach(), alpha=1.0 - m)
        else:
            bk.copy_(bq)
