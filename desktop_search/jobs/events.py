"""The one JSON-lines event codec spoken between a job's child process and whoever started it.

Every child (indexing, training, the trainer itself, switching models) prints one JSON object
per line on stdout; `encode` writes them and `decode` reads them back as a typed `Event`.
Readers react to `Event.type`, never to display text. No Qt, no torch: the window, the CLI and
`training/` all import this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .progress import Progress


class EventType(str, Enum):
    # any job
    PROGRESS = "progress"  # a Progress report (phase, done, total, ...)
    DONE = "done"  # the job finished; its result fields
    CANCELLED = "cancelled"  # stopped on request; rerunning resumes
    ERROR = "error"  # failed with a message for the user
    # the trainer child (training.run)
    START = "start"
    TRAIN_START = "train_start"
    RESUMED = "resumed"
    STEP = "step"
    CHECKPOINT = "checkpoint"
    ALREADY_TRAINED = "already_trained"  # a finished run with the same settings and data was reused
    SAVED = "saved"
    ALPHA_METRICS = "alpha_metrics"
    SELECTED_ALPHA = "selected_alpha"
    # faults (a job's Progress kind)
    REPAIRED = "repaired"  # a damaged vector file was rebuilt from the store; the message says so
    # model switching (models activate / rollback)
    ACTIVE = "active"

    @classmethod
    def parse(cls, value: Any) -> "EventType | None":
        try:
            return cls(value)
        except ValueError:
            return None


@dataclass(frozen=True)
class Event:
    """One line: its type and the fields that came with it (without the "event" key)."""

    type: EventType
    data: dict = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def progress(self) -> Progress:
        """A PROGRESS event's report (unknown fields are ignored)."""
        names = Progress.__dataclass_fields__
        return Progress(**{k: v for k, v in self.data.items() if k in names})

    @classmethod
    def of_progress(cls, pr: Progress) -> "Event":
        return cls(EventType.PROGRESS, pr.to_dict())


def _jsonable(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, Enum):
        return o.value
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite(v: Any) -> Any:
    """NaN and infinity are not JSON: they travel as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def encode(event: Event | EventType | str, /, **fields: Any) -> str:
    """One line (without the newline): `encode(EventType.DONE, version="v1")` or `encode(Event(...))`."""
    if isinstance(event, Event):
        kind, data = event.type, {**event.data, **fields}
    else:
        kind, data = EventType(event), fields
    data = {k: v for k, v in data.items() if k != "event"}
    return json.dumps({"event": kind.value, **_finite(data)}, default=_jsonable, allow_nan=False)


def decode(line: str | bytes) -> Event | None:
    """The event on one line; None for anything else (a blank line, a stray print, an unknown type)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = EventType.parse(obj.pop("event", None))
    if kind is None:
        return None
    return Event(kind, obj)
