"""The canonical funding table: one row per funding event, what every funding source produces and what the
``FundingRateUpdate`` writer and the funding checks read.

Columns ``ts_event`` (when the rate was set), ``funding_time`` (the boundary it applies to: ``ts_event`` on the
hour, at most a minute late), ``rate`` (exact), ``funding_interval_hours`` and ``next_funding_time``
(boundary + interval).
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

from hedgegrid_data.epochs import day_bounds_ns, utc_datetime

RATE_SCALE = 8
HOUR_NS = 3_600 * 10**9
MAX_CALC_LAG_NS = 60 * 10**9
# Whole hours that divide the UTC day: the funding intervals a boundary on the hour grid can have.
FUNDING_INTERVALS_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)


def funding_table_schema() -> pa.Schema:
    utc_ns = pa.timestamp("ns", tz="UTC")
    return pa.schema([
        pa.field("ts_event", utc_ns, nullable=False),
        pa.field("funding_time", utc_ns, nullable=False),
        pa.field("rate", pa.decimal128(38, RATE_SCALE), nullable=False),
        pa.field("funding_interval_hours", pa.int32(), nullable=False),
        pa.field("next_funding_time", utc_ns, nullable=False),
    ])


def pandera_funding_schema(day: dt.date) -> pa_pl.DataFrameSchema:
    """Value rules of a normalized funding day (types are fixed by the Arrow schema)."""
    start, end = day_bounds_ns(day)
    ts = pl.Datetime("ns", "UTC")
    interval = pl.duration(hours=pl.col("funding_interval_hours"))
    return pa_pl.DataFrameSchema(
        {
            "ts_event": pa_pl.Column(ts, pa_pl.Check.in_range(utc_datetime(start), utc_datetime(end + 1), include_max=False),
                                     unique=True),
            "funding_time": pa_pl.Column(ts, unique=True),
            "rate": pa_pl.Column(pl.Decimal(38, RATE_SCALE)),
            "funding_interval_hours": pa_pl.Column(pl.Int32, pa_pl.Check.isin(list(FUNDING_INTERVALS_HOURS))),
            "next_funding_time": pa_pl.Column(ts),
        },
        checks=[
            pa_pl.Check(lambda d: d.lazyframe.select(
                (pl.col("funding_time") == pl.col("ts_event").dt.truncate("1h"))
                & (pl.col("ts_event") - pl.col("funding_time") <= pl.duration(nanoseconds=MAX_CALC_LAG_NS))),
                name="funding_time_is_the_hour_of_calc_time"),
            pa_pl.Check(lambda d: d.lazyframe.select(
                pl.col("next_funding_time") == pl.col("funding_time") + interval),
                name="next_funding_time_is_boundary_plus_interval"),
            pa_pl.Check(lambda d: d.lazyframe.select(pl.col("ts_event").diff().fill_null(pl.duration(nanoseconds=1))
                                                     > pl.duration(nanoseconds=0)),
                        name="ts_event_increasing"),
        ],
        strict=True,
        ordered=True,
        name=f"funding {day}",
    )


# Funding-rate updates: the current (predicted) rate each time the venue publishes it, with the funding time it
# applies to (Binance's markPriceUpdate ``r``/``T``, Tardis' derivative_ticker ``funding_rate``/``funding_timestamp``).
# NautilusTrader's ``FundingRateUpdate`` is this stream; the archive's settled events above are its values at the
# boundaries.
FUNDING_UPDATE_COLUMNS = ("rate", "next_funding_time", "ts_event", "ts_init")


def funding_update_schema() -> pa.Schema:
    utc_ns = pa.timestamp("ns", tz="UTC")
    return pa.schema([
        pa.field("rate", pa.decimal128(38, RATE_SCALE), nullable=False),
        pa.field("next_funding_time", utc_ns, nullable=True),
        pa.field("ts_event", utc_ns, nullable=False),
        pa.field("ts_init", utc_ns, nullable=False),
    ])


def funding_update_rules() -> dict[str, pa_pl.Column]:
    return {"rate": pa_pl.Column(pl.Decimal(38, RATE_SCALE))}
