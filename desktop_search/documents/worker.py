"""Run extraction in a long-lived child process so a stuck or crashing parser costs one file, not the run."""

from __future__ import annotations

import importlib
import os
import queue
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

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
# its size is read (from /proc) after a file this big, and after every so many files read ahead: a
# small file cannot leave it big, and reading /proc after each of SciFact's 5,183 files was 0.14 s
MEMORY_LOOK_BYTES = 256 * 1024
MEMORY_LOOK_EVERY = 32
_MAX_START_FAILURES = 3  # in a row; then every file fails fast instead of spawning again
# With `prepare`: how many of its replies the parent must have still to take before the child cuts
# texts for it (see _child_main); the parent's read-ahead window must be larger. Measured on two
# cores (Python's documentation, SciFact): 8 left the child cutting through the parent's batch
# writes and holding it up after them (7.9-8.2 s, 2.3-2.5 s), 64 gave 6.7-7.4 s, 128 6.1-6.6 s
# and 2.1-2.4 s.
CUT_LEAD_FILES = 128

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

    With `prepare`, a path comes as (path, replies the parent has taken from this child), and each
    reply has a fourth item: the text's passages cut here, packed, or None (the parent cuts).
    This child cuts when the parent has CUT_LEAD_FILES of its replies still to take (the parent
    is behind: its work is what to lighten) or when no other file waits here (this child would be
    idle otherwise); otherwise it reads on. So the cutting goes to whichever side has time: a
    child busy reading (PDFs, big pages) leaves it to the parent, one that keeps up takes it over."""
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
    waiting: deque[str] = deque()  # paths received and not read yet
    sent = taken = 0  # replies sent, and those the parent had taken when it last wrote
    while True:
        try:
            while not waiting or _has_more(conn):  # take every message there is: the newest count
                message = conn.recv()
                if message is None:
                    return
                if isinstance(message, tuple):
                    message, taken = message
                waiting.append(message)
        except (EOFError, OSError):
            return  # parent went away
        path = waiting.popleft()
        reply: tuple = run_extractor(fn, path, max_bytes, max_chars, options)
        if prepare is not None:
            packed = None
            if reply[0] == "ok" and reply[2] is not None and (
                    sent - taken >= CUT_LEAD_FILES or not (waiting or _has_more(conn))):
                try:
                    from desktop_search.passages import cut, pack

                    if tokenize is None:
                        tokenize = prepare.tokenize()
                    packed = pack(cut(reply[2].text, tokenize, prepare.chunk_tokens, prepare.overlap))
                except Exception:  # noqa: BLE001 - the parent cuts this text itself
                    packed = None
            reply = (*reply, packed)
        sent += 1
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return  # parent went away
        except Exception as err:  # pickling failed before anything was written
            conn.send(("failed", f"could not return result: {type(err).__name__}"[:200], None))
        if reply[1] == _OUT_OF_MEMORY:
            return  # the heap may be fragmented or half-built objects linger: start afresh


def _has_more(conn: Connection) -> bool:
    """Whether another message already waits on the pipe."""
    try:
        return conn.poll(0)
    except (EOFError, OSError):
        return False


class _Inbox:
    """The child's messages, taken off the pipe by a thread of their own as they come.

    A pipe holds 64-208 KB: a few HTML pages. Read only when the caller asked for the next file,
    it kept the child blocked on a full pipe while the caller cut or wrote (3.4-3.8 s of a 9-12 s
    index of Python's documentation), instead of reading ahead. What waits here is bounded by
    the files queued in the child (`extract_many`'s `ahead`)."""

    _END = object()

    def __init__(self, conn: Connection) -> None:
        self._messages: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._pump, args=(conn,), name="desktop-search-extractor-inbox",
                                        daemon=True)
        self._thread.start()

    def _pump(self, conn: Connection) -> None:
        try:
            while True:
                self._messages.put(conn.recv())
        except Exception:  # noqa: BLE001 - EOF, a closed pipe, a reply that cannot be unpickled
            pass
        self._messages.put(self._END)

    def get(self, timeout: float) -> Any:
        """The next message; queue.Empty after `timeout` seconds, EOFError once the child is gone."""
        item = self._messages.get(timeout=timeout)
        if item is self._END:
            self._messages.put(self._END)  # and every later call
            raise EOFError
        return item

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ExtractorPool:
    """One child process that extracts files one at a time, killed and replaced when it hangs or dies.

    ``extract`` never raises for a bad file: a hang becomes ``failed`` "timed out after N s", a
    dead child ``failed`` "parser crashed (...)". Kinds in ``in_process_kinds`` (e.g. {"text"})
    are extracted in the calling process without a time limit, saving the IPC round trip.
    ``_extract_fn`` ("module:function") replaces ``extract_text`` in the child; for tests.
    ``options``: more keyword arguments for the extractor (``{"ocr": False}``).
    ``prepare``: with it, the child also cuts a text into passages (``Outcome.passages``) when the
    caller lags behind it or it has nothing else to read; ``None`` for the rest (see `_child_main`).
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
        self._taken = 0  # replies taken from the current child
        self._extract_fn = _extract_fn
        import multiprocessing  # here: a re-index of a few text files starts no child (5 ms of imports)

        self._ctx = multiprocessing.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._inbox: _Inbox | None = None  # the current child's replies
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
        self._proc, self._conn, self._inbox = proc, parent_conn, _Inbox(parent_conn)
        self._taken = 0
        return None

    def _await_ready(self) -> str | None:
        """Wait until the launched child reports ready; an error reason (child stopped) on failure."""
        inbox = self._inbox
        assert inbox is not None
        try:
            status, reason, _ = inbox.get(max(_STARTUP_TIMEOUT_S, self.timeout_s))
            if status == "ready":
                return None
            self._stop_child()
            return str(reason)
        except (EOFError, queue.Empty):
            pass
        self._stop_child()
        return "extractor process failed to start"

    def _stop_child(self) -> None:
        """Stop the child, then its inbox thread (it ends at the pipe's EOF), then close the pipe:
        closed first, its descriptor could be reused under the thread's read."""
        proc, conn, inbox = self._proc, self._conn, self._inbox
        self._proc = self._conn = self._inbox = None
        self._starting = False
        if proc is not None:
            if proc.is_alive():
                proc.terminate()
                proc.join(_KILL_GRACE_S)
            if proc.is_alive():
                proc.kill()
                proc.join(_KILL_GRACE_S)
        if inbox is not None:
            inbox.join(_KILL_GRACE_S)
        if conn is not None:
            conn.close()
        if proc is None:
            return
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

    def extract_many(self, paths: Iterable[str], ahead: int = 16, ahead_bytes: int | None = None,
                     size_of: Callable[[str], int] | None = None) -> Iterator[Outcome]:
        """Outcomes of `paths`, in order, with up to `ahead` files queued in the child: it reads the
        next files while the caller works on this one's text (indexing: chunking and analysis),
        so the two processes overlap instead of taking turns. The same guarantees as `extract`:
        a hang, crash or memory recycle costs that file (or nothing), and the files queued behind
        it go to a fresh child. A hang is caught `timeout_s` after the caller starts waiting for
        that file's reply. With `ahead_bytes`, the files queued also hold at most that many bytes
        on disk (one file at least): their texts wait in this process until the caller takes them.
        `size_of` gives a file's size on disk (default: stat it), for that bound and for when to look
        at the child's memory."""
        source = iter(paths)
        # (path, state): "local" (extracted here), "sent" (queued in the current child) or "wait";
        # the sent ones always come before the waiting ones, so replies arrive in window order
        window: deque[list] = deque()
        exhausted = False
        queued_bytes = 0
        while True:
            while not exhausted and len(window) < max(1, ahead) and (
                    ahead_bytes is None or not window or queued_bytes < ahead_bytes):
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                path = os.fspath(nxt)
                kind = kind_for(path)
                size = (size_of or _size_on_disk)(path)
                queued_bytes += size
                window.append([path, "local" if kind is None or kind in self.in_process_kinds else "wait", size])
            self._queue(window)
            if not window:
                return
            path, state, size = window.popleft()
            queued_bytes -= size
            if state == "local":
                yield Outcome(path, *run_extractor(extract_text, path, self.max_bytes, self.max_chars, self.options))
            elif state == "wait":  # no child took it (none could start): one more try, on its own
                yield self._extract_locked(path)
            else:
                out, child_gone = self._receive(path, size)
                if child_gone:  # the files queued behind this one went with the child
                    for item in window:
                        if item[1] == "sent":
                            item[1] = "wait"
                yield out

    def _queue(self, window: deque[list]) -> None:
        """Send the waiting files to the child, in order, until one cannot be sent. A new child is
        started only when none of the window is queued in the old one (whose replies come first)."""
        first = len(window)  # the waiting files come after every sent one: look at the end only
        while first and window[first - 1][1] != "sent":
            first -= 1
        outstanding = first > 0
        for k in range(first, len(window)):
            item = window[k]
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
                self._conn.send(path if self.prepare is None else (path, self._taken))
            except (OSError, ValueError):
                self._stop_child()
                return False
            return True

    def _receive(self, path: str, size: int) -> tuple[Outcome, bool]:
        """The reply for the oldest queued file (`size` bytes on disk): (outcome, whether the child
        was stopped)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("ExtractorPool is closed")
            inbox, proc = self._inbox, self._proc
            if inbox is None or proc is None:
                return self._extract_in_child(path), True
            look = size >= MEMORY_LOOK_BYTES or (self._taken + 1) % MEMORY_LOOK_EVERY == 0
            return self._await_reply(path, inbox, proc, look_at_memory=look)

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
        assert self._conn is not None and self._inbox is not None and self._proc is not None
        conn, inbox, proc = self._conn, self._inbox, self._proc
        try:
            conn.send(path)
        except (EOFError, OSError):
            proc.join(_KILL_GRACE_S)
            reason = "extraction cancelled" if self._closed else _crash_reason(proc.exitcode)
            self._stop_child()
            return Outcome(path, "failed", reason, None)
        return self._await_reply(path, inbox, proc)[0]

    def _await_reply(self, path: str, inbox: _Inbox, proc: BaseProcess,
                     look_at_memory: bool = True) -> tuple[Outcome, bool]:
        """Wait for the child's reply about `path`: (outcome, whether the child was stopped); a child
        left bigger than RECYCLE_ABOVE_BYTES (looked at with `look_at_memory`) is stopped."""
        try:
            reply: tuple[Any, ...] = inbox.get(self.timeout_s)
            self._taken += 1
        except queue.Empty:
            self._stop_child()
            return Outcome(path, "failed", f"timed out after {self.timeout_s:.0f} s", None), True
        except EOFError:
            proc.join(_KILL_GRACE_S)
            reason = "extraction cancelled" if self._closed else _crash_reason(proc.exitcode)
            self._stop_child()
            return Outcome(path, "failed", reason, None), True
        status, reason, extracted = reply[:3]
        passages = None
        if len(reply) > 3 and reply[3] is not None:  # cut by the child
            from desktop_search.passages import unpack

            try:
                passages = unpack(reply[3])
            except (TypeError, ValueError, IndexError):
                passages = None  # the caller cuts the text itself
        out_of_memory = reason is not None and "out of memory" in reason
        if out_of_memory and self.memory_limit_bytes:
            reason = (f"{reason}: it needs more than the {self.memory_limit_bytes // 1024**2:,} MB a reader may "
                      "use (setting extract_memory_mb)")
        stopped = out_of_memory or not proc.is_alive() or (
            look_at_memory and _resident_bytes(proc.pid) > RECYCLE_ABOVE_BYTES)
        if stopped:
            self._stop_child()  # the next file gets a fresh worker, and the memory goes back
        return Outcome(path, status, reason, extracted, passages), stopped


def _size_on_disk(path: str) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0


def _resident_bytes(pid: int | None) -> int:
    """The resident memory of a process now (0 if it cannot be read). Read after big files and
    every MEMORY_LOOK_EVERY files: on Linux from /proc (one small read), elsewhere through psutil."""
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
