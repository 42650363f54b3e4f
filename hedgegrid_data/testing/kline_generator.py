"""Realistic Binance daily kline-like archive files (zip + CHECKSUM) for every market, type and interval.

A day is generated as 1,440 one-minute bars in exact integer units (seeded, so the same arguments
give the same minutes); any other interval is aggregated from those minutes, so a 5m file written
with the same seed is exactly what the 1m file implies. Printing follows the archive: spot prints
8 decimals everywhere and µs times from 2025-01-01; USD-M prints the venue precision; COIN-M
volumes are whole contracts and its quote-volume column holds base volume (8 decimals); mark, index
and premium-index klines print 8 decimals and 0 in the volume columns, count = source points.
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.sources.binance_archive.klines import ARCHIVE_COLUMNS
from hedgegrid_data.sources.binance_archive.layout import (
    KLINE_LIKE_TYPES,
    ArchiveFile,
    time_unit_for,
)
from hedgegrid_data.tables.bars import INTERVAL_SECONDS
from hedgegrid_data.testing.archive_generator import (
    DEFAULT_PRECISIONS,
    SPOT_DECIMALS,
    GeneratedDay,
    _csv_bytes,
    _decimals,
    _strings,
    _write_day,
)
from hedgegrid_data.venues.binance import Market

INDEX_DECIMALS = 8
CM_BASE_DECIMALS = 8
MINUTES_PER_DAY = 1_440


@dataclass(frozen=True)
class KlineStyle:
    """How one market and type prints; ``volume_precision`` is the decimals volumes really have."""

    market: Market
    data_type: str
    price_precision: int
    volume_precision: int
    contract_size: int = 100

    def __post_init__(self) -> None:
        if self.data_type not in KLINE_LIKE_TYPES:
            raise ValueError(f"{self.data_type} is not a kline-like type")
        if self.market is Market.SPOT and self.data_type != "klines":
            raise ValueError(f"spot has no {self.data_type}")
        if self.market is Market.SPOT and self.price_precision + self.volume_precision > SPOT_DECIMALS:
            raise ValueError(f"spot quote volume has {SPOT_DECIMALS} decimals: price + volume precision must fit")

    @property
    def klines(self) -> bool:
        return self.data_type == "klines"

    @property
    def value_scale(self) -> int:
        return self.price_precision if self.klines else INDEX_DECIMALS

    @property
    def quote_scale(self) -> int:
        return CM_BASE_DECIMALS if self.market is Market.COINM else self.price_precision + self.volume_precision


@dataclass(frozen=True)
class Minutes:
    """Bars of one day in exact integer units: values in 10**-value_scale, volumes in 10**-volume_precision
    (COIN-M: contracts), quote volumes in 10**-quote_scale; ``minute`` is the bar's minute of the day."""

    minute: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote: np.ndarray
    count: np.ndarray
    taker_volume: np.ndarray
    taker_quote: np.ndarray

    def aggregate(self, minutes_per_bar: int) -> Minutes:
        """Bars of ``minutes_per_bar`` minutes made exactly from these (a bar per bucket holding a minute)."""
        bucket = self.minute // minutes_per_bar
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        ends = np.r_[starts[1:], len(bucket)] - 1

        def total(values: np.ndarray) -> np.ndarray:
            return np.add.reduceat(values, starts)

        return Minutes(
            minute=bucket[starts] * minutes_per_bar, open=self.open[starts], close=self.close[ends],
            high=np.maximum.reduceat(self.high, starts), low=np.minimum.reduceat(self.low, starts),
            volume=total(self.volume), quote=total(self.quote), count=total(self.count),
            taker_volume=total(self.taker_volume), taker_quote=total(self.taker_quote),
        )


def generate_minutes(style: KlineStyle, *, seed: int = 0, start_price: str = "42000",
                     missing_minutes: Collection[int] = ()) -> Minutes:
    """A day of one-minute bars: a random walk in ticks with wicks, heavy-tailed volumes, some idle minutes."""
    rng = np.random.default_rng(seed)
    n = MINUTES_PER_DAY
    if style.data_type == "premiumIndexKlines":
        start, sigma = int(rng.integers(-50_000, 50_000)), 3_000.0
    else:
        start = int(round(float(start_price) * 10**style.value_scale))
        # klines move a few ticks a minute; mark and index prices (8 decimals) about 0.1
        sigma = 4.0 if style.klines else 10.0 ** (style.value_scale - 1)
    close = start + np.cumsum(np.rint(rng.standard_normal(n) * sigma).astype(np.int64))
    open_ = np.r_[start, close[:-1]]
    wick = np.abs(np.rint(rng.standard_normal((2, n)) * sigma)).astype(np.int64)
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    if style.data_type != "premiumIndexKlines":
        low = np.maximum(low, 1)
    zeros = np.zeros(n, dtype=np.int64)
    if not style.klines:
        count = np.full(n, 60, dtype=np.int64) + rng.integers(-1, 2, n) * (rng.random(n) < 0.02)
        minutes = Minutes(np.arange(n), open_, high, low, close, zeros, zeros, count, zeros, zeros)
    else:
        idle = rng.random(n) < 0.01
        open_[idle] = high[idle] = low[idle] = close[idle] = open_[idle]
        volume_scale = 10.0 ** style.volume_precision if style.market is not Market.COINM else 100.0
        activity = np.minimum(rng.pareto(1.5, n), 1_000.0) + 0.05
        volume = np.where(idle, 0, np.floor(activity * 3.0 * volume_scale)).astype(np.int64)
        vwap = low + np.floor(rng.random(n) * (high - low + 1)).astype(np.int64)
        taker = rng.binomial(volume, 0.5).astype(np.int64)
        if style.market is Market.COINM:
            base_per_contract = style.contract_size * 10 ** (CM_BASE_DECIMALS + style.price_precision)
            quote, taker_quote = volume * base_per_contract // vwap, taker * base_per_contract // vwap
        else:
            quote, taker_quote = volume * vwap, taker * vwap
        count = np.where(volume > 0, 1 + rng.poisson(40, n), 0).astype(np.int64)
        minutes = Minutes(np.arange(n), open_, high, low, close, volume, quote, count, taker, taker_quote)
    keep = np.ones(n, dtype=bool)
    keep[list(missing_minutes)] = False
    return Minutes(*(getattr(minutes, f.name)[keep] for f in dataclasses.fields(Minutes)))


def _signed(units: np.ndarray, scale: int, decimals: int) -> pa.Array:
    text = _decimals(np.abs(units), scale, decimals)
    return pc.if_else(pa.array(units < 0), pc.binary_join_element_wise("-", text, ""), text)


def kline_csv(bars: Minutes, style: KlineStyle, day: dt.date, interval: str, unit: TimeUnit) -> memoryview:
    """CSV rows (no header) of ``bars`` as the archive prints them."""
    per_minute = 60 * 10**9 // unit.nanos
    opens = day_bounds_ns(day)[0] // unit.nanos + bars.minute * per_minute
    closes = opens + INTERVAL_SECONDS[interval] * 10**9 // unit.nanos - 1
    spot = style.market is Market.SPOT
    value_decimals = SPOT_DECIMALS if spot else (style.price_precision if style.klines else INDEX_DECIMALS)
    prices = [_signed(getattr(bars, c), style.value_scale, value_decimals) for c in ("open", "high", "low", "close")]
    if style.klines:
        volume_decimals = SPOT_DECIMALS if spot else style.volume_precision
        quote_decimals = SPOT_DECIMALS if spot else style.quote_scale
        volume_scale = 0 if style.market is Market.COINM else style.volume_precision
        volumes = [_decimals(bars.volume, volume_scale, volume_decimals),
                   _decimals(bars.quote, style.quote_scale, quote_decimals),
                   _decimals(bars.taker_volume, volume_scale, volume_decimals),
                   _decimals(bars.taker_quote, style.quote_scale, quote_decimals)]
    else:
        volumes = ["0", "0", "0", "0"]
    columns: list[pa.Array | str] = [_strings(opens), *prices, volumes[0], _strings(closes), volumes[1],
                                     _strings(bars.count), volumes[2], volumes[3], "0"]
    return _csv_bytes(columns)


def write_kline_day(
    root: Path,
    market: Market,
    data_type: str,
    symbol: str,
    day: dt.date,
    interval: str = "1m",
    *,
    price_precision: int,
    volume_precision: int,
    header: bool = False,
    time_unit: TimeUnit | None = None,
    seed: int = 0,
    start_price: str = "42000",
    contract_size: int = 100,
    missing_minutes: Collection[int] = (),
) -> GeneratedDay:
    """Write ``root/<key>`` and its CHECKSUM for one day of ``interval`` bars (``n_trades`` counts the bars).

    ``symbol`` is the archive's folder (for COIN-M index klines the pair, e.g. ``BTCUSD``). Files of
    different intervals written with the same seed and precisions describe the same minutes.
    """
    if INTERVAL_SECONDS.get(interval, 0) < 60:
        raise ValueError(f"{interval!r}: generated intervals are whole minutes dividing the day")
    style = KlineStyle(market, data_type, price_precision, volume_precision, contract_size)
    minutes = generate_minutes(style, seed=seed, start_price=start_price, missing_minutes=missing_minutes)
    bars = minutes.aggregate(INTERVAL_SECONDS[interval] // 60)
    data = kline_csv(bars, style, day, interval, time_unit or time_unit_for(market, day))
    return _write_day(Path(root), ArchiveFile(market, data_type, symbol, day, interval=interval), len(bars.minute),
                      0, ARCHIVE_COLUMNS if header else None, lambda start, n: data, estimated_row_bytes=160)


def write_kline_month(root: Path, market: Market, data_type: str, symbol: str, month: dt.date,
                      interval: str = "1m", *, omit: Collection[dt.date] = (), seed: int = 0,
                      **kwargs: object) -> list[GeneratedDay]:
    """Daily files for every day of ``month`` except ``omit`` (a day the archive never published)."""
    days = calendar.monthrange(month.year, month.month)[1]
    written = []
    for number in range(1, days + 1):
        day = month.replace(day=number)
        if day not in omit:
            written.append(write_kline_day(root, market, data_type, symbol, day, interval, seed=seed + number,
                                           **kwargs))  # type: ignore[arg-type]
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--market", choices=[m.value for m in Market], required=True)
    parser.add_argument("--type", choices=KLINE_LIKE_TYPES, default="klines")
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--interval", action="append", help="repeat for several coherent intervals (default 1m)")
    parser.add_argument("--header", action="store_true")
    parser.add_argument("--price-precision", type=int)
    parser.add_argument("--volume-precision", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    market = Market(args.market)
    price, size = DEFAULT_PRECISIONS[market]
    for interval in args.interval or ["1m"]:
        day = write_kline_day(args.root, market, args.type, args.symbol, args.day, interval,
                              price_precision=price if args.price_precision is None else args.price_precision,
                              volume_precision=size if args.volume_precision is None else args.volume_precision,
                              header=args.header, seed=args.seed)
        print(day.zip_path)


if __name__ == "__main__":
    main()
