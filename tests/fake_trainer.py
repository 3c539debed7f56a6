"""A stand-in for `python -m training.run CONFIG`: reports a reused finished run and stores a version.

Used by tests of the training job's event handling; prints the same event lines as the real
trainer, through the same codec, without torch.
"""

import json
import sys
from pathlib import Path

from desktop_search.jobs.events import EventType, encode
from training.versions import VersionStore

if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(spec["work_dir"]) / "model"
    out.mkdir(parents=True, exist_ok=True)
    (out / "modules.json").write_text("[]", encoding="utf-8")
    (out / "model.safetensors").write_text("fake", encoding="utf-8")
    print(encode(EventType.START, pid=0, device="cpu", steps=3), flush=True)
    print("a stray line that is not an event", flush=True)
    print(encode(EventType.ALREADY_TRAINED, steps=3), flush=True)
    print(encode(EventType.SAVED, path=str(out), alpha=0.5), flush=True)
    store = VersionStore(spec["versions_root"], base_model=spec["base_model"])
    version = store.create(out, {"alpha": 0.5}, {}, move=True, activate=bool(spec.get("activate")))
    print(encode(EventType.DONE, version=version.id, path=str(version.path), alpha=0.5), flush=True)
