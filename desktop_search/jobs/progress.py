"""Progress reports of long jobs (generators yield them), a rate meter and a cancel token."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Progress:
    """One report from a long job. `total` 0 means unknown."""

    phase: str  # "scan", "extract", "cleanup", "embed", "done"
    done: int = 0
    total: int = 0
    current: str = ""
    rate: float = 0.0  # items per second in this phase
    eta_s: float | None = None
    message: str = ""
    stats: dict = field(default_factory=dict)
    kind: str = ""  # the typed event this report stands for, where there is one (an events.EventType value)

    def to_dict(self) -> dict:
        return asdict(self)


class CancelToken:
    """Set from any thread (or a signal handler); checked by jobs between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


class RateMeter:
    """Items per second and time left for one phase."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = time.monotonic()

    def report(self, phase: str, done: int, current: str = "", **kw) -> Progress:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 and self.total else None
        return Progress(phase, done, self.total, current, rate, eta, **kw)
