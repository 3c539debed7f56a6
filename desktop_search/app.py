"""The desktop app's one wiring point: QApplication, settings, the search service and the main window.

The window shows first; the service opens right after, in the event loop, and torch,
sentence-transformers and hnswlib load only when a dense search first needs them.
Set DESKTOP_SEARCH_STARTUP_PROBE=1 to print the time from process start to the window
being shown (and whether torch was imported by then) and quit: a benchmark hook.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _process_age_s() -> float | None:
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - only a measurement
        return None


def main(data_dir: str | None = None, model: str | None = None) -> int:
    """Open the desktop window on the library in `data_dir` (default: the user's data folder)."""
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .gui.errors import install_excepthook
    from .gui.main_window import APPLICATION, ORGANIZATION, MainWindow, app_icon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Desktop Search")
    app.setDesktopFileName("desktop-search")
    app.setWindowIcon(app_icon())

    settings = QSettings(ORGANIZATION, APPLICATION)
    model = model or (str(settings.value("model")) if settings.value("model") else None)
    window = MainWindow(None, model=model, settings=settings)
    install_excepthook(window.reporter)

    def open_service() -> None:
        from .errors import KnownError

        try:
            from .retrievers.remote import EncoderProcess
            from .service import SearchService

            # the model runs in a child process: torch never loads into (and never stalls) the window
            svc = SearchService(data_dir, model=model, encoder_factory=EncoderProcess)
        except KnownError as e:
            window.show_known_error(f"The library cannot be opened: {e}")
            return
        window.owns_service = True
        window.attach_service(svc)

    if os.environ.get("DESKTOP_SEARCH_STALL_METER"):
        window.stall_meter.start()
    if os.environ.get("DESKTOP_SEARCH_STARTUP_PROBE"):
        def probe() -> None:
            print(json.dumps({"window_shown_s": _process_age_s(), "torch_imported": "torch" in sys.modules,
                              "sentence_transformers_imported": "sentence_transformers" in sys.modules,
                              "hnswlib_imported": "hnswlib" in sys.modules}), file=sys.stderr, flush=True)
            QTimer.singleShot(200, window.close)

        window.shown.connect(probe)
    window.show()
    QTimer.singleShot(0, open_service)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
