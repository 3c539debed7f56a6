"""Training from the library end to end (real model, a few steps): version, re-embedding, compare, rollback."""

from __future__ import annotations

import json

import pytest

from conftest import NATURE_TOPICS, run
from desktop_search.entry import main
from desktop_search.service import SearchService

pytestmark = pytest.mark.model

TOPICS = NATURE_TOPICS

TINY = {"steps": 3, "batch_size": 4, "max_crop_tokens": 16, "n_positives": 2, "checkpoint_every": 0,
        "min_passage_tokens": 4}


@pytest.fixture
def library(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TOPICS.items():
        (docs / f"{name}.txt").write_text((text + " ") * 3)
    svc = SearchService(tmp_path / "data")
    run(svc.index([docs]))
    yield svc
    svc.close()


def test_train_makes_a_version_that_searches_and_rolls_back(library):
    svc = library
    base_key = svc.encoder.key
    last = run(svc.train({**TINY, "interpolation_alpha": 0.5}, select_alpha=False))
    vid = last.stats["version"]
    assert vid and last.stats["alpha"] == 0.5
    assert svc.versions.active_id() == vid
    enc = svc.encoder
    assert enc.key != base_key
    n_chunks = svc.store.counts()["chunks"]
    assert svc.store.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (enc.key,)).fetchone()[0] == n_chunks
    # the adapted model still finds the right file, and differs from the base
    assert svc.search("ice sliding down a valley", "dense", k=1)[0].name == "glacier.txt"
    base_vec = svc.encoder_for("base").encode(["lava"])[0]
    new_vec = enc.encode(["lava"])[0]
    assert abs(float(base_vec @ new_vec)) < 0.99999
    res = svc.compare("ice sliding down a valley", ["dense"], k=3, columns={"dense:base": "dense:base"})
    assert set(res["columns"]) == {"dense", "dense:base"}
    svc.rollback()
    assert svc.versions.active_id() == "base" and svc.encoder.key == base_key
    svc.delete_version(vid)
    assert svc.store.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (enc.key,)).fetchone()[0] == 0
    assert [v.id for v in svc.versions.list()] == []


def test_alpha_zero_is_the_base_model_exactly(library):
    import torch
    from safetensors.torch import load_file

    from training.trainer import interpolate, load_trained_state

    svc = library
    run(svc.train({**TINY, "interpolation_alpha": 0.5}, select_alpha=False, activate=False, embed=False))
    trained = load_trained_state(svc.data_dir / "training" / "work")
    model = interpolate(svc.base_model_path(), trained, 0.0)
    base = load_file(f"{svc.base_model_path()}/model.safetensors")
    state = model[0].auto_model.state_dict()
    for name, tensor in base.items():
        key = name if name in state else name.split(".", 1)[-1]
        if key in state:
            assert torch.equal(state[key].cpu(), tensor), name


def test_models_cli(library, capsys):
    svc = library
    run(svc.train({**TINY, "interpolation_alpha": 0.3}, select_alpha=False, activate=False))
    vid = svc.versions.list()[0].id
    data = str(svc.data_dir)
    capsys.readouterr()
    assert main(["--data-dir", data, "models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["base", vid] and rows[0]["active"]
    assert main(["--data-dir", data, "models", "activate", vid, "--json"]) == 0
    assert main(["--data-dir", data, "models", "rollback", "--json"]) == 0
    assert main(["--data-dir", data, "models", "delete", "nope", "--json"]) == 2
