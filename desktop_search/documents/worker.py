"""Run extraction in a long-lived child process so a stuck or crashing parser costs one file, not the run."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Any

from desktop_search.documents.extract import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CHARS,
    Extracted,
    ExtractionFailed,
    SkipFile,
    extract_text,
    kind_for,
)

if TYPE_CHECKING:
    from desktop_search.passages import PassageSpec, Passages

# The worker's address-space cap (Linux; settings.extract_memory_mb). 2 GiB leaves an 8 GB laptop
# room for the window, the indexer and the model: the worst hostile file that still yields text
# (45 MB of nested HTML) peaks near 0.6 GB here, and a zip bomb is refused before it inflates
# (benchmarks/bad_input_memory.py). A file that needs more fails "out of memory", the next one
# gets a fresh worker.
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
_STARTUP_TIMEOUT_S = 60.0
_KILL_GRACE_S = 0.5
_OUT_OF_MEMORY = "parser crashed (out of memory)"
# a worker resident above this after a file is replaced before the next one: Python keeps the
# heap a big file made (45 MB of nested HTML left 0.77 GB), a fresh worker costs about 0.3 s
RECYCLE_ABOVE_BYTES = 512 * 1024**2
_MAX_START_FAILURES = 3  # in a row; then every file fails fast instead of spawning again
# With `prepare`, the share of files the child also cuts into passages starts here and moves by
# the step on each reply that one side waited for (more than the quiet time): down when the caller
# waited for the reply, up when the child waited for the file.
PREPARE_SHARE_START = 0.5
PREPARE_SHARE_STEP = 0.02
PREPARE_SHARE_QUIET_S = 0.0005

ExtractFn = Callable[..., Extracted]


@dataclass
class Outcome:
    """What happened to one file: "ok" with the text, or "skipped"/"failed" with a reason."""

    path: str
    status: str
    reason: str | None
    extracted: Extracted | None
    # the text's passages and their terms, when the child cut them (ExtractorPool's `prepare`)
    passages: Passages | None = None


def _resolve(spec: str) -> ExtractFn:
    """The function named by ``"package.module:function"``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"extractor must be given as 'module:function', not {spec!r}")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn  # type: ignore[no-any-return]


_Reply = tuple[str, str | None, Extracted | None]


def run_extractor(fn: ExtractFn, path: str, max_bytes: int, max_chars: int, options: dict | None = None) -> _Reply:
    """Call an extractor and turn its result or exception into (status, reason, extracted)."""
    try:
        return "ok", None, fn(path, max_bytes=max_bytes, max_chars=max_chars, **(options or {}))
    except SkipFile as err:
        return "skipped", err.reason, None
    except ExtractionFailed as err:
        return "failed", err.reason, None
    except MemoryError:
        return "failed", _OUT_OF_MEMORY, None
    except Exception as err:  # an extractor bug must still be a per-file status
        return "failed", f"extractor error: {type(err).__name__}: {err}"[:200], None


def _limit_child_resources(memory_limit_bytes: int | None) -> None:
    try:
        os.nice(5)
    except (AttributeError, OSError):
        pass
    if memory_limit_bytes is None or not sys.platform.startswith("linux"):
        return
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _child_main(
    conn: Connection,
    fn_spec: str | None,
    max_bytes: int,
    max_chars: int,
    memory_limit_bytes: int | None,
    options: dict | None = None,
    prepare: PassageSpec | None = None,
) -> None:
    """Child loop: receive a path, reply (status, reason, extracted); exit on None or a closed pipe.
    With `prepare`, each reply has two more items: the text's passages cut by it, packed, for a
    path sent as (path, True) (else None), and the seconds this child waited for that path."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    except (ValueError, OSError):
        pass
    _limit_child_resources(memory_limit_bytes)
    # parsers warn about the files they read (PIL: "Palette images with Transparency..."): that
    # is noise on the user's terminal, never a result; a file that fails says why in its reason
    warnings.simplefilter("ignore")
    try:
        fn: ExtractFn = extract_text if fn_spec is None else _resolve(fn_spec)
    except Exception as err:
        conn.send(("error", f"extractor unavailable: {type(err).__name__}: {err}"[:200], None))
        return
    conn.send(("ready", None, None))
    tokenize = None
    while True:
        waited = time.monotonic()
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return  # parent went away
        if path is None:
            return
        idle_s = time.monotonic() - waited  # how long this child had nothing to do
        wants_passages = isinstance(path, tuple)
        if wants_passages:
            path = path[0]
        reply: tuple = run_extractor(fn, path, max_bytes, max_chars, options)
        if prepare is not None:
            packed = None
            if wants_passages and reply[0] == "ok" and reply[2] is not None:
                try:
                    from desktop_search.passages import cut, pack

                    if tokenize is None:
                        tokenize = prepare.tokenize()
                    packed = pack(cut(reply[2].text, tokenize, prepare.chunk_tokens, prepare.overlap))
                except Exception:  # noqa: BLE001 - the parent cuts this text itself
                    packed = None
            reply = (*reply, packed, idle_s)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return  # parent went away
        except Exception as err:  # pickling failed before anything was written
            conn.send(("failed", f"could not return result: {type(err).__name__}"[:200], None))
        if reply[1] == _OUT_OF_MEMORY:
            return  # the heap may be fragmented or half-built objects linger: start afresh


class ExtractorPool:
    """One child process that extracts files one at a time, killed and replaced when it hangs or dies.

    ``extract`` never raises for a bad file: a hang becomes ``failed`` "timed out after N s", a
    dead child ``failed`` "parser crashed (...)". Kinds in ``in_process_kinds`` (e.g. {"text"})
    are extracted in the calling process without a time limit, saving the IPC round trip.
    ``_extract_fn`` ("module:function") replaces ``extract_text`` in the child; for tests.
    ``options``: more keyword arguments for the extractor (``{"ocr": False}``).
    ``prepare``: with it, ``extract_many`` has the child also cut some texts into passages
    (``Outcome.passages``): as large a share of the files as keeps the child from holding the
    caller up (the caller's time goes to writing them); ``None`` for the rest.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_chars: int = DEFAULT_MAX_CHARS,
        in_process_kinds: frozenset[str] = frozenset(),
        memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT_BYTES,
        options: dict | None = None,
        prepare: PassageSpec | None = None,
        _extract_fn: str | None = None,
    ) -> None:
        if _extract_fn is not None:
            _resolve(_extract_fn)  # fail fast here rather than on every file in the child
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self.in_process_kinds = in_process_kinds
        self.memory_limit_bytes = memory_limit_bytes
        self.options = dict(options or {})
        self.prepare = prepare
        # the share of files the child cuts, steered by whether its replies wait for the caller
        self.prepare_share = PREPARE_SHARE_START
        self._credit = 0.0
        self._extract_fn = _extract_fn
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._start_failures = 0
        self._start_error: str | None = None
        self._starting = False  # a prestarted child not yet known to be ready

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child (politely, then by force). Safe to call twice and from another thread.

        A file being extracted in another thread at that moment is abandoned: its ``extract``
        call returns ``failed`` "extraction cancelled".
        """
        self._closed = True
        if not self._lock.acquire(blocking=False):
            proc = self._proc
            if proc is not None:
                try:
                    proc.kill()  # the extracting thread sees the pipe close and cleans up
                except (ValueError, OSError):
                    pass
            self._lock.acquire()
        try:
            if self._conn is not None and self._proc is not None and self._proc.is_alive():
                try:
                    self._conn.send(None)
                except (OSError, ValueError):
                    pass
                self._proc.join(_KILL_GRACE_S)
            self._stop_child()
        finally:
            self._lock.release()

    @property
    def child_pid(self) -> int | None:
        """Process id of the current child, if one is running."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start_child(self) -> str | None:
        """Start a child (giving up after repeated failures); return an error reason on failure."""
        if self._start_failures >= _MAX_START_FAILURES:
            return self._start_error
        error = self._spawn()
        if error is None:
            self._start_failures = 0
        else:
            self._start_failures += 1
            self._start_error = error
        return error

    def prestart(self) -> None:
        """Start the child now without waiting for it: its start-up (a fresh interpreter importing
        the readers) overlaps with whatever the caller does next, e.g. the rest of a folder scan.
        The first file waits for it to be ready, as it would have."""
        with self._lock:
            if self._closed or self._conn is not None or self._start_failures >= _MAX_START_FAILURES:
                return
            error = self._launch()
            if error is None:
                self._starting = True
            else:
                self._start_failures += 1
                self._start_error = error

    def _ensure_child(self) -> str | None:
        """A ready child (started, or the prestarted one waited for); an error reason on failure."""
        if self._conn is None:
            return self._start_child()
        if self._starting:
            self._starting = False
            error = self._await_ready()
            if error is not None:
                self._start_failures += 1
                self._start_error = error
                return error
            self._start_failures = 0
        return None

    def _spawn(self) -> str | None:
        """Start a child and wait until it reports ready; return an error reason on failure."""
        return self._launch() or self._await_ready()

    def _launch(self) -> str | None:
        """Start a child process (not waiting for it); an error reason on failure."""
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_child_main,
            args=(child_conn, self._extract_fn, self.max_bytes, self.max_chars, self.memory_limit_bytes,
                  self.options, self.prepare),
            name="desktop-search-extractor",
            daemon=True,
        )
        try:
            proc.start()
        except Exception as err:
            parent_conn.close()
            child_conn.close()
            return f"could not start extractor process: {type(err).__name__}: {err}"[:200]
        child_conn.close()
        self._proc, self._conn = proc, parent_conn
        return None

    def _await_ready(self) -> str | None:
        """Wait until the launched child reports ready; an error reason (child stopped) on failure."""
        parent_conn = self._conn
        assert parent_conn is not None
        try:
            if parent_conn.poll(max(_STARTUP_TIMEOUT_S, self.timeout_s)):
                status, reason, _ = parent_conn.recv()
                if status == "ready":
                    return None
                self._stop_child()
                return str(reason)
        except (EOFError, OSError):
            pass
        self._stop_child()
        return "extractor process failed to start"

    def _stop_child(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._starting = False
        if conn is not None:
            conn.close()
        if proc is None:
            return
        if proc.is_alive():
            proc.terminate()
            proc.join(_KILL_GRACE_S)
        if proc.is_alive():
            proc.kill()
            proc.join(_KILL_GRACE_S)
        try:
            proc.close()
        except ValueError:
            pass  # still running after SIGKILL (uninterruptible I/O); the OS reaps it later

    # ------------------------------------------------------------------ extraction

    def extract(self, path: str) -> Outcome:
        """Extract one file; never raises for a bad file (RuntimeError only after close())."""
        path = os.fspath(path)
        if self._closed:
            raise RuntimeError("ExtractorPool is closed")
        kind = kind_for(path)
        if kind is None or kind in self.in_process_kinds:
            return Outcome(path, *run_extractor(extract_text, path, self.max_bytes, self.max_chars, self.options))
        with self._lock:
            if self._closed:
                raise RuntimeError("ExtractorPool is closed")
            return self._extract_in_child(path)

    def extract_many(self, paths: Iterable[str], ahead: int = 16) -> Iterator[Outcome]:
        """Outcomes of `paths`, in order, with up to `ahead` files queued in the child: it reads the
        next files while the caller works on this one's text (indexing: chunking and analysis),
        so the two processes overlap instead of taking turns. The same guarantees as `extract`:
        a hang, crash or memory recycle costs that file (or nothing), and the files queued behind
        it go to a fresh child. A hang is caught `timeout_s` after the caller starts waiting for
        that file's reply."""
        source = iter(paths)
        # (path, state): "local" (extracted here), "sent" (queued in the current child) or "wait";
        # the sent ones always come before the waiting ones, so replies arrive in window order
        window: deque[list[str]] = deque()
        exhausted = False
        while True:
            while not exhausted and len(window) < max(1, ahead):
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                path = os.fspath(nxt)
                kind = kind_for(path)
                window.append([path, "local" if kind is None or kind in self.in_process_kinds else "wait"])
            self._queue(window)
            if not window:
                return
            path, state = window.popleft()
            if state == "local":
                yield Outcome(path, *run_extractor(extract_text, path, self.max_bytes, self.max_chars, self.options))
            elif state == "wait":  # no child took it (none could start): one more try, on its own
                yield self._extract_locked(path)
            else:
                out, child_gone = self._receive(path)
                if child_gone:  # the files queued behind this one went with the child
                    for item in window:
                        if item[1] == "sent":
                            item[1] = "wait"
                yield out

    def _queue(self, window: deque[list[str]]) -> None:
        """Send the waiting files to the child, in order, until one cannot be sent. A new child is
        started only when none of the window is queued in the old one (whose replies come first)."""
        outstanding = any(item[1] == "sent" for item in window)
        for item in window:
            if item[1] == "wait":
                if not self._send(item[0], may_start=not outstanding):
                    return
                item[1], outstanding = "sent", True

    def _send(self, path: str, may_start: bool) -> bool:
        """Queue one file in the child (starting one if `may_start`); False when none took it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("ExtractorPool is closed")
            alive = self._proc is not None and self._proc.is_alive()
            if not alive and not may_start:
                return False  # its queued files' replies (or their crash) are still to be read
            if self._proc is not None and not alive:
                self._stop_child()
            if self._ensure_child() is not None:
                return False
            assert self._conn is not None
            try:
                self._conn.send((path, True) if self._child_cuts() else path)
            except (OSError, ValueError):
                self._stop_child()
                return False
            return True

    def _child_cuts(self) -> bool:
        """Whether the file being sent is one the child cuts: `prepare_share` of them, evenly spread."""
        if self.prepare is None:
            return False
        self._credit += self.prepare_share
        if self._credit >= 1.0:
            self._credit -= 1.0
            return True
        return False

    def _steer(self, caller_waited_s: float, child_idle_s: float) -> None:
        """The caller waiting for a reply means the child holds it up: give the child less of the
        cutting; the child waiting for work means it has time to spare: give it more."""
        if max(caller_waited_s, child_idle_s) < PREPARE_SHARE_QUIET_S:
            return  # neither waited: the share is right
        step = -PREPARE_SHARE_STEP if caller_waited_s > child_idle_s else PREPARE_SHARE_STEP
        self.prepare_share = min(1.0, max(0.0, self.prepare_share + step))

    def _receive(self, path: str) -> tuple[Outcome, bool]:
        """The reply for the oldest queued file: (outcome, whether the child was stopped)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("ExtractorPool is closed")
            conn, proc = self._conn, self._proc
            if conn is None or proc is None:
                return self._extract_in_child(path), True
            return self._await_reply(path, conn, proc)

    def _extract_locked(self, path: str) -> Outcome:
        with self._lock:
            if self._closed:
                raise RuntimeError("ExtractorPool is closed")
            return self._extract_in_child(path)

    def _extract_in_child(self, path: str) -> Outcome:
        if self._proc is not None and not self._proc.is_alive():
            self._stop_child()  # died between files (killed from outside): not this file's fault
        error = self._ensure_child()
        if error is not None:
            return Outcome(path, "failed", error, None)
        assert self._conn is not None and self._proc is not None
        conn, proc = self._conn, self._proc
        try:
            conn.send(path)
        except (EOFError, OSError):
            proc.join(_KILL_GRACE_S)
            reason = "extraction cancelled" if self._closed else _crash_reason(proc.exitcode)
            self._stop_child()
            return Outcome(path, "failed", reason, None)
        return self._await_reply(path, conn, proc)[0]

    def _await_reply(self, path: str, conn: Connection, proc: BaseProcess) -> tuple[Outcome, bool]:
        """Wait for the child's reply about `path`: (outcome, whether the child was stopped)."""
        try:
            waited = time.monotonic()
            if not conn.poll(self.timeout_s):
                self._stop_child()
                return Outcome(path, "failed", f"timed out after {self.timeout_s:.0f} s", None), True
            reply: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            proc.join(_KILL_GRACE_S)
            reason = "extraction cancelled" if self._closed else _crash_reason(proc.exitcode)
            self._stop_child()
            return Outcome(path, "failed", reason, None), True
        status, reason, extracted = reply[:3]
        passages = None
        if len(reply) == 5:  # the child was given `prepare`
            self._steer(time.monotonic() - waited, reply[4])
            if reply[3] is not None:
                from desktop_search.passages import unpack

                try:
                    passages = unpack(reply[3])
                except (TypeError, ValueError, IndexError):
                    passages = None  # the caller cuts the text itself
        out_of_memory = reason is not None and "out of memory" in reason
        if out_of_memory and self.memory_limit_bytes:
            reason = (f"{reason}: it needs more than the {self.memory_limit_bytes // 1024**2:,} MB a reader may "
                      "use (setting extract_memory_mb)")
        stopped = out_of_memory or not proc.is_alive() or _resident_bytes(proc.pid) > RECYCLE_ABOVE_BYTES
        if stopped:
            self._stop_child()  # the next file gets a fresh worker, and the memory goes back
        return Outcome(path, status, reason, extracted, passages), stopped


def _resident_bytes(pid: int | None) -> int:
    """The resident memory of a process now (0 if it cannot be read). Read after every file: on
    Linux from /proc (one small read), elsewhere through psutil."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        pass
    import psutil

    try:
        return psutil.Process(pid).memory_info().rss
    except (psutil.Error, ValueError, TypeError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _crash_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "parser crashed"
    if exitcode < 0:
        try:
            return f"parser crashed (killed by {signal.Signals(-exitcode).name})"
        except ValueError:
            return f"parser crashed (killed by signal {-exitcode})"
    return f"parser crashed (exit code {exitcode})"
