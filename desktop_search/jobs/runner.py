"""Driving a job generator: a progress bar on a terminal, or the event codec's lines for a parent."""

from __future__ import annotations

import sys
from typing import Iterable

from .events import Event, encode
from .progress import Progress


class _Bar:
    """A progress bar on stderr (tqdm) that follows Progress reports phase by phase."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
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
    """Drive a job generator, drawing a bar or printing progress events; returns the last report."""
    b = _Bar(bar and not json_lines)
    last = None
    try:
        for pr in gen:
            last = pr
            if json_lines:
                emit(Event.of_progress(pr))
            b.update(pr)
    finally:
        b.close()
    return last
