"""training.versions: the model version store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.versions import BASE, VersionError, VersionStore


def fake_model(folder: Path, marker: str = "x") -> Path:
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    (folder / "model.safetensors").write_text(marker, encoding="utf-8")
    return folder


def test_empty_store_is_on_base(tmp_path: Path) -> None:
    store = VersionStore(tmp_path, base_model="/models/minilm")
    assert store.list() == []
    assert store.active_id() == BASE
    active = store.active()
    assert active.is_base and active.path == Path("/models/minilm")


def test_create_list_get(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    v1 = store.create(fake_model(tmp_path / "src1"), {"config": {"steps": 3}, "base_model": "b", "alpha": 0.5}, {"ndcg@10": 0.4})
    v2 = store.create(fake_model(tmp_path / "src2"), {"alpha": 0.3})
    assert v1.id.startswith("v1-") and v2.id.startswith("v2-")
    assert [v.id for v in store.list()] == [v1.id, v2.id]
    got = store.get(v1.id)
    assert got.settings["alpha"] == 0.5 and got.settings["config"] == {"steps": 3}
    assert got.metrics == {"ndcg@10": 0.4} and got.created
    assert (got.path / "model.safetensors").read_text() == "x"
    assert json.loads((got.path / "settings.json").read_text())["base_model"] == "b"
    assert (tmp_path / "src1").exists()  # copied, not moved
    assert store.active_id() == BASE  # creating does not activate


def test_create_move_and_activate(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    v = store.create(fake_model(tmp_path / "src"), {}, move=True, activate=True)
    assert not (tmp_path / "src").exists()
    assert store.active_id() == v.id
    state = json.loads((tmp_path / "models" / "versions.json").read_text())
    assert state["active"] == v.id


def test_create_rejects_non_model_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(VersionError):
        VersionStore(tmp_path).create(tmp_path / "empty", {})


def test_activate_rollback_delete(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    v1 = store.create(fake_model(tmp_path / "a"), {})
    v2 = store.create(fake_model(tmp_path / "b"), {})
    store.activate(v2.id)
    assert store.active().id == v2.id
    with pytest.raises(VersionError):
        store.delete(v2.id)  # active
    with pytest.raises(VersionError):
        store.delete(BASE)
    store.delete(v1.id)
    assert [v.id for v in store.list()] == [v2.id]
    assert store.rollback().is_base
    assert store.active_id() == BASE
    store.delete(v2.id)
    assert store.list() == []
    v3 = store.create(fake_model(tmp_path / "c"), {})
    assert v3.id.startswith("v1-")  # numbering restarts only when nothing is left


def test_unknown_ids(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    for bad in ("v9-20240101-000000", "../etc", "nope"):
        with pytest.raises(VersionError):
            store.get(bad)
        with pytest.raises(VersionError):
            store.activate(bad)


def test_state_survives_reopen_and_missing_folder_falls_back(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    v = store.create(fake_model(tmp_path / "a"), {}, activate=True)
    assert VersionStore(tmp_path).active_id() == v.id
    import shutil

    shutil.rmtree(v.path)
    assert VersionStore(tmp_path).active_id() == BASE


def test_damaged_state_file_reads_as_base(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    store.create(fake_model(tmp_path / "a"), {}, activate=True)
    (tmp_path / "models" / "versions.json").write_text("{not json", encoding="utf-8")
    assert store.active_id() == BASE


def test_unfinished_folders_are_ignored(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    (tmp_path / "models" / ".tmp-1234").mkdir(parents=True)
    (tmp_path / "models" / "v5-20240101-000000").mkdir()  # no settings.json
    assert store.list() == []
    v = store.create(fake_model(tmp_path / "a"), {})
    assert v.id.startswith("v6-")  # never reuses a number that exists on disk


def test_update_metrics(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    v = store.create(fake_model(tmp_path / "a"), {}, {"selection": 1})
    assert store.update_metrics(v.id, {"beir": 2}).metrics == {"selection": 1, "beir": 2}
    with pytest.raises(VersionError):
        store.update_metrics(BASE, {})
