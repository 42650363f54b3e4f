"""Realistic days of Bybit's public trade archive, in every dialect, as gzip CSVs in the archive's key layout.

Formats follow real rows (``../shared/samples/bybit``): trading files with 10 or 11 (``RPI``) columns, epoch
seconds as decimal text with 0 (whole seconds), 3 (ms) or 4 (100 µs) decimals, trailing zeros dropped as a float
printer drops them, ``Buy``/``Sell``, sizes printed like floats (inverse sizes are whole contracts), prices at a
fixed number of decimals, a UUID ``trdMatchID``, ``grossValue`` in scientific notation; spot daily files with a
per-file ``id`` counter, integer ms, lower-case sides, prices and volumes without trailing zeros, and runs of
rows identical apart from ``id``. Whole-second days put several trades in one second.

``GeneratedBybitDay.expected()`` is what the canonical table must hold, computed with ``Decimal`` from the text.

    uv run python -m hedgegrid_data.testing.bybit_generator --root ./bybit-mirror --market linear \
        --symbol BTCUSDT --day 2024-01-02 --trades 100000 --dialect trading_rpi --decimals 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.sources.bybit_archive.dialects import HEADERS, Dialect
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.venues.bybit import BybitMarket

NAMESPACE = uuid.UUID("6f1d3a52-8c1e-4a7e-9a55-3b2f4c1d0e77")


@dataclass(frozen=True)
class BybitTrade:
    """One trade as the archive prints it."""

    timestamp: str
    side: str
    size: str
    price: str
    trade_id: str  # trdMatchID, or the spot counter
    rpi: str = "0"


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros and never in scientific notation (``6``, ``6.016``)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class GeneratedBybitDay:
    """A day written in the archive's layout: its file, path, dialect and trades in file order."""

    file: BybitFile
    path: Path
    dialect: Dialect
    trades: list[BybitTrade]

    def expected(self) -> list[tuple[str, Decimal, Decimal, int, int]]:
        """(trade id, price, size, aggressor side, ts ns) of every trade, in file order, exact from the text."""
        rows = []
        for t in self.trades:
            if self.dialect.spot:
                ts, trade_id = int(t.timestamp) * 10**6, f"{self.file.day:%Y%m%d}-{t.trade_id}"
            else:
                ts, trade_id = int(Decimal(t.timestamp).scaleb(9)), t.trade_id
            rows.append((trade_id, Decimal(t.price), Decimal(t.size),
                         BUYER if t.side.lower() == "buy" else SELLER, ts))
        return rows


def _notionals(market: BybitMarket, size: str, price: str) -> tuple[str, str, str]:
    """grossValue (a float, scientific when large), homeNotional, foreignNotional as Bybit prints them."""
    if market is BybitMarket.INVERSE:
        foreign = float(size) / float(price)
        return repr(foreign * 1e8), size, repr(foreign)
    foreign_exact = Decimal(size) * Decimal(price)
    gross = float(foreign_exact) * 1e8
    return (f"{gross:.4e}" if gross >= 1e7 else repr(gross)), size, _plain(foreign_exact)


def trading_csv(market: BybitMarket, symbol: str, trades: list[BybitTrade], dialect: Dialect) -> str:
    lines = [",".join(HEADERS[dialect])]
    direction, previous = "ZeroPlusTick", None
    for t in trades:
        if previous is not None:
            move = Decimal(t.price) - Decimal(previous)
            direction = ("PlusTick" if move > 0 else "MinusTick" if move < 0
                         else "ZeroPlusTick" if direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick")
        previous = t.price
        gross, home, foreign = _notionals(market, t.size, t.price)
        fields = [t.timestamp, symbol, t.side, t.size, t.price, direction, t.trade_id, gross, home, foreign]
        if dialect is Dialect.TRADING_RPI:
            fields.append(t.rpi)
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


def spot_csv(trades: list[BybitTrade]) -> str:
    rows = [",".join(HEADERS[Dialect.SPOT_DAILY])]
    rows += [f"{t.trade_id},{t.timestamp},{t.price},{t.size},{t.side},{t.rpi}" for t in trades]
    return "\n".join(rows) + "\n"


def write_gzip(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode(), compresslevel=6, mtime=0))


def write_day(root: Path, file: BybitFile, dialect: Dialect, trades: list[BybitTrade]) -> GeneratedBybitDay:
    """Write ``trades`` as ``file`` in ``dialect`` under ``root`` (the archive's key layout)."""
    text = spot_csv(trades) if dialect.spot else trading_csv(file.market, file.symbol, trades, dialect)
    path = Path(root) / file.key
    write_gzip(path, text)
    return GeneratedBybitDay(file, path, dialect, trades)


def _seconds_text(ticks: int, decimals: int, day_start_s: int) -> str:
    """Epoch seconds with ``decimals`` decimals, trailing zeros dropped (``1735689600.097``, ``1651449601``)."""
    if decimals == 0:
        return str(day_start_s + ticks)
    seconds, fraction = divmod(ticks, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0")
    return f"{day_start_s + seconds}.{digits}" if digits else str(day_start_s + seconds)


def _walk(rng: np.random.Generator, n: int, start_units: int, tick_units: int) -> np.ndarray:
    steps = np.rint(rng.standard_normal(n) * 0.8).astype(np.int64) * tick_units
    return np.abs(start_units + np.cumsum(steps) - tick_units) + tick_units


def generate_trades(market: BybitMarket, day: dt.date, n: int, *, decimals: int, price_precision: int,
                    size_precision: int, tick_units: int = 1, printed_price_decimals: int | None = None,
                    start_price: str = "42000", seed: int = 0, symbol: str = "") -> list[BybitTrade]:
    """``n`` time-ordered trades over the day: prices a walk in ticks of ``tick_units`` × 10^-price_precision,
    printed with ``printed_price_decimals`` (None: without trailing zeros), times at ``decimals`` decimals."""
    rng = np.random.default_rng(seed)
    per_second = 10**decimals
    ticks = np.sort(rng.integers(0, 86_400 * per_second, n))
    ticks[1::4] = ticks[0::4][: len(ticks[1::4])]  # trades sharing a timestamp: only their lines order them
    ticks = np.maximum.accumulate(ticks)
    day_start_s = day_bounds_ns(day)[0] // 10**9
    prices = _walk(rng, n, int(Decimal(start_price).scaleb(price_precision)), tick_units)
    sizes = np.minimum(1 + np.floor(rng.pareto(1.3, n) * 5 * 10.0 ** max(size_precision - 3, 0)), 10**9)
    sides = rng.random(n) < 0.5
    trades = []
    for i in range(n):
        price = Decimal(int(prices[i])).scaleb(-price_precision)
        price_text = _plain(price) if printed_price_decimals is None else f"{price:.{printed_price_decimals}f}"
        trades.append(BybitTrade(
            _seconds_text(int(ticks[i]), decimals, day_start_s),
            ("buy" if sides[i] else "sell") if market is BybitMarket.SPOT else ("Buy" if sides[i] else "Sell"),
            _plain(Decimal(int(sizes[i])).scaleb(-size_precision)), price_text,
            str(uuid.uuid5(NAMESPACE, f"{symbol}|{day}|{seed}|{i}"))))
    return trades


def write_trading_day(root: Path, market: BybitMarket, symbol: str, day: dt.date, n: int, *,
                      dialect: Dialect = Dialect.TRADING_RPI, decimals: int = 4, price_precision: int = 1,
                      size_precision: int = 3, tick_units: int = 1, printed_price_decimals: int | None = 2,
                      start_price: str = "42000", seed: int = 0) -> GeneratedBybitDay:
    """A linear or inverse day (``trading/…``); inverse sizes are whole contracts (``size_precision=0``)."""
    trades = generate_trades(market, day, n, decimals=decimals, price_precision=price_precision,
                             size_precision=size_precision, tick_units=tick_units,
                             printed_price_decimals=printed_price_decimals, start_price=start_price, seed=seed,
                             symbol=symbol)
    return write_day(root, BybitFile(market, symbol, day), dialect, trades)


def write_spot_day(root: Path, symbol: str, day: dt.date, n: int, *, price_precision: int = 2,
                   size_precision: int = 5, start_price: str = "2500", seed: int = 0,
                   repeat_every: int = 7) -> GeneratedBybitDay:
    """A spot daily file (``spot/…``): integer ms, a per-file counter, and every ``repeat_every``-th trade
    repeated exactly (another trade of the same millisecond, price, size and side)."""
    walk = generate_trades(BybitMarket.SPOT, day, n, decimals=3, price_precision=price_precision,
                           size_precision=size_precision, start_price=start_price, seed=seed, symbol=symbol)
    trades = []
    for i, t in enumerate(walk):
        source = trades[-1] if repeat_every and i % repeat_every == repeat_every - 1 and trades else t
        ms = str(int(Decimal(source.timestamp).scaleb(3)))
        trades.append(BybitTrade(ms if source is t else source.timestamp, source.side, source.size, source.price,
                                 str(i + 1), "1" if i % 97 == 13 else "0"))
    return write_day(root, BybitFile(BybitMarket.SPOT, symbol, day), Dialect.SPOT_DAILY, trades)


def truncate_gzip(path: Path, keep_fraction: float = 0.6) -> None:
    """Cut the file short, as an interrupted upload would: its gzip trailer is lost."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--market", choices=[m.value for m in BybitMarket], required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--dialect", choices=[d.value for d in Dialect if not d.spot], default="trading_rpi")
    parser.add_argument("--decimals", type=int, choices=(0, 3, 4), default=4, help="timestamp decimals (trading)")
    parser.add_argument("--price-precision", type=int, default=1)
    parser.add_argument("--size-precision", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    market = BybitMarket(args.market)
    if market is BybitMarket.SPOT:
        day = write_spot_day(args.root, args.symbol, args.day, args.trades, price_precision=args.price_precision,
                             size_precision=args.size_precision, seed=args.seed)
    else:
        day = write_trading_day(args.root, market, args.symbol, args.day, args.trades,
                                dialect=Dialect(args.dialect), decimals=args.decimals,
                                price_precision=args.price_precision, size_precision=args.size_precision,
                                seed=args.seed)
    print(f"{day.path}: {len(day.trades)} trades ({day.dialect.value})")


if __name__ == "__main__":
    main()
