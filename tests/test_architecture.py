"""The layout's rules, checked on every test run: import-linter's contracts and no import cycles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the dev install (pip install -e '.[dev]')"
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_no_module_imports_itself_through_others():
    import grimp

    graph = grimp.build_graph("desktop_search", "training", include_external_packages=False)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported == importer or importer.startswith(imported + ".") or imported.startswith(importer + "."):
                continue  # a package and its own submodules
            chain = graph.find_shortest_chain(importer=imported, imported=importer)
            if chain:
                cycles.append(" -> ".join((importer, *chain)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


def test_no_module_imports_a_private_name_of_another():
    import ast

    offenders = []
    for path in sorted([*ROOT.joinpath("desktop_search").rglob("*.py"), *ROOT.joinpath("training").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module not in ("__future__",):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(ROOT)}: from {node.module or '.'} import {alias.name}")
    assert not offenders, "\n".join(offenders)
