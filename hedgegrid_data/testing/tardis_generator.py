"""Realistic Tardis dataset days (the real CSV formats of ``../shared/samples/tardis``: µs epochs, exchange time
then Tardis' receive time, decimal text as Binance prints it) for tests and offline runs, written in the datasets
server's layout (``<root>/v1/{exchange}/{data_type}/YYYY/MM/DD/{SYMBOL}.csv.gz``). Each writer returns the rows it
wrote (text) so a test can compare what comes back with the source text.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
from decimal import Decimal
from pathlib import Path

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.sources.tardis.datasets_csv import HEADERS
from hedgegrid_data.sources.tardis.layout import DatasetFile

Row = list[str]


def _path(root: Path, exchange: str, data_type: str, symbol: str, day: dt.date) -> Path:
    return root / DatasetFile(exchange, data_type, symbol, day).url_key


def write_rows(root: Path, exchange: str, data_type: str, symbol: str, day: dt.date, rows: list[Row],
               header: str | None = None) -> Path:
    """The CSV (header + rows) gzip-compressed at the file's key under ``root``."""
    path = _path(root, exchange, data_type, symbol, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (header or ",".join(HEADERS[data_type])) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


def _times(day: dt.date, n: int, rng: random.Random) -> list[tuple[int, int]]:
    """``n`` sorted (exchange µs, receive µs) inside the day, receive 1-80 ms later."""
    start, end = (b // 1000 for b in day_bounds_ns(day))
    events = sorted(rng.randrange(start, end - 100_000) // 1000 * 1000 for _ in range(n))
    return [(t, t + rng.randrange(1_000, 80_000)) for t in events]


def _text(value: Decimal, decimals: int) -> str:
    """Binance's way: no trailing zeros (``42000.1``, ``0.5``, ``3``)."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def trades_rows(exchange: str, symbol: str, day: dt.date, n: int, seed: int = 0, first_id: int = 1_000_000,
                tick: str = "0.1", step: str = "0.001") -> list[Row]:
    rng = random.Random(seed)
    tick_d, step_d = Decimal(tick), Decimal(step)
    price = Decimal(40_000)
    rows = []
    for i, (t, local) in enumerate(_times(day, n, rng)):
        price = max(tick_d, price + tick_d * rng.randint(-20, 20))
        qty = step_d * rng.randint(1, 5_000)
        rows.append([exchange, symbol, str(t), str(local), str(first_id + i), rng.choice(["buy", "sell"]),
                     _text(price, 8), _text(qty, 8)])
    return rows


def quotes_rows(exchange: str, symbol: str, day: dt.date, n: int, seed: int = 0, tick: str = "0.1",
                step: str = "0.001") -> list[Row]:
    rng = random.Random(seed)
    tick_d, step_d = Decimal(tick), Decimal(step)
    bid = Decimal(40_000)
    rows = []
    for t, local in _times(day, n, rng):
        bid = max(tick_d, bid + tick_d * rng.randint(-5, 5))
        ask = bid + tick_d * rng.randint(1, 3)
        rows.append([exchange, symbol, str(t), str(local), _text(step_d * rng.randint(1, 9_000), 8), _text(ask, 8),
                     _text(bid, 8), _text(step_d * rng.randint(1, 9_000), 8)])
    return rows


def derivative_ticker_rows(exchange: str, symbol: str, day: dt.date, n: int, seed: int = 0,
                           interval_hours: int = 8) -> list[Row]:
    """One row a tick: mark and index prices with 8 decimals, a funding rate that drifts and the next funding time
    (the next ``interval_hours`` boundary); every fourth row changes only the open interest or last price."""
    rng = random.Random(seed)
    mark, index, rate, oi = Decimal("40000.12345678"), Decimal("40001.5"), Decimal("0.00000020"), 80_000
    step = Decimal("0.00000001")
    rows = []
    for i, (t, local) in enumerate(_times(day, n, rng)):
        if i % 4:
            mark += Decimal("0.00000123") * rng.randint(-50_000, 50_000)
            index += Decimal("0.01") * rng.randint(-100, 100)
            rate += step * rng.randint(-3, 3)
        oi += rng.randint(-5, 5)
        boundary = (t // (interval_hours * 3_600 * 10**6) + 1) * interval_hours * 3_600 * 10**6
        rows.append([exchange, symbol, str(t), str(local), str(boundary), _text(rate, 8), "", str(oi),
                     _text(mark, 1), _text(index, 8), _text(mark, 8)])
    return rows
