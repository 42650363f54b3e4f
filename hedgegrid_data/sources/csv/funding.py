"""Settled funding events of a funding CSV as a ``CanonicalTable`` of the day steps (``feeds/table_day.py``): the
archive's settled-funding table (``tables/funding.py``: event time, funding boundary, exact rate, interval, next
funding time) plus ``ts_init`` (= ``ts_event``: a vendor export has no receive time), published through the
archive's writer (``catalog/funding_rates.py``) as ``FundingRateUpdate``s exactly like the archive's days."""

from __future__ import annotations

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
from nautilus_trader.model.data import FundingRateUpdate

from hedgegrid_data.catalog.funding_rates import funding_update_tuple, write_funding_rate_day
from hedgegrid_data.feeds.table_day import CanonicalTable
from hedgegrid_data.tables.funding import FUNDING_INTERVALS_HOURS, HOUR_NS, RATE_SCALE, funding_table_schema

SETTLED_FUNDING_COLUMNS = (*funding_table_schema().names, "ts_init")


def settled_funding_schema() -> pa.Schema:
    return funding_table_schema().append(pa.field("ts_init", pa.timestamp("ns", tz="UTC"), nullable=False))


def settled_funding_rules() -> dict[str, pa_pl.Column]:
    return {"rate": pa_pl.Column(pl.Decimal(38, RATE_SCALE)),
            "funding_interval_hours": pa_pl.Column(pl.Int32, pa_pl.Check.isin(list(FUNDING_INTERVALS_HOURS))),
            "funding_time": pa_pl.Column(pl.Datetime("ns", "UTC")),
            "next_funding_time": pa_pl.Column(pl.Datetime("ns", "UTC"))}


SETTLED_FUNDING = CanonicalTable(
    "funding", FundingRateUpdate, SETTLED_FUNDING_COLUMNS, schema=lambda i: settled_funding_schema(),
    rules=lambda i: settled_funding_rules(),
    write=lambda root, table, instrument, day: write_funding_rate_day(root, instrument.id.value, day, table),
    published=lambda row, i, t: (i.id.value, f"{row['rate']:f}", row["next_funding_time"], row["ts_event"],
                                 row["ts_event"]),
    as_tuple=funding_update_tuple, silence_ns=8 * HOUR_NS + 60 * 10**9)
