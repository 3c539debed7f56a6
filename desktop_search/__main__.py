"""`python -m desktop_search`: the same entry point as the `desktop-search` command."""

import multiprocessing
import sys

from desktop_search.entry import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the extraction worker in a frozen app
    sys.exit(main())
