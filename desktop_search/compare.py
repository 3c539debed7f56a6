"""Agreement between rankings: overlap@k, Jaccard and Kendall's tau on the shared items."""

from __future__ import annotations

from itertools import combinations
from typing import Hashable, Sequence


def overlap_at_k(a: Sequence[Hashable], b: Sequence[Hashable], k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / k."""
    if k <= 0:
        return 0.0
    return len(set(a[:k]) & set(b[:k])) / k


def jaccard(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def kendall_tau(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Kendall's tau-a over the items both rankings contain (None if fewer than two)."""
    common = [x for x in a if x in set(b)]
    if len(common) < 2:
        return None
    pos_b = {x: i for i, x in enumerate(b)}
    conc = disc = 0
    for x, y in combinations(common, 2):  # x before y in a
        if pos_b[x] < pos_b[y]:
            conc += 1
        else:
            disc += 1
    return (conc - disc) / (conc + disc)


def agreement(a: Sequence[Hashable], b: Sequence[Hashable], k: int) -> dict:
    return {
        "overlap_at_k": overlap_at_k(a, b, k),
        "jaccard": jaccard(a[:k], b[:k]),
        "kendall_tau": kendall_tau(a[:k], b[:k]),
        "only_first": [x for x in a[:k] if x not in set(b[:k])],
        "only_second": [x for x in b[:k] if x not in set(a[:k])],
    }
