"""Error classes: KnownError is the environment's fault and gets a clear message; anything else is a bug."""


class DesktopSearchError(Exception):
    """Root of every error this package raises on purpose."""


class KnownError(DesktopSearchError):
    """A problem with the user's environment (locked store, full disk, missing model...).

    The message is meant to be shown to a person as it is.
    """


class StoreLocked(KnownError):
    """Another process is indexing into the same store."""


class DiskFull(KnownError):
    """The disk holding the index is full, or below the free space the settings keep (min_free_mb)."""


class StoreDamaged(KnownError):
    """The index database fails SQLite's checks (a damaged page, not a database); `repair` rebuilds it."""


class ModelLoadError(KnownError):
    """The embedding model could not be loaded."""


class Cancelled(DesktopSearchError):
    """A long job was cancelled by the user."""
