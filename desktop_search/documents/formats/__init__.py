"""Readers of the binary document kinds, one module a family; each takes the file's bytes and
returns ``(text, title)`` or raises SkipFile / ExtractionFailed (documents/base.py).

They run in the extraction child (documents/worker.py) under its time and memory caps, so a
reader may trust those caps for what its library does inside, and checks sizes itself only where
it inflates data (zip members: formats/zipsafe.py).
"""
