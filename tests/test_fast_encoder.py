"""The fast encoder: its export cache, the fallback to torch when an export fails, int8 vector keys.

The fast tests fake the exporter (no model is loaded); those marked `model` export the bundled
model for real into a temporary cache and compare with torch."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import run
from desktop_search import export_cache, onnx_export
from desktop_search.export_cache import find_export, recorded_failure
from desktop_search.onnx_export import ExportError, ensure_export
from desktop_search.retrievers import fast_encoder
from desktop_search.retrievers.encoder import HashingEncoder, SentenceTransformerEncoder
from desktop_search.retrievers.fast_encoder import INT8_SUFFIX, key_for, plan_backend


@pytest.fixture(autouse=True)
def exports_dir(tmp_path, monkeypatch):
    cache = tmp_path / "exports"
    monkeypatch.setenv("DESKTOP_SEARCH_EXPORTS", str(cache))
    monkeypatch.delenv("DESKTOP_SEARCH_ENCODER", raising=False)
    return cache


def model_folder(root, name="tiny-model", weights=b"w" * 10):
    d = root / name
    d.mkdir(parents=True)
    (d / "modules.json").write_text("[]", encoding="utf-8")
    (d / "config.json").write_text("{}", encoding="utf-8")
    (d / "model.safetensors").write_bytes(weights)
    return d


class FakeExporter:
    """Stands in for _export_into: writes what a successful export writes, and counts calls."""

    def __init__(self, fail: Exception | None = None, int8_error: str | None = None):
        self.calls = 0
        self.fail = fail
        self.int8_error = int8_error

    def __call__(self, model_dir, out, *, int8):
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        out.mkdir(parents=True)
        (out / export_cache.FP32_FILE).write_bytes(b"graph")
        int8_variant = {"file": export_cache.INT8_FILE, "min_cosine": 0.99}
        if self.int8_error:
            int8_variant["error"] = self.int8_error
        else:
            (out / export_cache.INT8_FILE).write_bytes(b"graph8")
        meta = {"format": export_cache.FORMAT, "source": str(model_dir), "fingerprint": export_cache.fingerprint(model_dir),
                "inputs": ["input_ids", "attention_mask"], "max_seq_length": 128, "dim": 8, "pad_id": 0,
                "pad_token": "[PAD]", "versions": export_cache.tool_versions(),
                "variants": {"fp32": {"file": export_cache.FP32_FILE, "min_cosine": 1.0}, "int8": int8_variant}}
        (out / export_cache.META).write_text(json.dumps(meta), encoding="utf-8")
        return meta


# -- the export cache ------------------------------------------------------------------------
def test_export_is_made_once_and_found_again(tmp_path, exports_dir, monkeypatch):
    fake = FakeExporter()
    monkeypatch.setattr(onnx_export, "_export_into", fake)
    model = model_folder(tmp_path)
    assert find_export(model) is None
    first = ensure_export(model)
    again = ensure_export(model)
    assert fake.calls == 1
    assert first.folder == again.folder and first.folder.parent == exports_dir
    assert first.file("fp32").read_bytes() == b"graph" and first.file("int8") is not None
    assert first.dim == 8 and first.max_seq_length == 128 and first.problem("int8") is None
    assert not list(exports_dir.glob(".*tmp-*")), "the temporary folder was renamed into place"


def test_changed_model_gets_a_new_export(tmp_path, monkeypatch):
    fake = FakeExporter()
    monkeypatch.setattr(onnx_export, "_export_into", fake)
    model = model_folder(tmp_path)
    old = ensure_export(model).folder
    (model / "model.safetensors").write_bytes(b"new weights, another size")
    assert find_export(model) is None, "an export of other weights must not be used"
    new = ensure_export(model).folder
    assert fake.calls == 2 and new != old
    assert not old.exists(), "the stale export of the same folder is deleted"
    gone = model_folder(tmp_path, "gone-model")
    gone_export = ensure_export(gone).folder
    import shutil

    shutil.rmtree(gone)
    ensure_export(model_folder(tmp_path, "third-model"))
    assert not gone_export.exists() and new.exists(), "exports of deleted folders go, others stay"


def test_each_model_and_trained_version_has_its_own_export(tmp_path, exports_dir, monkeypatch):
    monkeypatch.setattr(onnx_export, "_export_into", FakeExporter())
    a = model_folder(tmp_path, "model-a")
    b = model_folder(tmp_path, "model-b")
    version = model_folder(tmp_path / "data" / "models", "v1-20260101-000000")
    (version / "settings.json").write_text("{}", encoding="utf-8")
    (version / "metrics.json").write_text("{}", encoding="utf-8")
    ea, eb, ev = ensure_export(a), ensure_export(b), ensure_export(version)
    assert len({ea.folder, eb.folder, ev.folder}) == 3
    assert ev.folder == version / "export", "a version's export lives (and is deleted) with it"
    (version / "metrics.json").write_text('{"ndcg": 0.7}', encoding="utf-8")  # training rewrites metrics
    assert find_export(version) is not None


# -- failures and the fallback to torch -------------------------------------------------------
def test_failed_export_is_recorded_and_not_retried(tmp_path, monkeypatch):
    fake = FakeExporter(fail=RuntimeError("tracer exploded"))
    monkeypatch.setattr(onnx_export, "_export_into", fake)
    model = model_folder(tmp_path)
    with pytest.raises(ExportError, match="tracer exploded"):
        ensure_export(model)
    assert "tracer exploded" in recorded_failure(model)
    with pytest.raises(ExportError, match="tracer exploded"):
        ensure_export(model)
    assert fake.calls == 1, "the second start fails fast from the record"
    assert plan_backend(str(model), "openvino") == "torch"
    assert plan_backend(str(model), "auto") == "torch"
    # new tools: worth another try
    monkeypatch.setattr(export_cache, "tool_versions", lambda: {"torch": "99"})
    assert recorded_failure(model) is None
    fake.fail = None
    assert ensure_export(model).file("fp32") is not None and fake.calls == 2


class FakeTorchModel:
    """What _load returns in these tests: a sentence-transformers stand-in."""

    max_seq_length = 64

    class device:
        type = "cpu"

    def get_embedding_dimension(self):
        return 4

    def encode(self, texts, **kw):
        return np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(texts), 1))


@pytest.mark.parametrize("backend", ["openvino", "onnx", "int8"])
def test_encoder_falls_back_to_torch_when_the_export_fails(tmp_path, monkeypatch, backend):
    monkeypatch.setattr(onnx_export, "_export_into", FakeExporter(fail=RuntimeError("no exporter here")))
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    monkeypatch.setattr(SentenceTransformerEncoder, "_load", lambda self: FakeTorchModel())
    model = model_folder(tmp_path)
    enc = SentenceTransformerEncoder(str(model), key="mini", backend=backend)
    assert enc.backend == backend and not enc.loaded
    assert enc.key == ("mini@int8" if backend == "int8" else "mini")
    vecs = enc.encode(["one", "two"])
    assert vecs.shape == (2, 4) and enc.dim == 4
    assert enc.backend == "torch" and enc.key == "mini", "torch's fp32 vectors are never named int8"
    assert "no exporter here" in enc.backend_note and "torch" in enc.backend_note
    assert enc.status()["backend"] == "torch" and enc.status()["note"] == enc.backend_note
    # the next start plans torch from the record, with no second attempt, and says why before loading
    again = SentenceTransformerEncoder(str(model), key="mini", backend=backend)
    assert again.backend == "torch" and "no exporter here" in again.backend_note and not again.loaded


def test_fallback_is_reported_by_the_registry_and_names_the_vector_index(tmp_path, monkeypatch):
    from desktop_search.config import IndexSettings
    from desktop_search.model_registry import ModelRegistry
    from desktop_search.store import Store

    monkeypatch.setattr(onnx_export, "_export_into", FakeExporter(fail=RuntimeError("no exporter here")))
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    monkeypatch.setattr(SentenceTransformerEncoder, "_load", lambda self: FakeTorchModel())
    enc = SentenceTransformerEncoder(str(model_folder(tmp_path)), key="mini", backend="int8")
    store = Store(tmp_path / "data" / "store.db")
    reg = ModelRegistry(tmp_path / "data", store, IndexSettings(), encoder=enc)
    try:
        vi = reg.vector_index(enc)
        assert vi.key == "mini", "the index is made for the key the loaded encoder really writes"
        assert any("no exporter here" in n for n in reg.notices())
    finally:
        reg.close()
        store.close()


def test_torch_and_non_local_models_never_export(tmp_path, monkeypatch):
    fake = FakeExporter()
    monkeypatch.setattr(onnx_export, "_export_into", fake)
    model = model_folder(tmp_path)
    assert plan_backend(str(model), "torch") == "torch"
    assert plan_backend(None, "openvino") == "torch"
    assert plan_backend(str(tmp_path / "not-a-model"), "onnx") == "torch"
    assert SentenceTransformerEncoder("sentence-transformers/some-hub-name", backend="onnx").backend == "torch"
    assert SentenceTransformerEncoder(str(model), device="cuda", backend="openvino").backend == "torch"
    assert fake.calls == 0


def test_auto_is_openvino_where_installed_else_torch(tmp_path, monkeypatch):
    model = str(model_folder(tmp_path))
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    assert plan_backend(model, "auto") == "openvino"
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: module == "onnxruntime")
    assert plan_backend(model, "auto") == "torch", "ONNX Runtime fp32 encodes slower than torch: only when asked"
    assert plan_backend(model, "openvino") == "torch" and plan_backend(model, "int8") == "int8"
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: False)
    assert plan_backend(model, "openvino") == "torch" and plan_backend(model, "int8") == "torch"


def test_env_chooses_the_backend(tmp_path, monkeypatch):
    model = str(model_folder(tmp_path))
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    monkeypatch.setenv("DESKTOP_SEARCH_ENCODER", "int8")
    assert plan_backend(model) == "int8"
    monkeypatch.setenv("DESKTOP_SEARCH_ENCODER", "torch")
    assert plan_backend(model) == "torch"
    monkeypatch.setenv("DESKTOP_SEARCH_ENCODER", "nonsense")
    assert plan_backend(model) == "openvino", "an unknown value means auto"


# -- int8 vectors have their own key -----------------------------------------------------------
def test_int8_vectors_have_their_own_key(tmp_path, monkeypatch):
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    model = str(model_folder(tmp_path))
    keys = {b: SentenceTransformerEncoder(model, key="all-MiniLM-L6-v2", backend=b).key
            for b in ("torch", "openvino", "onnx", "int8")}
    assert keys["torch"] == keys["openvino"] == keys["onnx"] == "all-MiniLM-L6-v2", \
        "fp32 and bf16 vectors agree to cosine 0.99997: one key"
    assert keys["int8"] == "all-MiniLM-L6-v2" + INT8_SUFFIX
    assert key_for("all-MiniLM-L6-v2.v3", "int8") == "all-MiniLM-L6-v2.v3@int8", "a trained version's too"


def test_int8_refused_at_export_plans_fp32(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "_export_into", FakeExporter(int8_error="int8 vectors too far from fp32"))
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    model = model_folder(tmp_path)
    ensure_export(model)
    assert plan_backend(str(model), "int8") == "onnx"
    assert SentenceTransformerEncoder(str(model), key="m", backend="int8").key == "m"


def test_int8_and_fp32_vectors_go_to_separate_hnsw_files(tmp_path):
    """Switching between int8 and fp32 never mixes vectors: each key has its own rows and file."""
    from desktop_search.service import SearchService

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("bread flour yeast oven", encoding="utf-8")
    (docs / "b.txt").write_text("quantum particles entanglement", encoding="utf-8")
    for key in ("mini", "mini" + INT8_SUFFIX):
        with SearchService(tmp_path / "data", encoder=HashingEncoder(key=key)) as svc:
            run(svc.index([docs]))
            assert svc.search("bread", "dense", k=1)[0].name == "a.txt"
    with SearchService(tmp_path / "data", encoder=HashingEncoder(key="mini")) as svc:
        rows = {m["key"]: m["vectors"] for m in svc.store.model_rows()}
    assert rows["mini"] == rows["mini" + INT8_SUFFIX] > 0
    files = sorted(p.name for p in (tmp_path / "data" / "vectors").glob("*.hnsw"))
    assert files == ["mini.hnsw", "mini@int8.hnsw"]


# -- the encoder child reports what it runs ------------------------------------------------------
def test_encoder_process_plans_the_same_key_as_the_child(tmp_path, monkeypatch):
    from desktop_search.retrievers.remote import EncoderProcess

    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    model = str(model_folder(tmp_path))
    monkeypatch.setenv("DESKTOP_SEARCH_ENCODER", "int8")
    proc = EncoderProcess(model, key="mini")
    assert proc.key == "mini@int8" and not proc.loaded, "planned without starting the child"
    assert proc.status() == {"backend": "int8", "key": "mini@int8", "note": ""}


# -- the real bundled model ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_export(tmp_path_factory):
    from desktop_search.config import resolve_model

    path = resolve_model(None)
    if not os.path.isdir(path):
        pytest.skip("the bundled model is not installed")
    cache = tmp_path_factory.mktemp("real-exports")
    old = os.environ.get("DESKTOP_SEARCH_EXPORTS")
    os.environ["DESKTOP_SEARCH_EXPORTS"] = str(cache)
    try:
        yield path, ensure_export(path)
    finally:
        if old is None:
            os.environ.pop("DESKTOP_SEARCH_EXPORTS", None)
        else:
            os.environ["DESKTOP_SEARCH_EXPORTS"] = old


@pytest.mark.model
def test_the_export_runs_in_a_child_and_its_failure_is_a_recorded_message(tmp_path):
    # the child imports torch, this process does not; a folder that is no model fails there, clearly
    model = model_folder(tmp_path, "not-a-model")
    with pytest.raises(ExportError, match="not-a-model failed") as err:
        ensure_export(model)
    assert "Traceback" not in str(err.value) and len(str(err.value)) <= 500
    assert recorded_failure(model) == str(err.value)
    assert not any(p.name.startswith(".") and ".tmp-" in p.name for p in export_cache.cache_root().iterdir())


@pytest.mark.model
def test_real_export_reproduces_torch(real_export, monkeypatch):
    path, export = real_export
    monkeypatch.setenv("DESKTOP_SEARCH_EXPORTS", str(export.folder.parent))
    assert export.variants["fp32"]["min_cosine"] >= onnx_export.MIN_FP32_COSINE
    assert export.problem("int8") is None and export.variants["int8"]["min_cosine"] >= onnx_export.MIN_INT8_COSINE
    texts = ["Protein folding determines function.", "Tomatoes need sun and water.", "x " * 400]
    monkeypatch.setenv("DESKTOP_SEARCH_PRECISION", "fp32")
    torch_enc = SentenceTransformerEncoder(path, key="k", backend="torch")
    ref = torch_enc.encode(texts)
    for backend in ("onnx", "openvino", "int8"):
        if backend == "openvino" and not fast_encoder._installed("openvino"):
            continue
        enc = SentenceTransformerEncoder(path, key="k", backend=backend)
        vecs = enc.encode(texts)
        assert enc.backend == backend and enc.backend_note == ""
        cos = np.sum(vecs * ref, axis=1)
        assert cos.min() > (0.98 if backend == "int8" else 0.9999), (backend, cos)
        q = enc.encode_query("protein folding")
        assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1) < 1e-4
        assert int(np.argmax(vecs @ q)) == 0


# -- a real runtime on a tiny hand-made graph (no model: fast) ------------------------------------
WORDS = ["[PAD]", "[UNK]", "bread", "flour", "yeast", "oven", "quantum", "particles", "spin", "garden", "tomato", "sun"]


def tiny_export(model_dir, dim=8):
    """A made-up "model": word embeddings averaged over the attention mask, as an ONNX graph, with a
    word-level tokenizer, recorded in the cache as the export of `model_dir`."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = export_cache.export_folder(model_dir)
    folder.mkdir(parents=True)
    table = np.random.default_rng(0).normal(size=(len(WORDS), dim)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["emb"]),  # [B, T, D]
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["summed", "count"], ["sentence_embedding"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=[numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1], np.int64), "axis1"),
                     numpy_helper.from_array(np.array([2], np.int64), "axis2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(folder / export_cache.FP32_FILE))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(folder / export_cache.TOKENIZER_FILE))
    meta = {"format": export_cache.FORMAT, "source": str(model_dir), "fingerprint": export_cache.fingerprint(model_dir),
            "inputs": ["input_ids", "attention_mask"], "max_seq_length": 16, "dim": dim, "pad_id": 0,
            "pad_token": "[PAD]", "versions": export_cache.tool_versions(),
            "variants": {"fp32": {"file": export_cache.FP32_FILE, "min_cosine": 1.0},
                         "int8": {"error": "not made for this graph"}}}
    (folder / export_cache.META).write_text(json.dumps(meta), encoding="utf-8")
    return find_export(model_dir)


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_runtime_batches_in_any_order_and_normalises(tmp_path, runtime):
    if runtime == "openvino" and not fast_encoder._installed("openvino"):
        pytest.skip("OpenVINO is not installed")
    export = tiny_export(model_folder(tmp_path))
    enc = fast_encoder.load_fast(export, runtime)
    texts = ["bread", "quantum particles spin spin", "garden tomato sun bread flour", "unknown words here", "oven"]
    texts = texts + [f"{t} {extra}" for extra in ("sun", "flour oven", "spin") for t in texts]  # 20, several batches
    batch = enc.encode(texts, batch_size=4)  # sorted by length inside, spread over streams, put back in order
    alone = np.stack([enc.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batch, alone, atol=1e-5)  # padding does not change a vector
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, 8)
    long = " ".join(["bread"] * 10 + ["quantum"] * 40)  # cut at max_seq_length (16 words)
    np.testing.assert_allclose(enc.encode([long])[0], enc.encode(["bread " * 10 + "quantum " * 6])[0], atol=1e-5)


def _exported_model_and_two_files(tmp_path):
    model = model_folder(tmp_path)
    tiny_export(model)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "baking.txt").write_text("bread flour yeast oven", encoding="utf-8")
    (docs / "physics.txt").write_text("quantum particles spin", encoding="utf-8")
    return model, docs


def _dense_search_in_child(tmp_path, then: str, **env):
    """Index two files and search them densely in a fresh interpreter with a tiny exported model;
    `then` runs after the search (with `svc`, `hits` and `sys`); returns its stdout split in words."""
    import subprocess
    import sys

    model, docs = _exported_model_and_two_files(tmp_path)
    code = (
        "import sys\n"
        "from desktop_search.service import SearchService\n"
        f"svc = SearchService({str(tmp_path / 'data')!r}, model={str(model)!r})\n"
        f"for _ in svc.index([{str(docs)!r}]): pass\n"
        "hits = svc.search('yeast oven', 'dense', k=2)\n" + then
    )
    env = {**os.environ, "DESKTOP_SEARCH_EXPORTS": os.environ["DESKTOP_SEARCH_EXPORTS"], **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_dense_search_with_an_export_never_imports_torch(tmp_path):
    """Cold start: indexing and a dense search through the fast encoder load neither torch nor transformers."""
    name, backend, key = _dense_search_in_child(
        tmp_path, "print(hits[0].name, svc.encoder.backend, svc.encoder.key)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'\n",
        DESKTOP_SEARCH_ENCODER="onnx")
    assert (name, backend) == ("baking.txt", "onnx") and key.startswith("tiny-model")


def test_int8_refused_at_load_falls_back_to_onnx_runtime_fp32(tmp_path, monkeypatch):
    """int8 planned, then refused for this model: ONNX Runtime fp32 serves from the same export."""
    model = model_folder(tmp_path)
    tiny_export(model)  # its int8 variant is recorded as refused
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)
    monkeypatch.setattr(SentenceTransformerEncoder, "_load", lambda self: pytest.fail("torch was loaded"))
    enc = SentenceTransformerEncoder(str(model), key="mini")
    enc.backend, enc.key = "int8", key_for("mini", "int8")  # what a plan made before the refusal was known says
    vec = enc.encode_query("bread oven")
    assert enc.backend == "onnx" and enc.key == "mini" and vec.shape == (8,)
    assert "onnx" in enc.backend_note and "not made" in enc.backend_note


def test_openvino_that_cannot_load_falls_back_to_torch(tmp_path, monkeypatch):
    model = model_folder(tmp_path)
    tiny_export(model)
    monkeypatch.setattr(fast_encoder, "_installed", lambda module: True)

    def load(export, backend):
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(fast_encoder, "load_fast", load)
    monkeypatch.setattr(SentenceTransformerEncoder, "_load", lambda self: FakeTorchModel())
    enc = SentenceTransformerEncoder(str(model), key="mini", backend="openvino")
    assert enc.encode(["bread"]).shape == (1, 4)
    assert enc.backend == "torch" and enc.key == "mini" and "no CPU plugin" in enc.backend_note


def test_openvino_search_sends_no_telemetry(tmp_path):
    """OpenVINO's converter starts openvino_telemetry on import (a client id and usage counter under
    ~/intel, an event for Google Analytics, consent assumed): the app blocks it, and a dense search
    through OpenVINO leaves the home folder untouched."""
    pytest.importorskip("openvino")
    home = tmp_path / "home"
    home.mkdir()
    name, backend, telemetry_module, loaded = _dense_search_in_child(
        tmp_path, "import openvino.tools.ovc.telemetry_utils as tu\n"
        "print(hits[0].name, svc.encoder.backend, tu.tm.__name__, sys.modules.get('openvino_telemetry'))\n",
        HOME=str(home), DESKTOP_SEARCH_ENCODER="openvino")
    assert (name, backend) == ("baking.txt", "openvino")
    assert telemetry_module.endswith("telemetry_stub") and loaded == "None"
    assert list(home.iterdir()) == [], "something was written to the home folder"
