"""Text encoders: the sentence-transformers model (lazy, offline) and a keyword-hashing fake for tests."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol

from ..lazy import np

from ..errors import ModelLoadError


class Encoder(Protocol):
    key: str  # identifies the vectors this encoder makes (model + version)
    dim: int
    name: str
    path: str | None  # local model folder, if any (for the tokenizer)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors [len(texts), dim]."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector [dim]."""
        ...


def model_key(name_or_path: str) -> str:
    """A short, filesystem-safe id for a model: its name plus a hash of its location."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name_or_path.rstrip("/\\")).name or name_or_path)[:40]
    digest = hashlib.blake2b(name_or_path.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()
    return f"{base}-{digest}"


def pick_device() -> str:
    """The device the model runs on: the one device rule, shared with training (loads torch)."""
    from training.device import resolve_device

    return resolve_device("auto")


_THREADS_LOCK = threading.Lock()


def batch_precision(device: str) -> str:
    """The precision batches of passages are encoded in: "bf16" on a CPU that computes bfloat16
    in hardware (AVX512-BF16 or AMX), else "fp32". `DESKTOP_SEARCH_PRECISION=fp32` (or bf16)
    overrides it.

    Measured on SciFact abstracts on a 2-core AMD EPYC: bf16 autocast encodes twice as fast
    and its vectors have cosine 0.99998 (at least 0.99997) with the fp32 ones."""
    forced = os.environ.get("DESKTOP_SEARCH_PRECISION", "").strip().lower()
    if forced in ("fp32", "bf16"):
        return forced if device == "cpu" else "fp32"
    if device != "cpu":
        return "fp32"
    from training.device import cpu_bf16_native  # the one hardware probe; torch is loaded by now anyway

    return "bf16" if cpu_bf16_native() else "fp32"


_BUSY_PROBE: list = []  # [psutil, this process], made when the torch path loads (psutil costs 25 ms to import)


def _start_busy_probe() -> None:
    """Start psutil's CPU counters (when torch loads: the fast encoder never asks `_machine_busy`)."""
    if _BUSY_PROBE:
        return
    try:
        import psutil

        _BUSY_PROBE[:] = [psutil, psutil.Process()]
        psutil.cpu_percent(None)
        _BUSY_PROBE[1].cpu_percent(None)
    except Exception:  # noqa: BLE001 - without psutil the query simply uses torch's default threads
        _BUSY_PROBE[:] = [None, None]


def _machine_busy() -> bool:
    """True when other processes kept more than half of the machine's cores busy since the
    last call (psutil's CPU counters; this process's own work is not counted)."""
    _start_busy_probe()
    psutil, me = _BUSY_PROBE
    if psutil is None:
        return False
    ncpu = psutil.cpu_count() or 1
    total = psutil.cpu_percent(None)  # % of the whole machine since the previous call
    own = me.cpu_percent(None) / ncpu
    return total - own > 50.0


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use, offline when the path is local.

    Passages and queries go through the fast encoder (an ONNX export run by OpenVINO or ONNX
    Runtime, see retrievers.fast_encoder) where the model is a local folder; the export is made
    on first use and cached. If it cannot be made, torch serves and `backend_note` says why.
    Training always uses torch (it loads the folder itself)."""

    def __init__(self, name_or_path: str, *, key: str | None = None, device: str | None = None,
                 display_name: str | None = None, backend: str | None = None):
        from .fast_encoder import key_for, plan_backend, plan_note

        self.name = display_name or name_or_path
        self.source = name_or_path
        self.path = name_or_path if Path(name_or_path).is_dir() else None
        self.base_key = key or model_key(name_or_path)
        self._device = device
        # a device other than the CPU is torch's: the exported graphs run on the CPU only
        requested = "torch" if device not in (None, "cpu") else backend
        self.backend = plan_backend(self.path, requested)
        self.key = key_for(self.base_key, self.backend)  # fixed before loading (int8 vectors have their own)
        self.backend_note = plan_note(self.path, self.backend, requested)  # why the fast encoder does not serve, if it does not
        self._model = None
        self._fast = None
        self._lock = threading.Lock()
        self._dim: int | None = None
        self._precision: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded already (asking never loads it)."""
        return self._model is not None or self._fast is not None

    def _ensure(self) -> None:
        """Load the planned backend. If it fails: ONNX Runtime fp32 after int8 or OpenVINO (same export),
        then torch; `backend_note` says what happened and the key names the vectors really made."""
        with self._lock:
            if self._fast is not None or self._model is not None:
                return
            if self.backend != "torch":
                from .fast_encoder import fallbacks, key_for

                planned, problems = self.backend, []
                for backend in (planned, *fallbacks(planned)):
                    try:
                        self._fast = self._load_fast(backend)
                    except Exception as e:  # noqa: BLE001 - any failure of export or runtime: the next one serves
                        problems.append(f"{backend}: {e}")
                        continue
                    self.backend = backend
                    break
                else:
                    self.backend = "torch"
                if problems:
                    self.backend_note = (f"The fast encoder ({planned}) could not be used, so the model runs on "
                                         f"{self.backend}{' (slower)' if self.backend == 'torch' else ''}: "
                                         + "; ".join(problems))[:600]
                self.key = key_for(self.base_key, self.backend)  # int8 planned, fp32 made: named as fp32
                if self._fast is not None:
                    return
            self._model = self._load()

    def _load_fast(self, backend: str):
        from ..onnx_export import ensure_export
        from .fast_encoder import load_fast

        export = ensure_export(self.path)  # one export holds fp32 and int8
        if backend == "int8" and export.problem("int8") is not None:
            raise RuntimeError(export.problem("int8"))
        return load_fast(export, backend)

    @property
    def model(self):
        """The torch model (sentence-transformers); loads it even when the fast encoder serves."""
        self._ensure()
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def status(self) -> dict:
        """What serves this encoder: {"backend", "key", "note"} (asking never loads the model)."""
        return {"backend": self.backend, "key": self.key, "note": self.backend_note,
                "precision": getattr(self._fast, "precision", None) if self._fast is not None else self._precision}

    def _load(self):
        _start_busy_probe()  # the counters run from the load on, as they ran from the import before
        if self.path is not None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            from sentence_transformers import SentenceTransformer

            m = SentenceTransformer(
                self.source,
                device=self._device or pick_device(),
                trust_remote_code=False,
                local_files_only=self.path is not None,
                model_kwargs={"use_safetensors": True},
            )
        except Exception as e:  # noqa: BLE001 - any load failure is the environment's
            raise ModelLoadError(f"Cannot load the embedding model {self.name!r}: {type(e).__name__}: {e}") from e
        m.eval()
        return m

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._ensure()
            if self._fast is not None:
                self._dim = int(self._fast.dim)
            else:
                get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
                self._dim = int(get())
        return self._dim

    @property
    def max_tokens(self) -> int:
        self._ensure()
        if self._fast is not None:
            return int(self._fast.max_tokens)
        return int(getattr(self.model, "max_seq_length", 256) or 256)

    def encode_query(self, text: str) -> np.ndarray:
        """One short text. When the machine is busy (indexing, training) torch runs it on one thread:
        a 10-30 token input gains little from more, and on a loaded 2-core laptop the thread
        hand-offs cost several times the work (measured here: 24 ms on one thread vs 100 ms on
        two while the other core was busy; idle, two threads take 19-26 ms and one 28-30 ms).
        The fast encoder's threads sleep rather than spin when idle, so it needs no such switch."""
        self._ensure()
        if self._fast is not None:
            return self._fast.encode([text])[0]
        import torch

        self.model  # load outside the lock
        with _THREADS_LOCK:
            prev = torch.get_num_threads()
            torch.set_num_threads(1 if _machine_busy() else prev)
            try:
                return self.encode([text])[0]
            finally:
                torch.set_num_threads(prev)

    @property
    def precision(self) -> str:
        if self._precision is None:
            self._ensure()
            if self._fast is not None:
                self._precision = str(getattr(self._fast, "precision", self._fast.variant))
            else:
                self._precision = batch_precision(str(self.model.device.type))
        return self._precision

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._ensure()
        if self._fast is not None:
            return self._fast.encode(list(texts), batch_size=batch_size)
        import torch

        # one query stays in fp32: for a few tokens the bf16 casts cost more than they save
        fast = len(texts) > 1 and self.precision == "bf16"
        with torch.autocast("cpu", dtype=torch.bfloat16) if fast else contextlib.nullcontext():
            v = self.model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(v, dtype=np.float32)


class HashingEncoder:
    """A deterministic fake: each stemmed word hashes to a dimension (for fast tests).

    Texts sharing words get high cosine similarity, so ranking behaves sensibly.
    """

    def __init__(self, dim: int = 256, key: str = "hashing-fake"):
        self.dim = dim
        self.key = key
        self.name = key
        self.path = None
        self.max_tokens = 256
        self.calls = 0

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        from .analysis import analyze

        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in analyze(t):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
            else:
                out[i, 0] = 1.0
        return out
