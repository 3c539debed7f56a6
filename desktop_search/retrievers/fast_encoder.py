"""Run an exported model (desktop_search.onnx_export) without torch: OpenVINO or ONNX Runtime.

Measured on SciFact passages on a loaded 2-core Xeon with AMX (benchmarks/encoder_speed.py, the
backends interleaved in one run): OpenVINO (bf16 where the CPU computes it, as torch's path does)
2.07x torch's bf16 autocast in wall time (1.2-1.6x before tuning), 1.9x per CPU-second, 3.4x
torch fp32, with vectors at cosine 0.99997 of fp32 ones (as torch's bf16 ones: they share the fp32
vector key). ONNX Runtime fp32 was 0.46x torch's bf16 and 0.77x torch's fp32; its int8 variant 0.72x, with vectors
at cosine 0.990-0.995 of fp32 ones and 0.5 point less nDCG@10, so they get their own key
(`INT8_SUFFIX`) and int8 is never chosen for you.

Which backend: `DESKTOP_SEARCH_ENCODER` = auto (default) | openvino | onnx | int8 | torch.
auto: OpenVINO where it is installed, else torch. `plan_backend` decides without loading
anything, so an encoder's key is known before its model is.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path

from ..lazy import np

INT8_SUFFIX = "@int8"  # appended to a model's vector key for int8 vectors
STREAM_BATCH = 8  # passages per OpenVINO request
BACKENDS = ("auto", "openvino", "onnx", "int8", "torch")


def requested_backend() -> str:
    v = os.environ.get("DESKTOP_SEARCH_ENCODER", "auto").strip().lower() or "auto"
    return v if v in BACKENDS else "auto"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cpu_flags() -> set[str]:
    """The CPU's feature flags on Linux (empty elsewhere): read from /proc/cpuinfo, no imports."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def plan_backend(model_path: str | None, requested: str | None = None) -> str:
    """The backend an encoder of `model_path` will use: "openvino", "onnx", "int8" or "torch".

    Cheap (file checks only). An export that later fails is recorded, and the plan then says torch."""
    requested = requested or requested_backend()
    if requested == "torch" or model_path is None or not Path(model_path, "modules.json").is_file():
        return "torch"
    from ..export_cache import find_export, recorded_failure

    if recorded_failure(model_path) is not None:
        return "torch"
    if requested == "auto":
        return "openvino" if _installed("openvino") else "torch"
    if requested == "openvino" and not _installed("openvino"):
        return "torch"  # faster than ONNX Runtime fp32 (see above)
    if requested in ("onnx", "int8") and not _installed("onnxruntime"):
        return "torch"
    if requested == "int8":
        found = find_export(model_path)
        if found is not None and "int8" in found.variants and found.problem("int8") is not None:
            return "onnx"  # quantisation was tried and refused: fp32 vectors
    return requested


def plan_note(model_path: str | None, backend: str, requested: str | None = None) -> str:
    """Why a planned torch backend is not the fast one: a recorded failed export ("" otherwise)."""
    if backend != "torch" or model_path is None or (requested or requested_backend()) == "torch":
        return ""
    from ..export_cache import recorded_failure

    failed = recorded_failure(model_path)
    return f"The fast encoder could not be used, so the model runs on torch (slower): {failed}" if failed else ""


def fallbacks(backend: str) -> tuple[str, ...]:
    """What serves, from the same export, when `backend` cannot be loaded (torch comes after these):
    int8 refused -> ONNX Runtime fp32 (the runtime asked for); OpenVINO -> torch, which encodes
    faster than ONNX Runtime fp32."""
    return ("onnx",) if backend == "int8" and _installed("onnxruntime") else ()


def key_for(base_key: str, backend: str) -> str:
    """The vector key of an encoder's vectors: int8 ones are kept apart from fp32 (and bf16) ones."""
    return base_key + INT8_SUFFIX if backend == "int8" else base_key


def import_openvino():
    """`import openvino`, without OpenVINO's telemetry.

    The package's __init__ imports its model converter (openvino.tools.ovc), which at import time
    starts openvino_telemetry with consent assumed when no consent file exists: it writes a client
    id and a usage counter under ~/intel and sends an event to Google Analytics. The app promises
    no telemetry and no network, so that module is blocked before OpenVINO is imported: the
    converter then falls back on its own no-op stub (it catches the ImportError). Only the run time
    is used here (graphs are exported with torch.onnx, not with the converter)."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # None: `import openvino_telemetry` fails
    import openvino

    return openvino


class _Tokenize:
    """The export's own tokenizer, truncating and padding as sentence-transformers does."""

    def __init__(self, export):
        from tokenizers import Tokenizer

        from ..export_cache import TOKENIZER_FILE

        tok = Tokenizer.from_file(str(export.folder / TOKENIZER_FILE))
        tok.no_padding()
        tok.enable_truncation(max_length=export.max_seq_length)
        tok.enable_padding(pad_id=export.pad_id, pad_token=export.pad_token)
        self.tok = tok
        self.inputs = export.inputs

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        enc = self.tok.encode_batch(texts)
        cols = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
                "token_type_ids": [e.type_ids for e in enc]}
        return {n: np.asarray(cols[n], dtype=np.int64) for n in self.inputs}


class _ExportedEncoder:
    """Shared by both runtimes: batches sorted by length (less padding), vectors L2-normalised."""

    backend = "onnx"
    variant = "fp32"
    precision = "fp32"

    def __init__(self, export, variant: str = "fp32"):
        self.export = export
        self.variant = variant
        self.dim = export.dim
        self.max_tokens = export.max_seq_length
        self._tokenize = _Tokenize(export)
        self._lock = threading.Lock()

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), max(1, batch_size)):
            idx = order[i : i + batch_size]
            with self._lock:
                out[idx] = self._run(self._tokenize([texts[j] for j in idx]))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


class OnnxRuntimeEncoder(_ExportedEncoder):
    """ONNX Runtime on the CPU (fp32 or int8 graph)."""

    backend = "onnx"

    def __init__(self, export, variant: str = "fp32", *, threads: int = 0):
        super().__init__(export, variant)
        import onnxruntime as ort

        self.precision = variant
        path = export.file(variant)
        if path is None:
            raise FileNotFoundError(export.problem(variant) or f"no {variant} graph")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        # idle worker threads sleep instead of spinning: on a busy 2-core laptop spinning steals the
        # core the other work needs
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def _run(self, feeds):
        return self._session.run(["sentence_embedding"], feeds)[0]


class OpenVinoEncoder(_ExportedEncoder):
    """OpenVINO on the CPU, in its default precision there (bf16 on AMX CPUs; fp32 when
    DESKTOP_SEARCH_PRECISION=fp32). Compiled graphs are cached beside the export (faster starts).

    Compiled for throughput: one stream per core, each single-threaded, and a batch of passages
    is spread over them (and tokenised while they run). On a loaded 2-core machine that beat one
    two-thread stream by 10-70 % in wall time (threads that wait for a descheduled partner at every
    layer waste their turn); a query runs on one stream, i.e. one thread, as the torch path did
    on a busy machine."""

    backend = "openvino"

    def __init__(self, export, variant: str = "fp32"):
        super().__init__(export, variant)
        ov = import_openvino()

        path = export.file(variant)
        if path is None:
            raise FileNotFoundError(export.problem(variant) or f"no {variant} graph")
        core = ov.Core()
        config = {"PERFORMANCE_HINT": "THROUGHPUT"}
        if os.environ.get("DESKTOP_SEARCH_PRECISION", "").strip().lower() == "fp32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        cache = export.folder / "openvino-cache"
        try:
            cache.mkdir(exist_ok=True)
            config["CACHE_DIR"] = str(cache)
        except OSError:
            pass  # a read-only export: compiled every time
        self._ov = ov
        self._compiled = core.compile_model(str(path), "CPU", config)
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)  # "bf16" or "f32"
        self._jobs = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._request = self._compiled.create_infer_request()
        self._queue = None
        self._output = self._compiled.output("sentence_embedding")

    def _run(self, feeds):
        return np.asarray(self._request.infer(feeds)[self._output], dtype=np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if len(texts) <= 1 or self._jobs == 1:
            return super().encode(texts, batch_size=batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        # small requests: less padding and more cache-friendly; 8 SciFact passages a request encoded
        # 45.8 passages per CPU-second against 42.6 with 32 (and 25.6 for torch's bf16 in batches of 64)
        step = max(1, min(STREAM_BATCH, batch_size))
        with self._lock:
            if self._queue is None:
                self._queue = self._ov.AsyncInferQueue(self._compiled, self._jobs)
            self._queue.set_callback(lambda request, idx: out.__setitem__(idx, request.get_output_tensor(0).data))
            for i in range(0, len(texts), step):
                idx = order[i : i + step]
                self._queue.start_async(self._tokenize([texts[j] for j in idx]), idx)
            self._queue.wait_all()
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def load_fast(export, backend: str):
    """The runtime encoder for a planned backend ("openvino", "onnx", "int8")."""
    if backend == "openvino":
        return OpenVinoEncoder(export, "fp32")
    return OnnxRuntimeEncoder(export, "int8" if backend == "int8" else "fp32")
