"""Model versions as the Training tab lists them: rows made in a worker thread, and their table model."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from ..models import ROW_ROLE, Index, TableModel
from ..plain import plain_tip
from .formatting import BASE, metric_label


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
    on = ("your marked queries held out from training" if sel.get("queries") == "judged"
          else "pseudo-queries built from your files")
    lines = [f"{label} on {on}, per alpha (dense, and the hybrid with BM25 where measured):"]
    for a, m in sorted(per.items(), key=lambda kv: float(kv[0])):
        if isinstance(m, dict) and isinstance(m.get(metric), (int, float)):
            hybrid = m.get(f"hybrid_{metric}")
            lines.append(f"  alpha {a}: {m[metric]:.3f}"
                         + (f", hybrid {hybrid:.3f}" if isinstance(hybrid, (int, float)) else "")
                         + ("  (base model)" if float(a) == 0 else ""))
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


class VersionsModel(TableModel):
    """Model versions: id, when made, alpha, steps, the selection figures, which one is active."""

    HEADERS = ("Version", "Created", "Alpha", "Steps", "Selection on your files", "Active")
    VERSION, CREATED, ALPHA, STEPS, SELECTION, ACTIVE = range(6)

    def row_of(self, version_id: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.id == version_id), -1)

    @property
    def active_id(self) -> str:
        return next((r.id for r in self.rows if r.active), BASE)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        r: VersionRow = self.rows[index.row()]
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
            return plain_tip(r.tooltip) or None  # may name the model's folder
        if role == Qt.ItemDataRole.FontRole and r.active:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if c in (self.ALPHA, self.STEPS) \
                else int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None
