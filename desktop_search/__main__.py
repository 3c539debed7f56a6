"""`python -m desktop_search`: the same entry point as the `desktop-search` command."""

import sys

from desktop_search.entry import main

if __name__ == "__main__":
    if getattr(sys, "frozen", False):  # the extraction worker in a frozen app
        import multiprocessing

        multiprocessing.freeze_support()
    sys.exit(main())
