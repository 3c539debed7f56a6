"""Few-shot adaptation: the supervised term, the pair sampler, the folds, and a real run that
moves a marked passage up for its query."""

from __future__ import annotations

import pytest
import torch

from conftest import NATURE_TOPICS, run
from desktop_search.jobs.training import K_FOLDS, export_judgments, folds_of
from training.supervised import JudgedPair, PairSampler, TokenizedPair, supervised_info_nce


def test_supervised_loss_prefers_the_marked_passage_and_uses_hard_negatives():
    torch.manual_seed(0)
    q = torch.randn(4, 8)
    good = supervised_info_nce(q, q + 0.01 * torch.randn(4, 8), 0.05)[0]
    bad = supervised_info_nce(q, torch.randn(4, 8), 0.05)[0]
    assert good < bad
    # a hard negative close to the query raises the loss; the same file's other pair is no negative
    hard = q[:1] + 0.001
    assert supervised_info_nce(q, q * 0.9, 0.05, hard=hard)[0] > supervised_info_nce(q, q * 0.9, 0.05)[0]
    same = supervised_info_nce(q, q[[0, 0, 2, 3]], 0.05, groups=["a", "a", "c", "d"])[0]
    assert torch.isfinite(same)
    loss, stats = supervised_info_nce(q, q, 0.05, queue=torch.randn(16, 8))
    assert loss.requires_grad is False and 0.0 <= stats["sup_accuracy"] <= 1.0


def test_pair_sampler_is_deterministic_and_draws_hard_negatives():
    pairs = [TokenizedPair([i], [100 + i], f"g{i % 5}", [[200 + i]] if i % 2 else []) for i in range(12)]
    s = PairSampler(pairs, 4, seed=1)
    a, b = s.batch(3), PairSampler(pairs, 4, seed=1).batch(3)
    assert a.queries == b.queries and len(a.queries) == 4
    assert len(set(a.groups)) == len(a.groups)  # no two pairs of one file in a step
    assert all(a.queries[row] == [h[0] - 200] for row, h in zip(a.hard_owner, a.hard))
    seen = {tuple(q) for step in range(12) for q in s.batch(step).queries}
    assert len(seen) == 12  # every pair comes round


def test_folds_hold_out_judged_queries_from_training(service, corpus, tmp_path):
    run(service.index([corpus]))
    docs = service.files()
    queries = [f"question {i}" for i in range(20)]
    for i, q in enumerate(queries):
        service.mark(q, docs[i % len(docs)].id, 1)
        service.mark(q, docs[(i + 1) % len(docs)].id, 0)
    out = export_judgments(service.store, tmp_path, held_out_fold=2)
    fold = folds_of(queries)
    assert set(out["held_out"]) == {q for q in queries if fold[q] == 2} and len(out["held_out"]) == 4
    assert set(out["trained_on"]) == set(queries) - set(out["held_out"]) and out["k_folds"] == K_FOLDS
    from training.supervised import read_pairs

    pairs = read_pairs(out["pairs_file"])
    assert {p.query for p in pairs} == set(out["trained_on"])  # nothing held out is trained on
    assert all(len(p.negatives) == 1 for p in pairs)  # the not-relevant mark is a hard negative
    assert isinstance(pairs[0], JudgedPair)


def test_folds_are_balanced_and_never_empty():
    for n in (5, 8, 9, 32, 128):
        qs = [f"what is topic {i}?" for i in range(n)]
        sizes = sorted(list(folds_of(qs).values()).count(f) for f in range(K_FOLDS))
        assert sizes[0] >= 1 and sizes[-1] - sizes[0] <= 1
    assert folds_of(["a", "b", "c"]) == folds_of(["c", "b", "a"])  # order of arrival does not matter


TOPICS = NATURE_TOPICS


@pytest.mark.model
def test_a_short_few_shot_run_moves_the_marked_file_up(tmp_path):
    from desktop_search.service import SearchService

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TOPICS.items():
        (docs / f"{name}.txt").write_text((text + " ") * 3)
    with SearchService(tmp_path / "data") as svc:
        run(svc.index([docs]))
        q = "frozen ground"
        before = [h.name for h in svc.search(q, "dense", k=6)]
        assert before[0] != "tundra.txt"
        hits = {h.name: h for h in svc.search(q, "dense", k=6)}
        svc.mark(q, hits["tundra.txt"].doc_id, 1, retriever="dense", chunk_id=hits["tundra.txt"].chunk_id)
        svc.mark(q, hits[before[0]].doc_id, 0, retriever="dense", chunk_id=hits[before[0]].chunk_id)
        for other in ("cold place with moss", "ice that moves", "melted rock", "reef animals", "where lichens grow"):
            h = svc.search(other, "dense", k=1)[0]
            svc.mark(other, h.doc_id, 1, retriever="dense", chunk_id=h.chunk_id)
        tiny = {"steps": 12, "batch_size": 4, "max_crop_tokens": 16, "n_positives": 2, "checkpoint_every": 0,
                "min_passage_tokens": 4, "lr": 1e-4, "supervised_weight": 2.0, "supervised_batch": 4,
                "interpolation_alpha": 1.0}
        last = run(svc.train(tiny, select_alpha=False))
        vid = last.stats["version"]
        assert last.stats["judged"]["pairs"] >= 1
        settings = svc.versions.get(vid).settings
        assert q in settings["trained_on_queries"]
        assert not set(settings["trained_on_queries"]) & set(settings["held_out_queries"])
        after = [h.name for h in svc.search(q, "dense", k=6)]
        assert after.index("tundra.txt") < before.index("tundra.txt")


def test_runs_without_marks_keep_their_identity():
    from training.config import TrainConfig
    from training.trainer import pairs_fingerprint

    cfg = TrainConfig()
    assert "supervised_weight" not in cfg.training_key()  # older checkpoints and finished runs still match
    assert pairs_fingerprint(cfg, []) == ""
    pair = [JudgedPair("q", "passage", "1")]
    a = pairs_fingerprint(cfg, pair)
    assert a and a != pairs_fingerprint(cfg.replace(supervised_weight=0.5), pair)
    assert pairs_fingerprint(cfg.replace(supervised_weight=0.0), pair) == ""


def test_alpha_is_chosen_on_held_out_judged_queries_from_twenty_starting_at_0_7():
    from training.run import MIN_JUDGED_FOR_SELECTION, PREFERRED_ON_JUDGED, selection_queries

    passages = [(str(i), f"passage {i} about topic {i % 7} with some words") for i in range(60)]
    titles = {str(i): f"Title {i}" for i in range(60)}
    judged = [(f"question {i}", [str(i), "not-a-passage"]) for i in range(MIN_JUDGED_FOR_SELECTION)]
    qs, on, preferred = selection_queries(judged, passages, titles)
    assert (on, preferred) == ("judged", PREFERRED_ON_JUDGED) and PREFERRED_ON_JUDGED == 0.7
    assert sorted(qs.queries) == sorted((f"question {i}", str(i)) for i in range(MIN_JUDGED_FOR_SELECTION))
    qs, on, preferred = selection_queries(judged[:-1], passages, titles)
    assert (on, preferred) == ("pseudo", 0.5) and not {q for q, _ in qs.queries} & {q for q, _ in judged}
