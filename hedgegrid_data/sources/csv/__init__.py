"""Local CSV files as a source: vendor exports (plain, ``.gz``, ``.bz2``, ``.zst``, ``.zip``) described by the
``[[csv]]`` entries of the imports file, each filling one canonical table (trades, bars, mark prices, funding).

- ``mapping.py``: the imports file's ``[[csv]]`` entries and their column mapping;
- ``compression.py``: a file's decompressed bytes as a stream, whatever its compression;
- ``timestamps.py``: a timestamp column's format detected per file (ISO 8601, epoch s/ms/µs/ns) → exact ns;
- ``reader.py``: a file's rows → canonical Arrow tables (pure: bytes in, tables out, errors naming file and line);
- ``instruments.py``: the Nautilus instrument of an import's symbol;
- ``feeds.py``: one ``Feed`` per import on the landing-folder source.
"""
