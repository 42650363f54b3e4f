"""The ``hedgegrid-data`` command line: ``ingest`` (days through the assets' own pipeline, with progress),
``status`` (what the data store holds and how fresh it is) and ``universe`` (the archive's symbols).

One module per command (``ingest``, ``status``, ``universe``), the progress display (``progress``), what a
command line selects (``selection``) and the entry point (``main``).
"""
