"""Child-process side of EncoderProcess: load a model, then encode texts sent as JSON lines.

Protocol: the first stdout line is {"dim", "max_tokens", "backend", "note"} or {"error"}; then for each request
line {"texts": [...], "query": bool} it writes a line {"n", "dim"} followed by n*dim float32
bytes. Anything libraries print goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from desktop_search.errors import ModelLoadError
    from desktop_search.retrievers.encoder import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder(argv[0])
    try:
        dim = enc.dim
    except ModelLoadError as e:
        out.write((json.dumps({"error": str(e)}) + "\n").encode())
        out.flush()
        return 1
    hello = {"dim": dim, "max_tokens": enc.max_tokens, "backend": enc.backend, "note": enc.backend_note}
    out.write((json.dumps(hello) + "\n").encode())
    out.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        texts = req["texts"]
        vecs = enc.encode_query(texts[0])[None, :] if req.get("query") and len(texts) == 1 else enc.encode(texts)
        out.write((json.dumps({"n": len(vecs), "dim": dim}) + "\n").encode())
        out.write(vecs.astype("float32").tobytes())
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
