"""Adapting the dense model to the library (the core side of training; no Qt, no torch here).

`train_job` exports the store's passages, runs `training.run` in a child process (torch
stays out of this process), turns its JSON lines into Progress reports, and when a new model
version comes out, embeds the corpus with it into that version's own HNSW index and (by
default) activates it. The base model is never modified; rollback is one call.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from .errors import Cancelled, KnownError
from .jobs import Progress
from .util import ProcessLock, atomic_write_text


def child_command(module: str, *args: str) -> list[str]:
    """How to run `python -m module args` from here, also inside a frozen (PyInstaller) app."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--run-module", module, *args]
    return [sys.executable, "-m", module, *args]


def export_passages(svc, folder: Path, *, documents: bool = False) -> tuple[Path, Path, int]:
    """Write the library's passages (group = document) and the document titles for the trainer:
    passages.jsonl and titles.json in `folder`; with `documents`, each document's whole text too
    (documents.jsonl).

    The whole texts let the trainer cut its units as consecutive 256-token pieces, as in the
    ReContriever reference (`training.run`'s "documents_file"); the app's job trains on the
    passages for now (so it does not write them), and the label-free check always searches the
    passages."""
    folder.mkdir(parents=True, exist_ok=True)
    passages = folder / "passages.jsonl"
    whole = folder / "documents.jsonl"
    titles = folder / "titles.json"
    conn = svc.store.conn
    n = 0
    title_map: dict[str, str] = {}
    with open(passages, "w", encoding="utf-8") as f, \
            (open(whole, "w", encoding="utf-8") if documents else contextlib.nullcontext()) as fd:
        for doc_id, title, name in conn.execute(
            "SELECT id, title, name FROM documents WHERE status='indexed' ORDER BY id"
        ).fetchall():
            text = svc.store.doc_text(doc_id)
            spans = conn.execute("SELECT start, end FROM chunks WHERE doc_id=? ORDER BY ord", (doc_id,)).fetchall()
            for start, end in spans:
                f.write(json.dumps({"group": str(doc_id), "text": text[start:end]}) + "\n")
                n += 1
            if spans and fd is not None:
                fd.write(json.dumps({"group": str(doc_id), "text": text[spans[0][0]:spans[-1][1]]}) + "\n")
            first_line = text.strip().split("\n", 1)[0].strip() if text else ""
            t = title or (first_line if 0 < len(first_line) <= 200 else "")
            if t:
                title_map[str(doc_id)] = t
    atomic_write_text(titles, json.dumps(title_map))
    return passages, titles, n


def train_job(svc, overrides: dict | None = None, *, select_alpha: bool = True, activate: bool = True,
              cancel: Callable[[], bool] | None = None, embed: bool = True) -> Iterator[Progress]:
    """Train a new model version on the library; yields Progress (phases: export, train, select, embed, done)."""
    cancel = cancel or (lambda: False)
    base_model = svc.base_model_path()
    if base_model is None or not Path(base_model).is_dir():
        raise KnownError("Training needs a local base model folder (the bundled default or a model path).")
    root = svc.data_dir / "training"
    lock = ProcessLock(svc.data_dir / "training.lock")
    lock.acquire()
    try:
        yield Progress("export", message="Collecting passages")
        passages, titles, n = export_passages(svc, root)
        if n < 4:
            raise KnownError(f"Only {n} passages are indexed; add more documents before training.")
        stop_file = root / "STOP"
        stop_file.unlink(missing_ok=True)
        spec = {
            # the units are the passages; "documents_file" (export_passages(documents=True)) would
            # cut them from whole texts instead: being measured, see README "Training"
            "passages_file": str(passages), "titles_file": str(titles), "base_model": str(base_model),
            "work_dir": str(root / "work"), "versions_root": str(svc.data_dir), "config": dict(overrides or {}),
            "select_alpha": select_alpha, "activate": False, "stop_file": str(stop_file),
        }
        cfg = root / "job.json"
        atomic_write_text(cfg, json.dumps(spec, indent=2))
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(child_command("training.run", str(cfg)), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        err_tail: list[str] = []
        t = threading.Thread(target=_drain, args=(proc.stderr, err_tail), daemon=True)
        t.start()
        done_event: dict | None = None
        last_step: dict = {}
        selection: dict = {}
        t0 = time.monotonic()
        try:
            for line in proc.stdout:
                if cancel():
                    stop_file.write_text("stop")
                    proc.terminate()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                kind = ev.get("event")
                if kind == "step":
                    last_step = ev
                    yield Progress("train", int(ev.get("step", 0)), int(ev.get("steps", 0)),
                                   f"loss {ev.get('loss', 0):.3f}", float(ev.get("steps_per_s") or 0.0),
                                   ev.get("eta_s"), stats={k: ev[k] for k in ("loss", "lr", "steps_per_s") if k in ev})
                elif kind in ("start", "train_start", "resumed", "checkpoint", "selected_alpha", "alpha_metrics"):
                    if kind == "selected_alpha" and isinstance(ev.get("metrics"), dict):
                        selection = ev["metrics"]
                    yield Progress("select" if "alpha" in kind else "train", message=kind.replace("_", " "),
                                   stats={k: v for k, v in ev.items() if k != "event"})
                elif kind in ("done", "error", "cancelled"):
                    done_event = ev
        finally:
            if cancel() and proc.poll() is None:
                stop_file.write_text("stop")
                proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            t.join(timeout=5)
        if cancel() or (done_event or {}).get("event") == "cancelled":
            raise Cancelled("training cancelled; start it again to resume from the last checkpoint")
        if done_event is None or done_event.get("event") == "error":
            msg = (done_event or {}).get("message") or "".join(err_tail[-5:]).strip() or f"exit code {proc.returncode}"
            raise KnownError(f"Training failed: {msg}")
        train_s = time.monotonic() - t0
    finally:
        lock.release()
    version = done_event.get("version")
    stats = {"train_s": round(train_s, 1), "alpha": done_event.get("alpha"), "version": version,
             "kept_base": bool(done_event.get("kept_base")), "steps": last_step.get("steps"),
             "steps_per_s": last_step.get("steps_per_s")}
    if selection:
        stats["selection"] = selection
    if version and embed:
        enc = svc.encoder_for(version)
        t1 = time.monotonic()
        yield from svc.embed(enc, cancel=cancel)
        stats["embed_s"] = round(time.monotonic() - t1, 1)
        if activate:
            svc.activate_version(version)
    msg = (f"New model version {version}" if version else
           "Training found no gain on your files' pseudo-queries; the base model stays active")
    yield Progress("done", message=msg, stats=stats)


def _drain(stream, tail: list[str]) -> None:
    for line in stream:
        tail.append(line)
        del tail[:-50]
