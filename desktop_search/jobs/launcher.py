"""The one way to start a desktop-search child process: what to run and with which environment.

Used by every process wrapper: the indexing and training runners of the window (QProcess), the
trainer child of the training job and the encoder child (subprocess). Inside a frozen
(PyInstaller) app there is no `python`: the app runs itself, with `--run-module` for modules.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

# modules a frozen app may be asked to run with --run-module
CHILD_MODULES = ("training.run", "desktop_search.retrievers.encoder_server", "desktop_search.onnx_export")

_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def module_command(module: str, *args: str) -> list[str]:
    """argv that runs `python -m module args`, also inside a frozen app."""
    if frozen():
        return [sys.executable, "--run-module", module, *args]
    return [sys.executable, "-m", module, *args]


def cli_command(args: Sequence[str]) -> list[str]:
    """argv that runs the desktop-search CLI with `args`."""
    if frozen():
        return [sys.executable, *args]
    return [sys.executable, "-m", "desktop_search", *args]


def child_environment(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A child's environment: offline, unbuffered UTF-8 output, this source tree importable."""
    env = dict(os.environ if base is None else base)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.update(extra)
    if not frozen():
        old = env.get("PYTHONPATH", "")
        parts = [p for p in old.split(os.pathsep) if p]
        if _SOURCE_ROOT not in parts:
            env["PYTHONPATH"] = os.pathsep.join([_SOURCE_ROOT, *parts])
    return env


def background_priority() -> None:
    """Jobs started by the window yield the CPU to it: a lower priority keeps the window
    responsive on a 2-core laptop while extraction, embedding or training run flat out."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # Windows: no nice(); the job still runs in its own process
        pass
