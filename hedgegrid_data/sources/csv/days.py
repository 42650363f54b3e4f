"""A CSV import's days: the landing index's content reader, and a day's rows read from the files fetched for it.

The landing source (``sources/landing``) indexes an import's folder with ``CsvContent`` (each file's first and last
time per symbol: the key of a partition is its symbol) and copies the files covering a day into the raw layer;
``CsvDays`` reads those copies (never the landing folder itself) as the day's canonical rows of one symbol:
trade batches for ``CanonicalTradesDay``, one ``TableFile`` for the other tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.table_day import TableFile
from hedgegrid_data.feeds.trades_day import TradesFile
from hedgegrid_data.sources.csv.mapping import CsvImport
from hedgegrid_data.sources.csv.reader import CsvFileReader, Precisions, empty_table, named_spans
from hedgegrid_data.sources.landing.index import LandingFileError, Spans
from hedgegrid_data.sources.landing.source import FetchedFile, LandingDay, fetched_files
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import TRADE_COLUMNS


@dataclass(frozen=True)
class CsvContent:
    """The landing index's ``ContentReader`` of an import: symbol → first and last time of its rows."""

    imp: CsvImport

    def spans(self, path: Path, name: str) -> Spans:
        try:
            reader = CsvFileReader(path, self.imp, name)
        except ArchiveDataError as exc:  # no header, no usable columns: the days its name says still fail on it
            raise LandingFileError(str(exc), named_spans(self.imp, name)) from exc
        return reader.spans()


@dataclass(frozen=True)
class CsvDays:
    """Reads a day of one symbol from the files the landing source fetched for it (``raw_root(store)``)."""

    imp: CsvImport
    raw_root: Callable[[DataStore], Path]
    instrument: Callable[[str], Instrument]

    def files(self, store: DataStore, day: dt.date, symbol: str) -> list[FetchedFile]:
        return fetched_files(self.raw_root(store), LandingDay(symbol, day))

    def precisions(self, symbol: str) -> Precisions:
        instrument = self.instrument(symbol)
        return Precisions(instrument.price_precision, instrument.size_precision)

    @staticmethod
    def _metadata(files: list[FetchedFile], readers: list[CsvFileReader]) -> dict[str, object]:
        return {"files": len(files), "landing_files": ", ".join(f.name for f in files),
                "timestamp_formats": ", ".join(sorted({r.time_format for r in readers if r.time_format})),
                "columns": ", ".join(sorted({f"{role}={column}" for r in readers for role, column in r.columns.items()}))}

    def trades(self, store: DataStore, day: dt.date, symbol: str) -> TradesFile:
        files = self.files(store, day, symbol)
        precisions = self.precisions(symbol)
        metadata: dict[str, object] = {}

        def batches() -> Iterator[pa.RecordBatch]:
            readers = []
            for f in files:
                reader = CsvFileReader(f.path, self.imp, f.name)
                readers.append(reader)
                for batch in reader.batches(day, symbol, precisions):
                    yield pa.RecordBatch.from_arrays([batch.column(c) for c in TRADE_COLUMNS],
                                                     names=list(TRADE_COLUMNS))
            metadata.clear()
            metadata.update(self._metadata(files, readers))

        return TradesFile(", ".join(f.name for f in files), batches, metadata)

    def table(self, store: DataStore, day: dt.date, symbol: str) -> TableFile:
        files = self.files(store, day, symbol)
        precisions = self.precisions(symbol)
        readers = [CsvFileReader(f.path, self.imp, f.name) for f in files]
        batches = [b for r in readers for b in r.batches(day, symbol, precisions)]
        table = pa.Table.from_batches(batches) if batches else empty_table(self.imp, precisions)
        if self.imp.table in ("mark_prices", "funding"):  # a vendor export has no receive time
            table = table if "ts_init" in table.column_names else table.append_column("ts_init",
                                                                                        table.column("ts_event"))
        return TableFile(", ".join(f.name for f in files), table, self._metadata(files, readers))
