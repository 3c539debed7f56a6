"""Training and switching models in a child process: what a run is, its outcome, and the QProcess runner.

Training runs as `desktop-search train --request FILE --json-progress` (FILE: a `jobs.training.TrainRequest`
written under data_dir/training/; the CLI itself trains in a grandchild), the way indexing does; activating
or rolling back runs `desktop-search models activate|rollback --json-progress` (it embeds the passages the
chosen model has no vectors for, then activates it). The child activates; the window never does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from ...jobs.events import Event, EventType
from ...jobs.launcher import cli_command
from ...jobs.training import TrainRequest
from ...util import atomic_write_text
from ..childproc import JsonLinesProcess, error_line
from .formatting import BASE, fmt_duration, short_version

KILL_AFTER_MS = 60_000  # a cancelled run checkpoints first (a few seconds); one that hangs this long is killed
STDERR_KEEP = 64_000
ALREADY_TRAINED = EventType.ALREADY_TRAINED.value  # the Progress kind of "a finished run was reused"


def request_path(data_dir: str | os.PathLike) -> Path:
    """Where the window writes the TrainRequest of the next run."""
    return Path(data_dir) / "training" / "request.json"


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

    # settings given only when set (None: the child's default) -> their TrainConfig field
    OPTIONAL = {"steps": "steps", "batch_size": "batch_size", "n_positives": "n_positives",
                "max_crop_tokens": "max_crop_tokens", "negatives": "negatives"}

    def to_request(self) -> TrainRequest:
        """The TrainRequest the child gets: TrainConfig overrides, choose alpha or not, activate or not."""
        config: dict = {key: getattr(self, name) for name, key in self.OPTIONAL.items()
                        if getattr(self, name) is not None}
        config.update(weighting=self.weighting, pair_alpha=self.pair_weight, seed=self.seed)
        if self.alpha is not None:
            config["interpolation_alpha"] = self.alpha
        return TrainRequest(config, select_alpha=self.alpha is None, activate=self.activate)


@dataclass(frozen=True)
class TrainJob:
    """One child run: a training run, or switching the active model ("activate" a version, "rollback")."""

    kind: str  # "train", "activate", "rollback"
    version: str | None = None  # activate: which
    settings: TrainSettings | None = None

    @property
    def is_training(self) -> bool:
        return self.kind == "train"

    def request(self) -> TrainRequest:
        return (self.settings or TrainSettings()).to_request()

    def cli_args(self, data_dir: str | os.PathLike, model: str | None,
                 request_file: str | os.PathLike | None = None) -> list[str]:
        args = ["--data-dir", os.fspath(data_dir)]
        if model:
            args += ["--model", model]
        if self.is_training:
            path = request_path(data_dir) if request_file is None else request_file
            return args + ["train", "--request", os.fspath(path), "--json-progress"]
        if self.kind == "activate":
            return args + ["models", "activate", str(self.version), "--json-progress"]
        return args + ["models", "rollback", "--json-progress"]

    def describe(self) -> str:
        if self.is_training:
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
    activated: bool = False  # the child made `version` the active model
    reused: bool = False  # the trainer reused a finished run with the same settings and data


# -- the child process ----------------------------------------------------------------------------------------
class TrainRunner(JsonLinesProcess):
    """Runs one TrainJob at a time in a child process and reports its event lines."""

    started = Signal(object)  # TrainJob
    # progressed (dict) and phase_changed (str) come from JsonLinesProcess
    finished = Signal(object, object)  # TrainJob, TrainOutcome

    def __init__(self, data_dir: str | os.PathLike, model: str | None = None, parent: QObject | None = None):
        super().__init__(parent, kill_after_ms=KILL_AFTER_MS, stderr_keep=STDERR_KEEP)
        self.data_dir = Path(data_dir)
        self.model = model
        self._job: TrainJob | None = None
        self._end: Event | None = None
        self._reused = False

    @property
    def job(self) -> TrainJob | None:
        return self._job

    def command(self, job: TrainJob) -> list[str]:
        """argv of the child (`jobs.launcher.cli_command`; the frozen app runs itself)."""
        return cli_command(job.cli_args(self.data_dir, self.model))

    def start(self, job: TrainJob) -> bool:
        """Start `job`; False while another one runs."""
        if self.running:
            return False
        self._job = job
        self._end = None
        self._reused = False
        self.spawn()
        self.started.emit(job)
        if job.is_training:
            path = request_path(self.data_dir)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, job.request().to_json())
            except OSError as e:
                self._finish(TrainOutcome("failed", f"Could not write the training request ({path}): {e}"))
                return True
        self.launch(self.command(job))
        return True

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """On quit: stop the child and wait for it (killed after `timeout_ms`)."""
        self.stop_and_wait(timeout_ms, 3000)

    def request_stop(self, proc: QProcess) -> None:
        if self._job is not None and self._job.is_training:
            # the trainer also watches this file between steps (jobs.training.train_job's stop_file): it stops
            # cleanly even where terminate() sends nothing a console program sees (Windows)
            try:
                (self.data_dir / "training" / "STOP").write_text("stop", encoding="utf-8")
            except OSError:
                pass
        super().request_stop(proc)

    def handle_event(self, ev: Event) -> None:
        if ev.type is EventType.PROGRESS:
            pr = ev.progress()
            if pr.kind == ALREADY_TRAINED:
                self._reused = True
            self.emit_progress(pr)
        elif ev.type in (EventType.DONE, EventType.CANCELLED, EventType.ERROR):
            self._end = ev

    def on_failed_to_start(self, error: str) -> None:
        argv = self.command(self._job or TrainJob("train"))
        self._finish(TrainOutcome("failed", f"Could not start the training process ({argv[0]}): {error}",
                                  details=" ".join(argv)))

    def on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._finish(self._outcome(code, status))

    def _outcome(self, code: int, status: QProcess.ExitStatus) -> TrainOutcome:
        job = self._job or TrainJob("train")
        err = self.stderr_text()
        end = self._end
        kind = end.type if end is not None else None
        crashed = status == QProcess.ExitStatus.CrashExit
        if kind is EventType.DONE and code == 0:
            return done_outcome(job, end.data, code, reused=self._reused)
        if kind is EventType.CANCELLED or (self.cancelling and (crashed or code != 0)):
            if job.is_training:
                msg = "Training cancelled. Start it again with the same settings to resume from the last checkpoint."
            else:
                msg = "Switching the model was cancelled; passages without vectors are embedded on the next update."
            return TrainOutcome("cancelled", msg, exit_code=code)
        what = "Training" if job.is_training else "Switching the model"
        if kind is EventType.ERROR and end.get("message"):
            # a training error reads as a whole sentence already ("Only 2 passages are indexed; ...")
            msg = str(end.get("message"))
            return TrainOutcome("failed", msg if job.is_training else f"{what} failed: {msg}", details=err,
                                exit_code=code)
        if crashed:
            return TrainOutcome("failed", f"The {what.lower()} process stopped unexpectedly.", details=err,
                                exit_code=code)
        return TrainOutcome("failed", error_line(err, what) or f"{what} failed (exit code {code}).", details=err,
                            exit_code=code)

    def _finish(self, out: TrainOutcome) -> None:
        job = self._job
        self.release_process()
        self._job = None
        self.finished.emit(job, out)


def done_outcome(job: TrainJob, end: dict, code: int = 0, *, reused: bool = False) -> TrainOutcome:
    """The outcome of a child that ended with a done event carrying `end`."""
    stats = dict(end)
    if not job.is_training:
        active = end.get("active") or (job.version if job.kind == "activate" else BASE)
        msg = ("The base model is active again." if active == BASE
               else f"Model version {short_version(active)} is active.")
        return TrainOutcome("done", msg, version=active, stats=stats, exit_code=code, activated=True)
    reused = reused or bool(end.get("reused"))
    version, alpha = end.get("version"), end.get("alpha")
    note = " (a finished run with the same settings was reused)" if reused else ""
    if not version:
        return TrainOutcome("kept_base", f"Training found no gain on your files{note}; the base model stays active.",
                            alpha=alpha, stats=stats, exit_code=code, reused=reused)
    activated = bool(end.get("activated"))
    parts = [f"alpha {alpha:g}" if isinstance(alpha, (int, float)) else ""]
    if reused:
        parts.append("reused the finished training run with these settings")
    elif stats.get("train_s") is not None:
        parts.append(f"trained in {fmt_duration(stats['train_s'])}")
    if stats.get("embed_s") is not None:
        parts.append(f"re-embedded in {fmt_duration(stats['embed_s'])}")
    detail = ", ".join(p for p in parts if p)
    state = "is active" if activated else "is ready (not active yet: activate it below)"
    msg = f"New model version {short_version(version)} {state}" + (f": {detail}." if detail else ".")
    return TrainOutcome("done", msg, version=version, alpha=alpha, stats=stats, exit_code=code,
                        activated=activated, reused=reused)
