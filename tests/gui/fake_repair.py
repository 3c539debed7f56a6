"""A stand-in for `desktop-search ... repair --json-progress` with the fake encoder (the child of the
window's Repair in tests: the real command would load the real model)."""

import sys

from desktop_search import service
from desktop_search.entry import main
from desktop_search.retrievers.encoder import HashingEncoder

if __name__ == "__main__":
    real = service.repair_library
    service.repair_library = lambda data_dir=None, **kw: real(data_dir, **{**kw, "encoder": HashingEncoder()})
    sys.exit(main(sys.argv[1:]))
