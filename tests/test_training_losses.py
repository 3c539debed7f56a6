"""training.losses on hand-made tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.losses import (
    RELEVANCE_EPS,
    MoCoQueue,
    contrastive_loss,
    momentum_update,
    multi_positive_info_nce,
    pair_passage_loss,
    relevance_weights,
)

T = 0.5


def toy() -> tuple[torch.Tensor, torch.Tensor]:
    """B = 2 anchors, n = 2 positives each, D = 2; unit vectors, so cosine = dot.

    p00 and p01 are identical: if siblings were negatives, row (0, 0) would see
    its own target a second time.
    """
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positives = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.6, 0.8]]])
    return anchor, positives


def nce(target: float, negatives: list[float]) -> float:
    """-log softmax of the target logit among target + negatives (similarities, divided by T here)."""
    num = math.exp(target / T)
    return -math.log(num / (num + sum(math.exp(s / T) for s in negatives)))


def expected_lq(weights: list[list[float]], queue_sims: list[float] | None = None) -> float:
    extra0 = [queue_sims[0]] if queue_sims else []
    extra1 = [queue_sims[1]] if queue_sims else []
    ce = [
        # anchor 0 = (1, 0): candidates p10 = 0, p11 = 0.6; sibling masked
        [nce(1.0, [0.0, 0.6] + extra0), nce(1.0, [0.0, 0.6] + extra0)],
        # anchor 1 = (0, 1): candidates p00 = 0, p01 = 0; sibling masked
        [nce(1.0, [0.0, 0.0] + extra1), nce(0.8, [0.0, 0.0] + extra1)],
    ]
    return sum(sum(w * c for w, c in zip(wr, cr)) for wr, cr in zip(weights, ce)) / 2


def test_sibling_masking_matches_hand_computed_uniform() -> None:
    anchor, positives = toy()
    loss, stats = multi_positive_info_nce(anchor, positives, temperature=T, weighting="uniform")
    assert loss.item() == pytest.approx(expected_lq([[0.5, 0.5], [0.5, 0.5]]), rel=1e-5)
    assert 0.0 <= stats["accuracy"] <= 1.0


def test_relevance_weighting_matches_hand_computed() -> None:
    anchor, positives = toy()
    loss, _ = multi_positive_info_nce(anchor, positives, temperature=T, weighting="relevance")
    w = [[0.5, 0.5], [1.0 / 1.8, 0.8 / 1.8]]  # sims (1, 1) and (1, 0.8), normalised per anchor
    assert loss.item() == pytest.approx(expected_lq(w), rel=1e-5)


def test_queue_adds_negatives() -> None:
    anchor, positives = toy()
    queue = torch.tensor([[0.0, 1.0]])  # sim 0 with anchor 0, 1 with anchor 1
    loss, _ = multi_positive_info_nce(anchor, positives, temperature=T, weighting="uniform", queue=queue)
    assert loss.item() == pytest.approx(expected_lq([[0.5, 0.5], [0.5, 0.5]], [0.0, 1.0]), rel=1e-5)
    plain, _ = multi_positive_info_nce(anchor, positives, temperature=T, weighting="uniform")
    assert loss.item() > plain.item()
    empty, _ = multi_positive_info_nce(anchor, positives, temperature=T, weighting="uniform", queue=torch.zeros(0, 2))
    assert empty.item() == pytest.approx(plain.item())


def test_aligned_pairs_have_lower_loss_than_shuffled() -> None:
    g = torch.Generator().manual_seed(0)
    B, n, D = 8, 4, 16
    anchor = torch.randn(B, D, generator=g)
    positives = anchor.unsqueeze(1) + 0.1 * torch.randn(B, n, D, generator=g)
    shuffled = positives[torch.roll(torch.arange(B), 1)]
    for weighting in ("relevance", "uniform"):
        aligned_loss, aligned_stats = multi_positive_info_nce(anchor, positives, weighting=weighting)
        shuffled_loss, _ = multi_positive_info_nce(anchor, shuffled, weighting=weighting)
        assert aligned_loss.item() < 0.1 < shuffled_loss.item()
        assert aligned_stats["accuracy"] == 1.0


def test_relevance_weights_are_normalised_detached_sims() -> None:
    g = torch.Generator().manual_seed(1)
    anchor = torch.randn(3, 5, generator=g).requires_grad_()
    positives = (anchor.detach().unsqueeze(1) + 0.5 * torch.randn(3, 4, 5, generator=g)).requires_grad_()
    w = relevance_weights(anchor, positives)
    assert not w.requires_grad
    sims = torch.einsum("bd,bnd->bn", F.normalize(anchor, dim=-1), F.normalize(positives, dim=-1)).detach()
    sims = sims.clamp_min(RELEVANCE_EPS)
    assert torch.allclose(w, sims / sims.sum(1, keepdim=True), atol=1e-6)
    assert torch.allclose(w.sum(1), torch.ones(3))
    # normalize=False: raw dot products
    w_dot = relevance_weights(anchor, positives, normalize=False)
    dots = torch.einsum("bd,bnd->bn", anchor, positives).detach().clamp_min(RELEVANCE_EPS)
    assert torch.allclose(w_dot, dots / dots.sum(1, keepdim=True), atol=1e-6)


def test_relevance_weights_clamp_negative_sims() -> None:
    anchor = torch.tensor([[1.0, 0.0]])
    positives = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])  # sims 1 and -1
    w = relevance_weights(anchor, positives)
    assert (w > 0).all() and w[0, 1].item() == pytest.approx(RELEVANCE_EPS / (1 + RELEVANCE_EPS))
    all_negative = relevance_weights(anchor, -positives.abs())
    assert torch.allclose(all_negative, torch.full((1, 2), 0.5))


def test_no_gradient_flows_through_relevance_weights() -> None:
    """The loss gradient equals that of sum(w.detach() * CE): weights act as constants."""
    g = torch.Generator().manual_seed(2)
    B, n, D = 3, 2, 4
    a0 = torch.randn(B, D, generator=g)
    p0 = a0.unsqueeze(1) + 0.7 * torch.randn(B, n, D, generator=g)

    a, p = a0.clone().requires_grad_(), p0.clone().requires_grad_()
    loss, _ = multi_positive_info_nce(a, p, temperature=T, weighting="relevance")
    ga, gp = torch.autograd.grad(loss, (a, p))

    a2, p2 = a0.clone().requires_grad_(), p0.clone().requires_grad_()
    an, pn = F.normalize(a2, dim=-1), F.normalize(p2, dim=-1)
    logits = an @ pn.reshape(B * n, D).T / T  # [B, B*n]
    ce = torch.zeros(B, n)
    for i in range(B):
        for j in range(n):
            row = logits[i].clone()
            for k in range(n):
                if k != j:
                    row[i * n + k] = float("-inf")
            ce[i, j] = F.cross_entropy(row.unsqueeze(0), torch.tensor([i * n + j]))
    w = relevance_weights(a0, p0)
    manual = (w * ce).sum(1).mean()
    ga2, gp2 = torch.autograd.grad(manual, (a2, p2))
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    assert torch.allclose(ga, ga2, atol=1e-5) and torch.allclose(gp, gp2, atol=1e-5)


def test_uniform_mode_is_plain_mean_of_pair_losses() -> None:
    anchor, positives = toy()
    loss_u, stats = multi_positive_info_nce(anchor, positives, temperature=T, weighting="uniform")
    assert stats["weight_entropy"] == pytest.approx(math.log(2), rel=1e-5)
    with pytest.raises(ValueError):
        multi_positive_info_nce(anchor, positives, weighting="bogus")  # type: ignore[arg-type]


def test_pair_passage_term_matches_hand_computed() -> None:
    anchor, positives = toy()
    loss_p, _ = pair_passage_loss(anchor, positives, temperature=T, weighting="uniform")
    expected = (
        0.5 * (nce(1.0, [0.0, 0.6]) + nce(1.0, [0.0, 0.6]))  # p00, p01 vs other unit's p10, p11
        + 0.5 * (nce(1.0, [0.0, 0.0]) + nce(0.8, [0.6, 0.6]))  # p10, p11 vs p00, p01
    ) / 2
    assert loss_p.item() == pytest.approx(expected, rel=1e-5)


def test_pair_combination() -> None:
    anchor, positives = toy()
    plain, _ = multi_positive_info_nce(anchor, positives, temperature=T)
    lp, _ = pair_passage_loss(anchor, positives, temperature=T)
    off, stats = contrastive_loss(anchor, positives, temperature=T, pair_alpha=0.0)
    assert off.item() == plain.item() and "loss_p" not in stats
    mixed, stats = contrastive_loss(anchor, positives, temperature=T, pair_alpha=0.1)
    assert mixed.item() == pytest.approx(0.9 * plain.item() + 0.1 * lp.item(), rel=1e-6)
    assert stats["loss"] == pytest.approx(mixed.item())


def test_moco_queue_ring_buffer() -> None:
    q = MoCoQueue(4, 2)
    assert q.tensor() is None and len(q) == 0
    q.enqueue(torch.tensor([[1.0, 0], [2, 0], [3, 0]]))
    assert q.tensor().shape == (3, 2)
    q.enqueue(torch.tensor([[4.0, 0], [5, 0], [6, 0]]))  # wraps around
    assert len(q) == 4 and q.ptr == 2
    assert sorted(q.tensor()[:, 0].tolist()) == [3, 4, 5, 6]
    q.enqueue(torch.arange(10, dtype=torch.float32).view(5, 2))  # more than the size: newest 4 stay
    assert sorted(q.tensor()[:, 0].tolist()) == [2, 4, 6, 8]
    restored = MoCoQueue(4, 2)
    restored.load_state_dict(q.state_dict())
    assert torch.equal(restored.tensor(), q.tensor()) and restored.ptr == q.ptr
    keys = torch.ones(2, 2, requires_grad=True)
    q.enqueue(keys * 2)
    assert not q.keys.requires_grad


def test_momentum_update() -> None:
    torch.manual_seed(0)
    mq, mk = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = mk.weight.detach().clone()
    momentum_update(mq, mk, 0.9)
    assert torch.allclose(mk.weight, 0.9 * before + 0.1 * mq.weight.detach())
    momentum_update(mq, mk, 0.0)
    assert torch.equal(mk.weight, mq.weight)
