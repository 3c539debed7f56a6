"""Label-free model selection: pseudo-queries built without crops, exact search, choice of the interpolation weight."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "PseudoQuerySet",
    "AlphaSelection",
    "build_pseudo_queries",
    "relevant_ranks",
    "retrieval_metrics",
    "clearly_better",
    "decide_alpha",
    "fused_scores",
    "lexical_group_scores",
    "evaluate",
    "model_encoder",
    "choose_alpha",
]

Encoder = Callable[[list[str]], np.ndarray]  # texts -> [N, D] float array

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class PseudoQuerySet:
    """Pseudo-queries and the corpus to search them in.

    queries:  [(query_text, relevant_group_id)]
    passages: [(group_id, text)], the input passages with each query's source
              text (the first sentence or heading it was taken from) removed, so a
              query never finds its own words verbatim.
    """

    queries: list[tuple[str, str]]
    passages: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.queries)


@dataclass
class AlphaSelection:
    """Outcome of `choose_alpha`: the chosen weight (0.0 = keep the base) and metrics per candidate."""

    alpha: float
    metrics: dict[float, dict[str, float]] = field(default_factory=dict)
    metric: str = "ndcg@10"
    margin: float = 0.005
    preferred: float = 0.5
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "metric": self.metric,
            "margin": self.margin,
            "preferred": self.preferred,
            "reason": self.reason,
            "metrics": {f"{a:g}": m for a, m in self.metrics.items()},
        }


def _n_words(text: str) -> int:
    return len(_WORD.findall(text))


def _clean_title(title: str) -> str:
    """A file name or heading as query text: no extension, separators as spaces."""
    t = title.strip()
    t = re.sub(r"^#+\s*", "", t)  # markdown heading marks
    base, ext = os.path.splitext(t)
    if ext and 1 < len(ext) <= 5 and " " not in ext:
        t = base
    t = re.sub(r"[_\-]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _first_sentence(text: str) -> tuple[str, str] | None:
    """(first sentence, rest of the text), or None when there is no clean split."""
    stripped = text.strip()
    parts = _SENTENCE_END.split(stripped, maxsplit=1)
    if len(parts) != 2:
        return None
    first, rest = parts[0].strip(), parts[1].strip()
    return (first, rest) if first and rest else None


def _heading(text: str) -> tuple[str, str] | None:
    """(first line, rest) when the first line looks like a heading: short, no final full stop."""
    lines = text.strip().split("\n", 1)
    if len(lines) != 2:
        return None
    head, rest = lines[0].strip(), lines[1].strip()
    if not head or not rest or head.endswith((".", ",", ";", ":")) or not 2 <= _n_words(head) <= 12:
        return None
    return head, rest


def build_pseudo_queries(
    passages: Sequence[tuple[str, str]],
    titles: Mapping[str, str] | None = None,
    max_queries: int = 200,
    seed: int = 0,
    *,
    min_query_words: int = 4,
    max_query_words: int = 40,
    min_rest_words: int = 20,
) -> PseudoQuerySet:
    """Pseudo-queries without crops: titles/headings -> their file, first sentences -> the rest of their file.

    - title: `titles[group]` when given, else a heading-like first line of the
      group's first passage (which is then removed from the corpus) -> the group;
    - first sentence of one passage per group (4-40 words) -> the group, with the
      sentence removed from that passage; the group must keep >= `min_rest_words`
      words so there is something left to find.

    About half of the queries are of each kind when both are available, at
    most one of each kind per group, `max_queries` in all, chosen with `seed`.
    """
    rng = np.random.default_rng(seed)
    passages = [(str(g), str(t)) for g, t in passages]
    by_group: dict[str, list[int]] = {}
    for i, (g, _) in enumerate(passages):
        by_group.setdefault(g, []).append(i)
    group_words = {g: sum(_n_words(passages[i][1]) for i in idx) for g, idx in by_group.items()}

    # (query, group, passage index whose text the query was taken from, that text)
    title_q: list[tuple[str, str, int | None, str | None]] = []
    sent_q: list[tuple[str, str, int | None, str | None]] = []
    for g, idx in by_group.items():
        # title -> file
        if titles is not None:
            if titles.get(g):
                t = _clean_title(titles[g])
                if len(t) >= 3 and not t.isdigit():
                    title_q.append((t, g, None, None))
        else:
            h = _heading(passages[idx[0]][1])
            if h is not None and group_words[g] - _n_words(h[0]) >= min_rest_words:
                title_q.append((_clean_title(h[0]), g, idx[0], h[0]))
        # first sentence (after a heading line, if any) -> the rest of the file
        order = [idx[int(k)] for k in rng.permutation(len(idx))]
        for i in order:
            text = passages[i][1]
            h = _heading(text)
            split = _first_sentence(h[1] if h is not None else text)
            if split is None:
                continue
            first = split[0]
            nw = _n_words(first)
            if min_query_words <= nw <= max_query_words and group_words[g] - nw >= min_rest_words:
                sent_q.append((first, g, i, first))
                break

    def pick(items: list, k: int) -> list:
        if len(items) <= k:
            return list(items)
        sel = rng.choice(len(items), size=k, replace=False)
        return [items[int(j)] for j in sorted(sel)]

    n_title = min(len(title_q), max(max_queries // 2, max_queries - len(sent_q)))
    chosen = pick(title_q, n_title) + pick(sent_q, max_queries - n_title)

    texts = [t for _, t in passages]
    queries: list[tuple[str, str]] = []
    for query, g, i, source in chosen:
        if i is not None and source:
            texts[i] = texts[i].replace(source, " ", 1).strip()  # the query's own words leave the corpus
        queries.append((query, g))
    eval_passages = [(g, t) for (g, _), t in zip(passages, texts) if t.strip()]
    return PseudoQuerySet(queries, eval_passages)


def group_scores(query_emb: np.ndarray, passage_emb: np.ndarray, passage_groups: Sequence[str]):
    """(sorted group ids, [Q, G] scores): a file's score is its best passage's inner product."""
    q = np.asarray(query_emb, dtype=np.float32)
    p = np.asarray(passage_emb, dtype=np.float32)
    groups = sorted(set(passage_groups))
    gidx = {g: i for i, g in enumerate(groups)}
    pg = np.array([gidx[g] for g in passage_groups], dtype=np.int64)  # [P]
    out = np.full((len(q), len(groups)), -np.inf, dtype=np.float32)  # [Q, G]
    if len(q) and len(p):
        np.maximum.at(out, (slice(None), pg), q @ p.T)  # max over each group's passages
    return groups, out


def ranks_in(scores: np.ndarray, groups: Sequence[str], query_groups: Sequence[str]) -> np.ndarray:
    """Rank (1 = first) of each query's relevant group in its row of a [Q, G] score matrix; 0 when
    the group is absent. Ties count against the relevant group, so a collapsed model (all scores
    equal) does not look perfect, and a group no ranking found (-inf) ranks last."""
    gidx = {g: i for i, g in enumerate(groups)}
    ranks = np.zeros(len(query_groups), dtype=np.int64)
    for qi, g in enumerate(query_groups):
        if g in gidx:
            ranks[qi] = int(np.sum(scores[qi] >= scores[qi, gidx[g]]))
    return ranks


def relevant_ranks(
    query_emb: np.ndarray,
    passage_emb: np.ndarray,
    query_groups: Sequence[str],
    passage_groups: Sequence[str],
) -> np.ndarray:
    """Rank (1 = first) of each query's relevant file under exact inner-product search (see `ranks_in`)."""
    if len(query_emb) == 0 or len(passage_emb) == 0:
        return np.zeros(len(query_emb), dtype=np.int64)
    groups, scores = group_scores(query_emb, passage_emb, passage_groups)
    return ranks_in(scores, groups, query_groups)


_STOP = frozenset("a an and are as at be by for from in is it of on or that the this to was were with".split())


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def lexical_group_scores(pseudo: "PseudoQuerySet", groups: Sequence[str], k1: float = 0.9, b: float = 0.4) -> np.ndarray:
    """[Q, G] BM25 scores of each query's file (its best passage) over `pseudo.passages`: the lexical
    half of the hybrid that the selection also checks. Plain words, no stemming: a stand-in for the
    app's BM25 on the same small corpus, not a copy of it."""
    docs = [_terms(t) for _, t in pseudo.passages]
    n = len(docs)
    gidx = {g: i for i, g in enumerate(groups)}
    pg = np.array([gidx[g] for g, _ in pseudo.passages], dtype=np.int64)
    out = np.full((len(pseudo.queries), len(groups)), -np.inf, dtype=np.float32)
    if n == 0:
        return out
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1e-9))
    postings: dict[str, dict[int, int]] = {}
    for i, d in enumerate(docs):
        for w in d:
            row = postings.setdefault(w, {})
            row[i] = row.get(i, 0) + 1
    for qi, (q, _) in enumerate(pseudo.queries):
        s = np.zeros(n, dtype=np.float64)
        for w in set(_terms(q)):
            row = postings.get(w)
            if not row:
                continue
            idx = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            tf = np.fromiter(row.values(), dtype=np.float64, count=len(row))
            idf = math.log(1 + (n - len(row) + 0.5) / (len(row) + 0.5))
            s[idx] += idf * tf * (k1 + 1) / (tf + norm[idx])
        hit = s > 0
        np.maximum.at(out[qi], pg[hit], s[hit].astype(np.float32))
    return out


def fused_scores(lexical: np.ndarray, dense: np.ndarray, depth: int = 100) -> np.ndarray:
    """Min-max fusion of two [Q, G] score matrices as the app's hybrid does it: each side's best
    `depth` groups scaled to [0, 1] by their own min and max, the two halves averaged (0 where a
    side did not rank a group), -inf where neither did. Written here because `training` never
    imports the app; tests/test_training_trainer.py checks it against the app's `minmax_fusion`."""
    out = np.full(dense.shape, -np.inf, dtype=np.float64)
    for qi in range(dense.shape[0]):
        total = np.zeros(dense.shape[1], dtype=np.float64)
        seen = np.zeros(dense.shape[1], dtype=bool)
        for row in (lexical[qi], dense[qi]):
            finite = np.flatnonzero(np.isfinite(row))
            if len(finite) == 0:
                continue
            top = finite[np.argsort(-row[finite], kind="stable")[:depth]]
            vals = row[top].astype(np.float64)
            lo, hi = float(vals.min()), float(vals.max())
            total[top] += 0.5 * ((vals - lo) / (hi - lo) if hi > lo else 1.0)
            seen[top] = True
        out[qi, seen] = total[seen]
    return out


def per_query_ndcg(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """nDCG@k of each query with one relevant file, from `relevant_ranks`."""
    r = np.asarray(ranks, dtype=np.float64)
    hit = (r >= 1) & (r <= k)
    return np.where(hit, 1.0 / np.log2(np.maximum(r, 1) + 1), 0.0)


def metrics_from_ranks(ranks: np.ndarray, k: int = 10) -> dict[str, float]:
    """Mean MRR@k, nDCG@k and recall@k from `relevant_ranks`."""
    n = len(ranks)
    out: dict[str, float] = {m: float(np.mean(_per_query(ranks, m))) if n else 0.0
                             for m in (f"mrr@{k}", f"ndcg@{k}", f"recall@{k}")}
    out["n_queries"] = n
    return out


def retrieval_metrics(
    query_emb: np.ndarray,
    passage_emb: np.ndarray,
    query_groups: Sequence[str],
    passage_groups: Sequence[str],
    k: int = 10,
) -> dict[str, float]:
    """MRR@k, nDCG@k and recall@k of exact inner-product search, at the group (file) level.

    query_emb [Q, D], passage_emb [P, D]: normalise them first for cosine. Each
    query has one relevant file (see `relevant_ranks`)."""
    return metrics_from_ranks(relevant_ranks(query_emb, passage_emb, query_groups, passage_groups), k)


def _encode_ranks(encode: Encoder, pseudo: PseudoQuerySet, lexical: np.ndarray | None = None):
    """Ranks of each query's file under dense search, and under the hybrid too when the lexical
    [Q, G] scores are given: (dense ranks, hybrid ranks or None)."""
    q_emb = _unit(encode([q for q, _ in pseudo.queries]))
    p_emb = _unit(encode([t for _, t in pseudo.passages]))
    query_groups = [g for _, g in pseudo.queries]
    groups, dense = group_scores(q_emb, p_emb, [g for g, _ in pseudo.passages])
    hybrid = None if lexical is None else ranks_in(fused_scores(lexical, dense), groups, query_groups)
    return ranks_in(dense, groups, query_groups), hybrid


def evaluate(encode: Encoder, pseudo: PseudoQuerySet, k: int = 10) -> dict[str, float]:
    """Encode queries and passages with `encode` and score them with `retrieval_metrics`."""
    return metrics_from_ranks(_encode_ranks(encode, pseudo)[0], k)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def model_encoder(model: Any, batch_size: int = 32, max_seq_length: int | None = 128) -> Encoder:
    """An `Encoder` over a SentenceTransformer (normalised embeddings, optional shorter max length)."""

    import contextlib

    import torch

    from .device import cpu_bf16_native

    # the same precision the corpus is embedded with (see desktop_search.retrievers.encoder)
    fast = str(getattr(model, "device", "cpu")) == "cpu" and cpu_bf16_native()

    def encode(texts: list[str]) -> np.ndarray:
        old = model.max_seq_length
        if max_seq_length is not None:
            model.max_seq_length = min(old, max_seq_length) if old else max_seq_length
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16) if fast else contextlib.nullcontext():
                v = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)
            return np.asarray(v, dtype=np.float32)
        finally:
            model.max_seq_length = old

    return encode


def subsample(pseudo: PseudoQuerySet, max_passages: int, seed: int = 0) -> PseudoQuerySet:
    """At most `max_passages` passages: the queries' files first, then random distractors.

    Keeps the cost of scoring each candidate bounded on large corpora; queries
    whose file lost all its passages are dropped.
    """
    if len(pseudo.passages) <= max_passages:
        return pseudo
    rng = np.random.default_rng(seed)
    wanted = {g for _, g in pseudo.queries}
    order = rng.permutation(len(pseudo.passages)).tolist()
    first = [i for i in order if pseudo.passages[i][0] in wanted]
    rest = [i for i in order if pseudo.passages[i][0] not in wanted]
    # at most half of the budget for relevant files, so there are distractors
    keep = first[: max(max_passages // 2, max_passages - len(rest))]
    keep += rest[: max_passages - len(keep)]
    keep.sort()
    passages = [pseudo.passages[i] for i in keep]
    present = {g for g, _ in passages}
    return PseudoQuerySet([(q, g) for q, g in pseudo.queries if g in present], passages)


def _per_query(ranks: np.ndarray, metric: str) -> np.ndarray:
    """Per-query values of `metric` ("ndcg@k", "mrr@k" or "recall@k") from `relevant_ranks`."""
    name, _, kk = metric.partition("@")
    k = int(kk) if kk else 10
    r = np.asarray(ranks, dtype=np.float64)
    hit = (r >= 1) & (r <= k)
    if name == "ndcg":
        return per_query_ndcg(r, k)
    if name == "mrr":
        return np.where(hit, 1.0 / np.maximum(r, 1), 0.0)
    if name == "recall":
        return hit.astype(np.float64)
    raise ValueError(f"unknown metric {metric!r}")


def clearly_better(a: np.ndarray, b: np.ndarray, margin: float, z: float = 2.0) -> bool:
    """Paired test on per-query values: the mean gain of `a` over `b` exceeds both `margin` and
    `z` standard errors of that mean."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(d) < 2:
        return False
    se = float(np.std(d, ddof=1) / math.sqrt(len(d)))
    return float(np.mean(d)) > max(margin, z * se)


def decide_alpha(values: Mapping[float, np.ndarray], preferred: float, margin: float = 0.005,
                 hybrid: Mapping[float, np.ndarray] | None = None) -> tuple[float, str]:
    """The rule of `choose_alpha` on per-query values (alpha -> [Q] array, 0.0 = the base):
    (chosen alpha, why). `preferred` must be one of the non-zero alphas. With `hybrid` (the same
    per-query values of the hybrid built on each candidate), a weight whose hybrid scores more
    than `margin` below the base's hybrid is not chosen: a smaller weight that passes both is,
    else the base."""

    def mean(a: float, of: Mapping[float, np.ndarray] = values) -> float:
        return float(np.mean(of[a]))

    nonzero = sorted(a for a in values if a > 0.0)
    choice, reason = preferred, f"preferred weight {preferred:g}"
    better = [a for a in nonzero if a != preferred and clearly_better(values[a], values[preferred], margin)]
    if better:
        choice = max(better, key=mean)
        reason = f"{choice:g} clearly beat {preferred:g}"
    if mean(choice) <= mean(0.0):
        smaller = [a for a in nonzero if a < choice and mean(a) > mean(0.0)]
        if smaller:
            choice = max(smaller, key=mean)
            reason = f"{choice:g}: only smaller weights beat the base"
        else:
            # the base's lead must be clear too: on 200 pseudo-queries (Cranfield, seed 2) it led
            # 0.3 by 0.59 points at a standard error of 0.57, and 0.3 gained +1.15 on the test queries
            step = nonzero[0]
            if not np.any(np.asarray(values[step]) != np.asarray(values[0.0])):
                return 0.0, "no weight changed a result: base kept"
            if clearly_better(values[0.0], values[step], margin):
                return 0.0, f"no weight beat the base, and the base clearly beat {step:g}: base kept"
            choice = step
            reason = f"{step:g}: no weight beat the base, but the base was not clearly better (the smallest step)"
    # the hybrid may not fall more than `margin` below the base's: smaller drops are the noise of
    # easy queries (SciFact: 0.04-0.18 points), and stepping back for them cost real dense gains
    floor = mean(0.0, hybrid) - margin if hybrid is not None else 0.0
    if hybrid is not None and mean(choice, hybrid) < floor:
        safe = [a for a in nonzero if a < choice and mean(a) > mean(0.0) and mean(a, hybrid) >= floor]
        drop = f"by more than {margin * 100:g} points"
        if not safe:
            return 0.0, f"{choice:g} beat the base, but its hybrid fell below the base's hybrid {drop}: base kept"
        picked = max(safe, key=mean)
        return picked, f"{picked:g}: at {choice:g} the hybrid fell below the base's hybrid {drop}"
    return choice, reason


def choose_alpha(
    base: Any,
    trained_state: Mapping[str, Any],
    pseudo: PseudoQuerySet,
    candidates: Sequence[float] = (0.0, 0.3, 0.5, 0.7),
    *,
    preferred: float = 0.5,
    metric: str = "ndcg@10",
    margin: float = 0.005,
    device: str = "cpu",
    batch_size: int = 32,
    max_seq_length: int | None = 128,
    max_passages: int = 1000,
    seed: int = 0,
    check_hybrid: bool = True,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[dict], None] | None = None,
) -> AlphaSelection:
    """Choose the interpolation weight on pseudo-queries, starting from `preferred`.

    `base` is a model folder or a loaded SentenceTransformer (its weights are
    restored afterwards). Each candidate is scored on the same pseudo-queries;
    then, per query (paired):

    1. start from `preferred` (0.5: the weight that helped on every corpus in
       TRAINING.md and in this project's SciFact runs; larger weights scored
       worse on the test queries even when the pseudo-queries favoured them);
    2. move to another candidate only when it is *clearly* better than that
       (mean gain above `margin` and two standard errors): pseudo-queries are
       easy (nDCG@10 around 0.9) and reward every step away from the base, so
       small differences between weights are noise;
    3. when the choice does not beat the base, take the best smaller weight
       that does; when none does, keep the base model (alpha = 0.0) only if it
       is *clearly* better than the smallest weight (the same paired test), and
       take the smallest weight otherwise: interpolating helped on every corpus
       measured, and a lead of the base within the noise is no evidence against it;
    4. with `check_hybrid`, also score the hybrid (a BM25 over the same passages
       fused with each candidate, as the app fuses them): a weight whose hybrid
       falls more than `margin` below the base's hybrid gives way to a smaller weight that passes
       both tests, or to the base. Most people search with the hybrid, and a
       dense gain can come with a hybrid loss (Cranfield, README).

    Raises InterruptedError if `should_stop()` turns True.
    """
    import torch

    from .checkpoints import load_model
    from .interpolation import interpolate_state

    cands = sorted({0.0, *(float(a) for a in candidates)})
    nonzero = [a for a in cands if a > 0.0]
    if not nonzero:
        return AlphaSelection(0.0, {}, metric, margin, preferred, "no candidates")
    pref = min(nonzero, key=lambda a: (abs(a - preferred), a))
    if len(pseudo) == 0:
        return AlphaSelection(0.0, {}, metric, margin, pref, "no pseudo-queries")
    pseudo = subsample(pseudo, max_passages, seed)
    model = base if not isinstance(base, (str, os.PathLike)) else load_model(base, device)
    base_state = {key: v.detach().to("cpu").clone() for key, v in model.state_dict().items()}
    k = int(metric.split("@")[1]) if "@" in metric else 10
    results: dict[float, dict[str, float]] = {}
    values: dict[float, np.ndarray] = {}
    hybrid_values: dict[float, np.ndarray] = {}
    lexical = lexical_group_scores(pseudo, sorted({g for g, _ in pseudo.passages})) if check_hybrid else None
    was_training = model.training
    model.eval()
    try:
        for a in cands:
            if should_stop is not None and should_stop():
                raise InterruptedError("alpha selection cancelled")
            model.load_state_dict(interpolate_state(base_state, trained_state, a), strict=True)
            with torch.no_grad():
                ranks, hybrid_ranks = _encode_ranks(model_encoder(model, batch_size, max_seq_length), pseudo, lexical)
            results[a] = metrics_from_ranks(ranks, k)
            values[a] = _per_query(ranks, metric)
            if hybrid_ranks is not None:
                results[a].update({f"hybrid_{m}": v for m, v in metrics_from_ranks(hybrid_ranks, k).items()
                                   if m != "n_queries"})
                hybrid_values[a] = _per_query(hybrid_ranks, metric)
            if progress is not None:
                progress({"event": "alpha_metrics", "alpha": a, "metrics": results[a]})
    finally:
        model.load_state_dict(base_state, strict=True)
        model.train(was_training)

    choice, reason = decide_alpha(values, pref, margin, hybrid_values if check_hybrid else None)
    return AlphaSelection(choice, results, metric, margin, pref, reason)
