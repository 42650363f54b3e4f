"""``FundingRateUpdate`` in the Nautilus 1.220 catalog: its Arrow codec, registered in one place, and day files.

Nautilus 1.220 has no Arrow codec for ``FundingRateUpdate``: ``write_data`` raises ``TypeError: Cannot
serialize object`` and ``query`` cannot decode the files. This module registers one
(``register_funding_rate_codec``, idempotent, run on import); every process that writes or reads funding
rates must have run it. A backtest needs this ONE line before it builds or runs its ``BacktestNode``::

    from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec; register_funding_rate_codec()

Codec ``funding_rate_update/1`` (one parquet schema, written here and by ``write_data`` alike):

- ``instrument_id`` string — a column, not schema metadata: the catalog reads several files as one dataset
  whose metadata is the first file's only, which would give every row the first file's instrument;
- ``rate`` string — the exact decimal text (``"-0.00003449"``), read back as ``Decimal``: no float anywhere;
- ``next_funding_ns`` uint64 (null when unknown), ``ts_event`` and ``ts_init`` uint64 (both the archive's
  ``calc_time`` in the day files written here).

Later Nautilus versions store funding rates natively with a different schema: this module is the one
place to change. Day files follow the catalog recipe of ``day_files``: one file per instrument and UTC day,
staged, then promoted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.serialization.arrow import serializer

from hedgegrid_data.catalog import day_files

CODEC = "funding_rate_update/1"
FUNDING_RATE_SCHEMA = pa.schema(
    [
        pa.field("instrument_id", pa.string(), nullable=False),
        pa.field("rate", pa.string(), nullable=False),
        pa.field("next_funding_ns", pa.uint64(), nullable=True),
        pa.field("ts_event", pa.uint64(), nullable=False),
        pa.field("ts_init", pa.uint64(), nullable=False),
    ],
    metadata={"hedgegrid_codec": CODEC},
)


def encode_funding_rates(updates: FundingRateUpdate | Iterable[FundingRateUpdate]) -> pa.RecordBatch:
    """Updates → one record batch of ``FUNDING_RATE_SCHEMA`` (Nautilus calls it with one update at a time)."""
    items = [updates] if isinstance(updates, FundingRateUpdate) else list(updates)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([u.instrument_id.value for u in items], pa.string()),
            pa.array([format(u.rate, "f") for u in items], pa.string()),
            pa.array([u.next_funding_ns for u in items], pa.uint64()),
            pa.array([u.ts_event for u in items], pa.uint64()),
            pa.array([u.ts_init for u in items], pa.uint64()),
        ],
        schema=FUNDING_RATE_SCHEMA,
    )


def decode_funding_rates(data: pa.Table | pa.RecordBatch) -> list[FundingRateUpdate]:
    """Rows of ``FUNDING_RATE_SCHEMA`` → ``FundingRateUpdate``s in ``ts_init`` order (files of several
    instruments arrive concatenated)."""
    missing = set(FUNDING_RATE_SCHEMA.names) - set(data.schema.names)
    if missing:
        raise ValueError(f"not a {CODEC} table: columns {sorted(missing)} are missing (found {data.schema.names})")
    columns = {name: data.column(name).to_pylist() for name in FUNDING_RATE_SCHEMA.names}
    ids = {text: InstrumentId.from_str(text) for text in set(columns["instrument_id"])}
    updates = [
        FundingRateUpdate(ids[instrument_id], Decimal(rate), ts_event, ts_init, next_funding_ns=next_funding_ns)
        for instrument_id, rate, next_funding_ns, ts_event, ts_init in zip(
            *(columns[name] for name in FUNDING_RATE_SCHEMA.names), strict=True)
    ]
    updates.sort(key=lambda u: u.ts_init)
    return updates


def register_funding_rate_codec() -> None:
    """Register the codec with Nautilus' Arrow serializer; calling it again is a no-op.

    Refuses to replace a different codec already registered for ``FundingRateUpdate`` (e.g. a later
    Nautilus' own), which would make the files written here unreadable or misread.
    """
    registered = serializer.list_schemas().get(FundingRateUpdate)
    if registered is not None and registered.equals(FUNDING_RATE_SCHEMA, check_metadata=True):
        return
    if registered is not None or FundingRateUpdate in serializer.RUST_SERIALIZERS:
        raise RuntimeError(
            f"FundingRateUpdate already has another Arrow codec (schema {registered}); hedgegrid's {CODEC} "
            "files need hedgegrid_data.catalog.funding_rates updated to this nautilus_trader version"
        )
    serializer.register_arrow(FundingRateUpdate, FUNDING_RATE_SCHEMA, encode_funding_rates, decode_funding_rates)


def funding_rate_table(normalized: pa.Table, instrument_id: str) -> pa.Table:
    """A normalized funding day (see ``normalization.funding``) → rows of ``FUNDING_RATE_SCHEMA``, Arrow-direct."""
    ts = normalized.column("ts_event").cast(pa.int64()).cast(pa.uint64())
    rates = normalized.column("rate").to_pylist()  # a day holds at most 24 events
    return pa.Table.from_arrays(
        [
            pa.array([instrument_id] * normalized.num_rows, pa.string()),
            pa.array([format(rate, "f") for rate in rates], pa.string()),
            pc.cast(normalized.column("next_funding_time").cast(pa.int64()), pa.uint64()),
            ts,
            ts,
        ],
        schema=FUNDING_RATE_SCHEMA,
    )


def funding_update_rows(updates: pa.Table, instrument_id: str) -> pa.Table:
    """A canonical funding-updates day (``tables/funding.py``) → rows of ``FUNDING_RATE_SCHEMA``, each update with
    its own ``ts_event``/``ts_init`` and the funding time it applies to (null when unknown)."""

    def ns(name: str) -> pa.Array:
        return pc.cast(updates.column(name).combine_chunks().cast(pa.int64()), pa.uint64())

    return pa.Table.from_arrays(
        [pa.array([instrument_id] * updates.num_rows, pa.string()),
         pa.array([format(rate, "f") for rate in updates.column("rate").to_pylist()], pa.string()),
         ns("next_funding_time"), ns("ts_event"), ns("ts_init")],
        schema=FUNDING_RATE_SCHEMA,
    )


def write_funding_rate_day(root: Path, instrument_id: str, day: dt.date, normalized: pa.Table) -> Path:
    """Write one day of ``FundingRateUpdate``s of ``instrument_id`` under ``root`` (a catalog or its staging
    tree) as that day's only file; it appears atomically. ``normalized`` must be the day's funding table."""
    return write_funding_rows_day(root, instrument_id, day, funding_rate_table(normalized, instrument_id))


def write_funding_rows_day(root: Path, instrument_id: str, day: dt.date, rows: pa.Table) -> Path:
    """Write rows of ``FUNDING_RATE_SCHEMA`` (``funding_rate_table`` or ``funding_update_rows``) as the day file."""
    register_funding_rate_codec()
    if rows.num_rows == 0:
        raise ValueError(f"{instrument_id} {day}: no funding events; an empty day gets no file")
    return day_files.write_day_table(root, FundingRateUpdate, instrument_id, day, rows)


def funding_update_tuple(update: FundingRateUpdate) -> tuple:
    return update.instrument_id.value, format(update.rate, "f"), update.next_funding_ns, update.ts_event, update.ts_init


register_funding_rate_codec()
