"""EncoderProcess: a sentence-transformers model served by a child process.

The window uses it so that torch is never imported in the GUI process: loading torch's
shared libraries holds the GIL for hundreds of milliseconds, which would freeze the window
on the first dense search. Encoding a query costs one pipe round trip extra (well under 1 ms).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from ..lazy import np

from ..errors import ModelLoadError
from .encoder import model_key
from .fast_encoder import key_for, plan_backend, plan_note


class EncoderProcess:
    """Same interface as SentenceTransformerEncoder (key, dim, name, path, encode, encode_query)."""

    def __init__(self, name_or_path: str, *, key: str | None = None, display_name: str | None = None):
        self.name = display_name or name_or_path
        self.source = name_or_path
        self.path = name_or_path if Path(name_or_path).is_dir() else None
        self.base_key = key or model_key(name_or_path)
        # planned here as the child will (file checks only): the key is known before the child starts
        self.backend = plan_backend(self.path)
        self.key = key_for(self.base_key, self.backend)
        self.backend_note = plan_note(self.path, self.backend)
        self._model: subprocess.Popen | None = None  # set once the child has loaded the model
        self._dim: int | None = None
        self.max_tokens = 256
        self._lock = threading.Lock()
        self._stderr: list[str] = []

    def _start(self) -> subprocess.Popen:
        from ..jobs.launcher import module_command

        proc = subprocess.Popen(module_command("desktop_search.retrievers.encoder_server", self.source),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True).start()
        first = proc.stdout.readline()
        try:
            hello = json.loads(first)
        except ValueError:
            hello = {"error": "".join(self._stderr[-3:]).strip() or "the model process exited"}
        if "error" in hello:
            proc.kill()
            raise ModelLoadError(hello["error"] if hello["error"].startswith("Cannot load")
                                 else f"Cannot load the embedding model {self.name!r}: {hello['error']}")
        self._dim = int(hello["dim"])
        self.max_tokens = int(hello.get("max_tokens", 256))
        # the child fell back (a failed export): its vectors are named by what it really runs
        self.backend = str(hello.get("backend", self.backend))
        self.backend_note = str(hello.get("note", ""))
        self.key = key_for(self.base_key, self.backend)
        return proc

    def _drain(self, stream) -> None:
        for line in stream:
            self._stderr.append(line.decode("utf-8", "replace"))
            del self._stderr[:-20]

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded already (asking never loads it)."""
        return self._model is not None

    @property
    def model(self) -> subprocess.Popen:
        """The child process, started (and the model loaded) on first use."""
        with self._lock:
            if self._model is None or self._model.poll() is not None:
                self._model = self._start()
            return self._model

    def status(self) -> dict:
        """What serves this encoder: {"backend", "key", "note"} (asking never starts the child)."""
        return {"backend": self.backend, "key": self.key, "note": self.backend_note}

    @property
    def dim(self) -> int:
        self.model
        return int(self._dim)

    def _request(self, texts: list[str], query: bool) -> np.ndarray:
        proc = self.model
        with self._lock:
            try:
                proc.stdin.write((json.dumps({"texts": texts, "query": query}) + "\n").encode())
                proc.stdin.flush()
                head = json.loads(proc.stdout.readline())
                n, dim = int(head["n"]), int(head["dim"])
                buf = proc.stdout.read(n * dim * 4)
            except (OSError, ValueError) as e:
                self._model = None
                raise ModelLoadError(f"The embedding model process stopped: {e}") from e
        return np.frombuffer(buf, dtype=np.float32).reshape(n, dim).copy()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._request(list(texts), False)

    def encode_query(self, text: str) -> np.ndarray:
        return self._request([text], True)[0]

    def close(self) -> None:
        with self._lock:
            if self._model is not None:
                try:
                    self._model.stdin.close()
                    self._model.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    self._model.kill()
                self._model = None
