"""A stand-in for the `desktop-search` CLI the Training tab runs: the same event lines, through the same codec,
without torch or a model.

`train --request FILE --json-progress`: reports the request it read, a reused finished run (`already_trained`)
and a done event for the version named by FAKE_CLI_VERSION, which it activates itself when the request says
so (as the real child does). `models activate V|rollback --json-progress`: activates, then reports done.
"""

import json
import os
import sys
from pathlib import Path

from desktop_search.jobs.events import EventType, encode
from training.versions import VersionStore


def emit(event_type, **fields) -> None:
    print(encode(event_type, **fields), flush=True)


def main(args: list[str]) -> int:
    data_dir = Path(args[args.index("--data-dir") + 1])
    store = VersionStore(data_dir)
    version = os.environ.get("FAKE_CLI_VERSION") or None
    if "train" in args:
        request = json.loads(Path(args[args.index("--request") + 1]).read_text(encoding="utf-8"))
        emit(EventType.PROGRESS, phase="export", message="Collecting passages", stats={"request": request})
        print("a stray line that is not an event", flush=True)
        emit(EventType.PROGRESS, phase="train", message="start", stats={"device": "cpu", "n_passages": 12},
             kind=EventType.START.value)
        emit(EventType.PROGRESS, phase="train", message="already trained: reusing the finished run with these settings",
             stats={"steps": 3}, kind=EventType.ALREADY_TRAINED.value)
        activated = bool(version and request.get("activate"))
        if activated:
            store.activate(version)
        emit(EventType.PROGRESS, phase="done", message=f"New model version {version}")
        emit(EventType.DONE, message=f"New model version {version}", version=version, alpha=0.5, kept_base=False,
             train_s=0.1, embed_s=0.2, reused=True, **({"activated": True} if activated else {}))
        return 0
    if "models" in args:
        target = args[args.index("models") + 2] if args[args.index("models") + 1] == "activate" else "base"
        emit(EventType.PROGRESS, phase="embed", done=1, total=1)
        store.activate(target)
        emit(EventType.DONE, active=target)
        return 0
    emit(EventType.ERROR, message="the fake CLI does not know this command")
    print("desktop-search: the fake CLI does not know this command", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
