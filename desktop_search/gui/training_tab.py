"""The Training tab: adapt the dense model to the library in a child process, watch the loss, manage model versions.

Training runs as `desktop-search train --json-progress` in a QProcess (the CLI itself trains in a
grandchild), the way indexing does; activating or rolling back runs `desktop-search models ... --json`
(it embeds the passages the chosen model has no vectors for). torch never loads into the window:
the hardware defaults come from a short-lived probe process.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from PySide6.QtCore import (QModelIndex, QObject, QPointF, QProcess, QProcessEnvironment, QRectF, QSize, Qt, QTimer,
                            Signal, Slot)
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget)

from .charts import _Chart
from .childproc import JsonLinesProcess, python_child_environment
from .errors import Banner
from .highlight import is_dark, mix, series_colors
from .models import ROW_ROLE, Index, _TableModel

KILL_AFTER_MS = 60_000  # a cancelled run checkpoints first (a few seconds); one that hangs this long is killed
PROBE_KILL_AFTER_MS = 120_000
STDERR_KEEP = 64_000
BASE = "base"

PHASE_LABELS = {"export": "Collecting passages", "train": "Training",
                "select": "Choosing how much of the new model to keep",
                "embed": "Re-embedding your passages with the new model", "done": "Finishing",
                "activate": "Switching model", "rollback": "Switching back to the base model"}

EXPLANATION = (
    "Training teaches the <b>Dense</b> retriever the words and topics of <i>your</i> files. It needs no labels: "
    "it cuts pairs of passages out of the same document and learns to bring them closer together than passages "
    "of other documents (contrastive learning, as in Contriever and ReContriever). Everything runs on this "
    "computer, in the background; the window stays usable. The result is a new <b>model version</b>, blended with "
    "the original so it keeps what it already knew. <b>The base model is never modified</b>: you can compare the "
    "two and roll back at any time."
)



# -- helpers --------------------------------------------------------------------------------------------------
def short_version(version_id: str | None) -> str:
    """'v3-20261124-221742' -> 'v3' (the number is unique in a store); 'base' stays 'base'."""
    if not version_id:
        return ""
    head = version_id.split("-", 1)[0]
    return head if head[:1] == "v" and head[1:].isdigit() else version_id


def fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return ""
    s = int(round(max(s, 0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def device_label(device: str, name: str = "", cpus: int | None = None) -> str:
    if device.startswith("cuda"):
        return f"GPU ({name})" if name else "NVIDIA GPU (CUDA)"
    if device == "mps":
        return "Apple GPU (Metal)"
    return f"CPU ({cpus} cores)" if cpus else "CPU"


def metric_label(metric: str) -> str:
    name, _, k = metric.partition("@")
    pretty = {"ndcg": "nDCG", "mrr": "MRR", "recall": "Recall", "map": "MAP"}.get(name.lower(), name.upper())
    return f"{pretty}@{k}" if k else pretty


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def cli_command(args: Sequence[str]) -> tuple[str, list[str]]:
    """Program and arguments that run the desktop-search CLI; the frozen app runs itself."""
    if _frozen():
        return sys.executable, list(args)
    return sys.executable, ["-m", "desktop_search", *args]


def child_environment() -> QProcessEnvironment:
    return python_child_environment(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")


@lru_cache(maxsize=1)
def train_cli_options() -> frozenset[str]:
    """The options `desktop-search train` accepts (a newer CLI may accept more of the tab's settings)."""
    import argparse

    from ..cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction) and "train" in action.choices:
            return frozenset(o for a in action.choices["train"]._actions for o in a.option_strings)
    return frozenset()


# -- what a run is ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainSettings:
    """The tab's settings; None means "the default for this computer and library" (the child decides)."""

    steps: int | None = None
    batch_size: int | None = None
    n_positives: int | None = None
    max_crop_tokens: int | None = None
    weighting: str = "relevance"
    negatives: str | None = None
    pair_weight: float = 0.0
    alpha: float | None = None  # None: choose it on pseudo-queries built from the files
    seed: int = 0
    activate: bool = True

    # setting -> the CLI option that carries it (positives and crop length need a CLI that knows them)
    OPTIONS = {"steps": "--steps", "batch_size": "--batch-size", "n_positives": "--positives",
               "max_crop_tokens": "--max-crop-tokens", "negatives": "--negatives"}

    def cli_args(self, supported: frozenset[str] | None = None) -> list[str]:
        supported = train_cli_options() if supported is None else supported
        args = ["train", "--json-progress"]
        for name, opt in self.OPTIONS.items():
            value = getattr(self, name)
            if value is not None and opt in supported:
                args += [opt, str(value)]
        args += ["--seed", str(self.seed), "--weighting", self.weighting, "--pair-weight", f"{self.pair_weight:g}"]
        if self.negatives == "moco" and "--negatives" not in supported:
            args.append("--moco")  # an older CLI: in-batch is its default
        if self.alpha is not None:
            args += ["--alpha", f"{self.alpha:g}"]
        if not self.activate:
            args.append("--no-activate")
        return args

    def unsupported(self, supported: frozenset[str] | None = None) -> list[str]:
        """Settings given a value that this CLI cannot pass on."""
        supported = train_cli_options() if supported is None else supported
        # negatives reach an older CLI too: moco as --moco, in-batch as its default
        return [n for n, o in self.OPTIONS.items()
                if getattr(self, n) is not None and o not in supported and n != "negatives"]


@dataclass(frozen=True)
class TrainJob:
    """One child run: a training run, or switching the active model ("activate" a version, "rollback")."""

    kind: str  # "train", "activate", "rollback"
    version: str | None = None  # activate: which
    settings: TrainSettings | None = None

    def cli_args(self, data_dir: str | os.PathLike, model: str | None) -> list[str]:
        args = ["--data-dir", os.fspath(data_dir)]
        if model:
            args += ["--model", model]
        if self.kind == "train":
            return args + (self.settings or TrainSettings()).cli_args()
        if self.kind == "activate":
            return args + ["models", "activate", str(self.version), "--json"]
        return args + ["models", "rollback", "--json"]

    def describe(self) -> str:
        if self.kind == "train":
            return "Training"
        if self.kind == "activate":
            return f"Switching to model version {short_version(self.version)}"
        return "Switching back to the base model"


@dataclass
class TrainOutcome:
    status: str  # "done", "kept_base", "cancelled", "failed"
    message: str = ""
    version: str | None = None  # the new (train) or now active (activate, rollback) version
    alpha: float | None = None
    stats: dict = field(default_factory=dict)
    details: str = ""  # the child's stderr when it failed
    exit_code: int | None = None


# -- the child process ----------------------------------------------------------------------------------------
class TrainRunner(JsonLinesProcess):
    """Runs one TrainJob at a time in a child process and reports its JSON lines."""

    started = Signal(object)  # TrainJob
    # progressed (dict) and phase_changed (str) come from JsonLinesProcess
    finished = Signal(object, object)  # TrainJob, TrainOutcome

    def __init__(self, data_dir: str | os.PathLike, model: str | None = None, parent: QObject | None = None):
        super().__init__(parent, kill_after_ms=KILL_AFTER_MS, stderr_keep=STDERR_KEEP)
        self.data_dir = Path(data_dir)
        self.model = model
        self._job: TrainJob | None = None
        self._end: dict | None = None

    @property
    def job(self) -> TrainJob | None:
        return self._job

    def command(self, job: TrainJob) -> tuple[str, list[str]]:
        return cli_command(job.cli_args(self.data_dir, self.model))

    def start(self, job: TrainJob) -> bool:
        """Start `job`; False while another one runs."""
        if self._proc is not None:
            return False
        self._job = job
        self._end = None
        proc = self._spawn(child_environment())
        self.started.emit(job)
        program, args = self.command(job)
        proc.start(program, args)
        return True

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """On quit: stop the child and wait for it (killed after `timeout_ms`)."""
        self._stop_and_wait(timeout_ms, 3000)

    def _request_stop(self, proc: QProcess) -> None:
        if self._job is not None and self._job.kind == "train":
            # the trainer also watches this file between steps (adaptation.train_job's stop_file): it stops
            # cleanly even where terminate() sends nothing a console program sees (Windows)
            try:
                (self.data_dir / "training" / "STOP").write_text("stop", encoding="utf-8")
            except OSError:
                pass
        super()._request_stop(proc)

    def handle_event(self, ev: dict) -> None:
        kind = ev.pop("event", None)
        if kind == "progress":
            self._emit_progress(ev)
        elif kind in ("done", "cancelled"):
            self._end = {"event": kind, **ev}
        elif kind is None:  # `models ... --json`: {"active": id} or {"error": message}
            self._end = {"event": "error" if "error" in ev else "done", **ev}

    def on_failed_to_start(self, error: str) -> None:
        program, args = self.command(self._job or TrainJob("train"))
        self._finish(TrainOutcome("failed", f"Could not start the training process ({program}): {error}",
                                  details=" ".join([program, *args])))

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._finish(self._outcome(code, status))

    def _outcome(self, code: int, status: QProcess.ExitStatus) -> TrainOutcome:
        job = self._job or TrainJob("train")
        err = self.stderr_text()
        end = self._end or {}
        crashed = status == QProcess.ExitStatus.CrashExit
        if end.get("event") == "done" and code == 0:
            return _done_outcome(job, end, code)
        if end.get("event") == "cancelled" or (self._cancelling and (crashed or code != 0)):
            if job.kind == "train":
                msg = "Training cancelled. Start it again with the same settings to resume from the last checkpoint."
            else:
                msg = "Switching the model was cancelled; passages without vectors are embedded on the next update."
            return TrainOutcome("cancelled", msg, exit_code=code)
        what = "Training" if job.kind == "train" else "Switching the model"
        if end.get("event") == "error" and end.get("error"):
            return TrainOutcome("failed", f"{what} failed: {end['error']}", details=err, exit_code=code)
        if crashed:
            return TrainOutcome("failed", f"The {what.lower()} process stopped unexpectedly.", details=err,
                                exit_code=code)
        return TrainOutcome("failed", _error_line(err, what) or f"{what} failed (exit code {code}).", details=err,
                            exit_code=code)

    def _finish(self, out: TrainOutcome) -> None:
        job = self._job
        self._release_process()
        self._job = None
        self.finished.emit(job, out)


def _done_outcome(job: TrainJob, end: dict, code: int) -> TrainOutcome:
    stats = {k: v for k, v in end.items() if k != "event"}
    if job.kind != "train":
        active = end.get("active") or (job.version if job.kind == "activate" else BASE)
        msg = ("The base model is active again." if active == BASE
               else f"Model version {short_version(active)} is active.")
        return TrainOutcome("done", msg, version=active, stats=stats, exit_code=code)
    version, alpha = end.get("version"), end.get("alpha")
    if not version:
        return TrainOutcome("kept_base", "Training found no gain on your files; the base model stays active.",
                            alpha=alpha, stats=stats, exit_code=code)
    activated = not (job.settings and not job.settings.activate)
    parts = [f"alpha {alpha:g}" if isinstance(alpha, (int, float)) else ""]
    if stats.get("train_s") is not None:
        parts.append(f"trained in {fmt_duration(stats['train_s'])}")
    if stats.get("embed_s") is not None:
        parts.append(f"re-embedded in {fmt_duration(stats['embed_s'])}")
    detail = ", ".join(p for p in parts if p)
    state = "is active" if activated else "is ready (not active yet: activate it below)"
    msg = f"New model version {short_version(version)} {state}" + (f": {detail}." if detail else ".")
    return TrainOutcome("done", msg,
                        version=version, alpha=alpha, stats=stats, exit_code=code)


def _error_line(stderr: str, what: str) -> str:
    """The user-facing line of a failed child: the CLI prints known errors as `desktop-search: msg`."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("desktop-search: "):
            return ln[len("desktop-search: "):]
    return f"{what} failed: {lines[-1]}" if lines else ""


class HardwareProbe(QObject):
    """Asks a short-lived child which device training would use and the default settings for it."""

    detected = Signal(dict)  # {"device", "name", "cpus", "config": TrainConfig fields}
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: QProcess | None = None
        self._out = b""
        self._err = b""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer_timeout)

    @staticmethod
    def available() -> bool:
        return True  # `desktop-search train --print-defaults` works from source and frozen alike

    @property
    def running(self) -> bool:
        return self._proc is not None

    def run(self, data_dir: str | os.PathLike, model: str | None = None) -> bool:
        if self._proc is not None or not self.available():
            return False
        self._out = b""
        self._err = b""
        proc = QProcess(self)
        proc.setProcessEnvironment(child_environment())
        proc.finished.connect(self._on_proc_finished)
        proc.errorOccurred.connect(self._on_proc_error_occurred)
        self._proc = proc
        self._timer.start(PROBE_KILL_AFTER_MS)
        # torch is imported in that child, never in the window
        args = ["--data-dir", os.fspath(data_dir)] + (["--model", model] if model else [])
        program, argv = cli_command(args + ["train", "--print-defaults"])
        proc.start(program, argv)
        return True

    def shutdown(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.kill()
            proc.waitForFinished(3000)

    @Slot(int, QProcess.ExitStatus)
    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        proc = self._proc
        if proc is None:
            return
        out = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip()
        self._done()
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                try:
                    info = json.loads(line)
                except ValueError:
                    break
                self.detected.emit(info)
                return
        self.failed.emit(_error_line(err, "Checking the hardware") or f"exit code {code}")

    @Slot(QProcess.ProcessError)
    def _on_proc_error_occurred(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart and self._proc is not None:
            msg = self._proc.errorString()
            self._done()
            self.failed.emit(msg)

    def _done(self) -> None:
        self._timer.stop()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.deleteLater()

    @Slot()
    def _on_timer_timeout(self) -> None:
        if self._proc is not None:
            self._proc.kill()


# -- model versions -----------------------------------------------------------------------------------------------
class VersionRow(NamedTuple):
    id: str
    created: str  # local time, for display
    alpha: float | None
    steps: int | None
    selection: str  # "nDCG@10 0.742 vs base 0.731", or how alpha was chosen
    active: bool
    tooltip: str = ""


def _local_time(iso: str) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _selection_text(metrics: dict, alpha: float | None) -> tuple[str, str]:
    sel = metrics.get("selection") if isinstance(metrics, dict) else None
    if not isinstance(sel, dict) or not sel.get("metrics"):
        return ("fixed alpha" if alpha is not None else "", "Alpha was set by hand; no selection was measured.")
    metric = str(sel.get("metric") or "ndcg@10")
    per = sel["metrics"]

    def score(a) -> float | None:
        m = per.get(f"{float(a):g}") if a is not None else None
        v = m.get(metric) if isinstance(m, dict) else None
        return float(v) if isinstance(v, (int, float)) else None

    chosen, base = score(sel.get("alpha", alpha)), score(0.0)
    label = metric_label(metric)
    text = ""
    if chosen is not None and base is not None:
        text = f"{label} {chosen:.3f} vs base {base:.3f}"
    lines = [f"{label} on pseudo-queries built from your files, per alpha:"]
    for a, m in sorted(per.items(), key=lambda kv: float(kv[0])):
        if isinstance(m, dict) and isinstance(m.get(metric), (int, float)):
            lines.append(f"  alpha {a}: {m[metric]:.3f}" + ("  (base model)" if float(a) == 0 else ""))
    if sel.get("reason"):
        lines.append(f"Chosen: {sel['reason']}.")
    return text, "\n".join(lines)


def load_version_rows(svc) -> tuple[VersionRow, ...]:
    """Worker-thread function: the trained versions, newest first, then the base model."""
    vs = svc.versions
    active = vs.active_id()
    rows = []
    for v in reversed(vs.list()):
        settings = v.settings if isinstance(v.settings, dict) else {}
        alpha = settings.get("alpha")
        alpha = float(alpha) if isinstance(alpha, (int, float)) else None
        config = settings.get("config") if isinstance(settings.get("config"), dict) else {}
        steps = config.get("steps")
        sel, sel_tip = _selection_text(v.metrics, alpha)
        tip = [v.id, str(v.path)]
        if config:
            tip.append(", ".join(f"{k} {config[k]}" for k in ("steps", "batch_size", "n_positives", "max_crop_tokens",
                                                              "weighting", "negatives", "pair_alpha", "seed")
                                 if k in config))
        tip.append(sel_tip)
        rows.append(VersionRow(v.id, _local_time(v.created), alpha, int(steps) if isinstance(steps, int) else None,
                               sel, v.id == active, "\n".join(tip)))
    model = getattr(getattr(svc, "settings", None), "model", "") or ""
    rows.append(VersionRow(BASE, "", None, None, "", active == BASE,
                           f"The model the app ships with ({model}); it is never modified." if model else
                           "The model the app ships with; it is never modified."))
    return tuple(rows)


class VersionsModel(_TableModel):
    """Model versions: id, when made, alpha, steps, the selection figures, which one is active."""

    HEADERS = ("Version", "Created", "Alpha", "Steps", "Selection on your files", "Active")
    VERSION, CREATED, ALPHA, STEPS, SELECTION, ACTIVE = range(6)

    def row_of(self, version_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == version_id), -1)

    @property
    def active_id(self) -> str:
        return next((r.id for r in self._rows if r.active), BASE)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        r: VersionRow = self._rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if c == self.VERSION:
                return "base model (original)" if r.id == BASE else r.id
            if c == self.CREATED:
                return r.created or ("shipped with the app" if r.id == BASE else "")
            if c == self.ALPHA:
                return "" if r.alpha is None else f"{r.alpha:g}"
            if c == self.STEPS:
                return "" if r.steps is None else f"{r.steps:,}"
            if c == self.SELECTION:
                return r.selection
            return "● active" if r.active else ""
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole:
            if c == self.ALPHA:
                return "Share of the trained weights in the blend with the base model (0 = base, 1 = trained only)"
            return r.tooltip or None
        if role == Qt.ItemDataRole.FontRole and r.active:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if c in (self.ALPHA, self.STEPS) \
                else int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None


# -- the loss plot ------------------------------------------------------------------------------------------------
class LossChart(_Chart):
    """The training loss per step (thin) and its moving average (thick), in the style of the compare charts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.total = 0
        self.setMinimumSize(240, 150)
        self.setToolTip("Contrastive loss per training step; it should drift down as the model learns your files")

    def sizeHint(self) -> QSize:
        return QSize(420, 170)

    def clear(self) -> None:
        self.points = []
        self.total = 0
        self.update()

    def set_total(self, total: int) -> None:
        self.total = max(int(total), 0)
        self.update()

    def add_point(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            return
        if self.points and step <= self.points[-1][0]:  # a resumed run restarts from its checkpoint
            self.points = [p for p in self.points if p[0] < step]
        self.points.append((int(step), float(loss)))
        self.update()

    def smoothed(self) -> list[float]:
        """Exponential moving average over about a tenth of the run (at least 5 steps)."""
        if not self.points:
            return []
        span = max(5, (self.total or len(self.points)) // 10)
        a = 2.0 / (span + 1)
        out, m = [], self.points[0][1]
        for _, v in self.points:
            m = a * v + (1 - a) * m
            out.append(m)
        return out

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        base, text, dim, grid = self._colors()
        p.fillRect(self.rect(), base)
        if not self.points:
            self._empty(p, "The training loss appears here, step by step, while a run is going.")
            return
        fm = QFontMetrics(self.font())
        lh = fm.height()
        line_col = series_colors(self.palette(), 1)[0]
        raw_col = mix(line_col, base, 0.4 if is_dark(self.palette()) else 0.55)
        # legend
        x = 8.0
        for label, col, width in (("loss per step", raw_col, 1.5), ("moving average", line_col, 2.5)):
            p.setPen(QPen(col, width))
            y = 6 + lh / 2
            p.drawLine(QPointF(x, y), QPointF(x + 16, y))
            p.setPen(text)
            p.drawText(QPointF(x + 20, 6 + fm.ascent()), label)
            x += 20 + fm.horizontalAdvance(label) + 16
        losses = [v for _, v in self.points]
        ticks, decimals = nice_ticks(min(losses), max(losses))
        lo, hi = ticks[0], ticks[-1]
        labels = [f"{v:.{decimals}f}" for v in ticks]
        left = 8 + max(fm.horizontalAdvance(s) for s in labels) + 6
        top = 6 + lh + 10
        bottom = self.height() - lh - 8
        right = self.width() - 12
        h = max(10.0, bottom - top)
        w = max(10.0, right - left)
        last = self.points[-1][0]
        x_max = max(self.total, last, 1)
        x_min = 0

        def pos(step: float, v: float) -> QPointF:
            return QPointF(left + (step - x_min) / (x_max - x_min) * w, bottom - (v - lo) / (hi - lo) * h)

        for i, v in enumerate(ticks):
            y = bottom - (v - lo) / (hi - lo) * h
            p.setPen(QPen(dim if i == 0 else grid, 1))
            p.drawLine(QPointF(left, y), QPointF(right, y))
            p.setPen(dim)
            p.drawText(QRectF(0, y - lh / 2, left - 4, lh),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), labels[i])
        p.setPen(dim)
        p.drawText(QRectF(left - 20, bottom + 2, 40, lh), int(Qt.AlignmentFlag.AlignCenter), "0")
        end_label = f"step {x_max:,}"
        ew = fm.horizontalAdvance(end_label)
        p.drawText(QRectF(right - ew - 2, bottom + 2, ew + 4, lh), int(Qt.AlignmentFlag.AlignRight), end_label)
        # the raw loss, then its moving average on top
        p.setClipRect(QRectF(left, top - 4, w + 4, h + 8))
        if len(self.points) > 1:
            path = QPainterPath(pos(*self.points[0]))
            for s, v in self.points[1:]:
                path.lineTo(pos(s, v))
            p.setPen(QPen(raw_col, 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        if len(self.points) <= 40:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(raw_col if len(self.points) > 1 else line_col)
            r = 2.5 if len(self.points) > 1 else 4.0
            for s, v in self.points:
                p.drawEllipse(pos(s, v), r, r)
        sm = self.smoothed()
        if len(sm) > 1:
            path = QPainterPath(pos(self.points[0][0], sm[0]))
            for (s, _), v in zip(self.points[1:], sm[1:]):
                path.lineTo(pos(s, v))
            p.setPen(QPen(line_col, 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        p.setClipping(False)
        # the latest value next to the last point
        s, v = self.points[-1]
        pt = pos(s, v)
        label = f"{v:.3f}"
        tw = fm.horizontalAdvance(label)
        lx = min(pt.x() + 6, right - tw)
        ly = max(top + lh, min(pt.y() - 6, bottom - 4))
        p.setPen(text)
        p.drawText(QPointF(lx, ly), label)


def nice_ticks(lo: float, hi: float, n: int = 4) -> tuple[list[float], int]:
    """About `n` round tick values covering [lo, hi], and the decimals to print them with."""
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks = [start]
    while ticks[-1] < hi - 1e-9:
        ticks.append(ticks[-1] + step)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if step / mag == 2.5 else 0))
    return [round(t, 10) for t in ticks], decimals


# -- settings widgets ---------------------------------------------------------------------------------------------
class AutoSpinBox(QSpinBox):
    """A spin box whose lowest value reads "auto" (the default for this computer, decided when training starts)."""

    def __init__(self, lo: int, hi: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(lo - 1, hi)
        self.setSpecialValueText("auto")
        self.setValue(lo - 1)
        self.default: int | None = None
        self.user_set = False
        self._applying = False
        self.valueChanged.connect(self._on_self_value_changed)

    def is_auto(self) -> bool:
        return self.value() == self.minimum()

    def value_or_none(self) -> int | None:
        return None if self.is_auto() else self.value()

    def apply_default(self, value: int | None, *, force: bool = False) -> None:
        """Show the default unless the user chose a value (or `force`)."""
        self.default = value
        if self.user_set and not force:
            return
        self._applying = True
        try:
            self.setValue(self.minimum() if value is None else value)
        finally:
            self._applying = False
        self.user_set = False

    def stepBy(self, steps: int) -> None:
        if self.is_auto() and self.default is not None:
            self.setValue(self.default)  # from "auto", the arrows start at the default, not at 1
            return
        super().stepBy(steps)

    @Slot(int)
    def _on_self_value_changed(self, _value: int) -> None:
        if not self._applying:
            self.user_set = True


class _CompactTable(QTableView):
    """A table that asks for a few rows' height only (the tab scrolls instead of outgrowing the window)."""

    def sizeHint(self) -> QSize:
        rows = self.verticalHeader().defaultSectionSize()
        return QSize(480, self.horizontalHeader().sizeHint().height() + 4 * rows + 2 * self.frameWidth())


def _combo(items: Sequence[tuple[str, Any]], tip: str = "") -> QComboBox:
    c = QComboBox()
    for label, data in items:
        c.addItem(label, data)
    if tip:
        c.setToolTip(tip)
    return c


def _bold(label: QLabel, scale: float = 1.0) -> QLabel:
    f = label.font()
    f.setBold(True)
    if scale != 1.0:
        f.setPointSizeF(f.pointSizeF() * scale)
    label.setFont(f)
    return label


# -- the tab ------------------------------------------------------------------------------------------------------
class TrainingTab(QWidget):
    """Settings, Start / Cancel, progress with the loss plot, and the history of model versions."""

    title = "Training"

    finished = Signal(object)  # TrainOutcome of a training run or a model switch
    versions_loaded = Signal(object)  # tuple[VersionRow, ...]
    defaults_detected = Signal(dict)  # the probe's answer
    model_changed = Signal(str)  # the active model version changed (its id, or "base")
    compare_requested = Signal(str)  # compare this version with the base model (the main window switches tabs)

    def __init__(self, ctx=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.runner: TrainRunner | None = None
        self.probe = HardwareProbe(self)
        self.probe.detected.connect(self._on_probe_detected)
        self.probe.failed.connect(self._on_probe_failed)
        self.hardware: dict | None = None
        self._probed_passages: int | None = None
        self._versions_loading = False
        self._reload_again = False
        self.last_outcome: TrainOutcome | None = None
        self._alpha_scores: dict[float, float] = {}  # alpha -> nDCG@10 on pseudo-queries, during a run

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea()  # small windows scroll the tab instead of growing the window's minimum size
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self.scroll)
        content = QWidget()
        self.scroll.setWidget(content)
        self.scroll.viewport().setAutoFillBackground(False)
        content.setAutoFillBackground(False)
        lay = QVBoxLayout(content)
        head = _bold(QLabel("Adapt the search model to your files"), 1.2)
        lay.addWidget(head)
        self.explanation = QLabel(EXPLANATION)
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.explanation.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        lay.addWidget(self.explanation)

        body = QHBoxLayout()  # settings on the left; progress above the version history on the right
        body.addWidget(self._build_settings())
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self._build_progress())
        self.splitter.addWidget(self._build_versions())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        body.addWidget(self.splitter, 1)
        lay.addLayout(body, 1)

        self._update_buttons()
        if ctx is not None:
            ctx.service_attached.connect(self._on_ctx_service_attached)
            if ctx.service is not None:
                self._on_ctx_service_attached(ctx.service)

    # -- building ---------------------------------------------------------------------------------------------
    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Settings")
        box.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        v = QVBoxLayout(box)
        self.hardware_label = QLabel("Defaults for this computer are checked when you open this tab.")
        self.hardware_label.setWordWrap(True)
        self.hardware_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        v.addWidget(self.hardware_label)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.steps_spin = AutoSpinBox(1, 100_000)
        self.steps_spin.setSingleStep(10)
        self.steps_spin.setToolTip("Training steps. More steps adapt more (and take longer); a few hundred is typical.")
        self.batch_spin = AutoSpinBox(2, 4096)
        self.batch_spin.setToolTip("Passages per step. Each is contrasted with the others in the batch, so larger "
                                   "batches learn more per step but need more memory.")
        self.positives_spin = AutoSpinBox(1, 16)
        self.positives_spin.setToolTip("Positive crops per anchor: how many other pieces of the same passage each "
                                       "anchor learns to match (ReContriever uses 4).")
        self.crop_spin = AutoSpinBox(8, 512)
        self.crop_spin.setSuffix(" tokens")
        self.crop_spin.setSingleStep(8)
        self.crop_spin.setToolTip("Longest crop cut from a passage. Shorter crops train faster (64 on a CPU).")
        self.weighting_combo = _combo((("Relevance-weighted", "relevance"), ("Uniform", "uniform")),
                                      "Relevance-weighted: pairs the model finds unrelated count less (ReContriever). "
                                      "Uniform: every pair counts the same.")
        self.negatives_combo = _combo((("In-batch", "in_batch"), ("MoCo queue", "moco")),
                                      "What each passage is contrasted with: the other passages of the batch, or "
                                      "also a queue of recent batches (MoCo; about the same quality, more memory).")
        self.pair_spin = QDoubleSpinBox()
        self.pair_spin.setRange(0.0, 0.9)
        self.pair_spin.setSingleStep(0.05)
        self.pair_spin.setDecimals(2)
        self.pair_spin.setSpecialValueText("off")
        self.pair_spin.setToolTip("PAIR passage-centric weight: also require a passage to be closer to its own "
                                  "crop than to other passages (0.1 in the PAIR paper; off by default).")
        alpha_row = QHBoxLayout()
        alpha_row.setContentsMargins(0, 0, 0, 0)
        self.alpha_combo = _combo((("Auto: choose on my files", "auto"), ("Fixed", "fixed")),
                                  "How much of the trained weights to blend with the base model. Auto tries several "
                                  "blends on questions made from your files' titles and first sentences, and keeps "
                                  "the base model if none helps.")
        self.alpha_spin = QDoubleSpinBox()
        self.alpha_spin.setRange(0.05, 1.0)
        self.alpha_spin.setSingleStep(0.05)
        self.alpha_spin.setDecimals(2)
        self.alpha_spin.setValue(0.5)
        self.alpha_spin.setToolTip("0.5 means half base model, half trained model (a good choice in our tests)")
        self.alpha_combo.currentIndexChanged.connect(self._on_alpha_combo_current_index_changed)
        alpha_row.addWidget(self.alpha_combo, 1)
        alpha_row.addWidget(self.alpha_spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Random seed: the same seed and settings give the same model")
        form.addRow("Steps", self.steps_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Positives per anchor", self.positives_spin)
        form.addRow("Crop length cap", self.crop_spin)
        form.addRow("Pair weighting", self.weighting_combo)
        form.addRow("Negatives", self.negatives_combo)
        form.addRow("PAIR weight", self.pair_spin)
        form.addRow("Interpolation alpha", alpha_row)
        form.addRow("Seed", self.seed_spin)
        v.addLayout(form)
        self.activate_check = QCheckBox("Use the new version as soon as it is ready")
        self.activate_check.setChecked(True)
        v.addWidget(self.activate_check)
        self._on_alpha_combo_current_index_changed(0)
        supported = train_cli_options()
        for spin, name in ((self.positives_spin, "n_positives"), (self.crop_spin, "max_crop_tokens")):
            if TrainSettings.OPTIONS[name] not in supported:
                spin.setProperty("supported", False)
                spin.setEnabled(False)
                spin.setToolTip(spin.toolTip() + " (This version of the training command always uses the default.)")
        v.addStretch(1)
        buttons = QHBoxLayout()
        self.defaults_button = QPushButton("Reset to defaults")
        self.defaults_button.setToolTip("Set every value back to the defaults for this computer and library")
        self.defaults_button.clicked.connect(self._on_defaults_button_clicked)
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; starting again with the same settings resumes from the last "
                                      "checkpoint")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        buttons.addWidget(self.defaults_button)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        v.addLayout(buttons)
        return box

    def _build_progress(self) -> QGroupBox:
        box = QGroupBox("Progress")
        v = QVBoxLayout(box)
        self.phase_label = _bold(QLabel("Not running"))
        v.addWidget(self.phase_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        v.addWidget(self.progress)
        self.detail_label = QLabel("Training takes minutes on a CPU and seconds to minutes on a GPU.")
        self.detail_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.detail_label.setWordWrap(True)
        v.addWidget(self.detail_label)
        self.chart = LossChart()
        v.addWidget(self.chart, 1)
        self.outcome = Banner()
        v.addWidget(self.outcome)
        return box

    def _build_versions(self) -> QGroupBox:
        box = QGroupBox("Model versions")
        v = QVBoxLayout(box)
        self.versions_model = VersionsModel(self)
        self.versions_view = _CompactTable()
        self.versions_view.setModel(self.versions_model)
        self.versions_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.versions_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions_view.setAlternatingRowColors(True)
        self.versions_view.setShowGrid(False)
        self.versions_view.setWordWrap(False)
        self.versions_view.verticalHeader().hide()
        self.versions_view.verticalHeader().setDefaultSectionSize(self.versions_view.fontMetrics().lineSpacing() + 8)
        hh = self.versions_view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(VersionsModel.SELECTION, QHeaderView.ResizeMode.Stretch)
        row_h = self.versions_view.verticalHeader().defaultSectionSize()
        self.versions_view.setMinimumHeight(hh.sizeHint().height() + 3 * row_h)
        self.versions_view.selectionModel().currentRowChanged.connect(self._on_versions_view_current_row_changed)
        self.versions_view.doubleClicked.connect(self._on_versions_view_double_clicked)
        v.addWidget(self.versions_view, 1)
        row = QHBoxLayout()
        self.activate_button = QPushButton("Activate")
        self.activate_button.setToolTip("Search with the selected version from now on (its passages are embedded "
                                        "first if needed)")
        self.rollback_button = QPushButton("Roll back to base")
        self.rollback_button.setToolTip("Search with the original model again; trained versions stay available")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected version and its vectors (not the active one)")
        self.compare_button = QPushButton("Compare with base")
        self.compare_button.setToolTip("Open the Compare tab with the selected version and the base model side by "
                                       "side for the current query")
        self.activate_button.clicked.connect(self._on_activate_button_clicked)
        self.rollback_button.clicked.connect(self._on_rollback_button_clicked)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        self.compare_button.clicked.connect(self._on_compare_button_clicked)
        for b in (self.activate_button, self.rollback_button, self.delete_button):
            row.addWidget(b)
        row.addStretch(1)
        self.versions_note = QLabel()
        self.versions_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        row.addWidget(self.versions_note)
        row.addWidget(self.compare_button)
        v.addLayout(row)
        return box

    # -- service and hardware -------------------------------------------------------------------------------------
    @property
    def service(self):
        return self.ctx.service if self.ctx is not None else None

    def _on_ctx_service_attached(self, svc) -> None:
        if self.runner is not None:
            if self.runner.running:
                return
            self.runner.deleteLater()
        model = getattr(getattr(svc, "settings", None), "model", None)
        self.runner = TrainRunner(svc.data_dir, model, parent=self)
        self.runner.started.connect(self._on_runner_started)
        self.runner.progressed.connect(self._on_runner_progressed)
        self.runner.phase_changed.connect(self._on_runner_phase_changed)
        self.runner.finished.connect(self._on_runner_finished)
        self.reload_versions()
        self._update_buttons()
        if self.isVisible():
            self.detect_hardware()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.detect_hardware()
        self.reload_versions()

    def n_passages(self) -> int:
        lib = getattr(self.ctx, "library", None)
        return int((getattr(lib, "counts", None) or {}).get("chunks", 0) or 0)

    def detect_hardware(self, *, force: bool = False) -> None:
        """Ask the probe child for this computer's defaults (again when the library size changed)."""
        if self.service is None or self.probe.running:
            return
        n = self.n_passages()
        if not force and self._probed_passages is not None and (n == self._probed_passages or self._user_edited()):
            return
        if not HardwareProbe.available():
            self.hardware_label.setText("Settings on \u201cauto\u201d are sized for this computer and your library "
                                        "when training starts.")
            return
        self._probed_passages = n
        if self.hardware is None:
            self.hardware_label.setText("Checking this computer\u2019s hardware for sensible defaults\u2026")
        self.probe.run(self.service.data_dir, getattr(self.service.settings, "model", None))

    def _setting_widgets(self) -> tuple[QWidget, ...]:
        return (*self._spins(), self.weighting_combo, self.negatives_combo, self.pair_spin, self.alpha_combo,
                self.seed_spin, self.activate_check)

    def _user_edited(self) -> bool:
        return any(s.user_set for s in self._spins())

    def _spins(self) -> tuple[AutoSpinBox, ...]:
        return (self.steps_spin, self.batch_spin, self.positives_spin, self.crop_spin)

    def _on_probe_detected(self, info: dict) -> None:
        self.hardware = info
        self._apply_defaults(force=False)
        self.defaults_detected.emit(info)

    def _on_probe_failed(self, message: str) -> None:
        self.hardware_label.setText(f"Could not check the hardware ({message}); settings on \u201cauto\u201d are "
                                    "decided when training starts.")

    def _apply_defaults(self, *, force: bool) -> None:
        info = self.hardware or {}
        cfg = info.get("config") or {}
        for spin, key in zip(self._spins(), ("steps", "batch_size", "n_positives", "max_crop_tokens")):
            val = cfg.get(key)
            spin.apply_default(int(val) if isinstance(val, int) else None, force=force)
        if force:
            self._set_combo(self.weighting_combo, cfg.get("weighting", "relevance"))
            self._set_combo(self.negatives_combo, cfg.get("negatives", "in_batch"))
            self.pair_spin.setValue(float(cfg.get("pair_alpha", 0.0) or 0.0))
            self.alpha_combo.setCurrentIndex(0)
            self.alpha_spin.setValue(float(cfg.get("interpolation_alpha", 0.5) or 0.5))
            self.seed_spin.setValue(int(cfg.get("seed", 0) or 0))
            self.activate_check.setChecked(True)
        if info:
            dev = device_label(str(info.get("device", "cpu")), info.get("name") or "", info.get("cpus"))
            n = self._probed_passages or 0
            self.hardware_label.setText(f"Defaults for this computer: {dev}" +
                                        (f", sized for the {n:,} passages in your library." if n else "."))

    @staticmethod
    def _set_combo(combo: QComboBox, data) -> None:
        i = combo.findData(data)
        if i >= 0:
            combo.setCurrentIndex(i)

    def _on_defaults_button_clicked(self) -> None:
        self._apply_defaults(force=True)
        if self.hardware is None:
            self.detect_hardware(force=True)

    def _on_alpha_combo_current_index_changed(self, _i: int) -> None:
        self.alpha_spin.setEnabled(self.alpha_combo.currentData() == "fixed")

    # -- settings ---------------------------------------------------------------------------------------------
    def settings(self) -> TrainSettings:
        return TrainSettings(
            steps=self.steps_spin.value_or_none(), batch_size=self.batch_spin.value_or_none(),
            n_positives=self.positives_spin.value_or_none(), max_crop_tokens=self.crop_spin.value_or_none(),
            weighting=self.weighting_combo.currentData(), negatives=self.negatives_combo.currentData(),
            pair_weight=round(self.pair_spin.value(), 4),
            alpha=round(self.alpha_spin.value(), 4) if self.alpha_combo.currentData() == "fixed" else None,
            seed=self.seed_spin.value(), activate=self.activate_check.isChecked())

    # -- running ------------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def start_training(self) -> bool:
        if self.runner is None or self.runner.running:
            return False
        s = self.settings()
        self.chart.clear()
        self.chart.set_total(s.steps or 0)
        return self.runner.start(TrainJob("train", settings=s))

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running:
            self.phase_label.setText("Cancelling\u2026")
            self.detail_label.setText("Training stops after the current step and saves a checkpoint.")
            self.cancel_button.setEnabled(False)
            self.runner.cancel()

    def shutdown(self) -> None:
        """On quit: stop the running child (training checkpoints) and the probe."""
        self.probe.shutdown()
        if self.runner is not None:
            self.runner.shutdown()

    def _on_start_button_clicked(self) -> None:
        self.start_training()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    def _on_runner_started(self, job: TrainJob) -> None:
        self.outcome.hide()
        self._alpha_scores = {}
        self.phase_label.setText(job.describe() + "\u2026")
        self.progress.setRange(0, 0)
        self.detail_label.setText("Starting\u2026" if job.kind == "train" else
                                  "Embedding any passages this model has no vectors for yet\u2026")
        self._update_buttons()

    def _on_runner_phase_changed(self, phase: str) -> None:
        job = self.runner.job if self.runner is not None else None
        if job is not None and job.kind == "train" and not self.runner.cancelling:
            self.phase_label.setText(PHASE_LABELS.get(phase, phase.capitalize()))

    def _on_runner_progressed(self, ev: dict) -> None:
        if self.runner is not None and self.runner.cancelling:
            return
        phase = ev.get("phase", "")
        done, total = int(ev.get("done") or 0), int(ev.get("total") or 0)
        stats = ev.get("stats") or {}
        msg = ev.get("message") or ""
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        elif phase != "done" and msg != "checkpoint":  # (a checkpoint between steps keeps the bar)
            self.progress.setRange(0, 0)
        parts: list[str] = []
        if phase == "train":
            if msg == "start" and stats.get("device"):
                self.hardware_label.setText(f"Training on {device_label(str(stats['device']))}, "
                                            f"{int(stats.get('n_passages') or 0):,} passages.")
                cfg = stats.get("config") or {}
                if isinstance(cfg.get("steps"), int):
                    self.chart.set_total(cfg["steps"])
                parts.append("Loading the model\u2026")
            elif msg == "resumed":
                parts.append(f"Resuming from the checkpoint at step {int(stats.get('step') or 0):,}")
            elif msg in ("train start", "already trained"):
                parts.append("Preparing crops\u2026" if msg == "train start" else "Already trained; finishing")
            elif total:
                self.chart.set_total(total)
                if "loss" in stats and isinstance(stats["loss"], (int, float)):
                    self.chart.add_point(done, float(stats["loss"]))
                parts.append(f"Step {done:,} of {total:,}")
                if isinstance(stats.get("loss"), (int, float)):
                    parts.append(f"loss {stats['loss']:.3f}")
                rate = ev.get("rate") or 0
                if rate:
                    parts.append(f"{rate:.2f} steps/s" if rate < 10 else f"{rate:.0f} steps/s")
        elif phase == "select":
            if msg == "alpha metrics":
                m = stats.get("metrics") or {}
                val = m.get("ndcg@10")
                if isinstance(val, (int, float)) and isinstance(stats.get("alpha"), (int, float)):
                    self._alpha_scores[float(stats["alpha"])] = float(val)
                score = f": nDCG@10 {val:.3f} on questions made from your files" \
                    if isinstance(val, (int, float)) else ""
                parts.append(f"Tried alpha {stats.get('alpha', 0):g}{score}")
            elif msg == "selected alpha":
                parts.append(f"Chose alpha {stats.get('alpha', 0):g}")
        elif phase == "embed":
            if total:
                parts.append(f"{done:,} of {total:,} passages")
            elif msg:
                parts.append(msg)
        elif phase == "export":
            parts.append(msg or "Collecting passages")
        elif phase == "done":
            parts.append(msg)
        eta = ev.get("eta_s")
        if total and done < total and eta is not None:
            parts.append(f"about {fmt_duration(eta)} left" + (" in training" if phase == "train" else ""))
        if parts:
            self.detail_label.setText(" \u00b7 ".join(p for p in parts if p))

    def _on_runner_finished(self, job: TrainJob, out: TrainOutcome) -> None:
        self.last_outcome = out
        if out.status in ("done", "kept_base"):
            self.progress.setRange(0, 100)
            self.progress.setValue(100)
        elif self.progress.maximum() == 0:
            self.progress.setRange(0, 100)
            self.progress.setValue(0)
        titles = {"done": "Finished", "kept_base": "Finished: the base model stays active",
                  "cancelled": "Cancelled", "failed": "Failed"}
        self.phase_label.setText(titles.get(out.status, out.status))
        self.detail_label.setText(self._summary(out))
        level = {"done": "info", "kept_base": "info", "cancelled": "warning"}.get(out.status, "error")
        self.outcome.show_message(out.message, out.details, level=level)
        self._update_buttons()
        svc = self.service
        if svc is None:
            self.finished.emit(out)
            return
        switched = None
        if out.status == "done":
            if job is not None and job.kind == "train":
                switched = out.version if (job.settings is None or job.settings.activate) else None
            else:
                switched = out.version or BASE

        def sync():
            # the child wrote vectors and versions.json; make this process see them and drop its cached encoder
            if switched is not None:
                from training.versions import VersionError

                from ..errors import KnownError

                try:
                    svc.activate_version(switched)
                except VersionError as e:
                    raise KnownError(f"The model version could not be activated: {e}") from e
            refresh = getattr(svc, "refresh", None)
            if callable(refresh):
                refresh()

        def after():
            self.reload_versions()
            if switched is not None:
                if self.ctx.model_state == "ready":
                    self.ctx.model_state = "unloaded"  # the next dense search loads the newly active model
                self.model_changed.emit(switched)
            self.finished.emit(out)

        if out.status in ("done", "kept_base"):
            self.ctx.submit(sync, on_finished=after)
        else:
            self.reload_versions()
            self.finished.emit(out)

    def _summary(self, out: TrainOutcome) -> str:
        """One line under the bar once a run ended (the message itself is in the banner below)."""
        if out.status == "failed":
            return "See the message below."
        if out.status == "cancelled":
            return "Stopped."
        parts = []
        if self._alpha_scores:
            scores = ", ".join(("base" if a == 0 else f"alpha {a:g}") + f" {v:.3f}"
                               for a, v in sorted(self._alpha_scores.items()))
            parts.append(f"nDCG@10 on questions made from your files: {scores}")
        for key, label in (("train_s", "training"), ("embed_s", "re-embedding")):
            if isinstance(out.stats.get(key), (int, float)):
                parts.append(f"{label} {fmt_duration(out.stats[key])}")
        return " \u00b7 ".join(parts)

    # -- versions ---------------------------------------------------------------------------------------------
    def reload_versions(self) -> None:
        svc = self.service
        if svc is None or self.ctx is None:
            return
        if self._versions_loading:
            self._reload_again = True
            return
        self._versions_loading = True
        self.ctx.submit(load_version_rows, svc, on_result=self._on_versions_result,
                        on_finished=self._on_versions_finished)

    def _on_versions_result(self, rows: tuple[VersionRow, ...]) -> None:
        keep = self.selected_version()
        self.versions_model.set_rows(rows)
        target = keep if keep and self.versions_model.row_of(keep) >= 0 else self.versions_model.active_id
        r = self.versions_model.row_of(target)
        if r >= 0 and self.versions_view.currentIndex().row() != r:
            self.versions_view.selectRow(r)
        n = len(rows) - 1
        self.versions_note.setText("No trained versions yet" if n == 0 else
                                   f"{n} trained version{'s' if n != 1 else ''}")
        self._update_buttons()
        self.versions_loaded.emit(rows)

    def _on_versions_finished(self) -> None:
        self._versions_loading = False
        if self._reload_again:
            self._reload_again = False
            self.reload_versions()

    def selected_version(self) -> str | None:
        idx = self.versions_view.currentIndex()
        row = self.versions_model.row_at(idx.row()) if idx.isValid() else None
        return row.id if row is not None else None

    def select_version(self, version_id: str) -> None:
        r = self.versions_model.row_of(version_id)
        if r >= 0:
            self.versions_view.selectRow(r)

    def _on_versions_view_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._update_buttons()

    def _on_versions_view_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is not None and not row.active and not self.running:
            self.activate_version(row.id)

    def activate_version(self, version_id: str) -> bool:
        """Make `version_id` ("base" = roll back) the active model, in a child that embeds what is missing."""
        if self.runner is None or self.runner.running:
            return False
        if version_id == BASE:
            return self.runner.start(TrainJob("rollback"))
        return self.runner.start(TrainJob("activate", version_id))

    def rollback(self) -> bool:
        return self.activate_version(BASE)

    def delete_version(self, version_id: str, *, confirm: bool = True) -> None:
        svc = self.service
        if svc is None or version_id == BASE:
            return
        if confirm:
            ans = QMessageBox.question(
                self, "Delete model version",
                f"Delete model version {version_id} and its vectors?\n\nThe base model and the other versions stay.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if ans != QMessageBox.StandardButton.Yes:
                return

        def run():
            from training.versions import VersionError

            from ..errors import KnownError

            try:
                svc.delete_version(version_id)
            except VersionError as e:
                raise KnownError(str(e)) from e
            return version_id

        self.delete_button.setEnabled(False)
        self.ctx.submit(run, on_result=self._on_version_deleted, on_finished=self.reload_versions)

    def _on_version_deleted(self, version_id: str) -> None:
        self.ctx.post_status(f"Deleted model version {version_id}", 5000)

    def _on_activate_button_clicked(self) -> None:
        vid = self.selected_version()
        if vid is not None:
            self.activate_version(vid)

    def _on_rollback_button_clicked(self) -> None:
        self.rollback()

    def _on_delete_button_clicked(self) -> None:
        vid = self.selected_version()
        if vid is not None:
            self.delete_version(vid)

    def compare_target(self) -> str | None:
        """The version "Compare with base" shows: the selected one, else the active one, else the newest."""
        for vid in (self.selected_version(), self.versions_model.active_id):
            if vid and vid != BASE:
                return vid
        return next((r.id for r in self.versions_model.rows if r.id != BASE), None)

    def _on_compare_button_clicked(self) -> None:
        vid = self.compare_target()
        if vid is not None:
            self.compare_requested.emit(vid)

    def _update_buttons(self) -> None:
        busy = self.running
        has_service = self.service is not None and self.runner is not None
        idx = self.versions_view.currentIndex()
        row: VersionRow | None = self.versions_model.row_at(idx.row()) if idx.isValid() else None
        active = self.versions_model.active_id
        self.start_button.setEnabled(has_service and not busy)
        for wdg in self._setting_widgets():  # the settings of a running job are fixed
            wdg.setEnabled(not busy and wdg.property("supported") is not False)
        self.alpha_spin.setEnabled(not busy and self.alpha_combo.currentData() == "fixed")
        self.cancel_button.setEnabled(busy and not (self.runner is not None and self.runner.cancelling))
        self.defaults_button.setEnabled(not busy)
        self.activate_button.setEnabled(has_service and not busy and row is not None and not row.active)
        self.rollback_button.setEnabled(has_service and not busy and active != BASE)
        deletable = row is not None and row.id != BASE and not row.active
        self.delete_button.setEnabled(has_service and not busy and deletable)
        self.compare_button.setEnabled(has_service and self.compare_target() is not None)
