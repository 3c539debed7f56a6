"""desktop_search: local document search."""
__version__ = "0.1.0"
