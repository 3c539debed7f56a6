"""Index a folder, then train (the fake trainer) and embed the new version slowly, printing progress
lines (for the kill -9 test of re-embedding after training: tests/test_faults.py)."""

import json
import sys
import time

from desktop_search.jobs import indexing as indexer
from desktop_search.jobs import training as training_job
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import SearchService


class SlowEncoder(HashingEncoder):
    def encode(self, texts, *, batch_size=64):
        time.sleep(0.05)
        return super().encode(texts, batch_size=batch_size)


def factory(path, key, display_name=None):
    return SlowEncoder(key=key) if "." in key else HashingEncoder(key=key)


if __name__ == "__main__":
    data, docs, fake_trainer = sys.argv[1], sys.argv[2], sys.argv[3]
    indexer.EMBED_BATCH = 8
    training_job.module_command = lambda module, *args: [sys.executable, fake_trainer, *args]
    with SearchService(data, encoder_factory=factory) as svc:
        for pr in svc.index([docs]):
            print(json.dumps({"job": "index", "phase": pr.phase, "done": pr.done}), flush=True)
        for pr in svc.train({"steps": 3}, select_alpha=False):
            print(json.dumps({"job": "train", "phase": pr.phase, "done": pr.done}), flush=True)
