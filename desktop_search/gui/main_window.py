"""The main window: tabs, menus, drag-and-drop, the indexing child process and its progress, folder watching."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton, QSizePolicy, QTabWidget, QVBoxLayout, QWidget)

from ..activity import LockHolder, progress_from, stop_holder, store_progress
from ..retrievers.types import RETRIEVERS
from ..search_info import Coverage
from .compare_tab import CompareTab
from .context import AppContext, LibrarySnapshot, load_library_counts, load_library_snapshot
from .errors import Banner, ErrorReporter
from .help import QuerySyntaxDialog
from .indexing import IndexOutcome, IndexRequest, IndexRunner
from .judgments_tab import JudgmentsTab
from .library_tab import LibraryTab
from .models import retriever_label
from .plain import make_plain, plain_tip
from .opener import open_failed_box
from .search_tab import SearchTab
from .stall import StallMeter
from .store_busy import StoreBusyBanner
from .training import TrainingTab
from .workers import WorkerPool

ORGANIZATION = "desktop-search"
APPLICATION = "desktop-search"
PHASE_LABELS = {"scan": "Looking for new and changed files", "extract": "Reading files",
                "cleanup": "Cleaning up", "embed": "Embedding passages", "done": "Finishing"}
COUNTS_REFRESH_MS = 2000  # how often the counts (passages, vectors) are re-read while a job writes them
WARM_MODEL_DELAY_MS = 300  # after the window shows: start the model's child process in the background


def app_icon() -> QIcon:
    from ..resources import resource

    icon = QIcon()
    for name in ("desktop-search.svg", "desktop-search-256.png", "desktop-search-64.png", "desktop-search-32.png"):
        p = resource("icons", name)
        if p.is_file():
            icon.addFile(str(p))
    return icon


def refresh_vectors(svc) -> None:
    """Worker-thread function: make the GUI process's loaded vector indexes see what the child added."""
    svc.refresh()


def _fmt_eta(s) -> str:
    if s is None:
        return ""
    s = int(round(s))
    if s < 60:
        return f"about {s} s left"
    if s < 3600:
        return f"about {s // 60} min {s % 60:02d} s left"
    return f"about {s // 3600} h {(s % 3600) // 60:02d} min left"


class IndexingPanel(QFrame):
    """Progress of the running index child: phase, files done of total, rate, time left, current file, Cancel."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        top = QHBoxLayout()
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # folder and file names are never markup
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.counts = QLabel()
        make_plain(self.counts)  # may name another process's command line
        self.queue = QLabel()
        self.queue.setForegroundRole(self.queue.foregroundRole().PlaceholderText)
        top.addWidget(self.title)
        top.addWidget(self.counts)
        top.addStretch(1)
        top.addWidget(self.queue)
        texts.addLayout(top)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(self.fontMetrics().height() // 2 + 4)
        texts.addWidget(self.bar)
        self.current = QLabel()
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        self.current.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.current.setForegroundRole(self.current.foregroundRole().PlaceholderText)
        texts.addWidget(self.current)
        lay.addLayout(texts, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; it resumes where it stopped next time")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        lay.addWidget(self.cancel_button)
        self._full_current = ""
        self.hide()

    def show_started(self, req: IndexRequest) -> None:
        what = {"resume": "Updating", "watch": "Updating", "retry": "Retrying failed files in",
                "rescan": "Rescanning"}.get(req.reason, "Indexing")
        self.title.setText(f"{what} {req.describe()}")
        self.counts.setText("starting…")
        self.current.setText("")
        self._full_current = ""
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def show_progress(self, ev: dict) -> None:
        phase = ev.get("phase", "")
        done, total = int(ev.get("done") or 0), int(ev.get("total") or 0)
        unit = "passages" if phase == "embed" else "files"
        parts = [PHASE_LABELS.get(phase, phase.capitalize())]
        if total:
            parts.append(f"{done:,} of {total:,} {unit}")
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            if done:
                parts.append(f"{done:,} {unit} found")
            self.bar.setRange(0, 0)
        rate = ev.get("rate") or 0
        if rate and total:
            parts.append(f"{rate:,.1f} {unit}/s" if rate < 10 else f"{rate:,.0f} {unit}/s")
        eta = _fmt_eta(ev.get("eta_s")) if total and done < total else ""
        if eta:
            parts.append(eta)
        self.counts.setText(" · ".join(parts))
        cur = ev.get("current") or ev.get("message") or ""
        if cur:
            self._full_current = cur
            self._elide_current()

    def show_waiting(self, req: IndexRequest, holder: LockHolder, who: str = "") -> None:
        """Another process has the store: this request waits for it (Cancel stops waiting)."""
        self.title.setText(f"Waiting to index {req.describe()}")
        who = who or (f"another desktop-search process (pid {holder.pid})" if holder.pid else "another process")
        self.counts.setText(f"{who} is {holder.what} this library; this starts as soon as it finishes")
        self.current.setText("")
        self._full_current = ""
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def show_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")

    def set_queue(self, n: int) -> None:
        self.queue.setText(f"{n} more queued" if n else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide_current()

    def _elide_current(self) -> None:
        w = max(50, self.current.width())
        self.current.setText(self.current.fontMetrics().elidedText(self._full_current, Qt.TextElideMode.ElideMiddle, w))
        self.current.setToolTip(plain_tip(self._full_current))

    def _on_cancel_button_clicked(self) -> None:
        self.show_cancelling()
        self.cancel_requested.emit()


class MainWindow(QMainWindow):
    """Search, Compare, Library and Training tabs over one SearchService; indexing runs in a child process."""

    shown = Signal()
    library_refreshed = Signal(object)  # LibrarySnapshot
    indexing_finished = Signal(object)  # IndexOutcome
    folder_removed = Signal(str)
    folder_watched = Signal(str)

    def __init__(self, service=None, *, model: str | None = None, settings: QSettings | None = None,
                 runner: IndexRunner | None = None, resume_on_start: bool = True, watch: bool = True,
                 watch_debounce_ms: int = 3000, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings(ORGANIZATION, APPLICATION)
        self.model_name = model
        self.runner = runner
        self.resume_on_start = resume_on_start
        self.watch_enabled = watch
        self.watch_debounce_ms = watch_debounce_ms
        self.watcher = None
        self.owns_service = False
        self._resume_pending = resume_on_start
        self._pending_removals: list[str] = []
        self._resume_after_removal = False
        self._refresh_again = False
        self._refreshing = False
        self._shown_once = False
        self._closing = False
        self._model_warmed = False
        self._counts_loading = False
        self._last_counts_at = 0.0
        self.open_failed_box = None  # the latest "Could not open" box (tests look at it)
        self.help_dialog: QuerySyntaxDialog | None = None
        self.stall_meter = StallMeter(parent=self)

        self.setWindowTitle("Desktop Search")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.reporter = ErrorReporter(self)
        self.reporter.on_known = self.show_known_error
        self.pool = WorkerPool(max_threads=2, parent=self)
        self.ctx = AppContext(self.pool, self.reporter, self)
        self.ctx.status_posted.connect(self._on_ctx_status_posted)
        self.ctx.known_error_raised.connect(self.show_known_error)
        self.ctx.store_damaged.connect(self.show_store_damaged)
        self.repair_runner = None  # gui.repair.RepairRunner, made when a repair is asked for
        self.ctx.model_state_changed.connect(self._on_ctx_model_state_changed)
        self.ctx.open_failed.connect(self._on_ctx_open_failed)
        self.ctx.counts_updated.connect(self._on_ctx_counts_updated)

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 6)
        self.banner = Banner()
        lay.addWidget(self.banner)
        self.store_busy = StoreBusyBanner()
        self.store_busy.stop_requested.connect(self._on_store_busy_stop_requested)
        self.store_busy.details_requested.connect(self._on_store_busy_details_requested)
        lay.addWidget(self.store_busy)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.search_tab = SearchTab(self.ctx)
        self.compare_tab = CompareTab(self.ctx)
        self.library_tab = LibraryTab(self.ctx)
        self.training_tab = TrainingTab(self.ctx)
        self.judgments_tab = JudgmentsTab(self.ctx)
        self.tabs.addTab(self.search_tab, "Search")
        self.tabs.addTab(self.compare_tab, "Compare")
        self.tabs.addTab(self.library_tab, "Library")
        self.tabs.addTab(self.training_tab, TrainingTab.title)
        self.tabs.addTab(self.judgments_tab, JudgmentsTab.title)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        lay.addWidget(self.tabs, 1)
        self.indexing_panel = IndexingPanel()
        self.indexing_panel.cancel_requested.connect(self.cancel_indexing)
        lay.addWidget(self.indexing_panel)
        self.setCentralWidget(central)

        self.library_label = QLabel()
        self.coverage_label = QLabel()  # "Dense: 2,816 of 14,851 passages embedded (19 %)" until all are
        self.coverage_label.setToolTip("Dense and Hybrid search only the embedded passages until indexing has "
                                       "embedded them all")
        self.coverage_label.setContentsMargins(0, 0, 12, 0)
        self.coverage_label.hide()
        self.model_label = QLabel("Loading the model…")
        self.model_label.setToolTip("The embedding model starts in the background; meaning searches (Dense, "
                                    "Hybrid) answer as soon as it is ready")
        self.model_label.setContentsMargins(0, 0, 12, 0)
        self.model_label.hide()
        self.statusBar().addPermanentWidget(self.coverage_label)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.library_label)

        self.counts_timer = QTimer(self)
        self.counts_timer.setInterval(COUNTS_REFRESH_MS)
        self.counts_timer.timeout.connect(self.refresh_counts)
        self._build_actions()
        self.search_tab.retriever_changed.connect(self._on_search_tab_retriever_changed)
        self.library_tab.add_folder_requested.connect(self.choose_folder)
        self.library_tab.rescan_requested.connect(self.rescan)
        self.library_tab.retry_failed_requested.connect(self.retry_failed)
        self.library_tab.remove_folder_requested.connect(self.remove_folder)
        self.training_tab.compare_requested.connect(self._on_training_tab_compare_requested)
        self.training_tab.model_changed.connect(self._on_training_tab_model_changed)
        self.ctx.library_updated.connect(self._on_ctx_library_updated)
        self._restore_settings()
        if service is not None:
            self.attach_service(service)
        else:
            self.statusBar().showMessage("Opening the library…")

    # -- setup ------------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        mb = self.menuBar()
        m_file = mb.addMenu("&File")
        self.add_folder_action = QAction("&Add folder…", self, shortcut=QKeySequence.StandardKey.Open,
                                         triggered=self.choose_folder)
        self.add_files_action = QAction("Add &files…", self, shortcut=QKeySequence("Ctrl+Shift+O"),
                                        triggered=self.choose_files)
        self.rescan_action = QAction("&Rescan all folders", self, shortcut=QKeySequence.StandardKey.Refresh,
                                     triggered=self.rescan)
        self.retry_action = QAction("Retry &failed files", self, triggered=self.retry_failed)
        self.cancel_action = QAction("&Cancel indexing", self, triggered=self.cancel_indexing, enabled=False)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        for a in (self.add_folder_action, self.add_files_action, None, self.rescan_action, self.retry_action,
                  self.cancel_action, None, quit_action):
            m_file.addSeparator() if a is None else m_file.addAction(a)

        m_search = mb.addMenu("&Search")
        self.find_action = QAction("&Find", self, triggered=self.focus_query)
        self.find_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Find), QKeySequence("Ctrl+L")])
        m_search.addAction(self.find_action)
        m_search.addSeparator()
        self.retriever_actions = QActionGroup(self)
        self.retriever_actions.setExclusive(True)
        for i, name in enumerate(RETRIEVERS):
            a = QAction(retriever_label(name), self, checkable=True, shortcut=QKeySequence(f"Ctrl+{i + 1}"))
            a.setData(name)
            a.triggered.connect(lambda _=False, n=name: self.set_retriever(n))
            self.retriever_actions.addAction(a)
            m_search.addAction(a)
        self.retriever_actions.actions()[0].setChecked(True)
        m_search.addSeparator()
        m_search.addAction(QAction("&Compare retrievers", self, shortcut=QKeySequence("Ctrl+Shift+C"),
                                   triggered=self.show_compare))

        m_view = mb.addMenu("&View")
        for i, name in enumerate(("Search", "Compare", "Library", "Training", "Judgments")):
            m_view.addAction(QAction(name, self, shortcut=QKeySequence(f"Alt+{i + 1}"),
                                     triggered=lambda _=False, i=i: self.tabs.setCurrentIndex(i)))
        m_help = mb.addMenu("&Help")
        self.help_action = QAction("&Query syntax and retrievers", self, shortcut=QKeySequence.StandardKey.HelpContents,
                                   triggered=self.show_query_help)
        if self.help_action.shortcut().isEmpty():
            self.help_action.setShortcut(QKeySequence("F1"))
        m_help.addAction(self.help_action)
        m_help.addSeparator()
        about = QAction("&About Desktop Search", self, triggered=self._on_about_triggered)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        m_help.addAction(about)

    def attach_service(self, service) -> None:
        """Connect the window to its SearchService (the app creates it after the window shows)."""
        self.ctx.attach(service)
        if self.runner is None:
            self.runner = IndexRunner(service.data_dir, self.model_name, parent=self)
        else:
            self.runner.setParent(self)
        self.runner.started.connect(self._on_runner_started)
        self.runner.progressed.connect(self._on_runner_progressed)
        self.runner.phase_changed.connect(self._on_runner_phase_changed)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.queue_changed.connect(self.indexing_panel.set_queue)
        self.runner.waiting.connect(self._on_runner_waiting)
        self.runner.resumed.connect(self._on_runner_resumed)
        self.runner.lock_watch.changed.connect(self._on_lock_holder_changed)
        self.runner.lock_watch.start()
        if self.watch_enabled:
            from .watcher import FolderWatcher

            self.watcher = FolderWatcher(self.watch_debounce_ms, ignore=(str(service.data_dir),), parent=self)
            self.watcher.changed.connect(self._on_watcher_changed)
            self.watcher.watch_started.connect(self.folder_watched)
        self.statusBar().showMessage("Ready", 3000)
        self.refresh_library()

    @property
    def service(self):
        return self.ctx.service

    def _restore_settings(self) -> None:
        s = self.settings
        geo = s.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1200, 780)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.set_retriever(str(s.value("search/retriever", "bm25")))
        for key, split in (("search/splitter", self.search_tab.splitter), ("compare/hsplit", self.compare_tab.h_split),
                           ("compare/vsplit", self.compare_tab.v_split)):
            v = s.value(key)
            if v is not None:
                split.restoreState(v)
        names = _as_list(s.value("compare/retrievers"))
        if len([n for n in names if n in RETRIEVERS]) >= 2:
            self.compare_tab.set_retrievers(names)
        try:
            self.tabs.setCurrentIndex(int(s.value("window/tab", 0)))
        except (TypeError, ValueError):
            pass

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("search/retriever", self.search_tab.retriever)
        s.setValue("search/splitter", self.search_tab.splitter.saveState())
        s.setValue("compare/hsplit", self.compare_tab.h_split.saveState())
        s.setValue("compare/vsplit", self.compare_tab.v_split.saveState())
        s.setValue("compare/retrievers", self.compare_tab.selected_retrievers())
        if self.model_name:
            s.setValue("model", self.model_name)
        s.sync()

    def saved_folders(self) -> list[str]:
        """The library's folders as of the last refresh (kept in QSettings with the window state)."""
        return _as_list(self.settings.value("library/folders"))

    def _save_folders(self, folders) -> None:
        self.settings.setValue("library/folders", sorted(set(folders)))

    def pending_adds(self) -> list[str]:
        """Folders the user added that the store has not registered yet (a crash in between re-adds them)."""
        return _as_list(self.settings.value("library/pending"))

    def _set_pending_adds(self, paths) -> None:
        self.settings.setValue("library/pending", sorted(set(paths)))

    # -- showing ----------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self.shown.emit)

    def show_query_help(self) -> QuerySyntaxDialog:
        """Help › Query syntax (F1): operators, the three retrievers, the Compare figures."""
        if self.help_dialog is None:
            self.help_dialog = QuerySyntaxDialog(self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        self.help_dialog.activateWindow()
        return self.help_dialog

    def focus_query(self) -> None:
        if self.tabs.currentWidget() is self.compare_tab:
            self.compare_tab.focus_query()
            return
        self.tabs.setCurrentWidget(self.search_tab)
        self.search_tab.focus_query()

    def set_retriever(self, name: str) -> None:
        self.search_tab.set_retriever(name)

    def show_compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare_tab)
        self.compare_tab.focus_query()

    def _on_training_tab_compare_requested(self, version_id: str) -> None:
        self.compare_tab.compare_versions(version_id)
        self.show_compare()

    def _on_training_tab_model_changed(self, version_id: str) -> None:
        self.statusBar().showMessage("Searching with the base model" if version_id == "base" else
                                     f"Searching with model version {version_id}", 5000)
        self.refresh_library()
        self._after_vectors_refreshed()

    def _on_search_tab_retriever_changed(self, name: str) -> None:
        for a in self.retriever_actions.actions():
            if a.data() == name:
                a.setChecked(True)
        self.settings.setValue("search/retriever", name)

    def _on_tabs_current_changed(self, i: int) -> None:
        if self.tabs.widget(i) is self.compare_tab:
            self.compare_tab.follow_query(self.search_tab.query.text())

    def _on_ctx_status_posted(self, msg: str, timeout_ms: int) -> None:
        self.statusBar().showMessage(msg, timeout_ms)

    def _on_ctx_model_state_changed(self, state: str) -> None:
        loading = state == "loading"
        self.model_label.setVisible(loading)
        if loading:
            self.statusBar().showMessage("Loading the model in the background… (meaning searches answer once it "
                                         "is ready)")
        elif state == "ready":
            self.statusBar().showMessage("Model loaded: meaning searches answer at once", 3000)

    def _warm_model(self) -> None:
        """Right after the window shows: start the model's child process and load the vectors, so the
        first Dense or Hybrid search answers at once (BM25 searches run meanwhile)."""
        if self._closing or self._model_warmed:
            return
        self._model_warmed = True
        self.ctx.warm_model()

    def _on_ctx_open_failed(self, path: str, reason: str) -> None:
        self.statusBar().showMessage(f"Could not open {path}: {reason}", 10000)
        self.open_failed_box = open_failed_box(self, path, reason, reveal=self.ctx.reveal_path,
                                               copy=self.ctx.copy_path)

    def show_known_error(self, message: str, details: str = "") -> None:
        """An environment problem: a banner above the tabs and the status bar, never a dead window."""
        self.banner.show_message(message, details)
        self.statusBar().showMessage(message, 10000)

    # -- a damaged store: offer the repair (gui/repair.py) ----------------------------------------------
    def show_store_damaged(self, message: str) -> None:
        """The banner says the store is damaged and offers Repair (the CLI's `repair`, in a child)."""
        self.banner.show_message(message, level="error", action=("Repair…", self._on_repair_clicked))
        self.statusBar().showMessage(message, 10000)

    def _on_repair_clicked(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Repair the index",
                          "Rebuild the index from your files? The damaged index is kept in a damaged-… folder "
                          "in the data folder; what can still be read (vectors, marks) is reused, the rest is "
                          "read and embedded again.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.start_repair()

    def start_repair(self) -> None:
        from .repair import RepairRunner

        if self.repair_runner is None:
            self.repair_runner = RepairRunner(self.service.data_dir, self.model_name, parent=self)
            self.repair_runner.progressed.connect(self._on_repair_progressed)
            self.repair_runner.repair_finished.connect(self._on_repair_finished)
        if self.repair_runner.start():
            self.banner.show_message("Repairing the index…", level="info")

    def _on_repair_progressed(self, p: dict) -> None:
        what = p.get("message") or PHASE_LABELS.get(p.get("phase", ""), p.get("phase", ""))
        count = f" {p['done']} of {p['total']}" if p.get("total") else ""
        self.statusBar().showMessage(f"Repairing: {what}{count}", 5000)

    def _on_repair_finished(self, ok: bool, message: str) -> None:
        if ok:
            self.service.reopen()  # the database was replaced under this window's connections
            self.banner.show_message(message, level="info")
            self.refresh_library()
        else:
            self.banner.show_message(message, level="error", action=("Repair…", self._on_repair_clicked))
        self.statusBar().showMessage(message, 10000)

    def _on_about_triggered(self) -> None:
        from .. import __version__

        svc = self.service
        QMessageBox.about(self, "About Desktop Search",
                          f"<b>Desktop Search</b> {__version__}<br>Local search over your own files: BM25, dense "
                          f"and hybrid retrieval.<br><br>Index: {svc.data_dir if svc else '…'}")

    # -- adding folders -----------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder to the library", os.path.expanduser("~"))
        if path:
            self.add_paths([path])

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add files to the library", os.path.expanduser("~"))
        if paths:
            self.add_paths(paths)

    def add_paths(self, paths) -> bool:
        """Index these folders or files in the background (queued behind a running job)."""
        if self.service is None or self.runner is None:
            return False
        data_dir = os.path.abspath(self.service.data_dir)
        ok = []
        for p in paths:
            ap = os.path.abspath(p)
            if not os.path.exists(ap):
                self.show_known_error(f"{ap} does not exist.")
                continue
            if ap == data_dir or ap.startswith(data_dir + os.sep):
                self.show_known_error("That is the index's own data folder; choose a folder of documents.")
                continue
            if not os.access(ap, os.R_OK):
                self.show_known_error(f"{ap} cannot be read (permission denied).")
                continue
            ok.append(ap)
        if not ok:
            return False
        self._set_pending_adds(self.pending_adds() + ok)
        self.runner.enqueue(IndexRequest(tuple(ok), reason="add"))
        names = ", ".join(os.path.basename(p) or p for p in ok[:3]) + ("…" if len(ok) > 3 else "")
        self.statusBar().showMessage(f"Adding {names} to the library", 5000)
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        md = event.mimeData()
        if md.hasUrls() and any(u.isLocalFile() for u in md.urls()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.statusBar().showMessage("Drop to add to the library and index", 2000)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        md = event.mimeData()
        paths = [u.toLocalFile() for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.add_paths(paths)

    # -- indexing -------------------------------------------------------------------------------------
    def rescan(self) -> None:
        if self.runner is not None:
            self.runner.enqueue(IndexRequest(reason="rescan"))

    def retry_failed(self) -> None:
        if self.runner is not None:
            self.runner.enqueue(IndexRequest(retry_failed=True, reason="retry"))

    def cancel_indexing(self) -> None:
        if self.runner is not None and (self.runner.running or self.runner.waiting_for is not None):
            self.indexing_panel.show_cancelling()
            self.statusBar().showMessage("Cancelling indexing…")
            self.runner.cancel()

    def _on_runner_started(self, req: IndexRequest) -> None:
        self.indexing_panel.show_started(req)
        self.indexing_panel.set_queue(len(self.runner.queued))
        self.cancel_action.setEnabled(True)

    def _on_runner_progressed(self, ev: dict) -> None:
        self.indexing_panel.show_progress(ev)
        if ev.get("phase") == "embed":  # the vector count in the status bar and Library tab follows
            self.refresh_counts(throttle=True)

    def _on_runner_waiting(self, req: IndexRequest, holder: LockHolder) -> None:
        self.indexing_panel.show_waiting(req, holder, "the training job" if self._is_training_child(holder) else "")
        self.cancel_action.setEnabled(True)
        if holder.pid and not self._is_training_child(holder):
            self.store_busy.set_holder(holder)
            self._start_counts_timer()
        what = {"add": "Adding", "watch": "Updating", "retry": "Retrying failed files in",
                "rescan": "Rescanning", "resume": "Updating"}.get(req.reason, "Indexing")
        self.store_busy.set_waiting(f"{what} {req.describe()}")
        self.statusBar().showMessage(f"{what} {req.describe()}: queued until the other process finishes", 8000)

    def _is_training_child(self, holder: LockHolder) -> bool:
        """The Training tab's own child embeds a new version under the lock: not "another process"."""
        r = self.training_tab.runner
        return r is not None and r.pid is not None and r.pid == holder.pid

    def _on_runner_resumed(self) -> None:
        self.statusBar().showMessage("The other process finished; indexing the queued folders now", 5000)

    def _on_lock_holder_changed(self, holder: LockHolder | None) -> None:
        """The strip above the tabs follows the store's lock: shown while another process holds it."""
        if holder is None or self._is_training_child(holder):
            self.store_busy.set_holder(None)
            if self.runner is None or not self.runner.running:
                self.counts_timer.stop()
            self.refresh_library()
            self._after_vectors_refreshed_soon()
            return
        self.store_busy.set_holder(holder)
        self._start_counts_timer()

    def _start_counts_timer(self) -> None:
        if not self.counts_timer.isActive():
            self.counts_timer.start()
        self.refresh_counts()

    def _after_vectors_refreshed_soon(self) -> None:
        if self.service is not None:
            self.ctx.submit(refresh_vectors, self.service, on_finished=self._after_vectors_refreshed)

    def _on_store_busy_details_requested(self) -> None:
        svc = self.service
        if svc is None:
            self.store_busy.show_details()
            return

        def show(progress: dict) -> None:
            self.store_busy.set_progress(progress)
            self.store_busy.show_details()

        self.ctx.submit(store_progress, svc.store, on_result=show)

    def _on_store_busy_stop_requested(self, holder: LockHolder) -> None:
        self.statusBar().showMessage(f"Asking process {holder.pid} to stop…", 5000)
        self.ctx.submit(stop_holder, holder)

    def _on_runner_phase_changed(self, phase: str) -> None:
        if phase in ("extract", "embed", "done", "cleanup"):
            self.refresh_library()
            if phase == "embed":  # the new files are searchable with BM25 now
                self.search_tab.refresh()

    def _on_runner_finished(self, req: IndexRequest, out: IndexOutcome) -> None:
        more = self.runner is not None and (self.runner.running or self.runner.queued)
        if not more:
            self.indexing_panel.hide()
            self.cancel_action.setEnabled(False)
            if self.store_busy.holder is None:
                self.counts_timer.stop()
        self.store_busy.set_waiting("")
        if out.status == "done":
            self.statusBar().showMessage(out.message, 8000)
        elif out.status == "cancelled":
            self.statusBar().showMessage(out.message, 8000)
        else:
            self.show_known_error(out.message, out.details)
        if self.service is not None:
            self.ctx.submit(refresh_vectors, self.service, on_finished=self._after_vectors_refreshed)
        self.refresh_library()
        self._run_pending_removals()
        self.indexing_finished.emit(out)

    def _after_vectors_refreshed(self) -> None:
        self.search_tab.refresh()
        self.compare_tab.refresh()

    def _on_watcher_changed(self, root: str) -> None:
        if self.runner is not None and not self._closing:
            self.runner.enqueue(IndexRequest((root,), reason="watch"))

    # -- library ---------------------------------------------------------------------------------------
    def refresh_library(self) -> None:
        """Reload folders, counts and file statuses in a worker (coalesced while one is running)."""
        if self.service is None or self._closing:
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        self.ctx.submit(load_library_snapshot, self.service, on_result=self._on_library_loaded,
                        on_finished=self._on_library_refresh_finished)

    def _on_library_loaded(self, snap: LibrarySnapshot) -> None:
        self.ctx.set_library(snap)
        self.library_refreshed.emit(snap)

    def _on_library_refresh_finished(self) -> None:
        self._refreshing = False
        if self._refresh_again:
            self._refresh_again = False
            self.refresh_library()

    def refresh_counts(self, throttle: bool = False) -> None:
        """Re-read the counts (files, passages, vectors per model) in a worker: while a job embeds, the
        status bar and the Library tab show how far it is (cheap: no file rows)."""
        import time

        if self.service is None or self._closing or self._counts_loading:
            return
        if throttle and time.monotonic() - self._last_counts_at < COUNTS_REFRESH_MS / 1000:
            return
        self._counts_loading = True
        self._last_counts_at = time.monotonic()

        def done(result) -> None:
            self.ctx.update_counts(*result)

        def finished() -> None:
            self._counts_loading = False

        self.ctx.submit(load_library_counts, self.service, on_result=done, on_finished=finished)

    def _show_counts(self, snap: LibrarySnapshot) -> None:
        c = snap.counts
        self.library_label.setText(f"{c.get('indexed', 0):,} files · {c.get('chunks', 0):,} passages"
                                   if snap.folders else "Library empty")
        line = Coverage(snap.model_vectors, c.get("chunks", 0)).line() if snap.folders else ""
        self.coverage_label.setText(line)
        self.coverage_label.setVisible(bool(line))

    def _on_ctx_counts_updated(self, snap: LibrarySnapshot) -> None:
        self._show_counts(snap)
        if self.store_busy.holder is not None:  # how far the other process is, from the store
            self.store_busy.set_progress(progress_from(snap.counts, snap.models))

    def _on_ctx_library_updated(self, snap: LibrarySnapshot) -> None:
        self._show_counts(snap)
        if not self._model_warmed and snap.model_vectors and self._shown_once:
            QTimer.singleShot(WARM_MODEL_DELAY_MS, self._warm_model)
        folders = [f.path for f in snap.folders]
        self._save_folders(folders)
        pending = self.pending_adds()
        left = [p for p in pending if not _covered(p, folders)]
        if left != pending:
            self._set_pending_adds(left)
        if self.watcher is not None:
            self.watcher.set_roots([f.path for f in snap.folders if f.exists])
        if self._resume_pending:
            self._resume_pending = False
            self._resume(folders)

    def _resume(self, store_folders: list[str]) -> None:
        """On start: bring every folder up to date (resumes a cancelled, crashed or killed run)."""
        if self.runner is None:
            return
        if store_folders:
            self.runner.enqueue(IndexRequest(reason="resume"))
        extra = [p for p in self.pending_adds() if not _covered(p, store_folders) and os.path.exists(p)]
        if extra:  # added just before a crash, never registered
            self.runner.enqueue(IndexRequest(tuple(extra), reason="resume"))

    def remove_folder(self, path: str) -> None:
        """Forget a folder (after stopping a running index job); its entries leave every index."""
        self._pending_removals.append(path)
        if self.runner is not None and self.runner.running:
            self.statusBar().showMessage("Stopping indexing to remove the folder…")
            self.runner.cancel()
            self._resume_after_removal = True
            return
        self._run_pending_removals()

    def _run_pending_removals(self) -> None:
        if not self._pending_removals or self.service is None or (self.runner is not None and self.runner.running):
            return
        paths, self._pending_removals = self._pending_removals, []
        svc = self.service

        def run():
            return [(p, svc.remove_folder(p)) for p in paths]

        self.statusBar().showMessage(f"Removing {', '.join(paths)}…")
        self.ctx.submit(run, on_result=self._on_folders_removed)

    def _on_folders_removed(self, removed) -> None:
        gone = {p for p, _ in removed}
        self._save_folders([p for p in self.saved_folders() if p not in gone])
        self._set_pending_adds([p for p in self.pending_adds() if not _covered(p, gone)])
        n = sum(k for _, k in removed)
        self.statusBar().showMessage(f"Removed {', '.join(gone)} ({n:,} files left the index)", 8000)
        self.refresh_library()
        self.search_tab.refresh()
        self.compare_tab.refresh()
        if self._resume_after_removal and self.runner is not None:
            self._resume_after_removal = False
            self.runner.enqueue(IndexRequest(reason="resume"))
        for p in gone:
            self.folder_removed.emit(p)

    # -- closing --------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        self.counts_timer.stop()
        self.save_settings()
        if self.watcher is not None:
            self.watcher.stop()
        if self.runner is not None:
            self.runner.shutdown()
        if self.repair_runner is not None:  # stopped between steps: `repair` again finishes it
            self.repair_runner.stop_and_wait(10_000, 2000)
        self.training_tab.shutdown()
        self.search_tab.timer.stop()
        self.compare_tab.timer.stop()
        self.pool.shutdown(5000)
        if self.stall_meter.running and os.environ.get("DESKTOP_SEARCH_STALL_METER"):
            print(f"stall meter: {self.stall_meter.summary()}", file=sys.stderr)
        if self.owns_service and self.service is not None:
            self.service.close()
        super().closeEvent(event)


def _covered(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip("/\\") + os.sep) for f in folders)


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v] if v else []
    return [str(x) for x in v]
