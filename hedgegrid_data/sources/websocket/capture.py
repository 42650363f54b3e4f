"""Capture files: reading their lines (plain or gzip), parsing them with the one frame parser, and what a file
covers (the landing index's content reader).

A capture file is the format of ``../shared/samples/binance_ws/``: one frame a line, ``[<receive time, epoch
ns> ]<frame>``, the frame bare or in the combined-stream envelope; gzip when its bytes start with gzip's magic
(whatever its name). A truncated or corrupt gzip is an error naming the file and the last line it read. A
file may span midnight (captures rotate on their own clock): it covers every day it has rows of, and a day takes
its rows from every file covering it.

Spans are per key ``<table>.<symbol>`` (``trades.BTCUSDT``, ``quotes.BTCUSD_PERP``), from the first to the last
``ts_event`` of the table's rows of that symbol.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.sources.binance_stream.frames import (
    AGG_TRADE,
    BOOK_TICKER,
    MARK_PRICE,
    TRADE,
    Frames,
    parse_lines,
    split_lines,
)
from hedgegrid_data.sources.landing.index import LandingFileError, Spans
from hedgegrid_data.sources.provenance import sha256_of

GZIP_MAGIC = b"\x1f\x8b"

# table name → the rows of ``Frames`` it is made of
TABLE_ROWS = {
    "trades": TRADE,
    "agg_trades": AGG_TRADE,
    "quotes": BOOK_TICKER,
    "mark_prices": MARK_PRICE,
    "funding_updates": "funding",
}


def lines_of(path: Path, name: str) -> Iterator[bytes]:
    """The lines of a capture file, inflating a gzip; a broken gzip raises naming the file and line."""
    with path.open("rb") as raw:
        zipped = raw.read(2) == GZIP_MAGIC
    if not zipped:
        with path.open("rb") as f:
            yield from f
        return
    count = 0
    try:
        with gzip.open(path, "rb") as f:
            for line in f:
                count += 1
                yield line
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise ArchiveDataError(name, f"truncated or corrupt gzip after line {count}: {exc}", line=count + 1
                               ) from None


def read_capture(path: Path, name: str) -> Frames:
    """Every frame of a capture file (errors name ``name`` and the line). The last file parsed is kept by
    content (sha256): indexing a file and building its day parse it once (a parsed file holds a few hundred bytes
    per frame; a day of many files keeps only its tables, ``websocket/days.py``)."""
    return _parsed(sha256_of(path)[0], name, path)


@lru_cache(maxsize=1)
def _parsed(sha256: str, name: str, path: Path) -> Frames:
    return parse_lines(lines_of(path, name), name)


def capture_spans(frames: Frames) -> Spans:
    """``{<table>.<symbol>: (first ts_event, last ts_event)}`` of a parsed capture."""
    spans: Spans = {}
    for table, event in TABLE_ROWS.items():
        for symbol, ts in frames.event_times(event):
            key = f"{table}.{symbol}"
            first, last = spans.get(key, (ts, ts))
            spans[key] = (min(first, ts), max(last, ts))
    return spans


class CaptureReader:
    """The landing index's content reader of capture files: spans per ``<table>.<symbol>``. A file that breaks
    part way is indexed with the spans of what it read (its days are then built, and fail naming it)."""

    def spans(self, path: Path, name: str) -> Spans:
        try:
            return capture_spans(read_capture(path, name))
        except HedgegridDataError as exc:
            frames = Frames(name)  # what it covers up to the error
            try:
                for frame in split_lines(lines_of(path, name), name):
                    frames.add(frame)
            except HedgegridDataError:
                pass
            raise LandingFileError(str(exc), capture_spans(frames)) from None
