"""Run the app from source with every module that build.spec leaves out made unimportable.

A quick way (seconds instead of a 4-minute build) to see whether an exclusion in
packaging/pyinstaller/bundle.py breaks something:

    .venv/bin/python packaging/pyinstaller/check_excludes.py                   # --self-test
    .venv/bin/python packaging/pyinstaller/check_excludes.py search "query"    # any CLI arguments
    .venv/bin/python packaging/pyinstaller/check_excludes.py -m training.run CONFIG.json

Blocked imports are listed on stderr (many are optional imports that libraries try and skip,
e.g. pandas). The frozen app can still miss things this cannot see (data files, metadata,
binaries): the real check is the frozen self-test in .ci/run.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
from importlib.machinery import PathFinder
from pathlib import Path

HERE = Path(__file__).resolve().parent
# never blocked: they are build tools, but the checker itself and pytest need them
_TOOLS = {"pytest", "_pytest", "PyInstaller", "pip", "setuptools", "pkg_resources"}


def _bundle():
    spec = importlib.util.spec_from_file_location("ds_bundle", HERE / "bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def blocked_modules() -> set[str]:
    """The same module excludes build.spec passes to Analysis (cached in the environment for
    multiprocessing children, which re-run this file)."""
    cached = os.environ.get("DS_CHECK_EXCLUDES_BLOCKED")
    if cached is not None:
        return set(cached.split(","))
    b = _bundle()
    _, excluded_families = b.transformers_families(keep=b.runtime_transformers_families())
    mods = set(b.EXCLUDED_MODULES) | set(excluded_families) | set(b.torch_testing_excludes())
    mods -= _TOOLS
    os.environ["DS_CHECK_EXCLUDES_BLOCKED"] = ",".join(sorted(mods))
    return mods


class _BlockingPathFinder:
    """sys.meta_path's PathFinder, except that blocked modules are not found (find_spec -> None,
    as for a module missing from the bundle)."""

    def __init__(self, blocked: set[str]):
        self.blocked = blocked
        self.reported: set[str] = set()

    def _is_blocked(self, name: str) -> bool:
        parts = name.split(".")
        return any(".".join(parts[:i]) in self.blocked for i in range(1, len(parts) + 1))

    def find_spec(self, name, path=None, target=None):
        if self._is_blocked(name):
            if name not in self.reported:
                self.reported.add(name)
                print(f"check_excludes: blocked import of {name}", file=sys.stderr)
            return None
        return PathFinder.find_spec(name, path, target)

    def find_distributions(self, *args, **kwargs):
        return PathFinder.find_distributions(*args, **kwargs)

    def invalidate_caches(self):
        PathFinder.invalidate_caches()


def install() -> None:
    finder = _BlockingPathFinder(blocked_modules())
    sys.meta_path[sys.meta_path.index(PathFinder)] = finder  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    install()
    if argv[:1] == ["-m"]:
        if len(argv) < 2:
            sys.exit(__doc__)
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    from desktop_search.entry import main as cli_main

    return cli_main(argv or ["--self-test"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
else:
    # a multiprocessing "spawn" child imports this file as __mp_main__: block there too
    if __name__ == "__mp_main__":
        install()
