"""StallMeter: measures how long the GUI event loop goes without running (a benchmark hook)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer


class StallMeter(QObject):
    """A 10 ms timer on the GUI thread that records the gaps between its ticks.

    A gap much longer than the interval means the event loop was blocked that long.
    `start()`, do the work, then read `max_gap_ms`, `stalls_over(ms)` or `summary()`.
    """

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last: float | None = None
        self.gaps_ms: list[float] = []

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        self.reset()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._on_timer_timeout()
        self._timer.stop()
        self._last = None

    def reset(self) -> None:
        self.gaps_ms = []
        if self._last is not None:
            self._last = time.perf_counter()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append((now - self._last) * 1000.0)
        self._last = now

    @property
    def max_gap_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    def stalls_over(self, ms: float) -> int:
        return sum(1 for g in self.gaps_ms if g > ms)

    def summary(self) -> dict:
        gaps = sorted(self.gaps_ms)
        n = len(gaps)
        return {
            "ticks": n,
            "max_gap_ms": round(self.max_gap_ms, 1),
            "p99_gap_ms": round(gaps[min(n - 1, int(n * 0.99))], 1) if n else 0.0,
            "stalls_over_50ms": self.stalls_over(50),
            "stalls_over_100ms": self.stalls_over(100),
        }
