"""Landing folders: local files an operator (or a capture daemon) drops into a folder, imported as a feed's source.

``index``: which files of a configured import cover which UTC days (from the files' own first/last times, read by
the import's pluggable content reader, cached by path, size, mtime and sha256). ``source``: the feed ``Source``
that copies a day's covering files into the raw layer with sha256 provenance, and tells new and changed files
apart. The landing sensor (``automation/landing.py``) materializes the days new or changed files cover.
"""
