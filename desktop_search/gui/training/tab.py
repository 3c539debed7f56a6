"""The Training tab: adapt the dense model to the library in a child process, watch the loss, manage model versions.

The runner (runner.py) starts the child that trains or switches models; the child activates a new version,
this window only refreshes its service and reloads the versions. torch never loads into the window: the
hardware defaults come from a short-lived probe process (probe.py).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from ...jobs.events import EventType
from ..errors import Banner
from ..models import ROW_ROLE
from ..plain import make_plain
from .chart import LossChart
from .formatting import BASE, device_label, fmt_duration
from .judged import JudgedEvalPanel
from .probe import HardwareProbe
from .runner import ALREADY_TRAINED, TrainJob, TrainOutcome, TrainRunner, TrainSettings
from .versions import VersionRow, VersionsModel, load_version_rows
from .widgets import AutoSpinBox, CompactTable, bold, make_combo

PHASE_LABELS = {"export": "Collecting passages", "train": "Training",
                "select": "Choosing how much of the new model to keep",
                "embed": "Re-embedding your passages with the new model", "done": "Finishing",
                "activate": "Switching model", "rollback": "Switching back to the base model"}
REUSED_PHASE = "Reusing a finished training run"
REUSED_DETAIL = "Already trained with these settings on these files: the finished run is reused, not trained again"

NOT_INSTALLED = ("Training is not available in this installation (PyTorch or the trainer is missing); "
                 "search, compare and the model versions work as usual.")

EXPLANATION = (
    "Training teaches the <b>Dense</b> retriever the words and topics of <i>your</i> files. It needs no labels: "
    "it cuts pairs of passages out of the same document and learns to bring them closer together than passages "
    "of other documents (contrastive learning, as in Contriever and ReContriever). Results you <b>mark</b> relevant "
    "or not relevant in Search and Compare are learnt from too (few-shot), except one fifth of your judged queries, "
    "held out to check the result below. Everything runs on this "
    "computer, in the background; the window stays usable. The result is a new <b>model version</b>, blended with "
    "the original so it keeps what it already knew. <b>The base model is never modified</b>: you can compare the "
    "two and roll back at any time."
)


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
        head = bold(QLabel("Adapt the search model to your files"), 1.2)
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
        self.judged = JudgedEvalPanel(ctx)  # nDCG@10 and more on the user's marks, per retriever and version
        self.finished.connect(self.judged.invalidate)
        self.splitter.addWidget(self.judged)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setStretchFactor(2, 2)
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
        make_plain(self.hardware_label)  # may carry an error message naming a path
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
        self.weighting_combo = make_combo((("Relevance-weighted", "relevance"), ("Uniform", "uniform")),
                                      "Relevance-weighted: pairs the model finds unrelated count less (ReContriever). "
                                      "Uniform: every pair counts the same.")
        self.negatives_combo = make_combo((("In-batch", "in_batch"), ("MoCo queue", "moco")),
                                      "What each passage is contrasted with: the other passages of the batch, or a "
                                      "queue of recent batches from a slowly moving copy of the model (MoCo: the CPU "
                                      "default, about half the cost per step and better on SciFact, see README).")
        self._touched: set[str] = set()  # choices the user made; the detected defaults leave them alone
        self.weighting_combo.activated.connect(lambda _i: self._touched.add("weighting"))
        self.negatives_combo.activated.connect(lambda _i: self._touched.add("negatives"))
        self.pair_spin = QDoubleSpinBox()
        self.pair_spin.setRange(0.0, 0.9)
        self.pair_spin.setSingleStep(0.05)
        self.pair_spin.setDecimals(2)
        self.pair_spin.setSpecialValueText("off")
        self.pair_spin.setToolTip("PAIR passage-centric weight: also require a passage to be closer to its own "
                                  "crop than to other passages (0.1 in the PAIR paper; off by default).")
        alpha_row = QHBoxLayout()
        alpha_row.setContentsMargins(0, 0, 0, 0)
        self.alpha_combo = make_combo((("Auto: choose on my files", "auto"), ("Fixed", "fixed")),
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
        self.phase_label = bold(QLabel("Not running"))
        v.addWidget(self.phase_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        v.addWidget(self.progress)
        self.detail_label = QLabel("Training takes minutes on a CPU and seconds to minutes on a GPU.")
        self.detail_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.detail_label.setWordWrap(True)
        make_plain(self.phase_label, self.detail_label)
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
        self.versions_view = CompactTable()
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
            self.hardware_label.setText(NOT_INSTALLED)
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
            self._touched.clear()
        # what the job would choose by itself, unless the user chose otherwise
        if "weighting" in cfg and "weighting" not in self._touched:
            self._set_combo(self.weighting_combo, cfg["weighting"])
        if "negatives" in cfg and "negatives" not in self._touched:
            self._set_combo(self.negatives_combo, cfg["negatives"])
        if force:
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
        if self.runner is None or self.runner.running or not HardwareProbe.available():
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
        self.detail_label.setText("Starting\u2026" if job.is_training else
                                  "Embedding any passages this model has no vectors for yet\u2026")
        self._update_buttons()

    def _on_runner_phase_changed(self, phase: str) -> None:
        job = self.runner.job if self.runner is not None else None
        if job is not None and job.is_training and not self.runner.cancelling:
            self.phase_label.setText(PHASE_LABELS.get(phase, phase.capitalize()))

    def _on_runner_progressed(self, ev: dict) -> None:
        if self.runner is not None and self.runner.cancelling:
            return
        phase = ev.get("phase", "")
        done, total = int(ev.get("done") or 0), int(ev.get("total") or 0)
        stats = ev.get("stats") or {}
        msg = ev.get("message") or ""
        kind = ev.get("kind") or ""  # the trainer event behind this report (jobs.events.EventType), if any
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        elif phase != "done" and kind != EventType.CHECKPOINT.value:  # (a checkpoint between steps keeps the bar)
            self.progress.setRange(0, 0)
        parts: list[str] = []
        if phase == "train":
            if kind == EventType.START.value and stats.get("device"):
                self.hardware_label.setText(f"Training on {device_label(str(stats['device']))}, "
                                            f"{int(stats.get('n_passages') or 0):,} passages.")
                cfg = stats.get("config") or {}
                if isinstance(cfg.get("steps"), int):
                    self.chart.set_total(cfg["steps"])
                parts.append("Loading the model\u2026")
            elif kind == EventType.RESUMED.value:
                parts.append(f"Resuming from the checkpoint at step {int(stats.get('step') or 0):,}")
            elif kind == EventType.TRAIN_START.value:
                parts.append("Preparing crops\u2026")
            elif kind == ALREADY_TRAINED:
                self.phase_label.setText(REUSED_PHASE)
                steps = stats.get("steps")
                parts.append(REUSED_DETAIL + (f" ({int(steps):,} steps)" if isinstance(steps, int) else ""))
            elif kind:  # checkpoint, saved: the bar and the step line stay
                pass
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
            if kind == EventType.ALPHA_METRICS.value:
                m = stats.get("metrics") or {}
                val = m.get("ndcg@10")
                if isinstance(val, (int, float)) and isinstance(stats.get("alpha"), (int, float)):
                    self._alpha_scores[float(stats["alpha"])] = float(val)
                score = f": nDCG@10 {val:.3f} on questions made from your files" \
                    if isinstance(val, (int, float)) else ""
                parts.append(f"Tried alpha {stats.get('alpha', 0):g}{score}")
            elif kind == EventType.SELECTED_ALPHA.value:
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
        if out.status == "done" and out.activated:
            switched = out.version or BASE

        def sync():
            # the child wrote vectors and versions.json and activated the version itself: this process only looks
            # again (refresh notices that the active version changed and drops its cached encoder)
            svc.refresh()

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

            from ...errors import KnownError

            try:
                svc.delete_version(version_id)
            except VersionError as e:
                raise KnownError(str(e)) from e
            return version_id

        self.delete_button.setEnabled(False)
        self.ctx.submit(run, on_result=self._on_version_deleted, on_finished=self.reload_versions)

    def _on_version_deleted(self, version_id: str) -> None:
        self.ctx.post_status(f"Deleted model version {version_id}", 5000)
        self.judged.invalidate()

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
        self.start_button.setEnabled(has_service and not busy and HardwareProbe.available())
        for wdg in self._setting_widgets():  # the settings of a running job are fixed
            wdg.setEnabled(not busy)
        self.alpha_spin.setEnabled(not busy and self.alpha_combo.currentData() == "fixed")
        self.cancel_button.setEnabled(busy and not (self.runner is not None and self.runner.cancelling))
        self.defaults_button.setEnabled(not busy)
        self.activate_button.setEnabled(has_service and not busy and row is not None and not row.active)
        self.rollback_button.setEnabled(has_service and not busy and active != BASE)
        deletable = row is not None and row.id != BASE and not row.active
        self.delete_button.setEnabled(has_service and not busy and deletable)
        self.compare_button.setEnabled(has_service and self.compare_target() is not None)
