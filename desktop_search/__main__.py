"""`python -m desktop_search`: the same entry point as the `desktop-search` command."""

import sys

from .cli import main

sys.exit(main())
