"""The Training tab: a short real run in a child process, cancel, model versions, the compare columns, rendering."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_search.gui.training import (BASE, LossChart, TrainJob, TrainRunner, TrainSettings, VersionRow,
                                         VersionsModel, load_version_rows, nice_ticks, request_path, short_version)

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_level_fail("WARNING"),
              pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")]

# six short files: enough passages to train on, few enough to index and re-embed in seconds
LIBRARY = {
    "bread.md": "# Sourdough bread\n\nFeed the starter the evening before. Mix flour, water and salt with the starter, "
                "knead the dough until it is smooth, let it rise overnight in a cool kitchen and bake the loaf in a "
                "very hot oven until the crust is dark and crackles.",
    "garden.txt": "Tomatoes need sun, warmth and regular water. Plant them out in late spring, tie the stems to canes, "
                  "pinch out the side shoots in summer and pick the fruit when it is fully red for the best flavour.",
    "stars.md": "# How stars shine\n\nStars fuse hydrogen into helium in their cores and the energy slowly escapes as "
                "light. Massive stars burn fast and end as supernovae, leaving neutron stars or black holes behind.",
    "proteins.txt": "Protein folding decides what a protein does in the cell. Misfolded proteins clump together into "
                    "plaques and tangles, which is how diseases such as Alzheimer's and Parkinson's are thought to "
                    "start.",
    "travel.md": "# Vienna by night train\n\nTake the night train to Vienna, visit the museums in the morning, walk "
                 "along the Ringstrasse and eat cake in an old coffee house. Bring a warm coat for the cold evenings.",
    "budget.txt": "Meeting notes: the budget for the garden project was approved. We will buy tomato plants, compost, "
                  "a new hose and two water butts before the spring planting starts in April.",
}


def _fake_model(folder: Path) -> Path:
    """Just enough of a sentence-transformers folder for VersionStore.create (no weights: never loaded)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    return folder


def _settings(steps: int = 3, alpha: float | None = 0.5) -> dict:
    return {"config": {"steps": steps, "batch_size": 4, "n_positives": 2, "max_crop_tokens": 16,
                       "weighting": "relevance", "negatives": "in_batch", "pair_alpha": 0.0, "seed": 0},
            "base_model": "base", "alpha": alpha}


SELECTION = {"selection": {"alpha": 0.3, "metric": "ndcg@10", "margin": 0.005, "reason": "0.3 clearly beat 0.5",
                           "metrics": {"0": {"ndcg@10": 0.61}, "0.3": {"ndcg@10": 0.655}, "0.5": {"ndcg@10": 0.64}}}}


@pytest.fixture(scope="module")
def _real_library(tmp_path_factory):
    """The six files indexed once with the real (bundled) model; tests get copies of the data folder."""
    from desktop_search.service import SearchService

    base = tmp_path_factory.mktemp("training_library")
    docs = base / "docs"
    docs.mkdir()
    for name, text in LIBRARY.items():
        (docs / name).write_text(text, encoding="utf-8")
    with SearchService(base / "data") as svc:
        for _ in svc.index([docs]):
            pass
    return base / "data"


@pytest.fixture
def real_service(_real_library, tmp_path):
    from desktop_search.service import SearchService

    shutil.copytree(_real_library, tmp_path / "data")
    svc = SearchService(tmp_path / "data")
    yield svc
    svc.close()


def _set(tab, *, steps: int, batch: int = 4, positives: int = 2, crop: int = 16, alpha: float | None = 0.5) -> None:
    tab.steps_spin.setValue(steps)
    tab.batch_spin.setValue(batch)
    tab.positives_spin.setValue(positives)
    tab.crop_spin.setValue(crop)
    if alpha is None:
        tab.alpha_combo.setCurrentIndex(tab.alpha_combo.findData("auto"))
    else:
        tab.alpha_combo.setCurrentIndex(tab.alpha_combo.findData("fixed"))
        tab.alpha_spin.setValue(alpha)


# -- pure parts -------------------------------------------------------------------------------------------------
def test_the_request_follows_the_settings(monkeypatch, tmp_path):
    """The tab's settings become a TrainRequest (TrainConfig overrides) sent as a file, not as options."""
    from training.trainer import TrainConfig

    from desktop_search.cli import build_parser
    from desktop_search.jobs.training import TrainRequest

    s = TrainSettings(steps=3, batch_size=4, n_positives=2, max_crop_tokens=16, negatives="moco", pair_weight=0.1,
                      alpha=0.5, seed=7, activate=False)
    req = s.to_request()
    assert req.config == {"steps": 3, "batch_size": 4, "n_positives": 2, "max_crop_tokens": 16, "negatives": "moco",
                          "weighting": "relevance", "pair_alpha": 0.1, "interpolation_alpha": 0.5, "seed": 7}
    assert req.select_alpha is False and req.activate is False  # a fixed alpha is not chosen again
    cfg = TrainConfig.from_dict(req.config).to_dict()  # every key is a TrainConfig field (unknown ones raise)
    assert {k: cfg[k] for k in req.config} == req.config
    assert TrainRequest.from_dict(json.loads(req.to_json())) == req
    for neg in ("moco", "in_batch"):  # either kind is passed explicitly, whatever the child's default is
        assert TrainSettings(negatives=neg).to_request().config["negatives"] == neg
    # "auto" settings and auto alpha leave the choice to the child
    auto = TrainSettings().to_request()
    assert auto.config == {"weighting": "relevance", "pair_alpha": 0.0, "seed": 0}
    assert auto.select_alpha is True and auto.activate is True

    # the real CLI accepts what the runner runs: `train --request FILE --json-progress`, `models ... --json-progress`
    job = TrainJob("train", settings=s)
    cli = job.cli_args(tmp_path, "all-MiniLM-L6-v2")
    parsed = build_parser().parse_args(cli)
    assert parsed.command == "train" and parsed.json_progress and parsed.request == str(request_path(tmp_path))
    assert parsed.model == "all-MiniLM-L6-v2" and "--steps" not in cli and "--alpha" not in cli
    parsed = build_parser().parse_args(TrainJob("activate", "v2-20260101-000000").cli_args(tmp_path, None))
    assert parsed.action == "activate" and parsed.version == "v2-20260101-000000" and parsed.json_progress
    runner = TrainRunner(tmp_path)
    program, *argv = runner.command(TrainJob("rollback"))
    assert program == sys.executable and argv[:2] == ["-m", "desktop_search"]
    assert argv[-3:] == ["models", "rollback", "--json-progress"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    program, *argv = runner.command(TrainJob("rollback"))
    assert program == sys.executable and argv[0] == "--data-dir"  # the frozen app runs itself with CLI arguments


def test_small_helpers():
    assert short_version("v12-20261124-221742") == "v12" and short_version(BASE) == BASE
    ticks, decimals = nice_ticks(2.19, 2.57)
    assert ticks[0] <= 2.19 and ticks[-1] >= 2.57 and 3 <= len(ticks) <= 6 and decimals == 1


def test_versions_model_passes_modeltester(qapp, qtmodeltester, tmp_path):
    from training.versions import VersionStore

    store = VersionStore(tmp_path / "data")
    v1 = store.create(_fake_model(tmp_path / "m1"), _settings(alpha=0.3), SELECTION)
    store.create(_fake_model(tmp_path / "m2"), _settings(steps=40), {}, activate=True)

    class Svc:  # what load_version_rows needs of SearchService
        versions = store

    rows = load_version_rows(Svc())
    assert [r.id for r in rows][-1] == BASE and rows[0].active and rows[0].steps == 40
    sel = next(r for r in rows if r.id == v1.id)
    assert sel.alpha == 0.3 and sel.selection == "nDCG@10 0.655 vs base 0.610"
    assert "alpha 0.5: 0.640" in sel.tooltip and sel.tooltip.endswith("Chosen: 0.3 clearly beat 0.5.")
    m = VersionsModel()
    m.set_rows(rows)
    qtmodeltester.check(m, force_py=True)
    m.set_rows(())
    m.set_rows(rows[:1] + (VersionRow("v9-20260101-000000", "", None, None, "", False),))
    assert m.active_id == rows[0].id and m.row_of("v9-20260101-000000") == 1


def _distinct_colours(img: QImage, step: int = 3) -> int:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    return len({img.pixel(x, y) for y in range(0, img.height(), step) for x in range(0, img.width(), step)})


def _dark_palette() -> QPalette:
    pal = QPalette()
    for role, c in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                    (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#262626"),
                    (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.Button, "#353535"),
                    (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d7bd9"),
                    (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.PlaceholderText, "#9a9a9a")):
        pal.setColor(role, QColor(c))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return pal


def test_tab_renders_in_light_and_dark_with_hardware_defaults(qtbot, make_window, indexed_service, tmp_path):
    """The probe child (not the window) finds the defaults; the tab renders to PNGs that are not blank."""
    from training.versions import VersionStore

    VersionStore(indexed_service.data_dir).create(_fake_model(tmp_path / "m1"), _settings(alpha=0.3), SELECTION)
    out = Path(os.environ.get("GUI_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    w = make_window(indexed_service)
    tab = w.training_tab
    with qtbot.waitSignal(tab.defaults_detected, timeout=90000) as blocker:
        w.tabs.setCurrentWidget(tab)
    info = blocker.args[0]
    assert info["device"] in ("cpu", "cuda", "mps") and info["config"]["steps"] >= 1
    assert tab.steps_spin.value() == info["config"]["steps"] and tab.batch_spin.value() == info["config"]["batch_size"]
    # every setting shown on first open is what the job would choose by itself
    cfg = info["config"]
    assert (tab.positives_spin.value(), tab.crop_spin.value()) == (cfg["n_positives"], cfg["max_crop_tokens"])
    assert tab.negatives_combo.currentData() == cfg["negatives"]
    assert tab.weighting_combo.currentData() == cfg["weighting"]
    assert tab.pair_spin.value() == cfg["pair_alpha"] and tab.alpha_combo.currentData() != "fixed"
    assert "Defaults for this computer" in tab.hardware_label.text()
    qtbot.waitUntil(lambda: tab.versions_model.rowCount() == 2, timeout=10000)
    for i, v in enumerate((2.6, 2.4, 2.5, 2.1, 1.9, 1.95, 1.7)):
        tab.chart.add_point(i + 1, v)
    tab.chart.set_total(20)
    counts = {}
    app = QApplication.instance()
    old = app.palette()
    try:
        for name, pal in (("light", old), ("dark", _dark_palette())):
            app.setPalette(pal)
            qtbot.wait(50)
            path = out / f"training-{name}.png"
            assert tab.grab().save(str(path))
            img = QImage(str(path))
            assert not img.isNull() and img.width() > 600
            counts[name] = _distinct_colours(img)
    finally:
        app.setPalette(old)
    assert all(n > 30 for n in counts.values()), counts


def test_loss_chart_draws_points(qapp, tmp_path):
    chart = LossChart()
    chart.resize(400, 220)
    empty = chart.grab().toImage()
    chart.set_total(10)
    for s, v in ((1, 2.5), (2, 2.2), (3, 2.4), (4, 1.9)):
        chart.add_point(s, v)
    assert len(chart.points) == 4 and len(chart.smoothed()) == 4
    drawn = chart.grab().toImage()
    assert _distinct_colours(drawn, 2) > _distinct_colours(empty, 2)
    chart.add_point(2, 2.3)  # a resumed run goes back to its checkpoint
    assert [p[0] for p in chart.points] == [1, 2]


# -- child processes --------------------------------------------------------------------------------------------
def test_a_failed_run_shows_a_clear_message(qtbot, make_window, empty_service):
    w = make_window(empty_service)
    tab = w.training_tab
    _set(tab, steps=3)
    with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
        tab.start_button.click()
        assert tab.running and not tab.start_button.isEnabled() and tab.cancel_button.isEnabled()
        assert not tab.steps_spin.isEnabled()  # the settings of a running job are fixed
    out = blocker.args[0]
    assert out.status == "failed"
    assert "passages are indexed" in out.message and "Traceback" not in out.message
    assert tab.outcome.text.text() == out.message and tab.phase_label.text() == "Failed"
    assert not tab.running and tab.start_button.isEnabled()


@pytest.mark.model
def test_short_real_run_makes_an_active_version(qtbot, make_window, real_service):
    """Start on the tab -> child trains 3 steps, re-embeds, activates; the table, plot and bar follow."""
    w = make_window(real_service)
    tab = w.training_tab
    _set(tab, steps=3, batch=4, positives=2, crop=16, alpha=0.5)
    events = []
    tab.runner.progressed.connect(events.append)
    changed = []
    tab.model_changed.connect(changed.append)
    # The window starts its jobs at low CPU priority: on a 2-core machine kept busy by other work the
    # 3-step run took over 3 minutes (seen). The wait ends as soon as the run does.
    with qtbot.waitSignal(tab.finished, timeout=600000) as blocker:
        tab.start_button.click()
    out = blocker.args[0]
    assert out.status == "done", (out.message, out.details[-2000:])
    assert out.version and out.message.startswith(f"New model version {short_version(out.version)}")
    assert "alpha 0.5" in out.message
    qtbot.waitUntil(lambda: tab.versions_model.active_id == out.version, timeout=10000)
    row = tab.versions_model.rows[tab.versions_model.row_of(out.version)]
    assert row.active and row.alpha == 0.5 and row.steps == 3
    assert tab.versions_model.rowCount() == 2  # the new version and the base
    assert len(tab.chart.points) >= 1 and all(v > 0 for _, v in tab.chart.points)
    assert tab.progress.maximum() > 0 and tab.progress.value() == tab.progress.maximum()
    assert {e["phase"] for e in events} >= {"export", "train", "embed", "done"}
    assert real_service.versions.active_id() == out.version
    assert changed == [out.version]
    assert tab.outcome.text.text() == out.message
    cfg = next(e["stats"]["config"] for e in events if e.get("kind") == "start")
    assert cfg["steps"] == 3 and cfg["batch_size"] == 4 and cfg["interpolation_alpha"] == 0.5
    assert cfg["n_positives"] == 2 and cfg["max_crop_tokens"] == 16
    assert json.loads(request_path(real_service.data_dir).read_text(encoding="utf-8"))["config"]["steps"] == 3


@pytest.mark.model
def test_cancel_stops_the_run(qtbot, make_window, indexed_service):
    w = make_window(indexed_service)
    tab = w.training_tab
    _set(tab, steps=5000, batch=4, positives=2, crop=16, alpha=0.5)
    events = []
    tab.runner.progressed.connect(events.append)
    tab.start_button.click()
    qtbot.waitUntil(lambda: len(tab.chart.points) >= 1, timeout=120000)
    assert tab.cancel_button.isEnabled()
    with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
        tab.cancel_button.click()
        assert not tab.cancel_button.isEnabled()  # "Cancelling…"
    out = blocker.args[0]
    assert out.status == "cancelled" and "cancelled" in out.message.lower()
    assert not tab.running and tab.runner._proc is None and tab.start_button.isEnabled()
    assert tab.phase_label.text() == "Cancelled"
    trainer_pid = next(e["stats"]["pid"] for e in events if e.get("kind") == "start")
    with pytest.raises(ProcessLookupError):  # the grandchild that trained has ended too
        os.kill(trainer_pid, 0)
    assert indexed_service.versions.list() == []


@pytest.mark.model
def test_activate_compare_rollback_and_delete(qtbot, make_window, real_service, monkeypatch):
    """Versions made from copies of the base model (no training): the buttons switch, compare and delete."""
    from desktop_search.resources import bundled_model_path

    base = bundled_model_path()
    v1 = real_service.versions.create(base, _settings(alpha=0.3), SELECTION)
    v2 = real_service.versions.create(base, _settings(steps=40), {})
    w = make_window(real_service)
    tab = w.training_tab
    tab.reload_versions()
    qtbot.waitUntil(lambda: tab.versions_model.rowCount() == 3, timeout=10000)
    assert tab.versions_model.active_id == BASE
    assert not tab.rollback_button.isEnabled()

    tab.select_version(v1.id)
    assert tab.activate_button.isEnabled() and tab.delete_button.isEnabled()
    with qtbot.waitSignal(tab.finished, timeout=120000) as blocker:
        tab.activate_button.click()
    assert blocker.args[0].status == "done", blocker.args[0].details[-2000:]
    qtbot.waitUntil(lambda: tab.versions_model.active_id == v1.id, timeout=10000)
    assert real_service.versions.active_id() == v1.id
    assert real_service.encoder.key == real_service.encoder_for(v1.id).key  # this process switched too
    tab.select_version(v1.id)
    assert not tab.delete_button.isEnabled() and tab.rollback_button.isEnabled()

    # Compare with base: the compare tab shows the version and the base model for the current query
    w.compare_tab.query.blockSignals(True)
    w.compare_tab.query.setText("baking a loaf of bread")
    w.compare_tab.query.blockSignals(False)
    tab.compare_button.click()
    assert w.tabs.currentWidget() is w.compare_tab
    want = ["dense:v1", "dense:base", "hybrid:v1", "hybrid:base"]  # the adapted hybrid beside the adapted dense
    qtbot.waitUntil(lambda: w.compare_tab.result is not None and list(w.compare_tab.result["columns"]) == want,
                    timeout=60000)
    assert list(w.compare_tab.columns) == want
    assert "Dense (v1)" in w.compare_tab.columns["dense:v1"].header.text()
    assert all(w.compare_tab.result["columns"][n][0].name == "bread.md" for n in want)
    assert "Hybrid (v1)" in w.compare_tab.columns["hybrid:v1"].header.text()
    assert {a.text() for a in w.compare_tab.version_actions.values()} == {
        "Dense (base)", "Dense (v1)", "Dense (v2)", "Hybrid (base)", "Hybrid (v1)", "Hybrid (v2)"}

    w.tabs.setCurrentWidget(tab)
    with qtbot.waitSignal(tab.finished, timeout=120000) as blocker:
        tab.rollback_button.click()
    assert blocker.args[0].status == "done" and "base model" in blocker.args[0].message
    qtbot.waitUntil(lambda: tab.versions_model.active_id == BASE, timeout=10000)
    assert real_service.versions.active_id() == BASE

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    tab.select_version(v2.id)
    tab.delete_button.click()
    qtbot.waitUntil(lambda: tab.versions_model.rowCount() == 2, timeout=10000)
    assert tab.versions_model.row_of(v2.id) == -1 and not v2.path.exists()
    assert [v.id for v in real_service.versions.list()] == [v1.id]


def test_compare_tab_offers_model_versions(qtbot, make_window, indexed_service, tmp_path):
    """Without versions there is nothing to choose; with one, Dense and Hybrid of the base and of v1
    become columns."""
    w = make_window(indexed_service)
    ct = w.compare_tab
    ct.set_versions([])
    assert ct.versions_button.isHidden() and ct.version_actions == {}
    from training.versions import VersionStore

    v1 = VersionStore(indexed_service.data_dir).create(_fake_model(tmp_path / "m1"), _settings(), {})
    w.tabs.setCurrentWidget(ct)  # showing the tab reloads the versions
    qtbot.waitUntil(lambda: "dense:v1" in ct.version_actions, timeout=10000)
    assert not ct.versions_button.isHidden()
    assert [a.text() for a in ct.version_actions.values()] == ["Dense (v1)", "Dense (base)", "Hybrid (v1)",
                                                                "Hybrid (base)"]
    ct.set_retrievers(["bm25", "dense:base", "dense:v1"])
    assert ct.selected_retrievers() == ["bm25", "dense:v1", "dense:base"]
    assert list(ct.columns) == ["bm25", "dense:v1", "dense:base"]
    assert ct.versions_button.text() == "Model versions (2)"
    ct.set_versions([])  # the version was deleted: back to the plain retrievers
    assert ct.selected_retrievers() == ["bm25", "dense", "hybrid"]
    ct.compare_versions(v1.id)
    assert ct.selected_retrievers() == ["dense:v1", "dense:base", "hybrid:v1", "hybrid:base"]
    # the choice is saved and restored once the versions are known again
    w.save_settings()
    saved = w.settings.value("compare/retrievers")
    ct.set_versions([])
    ct.set_retrievers(saved)
    ct.set_versions([v1.id])
    assert ct.selected_retrievers() == ["dense:v1", "dense:base", "hybrid:v1", "hybrid:base"]
    json.dumps(saved)


# -- the event protocol, with a stand-in CLI (no model) ------------------------------------------------------------
FAKE_CLI = Path(__file__).with_name("fake_cli.py")


@pytest.fixture
def fake_cli(monkeypatch):
    """The runner starts tests/gui/fake_cli.py with the arguments it would give the real CLI."""
    from desktop_search.gui.training import runner as runner_module

    monkeypatch.setattr(runner_module, "cli_command", lambda args: [sys.executable, str(FAKE_CLI), *args])


def test_the_runner_reacts_to_typed_events_only(qapp, tmp_path):
    from desktop_search.jobs.events import EventType, encode

    runner = TrainRunner(tmp_path)
    got = []
    runner.progressed.connect(got.append)
    for line in ("", "not json", '{"no": "event"}', '{"event": "nonsense", "phase": "train"}',
                 encode(EventType.PROGRESS, phase="train", message="already trained", stats={"steps": 3},
                        kind="already_trained")):
        runner.feed_line(line)
    assert len(got) == 1 and got[0]["kind"] == "already_trained" and got[0]["stats"] == {"steps": 3}


def test_a_reused_run_is_shown_as_reused(qtbot, make_window, indexed_service, fake_cli, monkeypatch, tmp_path):
    """Defect: the already_trained event was dropped. Now the tab says a finished run is reused, and so does
    the outcome; the child got the settings as a TrainRequest file."""
    from training.versions import VersionStore

    v1 = VersionStore(indexed_service.data_dir).create(_fake_model(tmp_path / "m1"), _settings(alpha=0.5), {})
    monkeypatch.setenv("FAKE_CLI_VERSION", v1.id)
    w = make_window(indexed_service)
    tab = w.training_tab
    _set(tab, steps=3, alpha=0.5)
    tab.activate_check.setChecked(False)
    seen = {}

    def on_progress(ev: dict) -> None:  # connected after the tab's own slot: the labels are updated already
        if ev.get("kind") == "already_trained":
            seen["labels"] = (tab.phase_label.text(), tab.detail_label.text())
        if ev.get("phase") == "export":
            seen["request"] = ev["stats"]["request"]

    tab.runner.progressed.connect(on_progress)
    with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
        tab.start_button.click()
    out = blocker.args[0]
    assert out.status == "done" and out.reused and not out.activated, (out.message, out.details)
    phase, detail = seen["labels"]
    assert phase == "Reusing a finished training run"
    assert "finished run is reused" in detail and "3 steps" in detail
    assert out.message == (f"New model version {short_version(v1.id)} is ready (not active yet: activate it below): "
                           "alpha 0.5, reused the finished training run with these settings, re-embedded in 0 s.")
    assert tab.outcome.text.text() == out.message
    assert seen["request"] == {"config": {"steps": 3, "batch_size": 4, "n_positives": 2, "max_crop_tokens": 16,
                                          "negatives": "in_batch", "weighting": "relevance", "pair_alpha": 0.0,
                                          "seed": 0, "interpolation_alpha": 0.5},
                               "select_alpha": False, "activate": False}
    assert indexed_service.versions.active_id() == BASE  # not asked to activate: nobody did


def test_the_window_never_activates_after_a_child_run(qtbot, make_window, indexed_service, fake_cli, monkeypatch,
                                                      tmp_path):
    """Defect: a finished version was activated twice (in the child, then in the window to drop a cache). Now
    only the child activates; the window refreshes its service and shows the new active version."""
    from training.versions import VersionStore

    from desktop_search.model_registry import ModelRegistry
    from desktop_search.retrievers.encoder import HashingEncoder
    from desktop_search.service import SearchService

    v1 = VersionStore(indexed_service.data_dir).create(_fake_model(tmp_path / "m1"), _settings(alpha=0.5), {})
    monkeypatch.setenv("FAKE_CLI_VERSION", v1.id)
    calls = []  # activations in this (the window's) process; the child's own are not counted
    monkeypatch.setattr(ModelRegistry, "activate", lambda self, vid: calls.append(("models.activate", vid)))
    monkeypatch.setattr(SearchService, "activate_version", lambda self, vid: calls.append(("activate_version", vid)))
    monkeypatch.setattr(VersionStore, "activate", lambda self, vid: calls.append(("versions.activate", vid)))
    svc = SearchService(indexed_service.data_dir,
                        encoder_factory=lambda path, key, display_name=None: HashingEncoder(key=key))
    try:
        base_key = svc.encoder.key  # the base model's encoder, cached in this process
        w = make_window(svc)
        tab = w.training_tab
        _set(tab, steps=3, alpha=0.5)
        assert tab.activate_check.isChecked()
        changed = []
        tab.model_changed.connect(changed.append)
        with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
            tab.start_button.click()
        out = blocker.args[0]
        assert out.status == "done" and out.activated and out.version == v1.id, (out.message, out.details)
        assert out.message.startswith(f"New model version {short_version(v1.id)} is active")
        qtbot.waitUntil(lambda: tab.versions_model.active_id == v1.id, timeout=10000)
        assert calls == [] and changed == [v1.id]
        assert svc.models.active_id() == v1.id
        assert svc.encoder.key == svc.encoder_for(v1.id).key != base_key  # refresh dropped the cached encoder

        # switching runs (models rollback / activate --json-progress) leave the activation to the child too
        with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
            tab.rollback_button.click()
        assert blocker.args[0].status == "done" and blocker.args[0].message == "The base model is active again."
        qtbot.waitUntil(lambda: tab.versions_model.active_id == BASE, timeout=10000)
        assert svc.encoder.key == base_key
        tab.select_version(v1.id)
        with qtbot.waitSignal(tab.finished, timeout=60000) as blocker:
            tab.activate_button.click()
        assert blocker.args[0].message == f"Model version {short_version(v1.id)} is active."
        qtbot.waitUntil(lambda: tab.versions_model.active_id == v1.id, timeout=10000)
        assert calls == [] and changed == [v1.id, BASE, v1.id]
        assert svc.encoder.key == svc.encoder_for(v1.id).key
    finally:
        for win in QApplication.topLevelWidgets():
            if getattr(win, "training_tab", None) is not None:
                win.close()
        svc.close()


def test_without_torch_the_tab_says_training_is_not_installed(qtbot, make_window, indexed_service, monkeypatch):
    from desktop_search.gui.training import probe

    monkeypatch.setattr(probe, "training_installed", lambda: False)
    w = make_window(indexed_service)
    tab = w.training_tab
    w.tabs.setCurrentWidget(tab)
    assert not tab.probe.running and "not available in this installation" in tab.hardware_label.text()
    assert not tab.start_button.isEnabled() and not tab.start_training()


def test_first_open_shows_the_detected_defaults_and_keeps_the_users_choice(qtbot, make_window, service):
    w = make_window(service)
    tab = w.training_tab
    info = {"device": "cpu", "name": "", "cpus": 2, "n_passages": 10,
            "config": {"steps": 77, "batch_size": 32, "n_positives": 4, "max_crop_tokens": 64,
                       "weighting": "relevance", "negatives": "moco", "pair_alpha": 0.0}}
    tab.probe.detected.emit(info)
    assert tab.negatives_combo.currentData() == "moco" and tab.steps_spin.value() == 77
    assert tab.settings().negatives == "moco"
    i = tab.negatives_combo.findData("in_batch")  # the user picks in-batch
    tab.negatives_combo.setCurrentIndex(i)
    tab.negatives_combo.activated.emit(i)
    tab.probe.detected.emit(info)  # a later detection leaves the user's choice alone
    assert tab.negatives_combo.currentData() == "in_batch"
    tab.defaults_button.click()
    assert tab.negatives_combo.currentData() == "moco"


def test_version_tooltip_names_the_queries_and_shows_the_hybrid_per_alpha():
    from desktop_search.gui.training.versions import _selection_text

    sel = {"alpha": 0.3, "metric": "ndcg@10", "reason": "0.3: at 0.5 the hybrid fell below the base's hybrid",
           "queries": "judged",
           "metrics": {"0": {"ndcg@10": 0.61, "hybrid_ndcg@10": 0.70}, "0.3": {"ndcg@10": 0.64, "hybrid_ndcg@10": 0.71},
                       "0.5": {"ndcg@10": 0.66, "hybrid_ndcg@10": 0.69}}}
    text, tip = _selection_text({"selection": sel}, 0.3)
    assert text == "nDCG@10 0.640 vs base 0.610"
    assert "your marked queries held out from training" in tip
    assert "alpha 0.5: 0.660, hybrid 0.690" in tip and "alpha 0: 0.610, hybrid 0.700  (base model)" in tip
    assert "hybrid fell below" in tip
    old = {"alpha": 0.5, "metrics": {"0": {"ndcg@10": 0.9}, "0.5": {"ndcg@10": 0.92}}}  # before the hybrid was measured
    _, tip = _selection_text({"selection": old}, 0.5)
    assert "pseudo-queries built from your files" in tip and "alpha 0.5: 0.920\n" in tip + "\n"
