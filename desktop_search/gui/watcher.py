"""Watch indexed folders (watchdog) and report each changed folder once things settle (debounced)."""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

# Only events that change what is on disk; opening and reading files (the indexer does that!) are ignored.
_CHANGE_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed"})


class FolderWatcher(QObject):
    """Emits `changed(root)` `debounce_ms` after the last change under an indexed root."""

    changed = Signal(str)
    watch_started = Signal(str)  # a root is now watched (scheduling runs on a helper thread)
    _raw_event = Signal(str, str)  # root, path (from watchdog's thread to the GUI thread)

    def __init__(self, debounce_ms: int = 3000, ignore: tuple[str, ...] = (), parent: QObject | None = None):
        super().__init__(parent)
        self.debounce_ms = debounce_ms
        self.ignore = tuple(os.path.abspath(p) for p in ignore)
        self._observer = None
        self._watches: dict[str, object] = {}
        self._timers: dict[str, QTimer] = {}
        self._lock = threading.Lock()
        self.available = True
        self._raw_event.connect(self._on_self_raw_event)

    def _ensure_observer(self):
        if self._observer is None:
            try:
                from watchdog.observers import Observer
            except ImportError:
                self.available = False
                return None
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        return self._observer

    @property
    def roots(self) -> list[str]:
        return sorted(self._watches)

    def set_roots(self, roots) -> None:
        """Watch exactly these folders (or single files, through their parent folder)."""
        want = {os.path.abspath(r) for r in roots if os.path.exists(r)}
        for r in set(self._watches) - want:
            self._unwatch(r)
        for r in sorted(want - set(self._watches)):
            self._watch(r)

    def _watch(self, root: str) -> None:
        """Schedule a watch on a helper thread: inotify walks the whole tree, which can take seconds."""
        obs = self._ensure_observer()
        if obs is None:
            return
        with self._lock:
            self._watches[root] = None
        threading.Thread(target=self._schedule, args=(obs, root), name="watch-scheduler", daemon=True).start()

    def _schedule(self, obs, root: str) -> None:  # helper thread
        from watchdog.events import FileSystemEventHandler

        watcher = self
        is_file = os.path.isfile(root)

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):  # watchdog's thread
                if event.event_type not in _CHANGE_EVENTS:
                    return
                paths = [os.fsdecode(event.src_path)]
                dest = getattr(event, "dest_path", "")
                if dest:
                    paths.append(os.fsdecode(dest))
                for p in paths:
                    if is_file and os.path.abspath(p) != root:
                        continue
                    if any(p == ig or p.startswith(ig + os.sep) for ig in watcher.ignore):
                        continue
                    watcher._raw_event.emit(root, p)
                    return

        target = os.path.dirname(root) if is_file else root
        try:
            w = obs.schedule(Handler(), target, recursive=not is_file)
        except (OSError, RuntimeError):  # too many watches, unreadable folder: the rescan on start still works
            return
        with self._lock:
            keep = root in self._watches and self._observer is obs
            if keep:
                self._watches[root] = w
        if keep:
            self.watch_started.emit(root)
        else:
            try:
                obs.unschedule(w)
            except (KeyError, RuntimeError):
                pass

    def _unwatch(self, root: str) -> None:
        with self._lock:
            w = self._watches.pop(root, None)
        t = self._timers.pop(root, None)
        if t is not None:
            t.stop()
        if w is not None and self._observer is not None:
            try:
                self._observer.unschedule(w)
            except (KeyError, RuntimeError):
                pass

    @Slot(str, str)
    def _on_self_raw_event(self, root: str, path: str) -> None:
        if root not in self._watches:
            return
        t = self._timers.get(root)
        if t is None:
            t = QTimer(self)
            t.setSingleShot(True)
            t.timeout.connect(lambda r=root: self.changed.emit(r))
            self._timers[root] = t
        t.start(self.debounce_ms)

    def stop(self) -> None:
        for t in self._timers.values():
            t.stop()
        self._timers.clear()
        with self._lock:
            self._watches.clear()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=2)
            except RuntimeError:
                pass
            self._observer = None
