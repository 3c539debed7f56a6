"""app.main: the window opens without importing torch; the real model answers a dense search in the window."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", DESKTOP_SEARCH_DATA=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path / "home"),
               DESKTOP_SEARCH_STARTUP_PROBE="1")
    return env


def test_app_main_opens_window_without_torch(tmp_path):
    code = "import sys; from desktop_search.entry import main; sys.exit(main([]))"
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("{"))
    probe = json.loads(line)
    assert probe["torch_imported"] is False
    assert probe["sentence_transformers_imported"] is False and probe["hnswlib_imported"] is False
    assert probe["window_shown_s"] is not None and probe["window_shown_s"] < 10  # ~1 s here; generous for CI
    assert "Traceback" not in r.stderr


def test_the_window_launcher_opens_the_library_it_is_given(tmp_path):
    """`desktop-search-gui --data-dir DIR` opens DIR's library (it used to open the default one)."""
    chosen = tmp_path / "chosen"
    code = "import sys; from desktop_search.entry import gui_main; sys.exit(gui_main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "--data-dir", str(chosen)], env=_env(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    from desktop_search.service import DB_NAME

    assert (chosen / DB_NAME).is_file()
    assert not (tmp_path / "data").exists()  # the default library was left alone


def test_the_window_launcher_refuses_a_command(capsys):
    from desktop_search.entry import gui_main

    with pytest.raises(SystemExit) as e:
        gui_main(["search", "anything"])
    assert e.value.code == 2
    assert "only opens the window" in capsys.readouterr().err


def test_gui_modules_do_not_import_heavy_libraries():
    code = ("import sys, desktop_search.app, desktop_search.gui.main_window, desktop_search.gui.training, "
            "desktop_search.service; "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'hnswlib', 'transformers') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.model
def test_dense_search_with_the_real_model(qtbot, make_window, tmp_path, corpus_dir, search):
    """The first dense search loads the model in a worker ("Loading model…"), then answers by meaning."""
    from desktop_search.service import SearchService

    svc = SearchService(tmp_path / "real_store")  # the default, bundled all-MiniLM-L6-v2
    try:
        for _ in svc.index([corpus_dir]):  # in-process: loads the model once and embeds 12 short files
            pass
        svc.close()
        svc = SearchService(tmp_path / "real_store")  # a fresh service: the model is not loaded yet
        w = make_window(svc)
        assert w.ctx.model_state == "unloaded"
        states = []
        w.ctx.model_state_changed.connect(states.append)
        hits = search(w, "how do I bake a loaf", "dense", timeout=60000)
        assert states[:2] == ["loading", "ready"]
        assert hits[0].name == "bread.md"
        assert {h.retriever for h in hits} == {"dense"}
        hits = search(w, "illness caused by misfolding", "hybrid")
        assert hits[0].name == "proteins.txt"
    finally:
        svc.close()


def test_many_signal_emits_do_not_crash_the_process():
    """PySide6 6.12 on CPython 3.11 loses a reference to True per emit; the gui package guards against it."""
    code = ("import desktop_search.gui\n"
            "from PySide6.QtCore import QCoreApplication, QObject, Signal, QModelIndex\n"
            "from PySide6.QtWidgets import QApplication, QComboBox\n"
            "app = QApplication([])\n"
            "class S(QObject):\n    sig = Signal(object)\n"
            "s = S(); s.sig.connect(lambda v: None)\n"
            "c = QComboBox(); c.addItem('all', None)\n"
            "for i in range(50000):\n    s.sig.emit(None); c.currentData(); QModelIndex().data()\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
