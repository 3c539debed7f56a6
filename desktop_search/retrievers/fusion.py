"""Fusion of rankings: reciprocal rank fusion and min-max normalised score combination (pure functions)."""

from __future__ import annotations

from typing import Hashable, Sequence

Ranking = Sequence[tuple[Hashable, float]]  # (item, score), best first


def rrf_fusion(rankings: Sequence[Ranking], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[Hashable, float] = {}
    for w, ranking in zip(weights, rankings):
        for r, (item, _) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + r)
    return sorted(scores.items(), key=lambda x: (-x[1], str(x[0])))


def minmax_fusion(rankings: Sequence[Ranking], weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Scores of each ranking scaled to [0, 1] by its own min and max, then a weighted sum.

    An item missing from a ranking gets 0 there (it scored below that ranking's cut).
    """
    weights = weights or [1.0 / len(rankings)] * len(rankings)
    scores: dict[Hashable, float] = {}
    for w, ranking in zip(weights, rankings):
        if not ranking:
            continue
        vals = [s for _, s in ranking]
        lo, hi = min(vals), max(vals)
        span = hi - lo
        for item, s in ranking:
            norm = (s - lo) / span if span > 0 else 1.0
            scores[item] = scores.get(item, 0.0) + w * norm
    return sorted(scores.items(), key=lambda x: (-x[1], str(x[0])))
