"""One worker shape for the GUI: a QRunnable holding a signals QObject, kept referenced until done.

Worker code never touches widgets; its results come back to the GUI thread as queued signals.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class WorkerSignals(QObject):
    """Signals of one Worker. Lives in the GUI thread, so its own slots run there."""

    started = Signal()
    result = Signal(object)
    error = Signal(object)  # the exception; its formatted traceback is in `exc.gui_traceback`
    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[str, Callable] = {}
        self.result.connect(self._on_self_result)
        self.error.connect(self._on_self_error)
        self.finished.connect(self._on_self_finished)

    def on(self, result: Callable[[Any], None] | None = None, error: Callable[[BaseException], None] | None = None,
           finished: Callable[[], None] | None = None) -> None:
        for name, cb in (("result", result), ("error", error), ("finished", finished)):
            if cb is not None:
                self._callbacks[name] = cb

    @Slot(object)
    def _on_self_result(self, value) -> None:
        cb = self._callbacks.get("result")
        if cb is not None:
            cb(value)

    @Slot(object)
    def _on_self_error(self, exc) -> None:
        cb = self._callbacks.get("error")
        if cb is not None:
            cb(exc)

    @Slot()
    def _on_self_finished(self) -> None:
        cb = self._callbacks.get("finished")
        if cb is not None:
            cb()


class Worker(QRunnable):
    """Runs `fn(*args, **kwargs)` on a pool thread; reports through `signals`."""

    def __init__(self, fn: Callable, *args, **kwargs) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps it alive (WorkerPool holds it until finished)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = WorkerSignals()
        self.name = getattr(fn, "__name__", "task")

    def run(self) -> None:  # pool thread
        self.signals.started.emit()
        try:
            value = self.fn(*self.args, **self.kwargs)
        except BaseException as e:  # noqa: BLE001 - reported to the GUI, never lost
            e.gui_traceback = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.error.emit(e)
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


# The GUI thread needs the GIL for every Python slot, paint and data() call, and each time it
# asks while a worker runs Python it waits up to the switch interval (5 ms by default): a view
# making a few dozen such calls then stalls for a hundred milliseconds or more. 1 ms bounds
# each wait at the cost of a little worker throughput.
GUI_SWITCH_INTERVAL_S = 0.001


class WorkerPool(QObject):
    """A QThreadPool that keeps every submitted Worker referenced until it has finished.

    Creating one shortens the interpreter's GIL switch interval (GUI_SWITCH_INTERVAL_S)."""

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if sys.getswitchinterval() > GUI_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._live: set[Worker] = set()
        self._closed = False

    def submit(self, fn: Callable, *args, on_result=None, on_error=None, on_finished=None, **kwargs) -> Worker:
        w = Worker(fn, *args, **kwargs)
        w.signals.on(on_result, on_error, on_finished)
        w.signals.finished.connect(self._on_worker_finished)
        self._live.add(w)
        if self._closed:
            return w
        self.pool.start(w)
        return w

    @Slot()
    def _on_worker_finished(self) -> None:
        sender = self.sender()
        for w in list(self._live):
            if w.signals is sender:
                self._live.discard(w)

    def take(self, worker: Worker | None) -> bool:
        """Drop a worker that has not started yet; True if it will never run."""
        if worker is None or worker not in self._live:
            return False
        if self.pool.tryTake(worker):
            self._live.discard(worker)
            return True
        return False

    @property
    def active(self) -> int:
        return len(self._live)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Forget queued work, wait for running work (called on quit)."""
        self._closed = True
        self.pool.clear()
        return self.pool.waitForDone(timeout_ms)
