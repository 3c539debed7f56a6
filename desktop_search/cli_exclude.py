"""`desktop-search exclude add|list|remove PATTERN [--folder F]`: the library's exclusion patterns.

Patterns use gitignore syntax (see exclusions.py); without --folder they apply to every indexed
folder. Files they match leave the index on the next scan (`desktop-search index`).
"""

from __future__ import annotations

import json

from .errors import KnownError
from .textsafe import terminal_safe

ACTIONS = ("add", "list", "remove", "gitignore")


def add_parser(sub, common) -> None:
    sp = common(sub.add_parser(
        "exclude", help="files to leave out of the index: gitignore patterns, global or per folder",
        description="Exclusion patterns in gitignore syntax: 'genindex-*.html' (anywhere), '/search.html' (the "
                    "folder's top only), '_sources/' (a folder), '!keep.html' (take a file back). .gitignore files "
                    "inside indexed folders count too unless turned off (`exclude gitignore off`). Files a pattern "
                    "matches leave the index on the next `desktop-search index`."))
    sp.add_argument("action", choices=ACTIONS, help="add, list or remove a pattern; gitignore on|off")
    sp.add_argument("pattern", nargs="?", help="a gitignore pattern (add, remove), or on / off (gitignore)")
    sp.add_argument("--folder", help="the indexed folder the pattern belongs to (default: every folder)")


def cmd_exclude(args, service) -> int:
    """Run one `exclude` action on the service's exclusion rules."""
    rules = service.exclusions
    where = f"in {terminal_safe(args.folder)}" if args.folder else "in every folder"
    if args.action == "list":
        out = rules.listing()
        if args.json:
            print(json.dumps(out, indent=2))
            return 0
        print("Every folder: " + (", ".join(terminal_safe(p) for p in out["global"]) or "no patterns"))
        for folder, patterns in out["folders"].items():
            print(f"{terminal_safe(folder)}: " + ", ".join(terminal_safe(p) for p in patterns))
        print(".gitignore files inside indexed folders: " + ("honoured" if out["use_gitignore"] else "ignored"))
        return 0
    if not args.pattern:
        raise KnownError(f"usage: desktop-search exclude {args.action} "
                         + ("on|off" if args.action == "gitignore" else "PATTERN [--folder FOLDER]"))
    if args.action == "gitignore":
        if args.pattern not in ("on", "off"):
            raise KnownError("usage: desktop-search exclude gitignore on|off")
        rules.set_use_gitignore(args.pattern == "on")
        out = {"use_gitignore": args.pattern == "on"}
        text = (".gitignore files inside indexed folders are " + ("honoured" if args.pattern == "on" else "ignored")
                + " from the next scan (`desktop-search index`).")
    elif args.action == "add":
        added = rules.add(args.pattern, args.folder)
        out = {"added": added, "pattern": args.pattern.strip(), "folder": args.folder}
        text = (f"Excluding {terminal_safe(args.pattern.strip())!s} {where}; matching files leave the index on the "
                "next scan (`desktop-search index`)." if added else
                f"{terminal_safe(args.pattern.strip())} is already excluded {where}.")
    else:
        rules.remove(args.pattern, args.folder)
        out = {"removed": args.pattern.strip(), "folder": args.folder}
        text = (f"No longer excluding {terminal_safe(args.pattern.strip())} {where}; its files come back on the next "
                "scan (`desktop-search index`).")
    print(json.dumps(out) if args.json else text)
    return 0
