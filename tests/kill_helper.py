"""Run an indexing job in a child process with a slow fake encoder, printing progress lines (for kill -9 tests)."""

import json
import sys
import time

from desktop_search.jobs import indexing as indexer
from desktop_search.retrievers.encoder import HashingEncoder
from desktop_search.service import SearchService


class SlowEncoder(HashingEncoder):
    def encode(self, texts, *, batch_size=64):
        time.sleep(0.02)
        return super().encode(texts, batch_size=batch_size)


if __name__ == "__main__":
    store, docs = sys.argv[1], sys.argv[2]
    indexer.EMBED_BATCH = 8
    indexer.COMMIT_EVERY_FILES = 16
    with SearchService(store, encoder=SlowEncoder()) as svc:
        for pr in svc.index([docs]):
            print(json.dumps({"phase": pr.phase, "done": pr.done}), flush=True)
