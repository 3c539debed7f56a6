"""Driving a job generator: a progress bar on a terminal, one line per stage without one, or the
event codec's lines for a parent."""

from __future__ import annotations

import sys
import time
from typing import Iterable, TextIO

from .events import Event, encode
from .progress import Progress


STAGE_LABELS = {"scan": "Looking for new and changed files", "extract": "Reading files",
                "cleanup": "Cleaning up", "embed": "Embedding passages"}
STAGE_UNITS = {"embed": "passages", "scan": "files", "extract": "files", "cleanup": "files"}


def on_terminal() -> bool:
    """Whether a person watches: stdout and stderr both a terminal (a bar redraws in place there;
    into a pipe or a log file its redraws come out as runs of blank or repeated lines)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class StageLines:
    """Without a terminal: one line per stage on `stream` (stderr), printed when the stage ends:
    "Reading files: 580 of 580 files in 12.3 s"."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.phase: str | None = None
        self.last = None
        self.started = 0.0

    def update(self, pr: Progress) -> None:
        if pr.phase != self.phase:
            self.close()
            self.phase = pr.phase
            self.started = time.monotonic()
        self.last = pr

    def close(self) -> None:
        pr, self.last = self.last, None
        if pr is None or pr.phase == "done":
            return
        label = STAGE_LABELS.get(pr.phase, pr.phase.capitalize() if pr.phase else "Working")
        unit = STAGE_UNITS.get(pr.phase, "items")
        if pr.total:
            what = f"{pr.done:,} of {pr.total:,} {unit}"
        elif pr.done:
            what = f"{pr.done:,} {unit}"
        else:
            what = pr.message or "done"
        print(f"{label}: {what} in {time.monotonic() - self.started:.1f} s", file=self.stream or sys.stderr,
              flush=True)


class _Bar:
    """A progress bar on stderr (tqdm) that follows Progress reports phase by phase."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and on_terminal()
        self.bar = None
        self.phase = None

    def update(self, pr: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if pr.phase != self.phase:
            self.close()
            self.phase = pr.phase
            self.bar = tqdm(total=pr.total or None, desc=pr.phase, unit="item", file=sys.stderr, leave=True)
        if self.bar is not None:
            self.bar.n = pr.done
            if pr.total:
                self.bar.total = pr.total
            self.bar.set_postfix_str(pr.current[-50:], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def emit(event: Event | str, **fields) -> None:
    """Print one event line for the parent process and flush it."""
    print(encode(event, **fields), flush=True)


def run_job(gen: Iterable[Progress], *, json_lines: bool = False, bar: bool = True) -> Progress | None:
    """Drive a job generator: a bar on a terminal, one line per stage without one (`bar`), or progress
    events (`json_lines`); returns the last report."""
    b = _Bar(bar and not json_lines)
    lines = StageLines() if bar and not json_lines and not b.enabled else None
    last = None
    try:
        for pr in gen:
            last = pr
            if json_lines:
                emit(Event.of_progress(pr))
            b.update(pr)
            if lines is not None:
                lines.update(pr)
    finally:
        b.close()
        if lines is not None:
            lines.close()
    return last
