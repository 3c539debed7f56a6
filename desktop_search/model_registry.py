"""Model versions and what belongs to each: its encoder, its vector index, activation and rollback.

The base model is the configured sentence-transformers model; training adds versions
(`training.versions.VersionStore`). Each version has its own vectors in SQLite (keyed by the
encoder's key) and its own HNSW file. Encoders and indexes are made lazily and cached here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterable

from .config import DEFAULT_MODEL, IndexSettings, resolve_model
from .store import Store

BASE = "base"


class ModelRegistry:
    """The versions of one library's dense model, their encoders and vector indexes."""

    def __init__(self, data_dir: Path, store: Store, settings: IndexSettings, *, encoder=None,
                 encoder_factory: Callable | None = None):
        self.data_dir = Path(data_dir)
        self.store = store
        self.settings = settings
        # makes the encoder of a model folder: in-process by default; the GUI passes EncoderProcess
        self.encoder_factory = encoder_factory
        self._active_encoder = encoder  # an encoder given by the caller (tests: a fake) is the active one
        self._active_version: str | None = None  # which version _active_encoder is (None: given by the caller)
        self._encoders: dict[str, object] = {}
        self._vindexes: dict[str, object] = {}
        self._tokenizer = None
        self._tokenizer_source: str | None = None
        self._lock = threading.RLock()
        self._notices: list[str] = []  # vector files found damaged and rebuilt (kept after close)

    # -- names -----------------------------------------------------------------------------
    def base_model_key(self) -> str:
        """Names the vectors of the base model; the same wherever the model files are installed
        (source checkout, frozen bundle), so moving the app or the data folder keeps them."""
        from .retrievers.encoder import model_key

        name = self.settings.model or DEFAULT_MODEL
        if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
            return DEFAULT_MODEL
        return model_key(name)

    def base_model_path(self) -> str | None:
        p = resolve_model(self.settings.model)
        return p if os.path.isdir(p) else None

    @property
    def versions(self):
        from training.versions import VersionStore

        return VersionStore(self.data_dir, base_model=resolve_model(self.settings.model))

    def active_id(self) -> str:
        return self.versions.active_id()

    # -- encoders ----------------------------------------------------------------------------
    @property
    def encoder(self):
        """The encoder of the active model version (the base model unless one was activated)."""
        with self._lock:
            if self._active_encoder is None:
                self._active_version = self.active_id()
                self._active_encoder = self.encoder_for(self._active_version)
            return self._active_encoder

    def loaded_encoder(self):
        """The active encoder if it was made already (None: nothing loaded yet)."""
        return self._active_encoder

    def encoder_for(self, version_id: str = BASE):
        """An encoder for a model version ("base" = the configured model); cached per version."""
        from .retrievers.encoder import SentenceTransformerEncoder

        factory = self.encoder_factory or SentenceTransformerEncoder
        with self._lock:
            enc = self._encoders.get(version_id)
            if enc is None:
                base_key = self.base_model_key()
                if version_id == BASE:
                    enc = factory(resolve_model(self.settings.model), key=base_key, display_name=self.settings.model)
                else:
                    v = self.versions.get(version_id)
                    enc = factory(str(v.path), key=f"{base_key}.{v.id}", display_name=f"{self.settings.model} {v.id}")
                self._encoders[version_id] = enc
            return enc

    @property
    def tokenizer(self):
        """The tokenizer passages are cut with (the active model's own)."""
        with self._lock:
            if self._tokenizer is None:
                from .chunking import tokenizer_for

                self._tokenizer_source = getattr(self.encoder, "path", None)
                self._tokenizer = tokenizer_for(self._tokenizer_source, self.tokenizer_cache)
            return self._tokenizer

    @property
    def tokenizer_cache(self) -> str:
        """Where the tokenizer's vocabulary is kept ready to load (chunking._wordpiece_spec)."""
        return str(self.data_dir / "cache")

    @property
    def tokenizer_source(self) -> str | None:
        """The model folder `tokenizer` was made from (`chunking.tokenizer_for` of it gives the same
        tokenizer in another process: the extraction child cuts passages with it)."""
        with self._lock:
            self.tokenizer  # noqa: B018 - made (and its source fixed) on first use
            return self._tokenizer_source

    # -- vector indexes -----------------------------------------------------------------------
    def vector_index(self, encoder=None):
        """The HNSW index of `encoder`'s vectors (the active encoder by default)."""
        from .index import VectorIndex

        encoder = encoder or self.encoder
        with self._lock:
            vi = self._vindexes.get(encoder.key)
            if vi is None:
                dim = encoder.dim  # loads the model first: a planned int8 encoder that fell back names fp32 vectors
                vi = self._vindexes.get(encoder.key)
            if vi is None:
                vi = VectorIndex(self.store, self.data_dir / "vectors", encoder.key, dim,
                                 on_notice=self._notices.append)
                self._vindexes[encoder.key] = vi
                self.store.add_model(encoder.key, encoder.name, dim)
            return vi

    def notices(self) -> list[str]:
        """What happened to vector files in this process that a person should know (rebuilt ones),
        and a fast encoder that could not be used (torch serves instead)."""
        note = getattr(self._active_encoder, "backend_note", "")
        return list(self._notices) + ([note] if note else [])

    def vector_file_problems(self) -> dict[str, str]:
        """{model key: why its HNSW file would not be used} for every model with vectors in the
        store (each file is read and hashed; nothing is loaded or rebuilt here)."""
        from .index import VectorIndex

        out = {}
        for key, dim in self.store.model_dims():
            vi = VectorIndex(self.store, self.data_dir / "vectors", key, dim)
            if self.store.vector_count(key) and (why := vi.verify()) is not None:
                out[key] = why
        return out

    def loaded_indexes(self) -> list:
        with self._lock:
            return list(self._vindexes.values())

    def forget_vectors(self, chunk_ids: Iterable[int]) -> None:
        """Drop chunks from the vector indexes loaded in this process (the rows are already gone)."""
        chunk_ids = list(chunk_ids)
        if chunk_ids:
            for vi in self.loaded_indexes():
                vi.remove(chunk_ids)

    def save_indexes(self) -> None:
        for vi in self.loaded_indexes():
            vi.save()

    def refresh(self) -> None:
        """See what another process wrote: vectors, and which version is active."""
        with self._lock:
            for vi in self._vindexes.values():
                vi.reconcile()
            if self._active_version is not None and self._active_version != self.active_id():
                self._active_encoder = None  # another process switched the version: load it lazily
                self._active_version = None

    # -- versions -----------------------------------------------------------------------------
    def activate(self, version_id: str) -> None:
        """Search with another model version from now on (its vectors must exist: see `embed`)."""
        self.versions.activate(version_id)
        with self._lock:
            self._active_encoder = None
            self._active_version = None

    def delete(self, version_id: str) -> None:
        """Delete a trained version with its vectors and HNSW file (not the active one)."""
        enc = self.encoder_for(version_id)
        self.versions.delete(version_id)
        self.store.delete_model(enc.key)
        with self._lock:
            vi = self._vindexes.pop(enc.key, None)
            self._encoders.pop(version_id, None)
        if vi is not None:
            vi.discard()
        for suffix in (".hnsw", ".json"):
            (self.data_dir / "vectors" / f"{enc.key}{suffix}").unlink(missing_ok=True)
        self.store.delete_meta(f"vectors:{enc.key}")

    def close(self) -> None:
        for enc in list(self._encoders.values()):
            close = getattr(enc, "close", None)
            if close is not None:
                close()
        for vi in self.loaded_indexes():
            try:
                vi.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
        with self._lock:
            self._vindexes.clear()
