"""Repair a store with a slow fake encoder, printing progress lines (for the kill -9 test of repair:
tests/test_faults.py)."""

import json
import sys
import time

from desktop_search.jobs import indexing as indexer
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import repair_library


class SlowEncoder(HashingEncoder):
    def encode(self, texts, *, batch_size=64):
        time.sleep(0.05)
        return super().encode(texts, batch_size=batch_size)


if __name__ == "__main__":
    indexer.EMBED_BATCH = 8
    indexer.COMMIT_EVERY_FILES = 8
    for pr in repair_library(sys.argv[1], encoder=SlowEncoder()):
        print(json.dumps({"phase": pr.phase, "done": pr.done}), flush=True)
