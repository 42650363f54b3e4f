"""Streaming machinery shared by the trades and aggTrades normalizations.

One pass feeds every normalized batch to several outputs (the normalized table, a staged catalog
day, quality checkers) and validates it with pandera on a worker thread. A file that is not already
in order without repeated ids is loaded whole, de-duplicated and sorted instead, up to ``RESORT_MAX_BYTES`` of
normalized rows (beyond that the file is refused rather than sorted). The order is (ts_event, id) where ids
increase with the trades (``tables.trades.TradeIds.ordered``), else ts_event and the file's own order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.atomic import atomic_parquet_writer
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.streaming import BatchWriter, on_worker_thread
from hedgegrid_data.tables.trades import RECEIVE_TIME, TradeIds
from hedgegrid_data.tables.validation import validate_rows

VALIDATION_ROWS = 1 << 18
# A re-sort holds the rows twice at its peak (the sorted copy and its source) beside the writers: 512 MiB
# is ~8M normalized trades, and 7.5M of them out of order peak at 1.5 GiB. Files in order hold a few blocks.
RESORT_MAX_BYTES = 512 << 20
BatchSink = Callable[[], AbstractContextManager[BatchWriter]]
LineOf = Callable[[int], int | None]


class NotSorted(Exception):
    """The streamed file is out of order or repeats ids; take the in-memory path."""


class StreamSummary(Protocol):
    rows: int

    def observe(self, batch: pa.RecordBatch) -> None: ...


Summary = TypeVar("Summary", bound=StreamSummary)


class OrderCheck:
    """Raises ``NotSorted`` at the first batch whose rows are not in strict (ts_event, id) order."""

    def __init__(self, id_column: str):
        self.id_column = id_column
        self.last: tuple[int, int] | None = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        ids, ts = batch.column(self.id_column), batch.column("ts_event").cast(pa.int64())
        if self.last is not None and not (ids[0].as_py() > self.last[0] and ts[0].as_py() >= self.last[1]):
            raise NotSorted
        if batch.num_rows > 1 and not (
            pc.min(pc.pairwise_diff(ids)).as_py() > 0 and pc.min(pc.pairwise_diff(ts)).as_py() >= 0
        ):
            raise NotSorted
        self.last = ids[-1].as_py(), ts[-1].as_py()

    def finish(self) -> None:
        """After the last batch: nothing left to check (ids were compared batch by batch)."""


class FileOrderCheck:
    """For ids that say nothing about order: raises ``NotSorted`` at the first batch whose times go back, or, once
    the last batch is in (``finish``), when an id may repeat. Only 64-bit hashes of the ids are kept (a collision
    merely sends the day down the exact in-memory path)."""

    def __init__(self, id_column: str):
        self.id_column = id_column
        self.last_ts: int | None = None
        self.hashes: list[pl.Series] = []

    def __call__(self, batch: pa.RecordBatch) -> None:
        ts = batch.column("ts_event").cast(pa.int64())
        if self.last_ts is not None and ts[0].as_py() < self.last_ts:
            raise NotSorted
        if batch.num_rows > 1 and pc.min(pc.pairwise_diff(ts)).as_py() < 0:
            raise NotSorted
        self.last_ts = ts[-1].as_py()
        ids = pl.from_arrow(batch.column(self.id_column))
        assert isinstance(ids, pl.Series)
        self.hashes.append(ids.hash())

    def finish(self) -> None:
        if self.hashes:
            hashes = pl.concat(self.hashes)
            if hashes.n_unique() != len(hashes):
                raise NotSorted


def order_check(ids: TradeIds, id_column: str) -> OrderCheck | FileOrderCheck:
    return OrderCheck(id_column) if ids.ordered else FileOrderCheck(id_column)


def order_of(ids: TradeIds, id_column: str) -> tuple[str, ...]:
    """The columns a day is sorted by when it is not in order already; ties keep the file's order."""
    return ("ts_event", id_column) if ids.ordered else ("ts_event",)


@contextmanager
def pandera_validation_sink(rules: pa_pl.DataFrameSchema, file: str, line_of: LineOf, id_column: str,
                            what: str) -> Iterator[BatchWriter]:
    """Yield ``write(batch)`` validating the stream with ``rules`` in groups of about ``VALIDATION_ROWS`` rows.

    ``line_of`` maps a row's position in the stream to its line in the file (None once re-sorted).
    """
    pending: list[pa.RecordBatch] = []
    validated = 0

    def flush() -> None:
        nonlocal validated
        if not pending:
            return
        frame = pl.from_arrow(pa.Table.from_batches(pending))
        assert isinstance(frame, pl.DataFrame)
        offset = validated
        validate_rows(rules, frame, file,
                                  lambda row: (f"{what} {frame[id_column][row]}", line_of(offset + row)))
        validated += frame.height
        pending.clear()

    def write(batch: pa.RecordBatch) -> None:
        pending.append(batch)
        if sum(b.num_rows for b in pending) >= VALIDATION_ROWS:
            flush()

    yield write
    flush()


def sorted_unique(batches: list[pa.RecordBatch], schema: pa.Schema, file: str, id_column: str,
                  what: str, order_by: Sequence[str] | None = None) -> tuple[pa.Table, int]:
    """All rows sorted by ``order_by`` (default (ts_event, id); ties keep the file's order) with exact duplicates
    dropped (rows equal but for their receive time ``ts_init``: the earliest kept); returns the drop count.

    Takes the rows out of ``batches`` (emptied) and holds about twice them at the peak: the sorted copy
    and, while it is made, the rows it comes from.
    """
    table = pa.Table.from_batches(batches, schema=schema)
    source_rows = table.num_rows
    batches.clear()
    receipt = [(RECEIVE_TIME, "ascending")] if RECEIVE_TIME in table.column_names else []
    by_id = pc.sort_indices(table, [("ts_event", "ascending"), (id_column, "ascending"), *receipt])  # stable
    table = table.take(by_id)
    if table.num_rows > 1:
        # exact duplicates share (ts_event, id), so they are neighbours once sorted; one trade received twice
        # (overlapping captures) differs only in its receive time and keeps the first
        repeats = None
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name == RECEIVE_TIME:
                continue
            same = pc.equal(column.slice(1), column.slice(0, table.num_rows - 1))
            repeats = same if repeats is None else pc.and_(repeats, same)
        if pc.any(repeats).as_py():
            kept = pa.chunked_array([[True], pc.invert(repeats).combine_chunks()])
            table, by_id = table.filter(kept), by_id.filter(kept.combine_chunks())
    ids = table.column(id_column)
    ids = ids.take(pc.sort_indices(ids))
    repeated = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)) if len(ids) > 1 else None
    if repeated is not None and pc.any(repeated).as_py():
        conflicting = pc.unique(ids.slice(1).filter(repeated)).slice(0, 5).to_pylist()
        raise ArchiveDataError(file, f"{what} ids appear more than once with different values: {conflicting}")
    order = list(order_by or ("ts_event", id_column))
    if order != ["ts_event", id_column]:  # back to the file's order (by_id is stable), then by ``order_by``
        table = table.take(pc.sort_indices(by_id))
        table = table.take(pc.sort_indices(table, [(c, "ascending") for c in order]))
    return table, source_rows - table.num_rows


def held_for_sorting(batches: Iterator[pa.RecordBatch], max_bytes: int, file: str, what: str) -> list[pa.RecordBatch]:
    """Every batch of the stream, refused once they hold more than ``max_bytes`` (the stream is closed)."""
    held: list[pa.RecordBatch] = []
    size = 0
    with closing(batches):
        for batch in batches:
            size += batch.nbytes
            if size > max_bytes:
                rows = sum(b.num_rows for b in held) + batch.num_rows
                raise ArchiveDataError(file, f"{what}s out of (time, id) order or with repeated ids need sorting, "
                                             f"but the file holds more than {max_bytes >> 20} MiB of them (over "
                                             f"{rows} rows): refused rather than sorted in memory")
            held.append(batch)
    return held


def drain(batches: Iterator[pa.RecordBatch], outputs: Sequence[BatchSink], summary: StreamSummary, file: str,
          what: str) -> None:
    """Feed every batch to every output; outputs close in reverse order, a failure discards those not yet closed.

    An output's own error that does not name the file (a value a catalog cannot hold) is raised naming it.
    """
    try:
        with ExitStack() as stack:
            writers = [stack.enter_context(open_output()) for open_output in outputs]
            for batch in batches:
                for write in writers:
                    write(batch)
                summary.observe(batch)
            if summary.rows == 0:
                raise ArchiveDataError(file, f"no {what}s in the file")
    except ArchiveDataError:
        raise
    except HedgegridDataError as exc:
        raise ArchiveDataError(file, str(exc)) from exc


def write_stream(stream: Callable[[Summary, bool], Iterator[pa.RecordBatch]], new_summary: Callable[[bool], Summary],
                 schema: pa.Schema, rules: pa_pl.DataFrameSchema, out_path: Path, sinks: Sequence[BatchSink], *,
                 file: str, line_of: Callable[[Summary], LineOf], id_column: str, what: str,
                 resort_max_bytes: int = RESORT_MAX_BYTES, order_by: Sequence[str] | None = None) -> Summary:
    """Write the normalized table of a file to ``out_path`` and every ``sinks``, in one validated pass.

    ``stream(summary, check_order)`` yields the normalized batches; with ``check_order`` it raises
    ``NotSorted`` before the first batch out of order (or after the last one, before anything is kept), and the
    file is then sorted in memory by ``order_by`` (``sorted_unique``) if its batches hold at most
    ``resort_max_bytes``.
    """

    def outputs(lines: LineOf) -> list[BatchSink]:
        table = lambda: on_worker_thread(  # noqa: E731
            lambda: atomic_parquet_writer(out_path, schema, use_dictionary=False,
                                         write_statistics=["ts_event", id_column]))  # what readers filter on
        # entered last, so it finishes (and may fail) before any output is committed
        validation = lambda: on_worker_thread(  # noqa: E731
            lambda: pandera_validation_sink(rules, file, lines, id_column, what))
        return [table, *sinks, validation]

    summary = new_summary(False)
    try:
        drain(stream(summary, True), outputs(line_of(summary)), summary, file, what)
    except NotSorted:
        summary = new_summary(True)
        table, dropped = sorted_unique(held_for_sorting(stream(summary, False), resort_max_bytes, file, what),
                                       schema, file, id_column, what, order_by)
        summary.duplicates_dropped = dropped  # type: ignore[attr-defined]
        drain(iter(table.to_batches(max_chunksize=1 << 18)), outputs(lambda row: None), summary, file, what)
    return summary
