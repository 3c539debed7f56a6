"""The `desktop-search` program: the window when no command is given, else the command line."""

from __future__ import annotations

import sys


def _run_module(argv: list[str]) -> int:
    """`--run-module MOD ARGS`: run a package module as `python -m` would (the frozen app has no python)."""
    import runpy

    sys.argv = [argv[0], *argv[1:]]
    try:
        runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run-module"] and len(argv) >= 2:
        from .jobs.launcher import CHILD_MODULES

        if argv[1] not in CHILD_MODULES:
            print(f"desktop-search: --run-module does not run {argv[1]}", file=sys.stderr)
            return 2
        return _run_module(argv[1:])
    from .cli import build_parser, run_command

    args = build_parser().parse_args(argv)
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(args.data_dir)
    if args.command is None:
        from .app import main as gui_main

        return gui_main(data_dir=args.data_dir, model=args.model)
    return run_command(args)


def gui_main(argv: list[str] | None = None) -> int:
    """`desktop-search-gui [--data-dir DIR] [--model M]`: the window only, with the options `desktop-search`
    takes (before, the launcher ignored them and opened the default library). A command is refused:
    a launcher without a console would run it where nobody sees its output."""
    argv = sys.argv[1:] if argv is None else argv
    from .cli import build_parser

    parser = build_parser()
    parser.prog = "desktop-search-gui"
    args = parser.parse_args(argv)
    if args.command is not None or args.self_test:
        parser.error("desktop-search-gui only opens the window; run commands with `desktop-search`")
    from .app import main as window_main

    return window_main(data_dir=args.data_dir, model=args.model)


if __name__ == "__main__":
    sys.exit(main())
