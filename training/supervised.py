"""Few-shot adaptation from the user's marks: (query, passage marked relevant) pairs and their loss.

A user's marks are labelled pairs. Each step takes a few of them: the query is encoded by the
model being trained, the marked passage is its positive (encoded, with MoCo negatives, by the
key encoder without gradient, as the positive crops are: a marked passage is up to 256 tokens,
and with gradient through it a step cost about 3x on a 2-core CPU), the other pairs' passages in the step
(in-batch) and the MoCo queue, when there is one, are its negatives, and passages marked not
relevant for that query are hard negatives. The loss is InfoNCE at the same temperature as the
unsupervised term and is added to it with a weight (`TrainConfig.supervised_weight`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["JudgedPair", "PairBatch", "PairSampler", "read_pairs", "supervised_info_nce", "tokenize_pairs"]


@dataclass(frozen=True)
class JudgedPair:
    """A query, the passage marked relevant for it, its file (group) and passages marked not relevant."""

    query: str
    positive: str
    group: str = ""
    negatives: tuple[str, ...] = ()


def read_pairs(path: str | Path) -> list[JudgedPair]:
    """pairs.jsonl: one {"query", "positive", "group", "negatives": [...]} per line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(JudgedPair(str(d["query"]), str(d["positive"]), str(d.get("group", "")),
                                      tuple(str(n) for n in d.get("negatives") or ())))
    return out


@dataclass
class TokenizedPair:
    query: list[int]
    positive: list[int]
    group: str
    negatives: list[list[int]] = field(default_factory=list)


def tokenize_pairs(pairs: Sequence[JudgedPair], tokenizer: Any, *, max_query_tokens: int = 64,
                   max_passage_tokens: int = 256) -> list[TokenizedPair]:
    """Token ids without special tokens, cut to the given lengths."""
    def ids(texts: list[str], cap: int) -> list[list[int]]:
        if not texts:
            return []
        enc = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=cap)["input_ids"]
        return [list(e) or [tokenizer.unk_token_id or 0] for e in enc]

    qs = ids([p.query for p in pairs], max_query_tokens)
    ps = ids([p.positive for p in pairs], max_passage_tokens)
    out = []
    for p, q, pos in zip(pairs, qs, ps):
        out.append(TokenizedPair(q, pos, p.group, ids(list(p.negatives), max_passage_tokens)))
    return out


@dataclass
class PairBatch:
    queries: list[list[int]]
    positives: list[list[int]]
    groups: list[str]
    hard: list[list[int]]  # at most one hard negative per pair
    hard_owner: list[int]  # which pair (row) each hard negative belongs to


class PairSampler:
    """Deterministic batches of judged pairs addressed by step (no two pairs of one file in a batch
    where there are enough files), with one hard negative per pair drawn afresh each step."""

    def __init__(self, pairs: Sequence[TokenizedPair], batch_size: int, seed: int = 0) -> None:
        if not pairs:
            raise ValueError("no judged pairs")
        self.pairs = list(pairs)
        self.batch_size = max(1, min(int(batch_size), len(self.pairs)))
        self.seed = int(seed)

    def batch(self, step: int) -> PairBatch:
        n = len(self.pairs)
        per_epoch = max(1, n // self.batch_size)
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([self.seed, 2, epoch]).permutation(n).tolist()
        chosen, seen = [], set()
        for i in order[k * self.batch_size:] + order[: k * self.batch_size]:  # this step's slice first
            g = self.pairs[i].group
            if g and g in seen:
                continue
            chosen.append(i)
            seen.add(g)
            if len(chosen) == self.batch_size:
                break
        rng = np.random.default_rng([self.seed, 3, step])
        b = PairBatch([], [], [], [], [])
        for row, i in enumerate(chosen):
            p = self.pairs[i]
            b.queries.append(p.query)
            b.positives.append(p.positive)
            b.groups.append(p.group)
            if p.negatives:
                b.hard.append(p.negatives[int(rng.integers(len(p.negatives)))])
                b.hard_owner.append(row)
        return b


def supervised_info_nce(query: Tensor, positive: Tensor, temperature: float = 0.05, *, groups: Sequence[str] = (),
                        hard: Tensor | None = None, queue: Tensor | None = None,
                        normalize: bool = True) -> tuple[Tensor, dict[str, float]]:
    """InfoNCE of queries [S, D] against [their positives [S, D]; hard negatives [H, D]; queue [Q, D]].

    Row i's target is positive i; another pair's positive from the same file (group) is masked,
    not a negative. Every hard negative is a negative for every row (each was marked not
    relevant for one of the queries; for the others it is just another passage)."""
    S = query.shape[0]
    q = query.float()
    cand = [positive.float()]
    if hard is not None and hard.shape[0]:
        cand.append(hard.float())
    if queue is not None and queue.shape[0]:
        cand.append(queue.float())
    c = torch.cat(cand, dim=0)
    if normalize:
        q = F.normalize(q, dim=-1)
        c = F.normalize(c, dim=-1)
    logits = q @ c.T / temperature  # [S, S + H + Q]
    if groups:
        same = torch.zeros_like(logits, dtype=torch.bool)
        for i in range(S):
            for j in range(S):
                if i != j and groups[i] and groups[i] == groups[j]:
                    same[i, j] = True
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(S, device=logits.device)
    loss = F.cross_entropy(logits, target)
    with torch.no_grad():
        acc = (logits.argmax(dim=1) == target).float().mean()
    return loss, {"loss_sup": float(loss.detach()), "sup_accuracy": float(acc)}
