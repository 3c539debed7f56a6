"""The training job: adapting the dense model to the library (no Qt, no torch here).

`train_job` exports the store's passages, runs `training.run` in a child process (torch
stays out of this process), turns its event lines into Progress reports, and when a new model
version comes out, embeds the corpus with it into that version's own HNSW index and (by
default) activates it, once. The base model is never modified; rollback is one call.

A run killed while embedding with its new version (minutes on a CPU) must not train again: the
version is noted in `training/pending_embed.json` with the identity of the run (the passages,
the settings asked for, the marks) before embedding starts, and removed once the version is
embedded (and activated). The next `train` with the same identity finishes embedding that
version instead of training a second, identical one.

`TrainRequest` is what a caller (the CLI, the window) asks of a run: TrainConfig overrides and
whether to choose alpha and activate; the window sends it as JSON (`train --request FILE`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..errors import Cancelled, KnownError
from ..model_registry import ModelRegistry
from ..store import Store
from ..store.judgments import query_key
from ..util import ProcessLock, atomic_write_text
from .events import EventType, decode
from .launcher import child_environment, module_command
from .progress import Progress

# trainer events shown as progress of a phase, with their fields as stats
_INFO_EVENTS = {EventType.START: "train", EventType.TRAIN_START: "train", EventType.RESUMED: "train",
                EventType.CHECKPOINT: "train", EventType.ALREADY_TRAINED: "train", EventType.SAVED: "train",
                EventType.ALPHA_METRICS: "select", EventType.SELECTED_ALPHA: "select"}
_END_EVENTS = (EventType.DONE, EventType.ERROR, EventType.CANCELLED)


@dataclass(frozen=True)
class TrainRequest:
    """One training run as asked: TrainConfig overrides (missing fields: the defaults for this
    machine and library), whether to choose alpha on pseudo-queries, whether to activate."""

    config: dict = field(default_factory=dict)
    select_alpha: bool = True
    activate: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainRequest":
        unknown = set(d) - {"config", "select_alpha", "activate"}
        if unknown:
            raise KnownError(f"Unknown training request fields: {', '.join(sorted(unknown))}")
        config = dict(d.get("config") or {})
        if "interpolation_alpha" in config and "select_alpha" not in d:
            d = {**d, "select_alpha": False}
        return cls(config, bool(d.get("select_alpha", True)), bool(d.get("activate", True)))

    @classmethod
    def load(cls, path: str | Path) -> "TrainRequest":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise KnownError(f"Cannot read the training request {path}: {e}") from e
        if not isinstance(d, dict):
            raise KnownError(f"The training request {path} is not a JSON object")
        return cls.from_dict(d)


def export_passages(store: Store, folder: Path, *, documents: bool = False) -> tuple[Path, Path, int]:
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
    n = 0
    title_map: dict[str, str] = {}
    with open(passages, "w", encoding="utf-8") as f, \
            (open(whole, "w", encoding="utf-8") if documents else contextlib.nullcontext()) as fd:
        for doc_id, title, name in store.indexed_documents():
            text = store.doc_text(doc_id)
            spans = store.chunk_spans(doc_id)
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


PENDING_EMBED = "pending_embed.json"  # a trained version whose embedding has not finished


def run_identity(passages: Path, overrides: dict | None, select_alpha: bool, store: Store) -> str:
    """What makes two training runs the same run: the exported passages, the settings asked for
    and the relevance marks (not the held-out fold, which moves on with each new version)."""
    h = hashlib.blake2b(digest_size=16)
    with open(passages, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    marks = sorted((query_key(q), sorted(docs.items())) for q, docs in store.qrels().items())
    h.update(json.dumps({"config": dict(overrides or {}), "select_alpha": bool(select_alpha), "marks": marks},
                        sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()


def pending_version(root: Path, identity: str, models: ModelRegistry) -> str | None:
    """The version an earlier run with this identity trained but did not finish embedding."""
    try:
        d = json.loads((root / PENDING_EMBED).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    vid = d.get("version") if isinstance(d, dict) else None
    if not vid or d.get("identity") != identity:
        return None
    try:
        models.versions.get(vid)
    except Exception:  # noqa: BLE001 - deleted since: train again
        return None
    return vid


K_FOLDS = 5  # judged queries are split in this many folds; each version holds one out


def _query_hash(query: str) -> int:
    return int.from_bytes(hashlib.blake2b(query_key(query).encode("utf-8"), digest_size=8).digest(), "little")


def folds_of(queries, k: int = K_FOLDS) -> dict[str, int]:
    """The fold of each judged query: queries ordered by the hash of their normalised text are
    dealt round-robin, so the folds are balanced (with 8 queries and 5 folds: 2, 2, 2, 1, 1) and
    none is empty while there are at least k queries; a hash modulo k left a fold empty at
    8 queries in one run of the few-shot benchmark, and that version could not be checked."""
    ordered = sorted(set(queries), key=lambda q: (_query_hash(q), q))
    return {q: i % k for i, q in enumerate(ordered)}


def export_judgments(store: Store, folder: Path, held_out_fold: int | None, k: int = K_FOLDS) -> dict:
    """Write the judged pairs to learn from (pairs.jsonl) and the held-out judged queries
    (judged.jsonl) for the trainer. Queries of `held_out_fold` are not trained on: the version
    is chosen and later scored on them (judged_eval). Returns the files and query lists; no
    files when there are no judgments."""
    qrels = store.qrels()
    relevant = {q: [d for d, g in docs.items() if g > 0] for q, docs in qrels.items()}
    relevant = {q: ds for q, ds in relevant.items() if ds}
    if not relevant:
        return {"pairs": 0, "trained_on": [], "held_out": []}
    fold = folds_of(relevant, k)
    held = sorted(q for q in relevant if held_out_fold is not None and fold[q] == held_out_fold)
    train_qs = sorted(q for q in relevant if q not in set(held))
    hard: dict[str, list[str]] = {}
    pos: list[tuple[str, int, str]] = []
    for q, doc_id, passage, grade in store.judged_passages(train_qs):
        if grade > 0:
            pos.append((q, doc_id, passage))
        else:
            hard.setdefault(q, []).append(passage)
    folder.mkdir(parents=True, exist_ok=True)
    pairs_file, judged_file = folder / "pairs.jsonl", folder / "judged.jsonl"
    atomic_write_text(pairs_file, "".join(json.dumps({"query": q, "positive": text, "group": str(d),
                                                      "negatives": hard.get(q, [])}) + "\n" for q, d, text in pos))
    atomic_write_text(judged_file, "".join(json.dumps({"query": q, "groups": [str(d) for d in relevant[q]]}) + "\n"
                                           for q in held))
    return {"pairs": len(pos), "pairs_file": pairs_file, "judged_file": judged_file, "trained_on": train_qs,
            "held_out": held, "fold": held_out_fold, "k_folds": k}


Embedder = Callable[..., Iterator[Progress]]  # embed(encoder, cancel=...): vectors for every passage


def train_job(data_dir: Path, store: Store, models: ModelRegistry, overrides: dict | None = None, *,
              embed_with: Embedder | None = None, select_alpha: bool = True, activate: bool = True,
              cancel: Callable[[], bool] | None = None, embed: bool = True) -> Iterator[Progress]:
    """Train a new model version on the library; yields Progress (phases: export, train, select, embed, done).

    With `embed`, the new version's vectors are made by `embed_with` (the service's `embed`, which
    holds the embedding lock); with `activate` too, the version becomes active here, exactly once."""
    cancel = cancel or (lambda: False)
    data_dir = Path(data_dir)
    base_model = models.base_model_path()
    if base_model is None or not Path(base_model).is_dir():
        raise KnownError("Training needs a local base model folder (the bundled default or a model path).")
    root = data_dir / "training"
    with ProcessLock(data_dir / "training.lock", "training"):
        yield Progress("export", message="Collecting passages")
        passages, titles, n = export_passages(store, root)
        if n < 4:
            raise KnownError(f"Only {n} passages are indexed; add more documents before training.")
        identity = run_identity(passages, overrides, select_alpha, store)
        pending = pending_version(root, identity, models) if embed and embed_with is not None else None
        if pending is not None:
            # trained already, killed while embedding: finish that, never train the same again
            yield Progress("train", message=f"Version {pending} was trained by an earlier run with these settings "
                                            "that stopped while embedding; finishing its embedding instead of "
                                            "training again", stats={"version": pending},
                           kind=EventType.ALREADY_TRAINED.value)
            end, last_step, selection, train_s = {"version": pending, "reused": True}, {}, {}, 0.0
            judged = {"pairs": 0}
        else:
            end, last_step, selection, judged, train_s = yield from _train(
                root, passages, titles, base_model, data_dir, models, store, overrides, select_alpha, cancel)
        version = end.get("version")
        if version and embed and embed_with is not None:
            atomic_write_text(root / PENDING_EMBED, json.dumps({"version": version, "identity": identity}))
    stats = {"train_s": round(train_s, 1), "alpha": end.get("alpha"), "version": version,
             "kept_base": bool(end.get("kept_base")), "steps": last_step.get("steps"),
             "steps_per_s": last_step.get("steps_per_s"), "reused": bool(end.get("reused"))}
    if pending is not None:
        stats["resumed_embedding"] = True
        stats["alpha"] = models.versions.get(pending).settings.get("alpha")
    if selection:
        stats["selection"] = selection
    if judged["pairs"]:
        stats["judged"] = {"pairs": judged["pairs"], "trained_on": len(judged["trained_on"]),
                           "held_out": len(judged["held_out"])}
    if version and embed and embed_with is not None:
        enc = models.encoder_for(version)
        t1 = time.monotonic()
        yield from embed_with(enc, cancel=cancel)
        stats["embed_s"] = round(time.monotonic() - t1, 1)
        if activate:
            models.activate(version)
            stats["activated"] = True
        (root / PENDING_EMBED).unlink(missing_ok=True)
    msg = (f"New model version {version}" if version else
           "Training found no gain on your files' pseudo-queries; the base model stays active")
    yield Progress("done", message=msg, stats=stats)


def _train(root: Path, passages: Path, titles: Path, base_model: str, data_dir: Path, models: ModelRegistry,
           store: Store, overrides: dict | None, select_alpha: bool, cancel: Callable[[], bool]):
    """Run the trainer child on the exported passages (and marks); returns
    (end event, last step, selection, judged export, training seconds)."""
    stop_file = root / "STOP"
    stop_file.unlink(missing_ok=True)
    # marks: one fold of the judged queries is held out (a different one for each new version)
    judged = export_judgments(store, root, held_out_fold=len(models.versions.list()) % K_FOLDS)
    if judged["pairs"]:
        yield Progress("export", message=f"Learning from {judged['pairs']} marked results of "
                                         f"{len(judged['trained_on'])} queries; {len(judged['held_out'])} "
                                         "judged queries held out to check the result",
                       stats={k: v for k, v in judged.items() if not k.endswith("_file")})
    spec = {
        # the units are the passages; "documents_file" (export_passages(documents=True)) would
        # cut them from whole texts instead: being measured, see README "Training"
        "passages_file": str(passages), "titles_file": str(titles), "base_model": str(base_model),
        "work_dir": str(root / "work"), "versions_root": str(data_dir), "config": dict(overrides or {}),
        "select_alpha": select_alpha, "activate": False, "stop_file": str(stop_file),
    }
    if judged["pairs"]:
        spec.update(pairs_file=str(judged["pairs_file"]), judged_file=str(judged["judged_file"]),
                    version_settings={"trained_on_queries": judged["trained_on"],
                                      "held_out_queries": judged["held_out"],
                                      "cv_fold": judged["fold"], "k_folds": judged["k_folds"]})
    cfg = root / "job.json"
    atomic_write_text(cfg, json.dumps(spec, indent=2))
    t0 = time.monotonic()
    end, last_step, selection = yield from _run_trainer(cfg, stop_file, cancel)
    return end, last_step, selection, judged, time.monotonic() - t0


def _run_trainer(cfg: Path, stop_file: Path, cancel: Callable[[], bool]):
    """Run `training.run CONFIG` and turn its events into Progress; returns (end event, last step, selection)."""
    proc = subprocess.Popen(module_command("training.run", str(cfg)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_environment())
    err_tail: list[str] = []
    t = threading.Thread(target=_drain, args=(proc.stderr, err_tail), daemon=True)
    t.start()
    end = None
    last_step: dict = {}
    selection: dict = {}
    reused = False
    try:
        for line in proc.stdout:
            if cancel():
                stop_file.write_text("stop")
                proc.terminate()
            ev = decode(line)
            if ev is None:
                continue
            if ev.type is EventType.STEP:
                last_step = ev.data
                yield Progress("train", int(ev.get("step", 0)), int(ev.get("steps", 0)),
                               f"loss {ev.get('loss') or 0:.3f}", float(ev.get("steps_per_s") or 0.0),
                               ev.get("eta_s"), stats={k: ev.data[k] for k in ("loss", "lr", "steps_per_s")
                                                       if k in ev.data})
            elif ev.type in _INFO_EVENTS:
                if ev.type is EventType.SELECTED_ALPHA and isinstance(ev.get("metrics"), dict):
                    selection = ev.get("metrics")
                if ev.type is EventType.ALREADY_TRAINED:
                    reused = True
                    message = "already trained: reusing the finished run with these settings"
                else:
                    message = ev.type.value.replace("_", " ")
                yield Progress(_INFO_EVENTS[ev.type], message=message, stats=dict(ev.data),
                               kind=ev.type.value)
            elif ev.type in _END_EVENTS:
                end = ev
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
    if cancel() or (end is not None and end.type is EventType.CANCELLED):
        raise Cancelled("training cancelled; start it again to resume from the last checkpoint")
    if end is None or end.type is EventType.ERROR:
        msg = (end.get("message") if end else None) or "".join(err_tail[-5:]).strip() or f"exit code {proc.returncode}"
        raise KnownError(f"Training failed: {msg}")
    return {**end.data, "reused": reused}, last_step, selection


def _drain(stream, tail: list[str]) -> None:
    for line in stream:
        tail.append(line)
        del tail[:-50]
