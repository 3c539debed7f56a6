"""Short texts the Training tab shows: version ids, durations, devices, metric names."""

from __future__ import annotations

import math

BASE = "base"  # the pseudo-version "the base model" (training.versions.BASE, without importing training here)


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
