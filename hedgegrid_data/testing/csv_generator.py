"""Writes large vendor-style trade CSVs for tests and benchmarks of the CSV source: a day of trades with exact
decimal text at given decimals, timestamps as ISO 8601 (``Z`` or none) or integer epochs in any unit, the
vendor's own header names, compressed by the file's suffix (``.gz``, ``.bz2``, ``.zst``, ``.zip`` or none).
Columns are built vectorized with Arrow, so a million rows take about a second.

    uv run python -m hedgegrid_data.testing.csv_generator --out ./landing/vendorx-2024-01-02.csv.gz \\
        --day 2024-01-02 --trades 1000000 --time-format iso
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.sources.csv.compression import compression_of

TIME_FORMATS = ("iso", "iso_local", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
UNIT_NANOS = {"epoch_s": 10**9, "epoch_ms": 10**6, "epoch_us": 10**3, "epoch_ns": 1}


@dataclass(frozen=True)
class VendorTrades:
    """Header names of a vendor's trade export (``None``: the column is left out)."""

    trade_id: str | None = "Trade ID"
    timestamp: str = "Time"
    price: str = "Price"
    size: str = "Size"
    side: str = "Side"
    symbol: str | None = None


def decimal_text(units: np.ndarray, decimals: int) -> pa.Array:
    """Integers of 10^-decimals as exact decimal text (``12345``, 2 → ``"123.45"``)."""
    text = pc.cast(pa.array(units, pa.int64()), pa.string())
    if decimals == 0:
        return text
    padded = pc.utf8_lpad(text, decimals + 1, "0")
    whole = pc.utf8_slice_codeunits(padded, 0, -decimals)
    return pc.binary_join_element_wise(whole, pc.utf8_slice_codeunits(padded, -decimals), ".")


def time_text(ns: np.ndarray, time_format: str) -> pa.Array:
    if time_format in UNIT_NANOS:
        return pc.cast(pa.array(ns // UNIT_NANOS[time_format], pa.int64()), pa.string())
    text = pc.strftime(pa.array(ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC")), format="%Y-%m-%dT%H:%M:%S")
    return pc.binary_join_element_wise(text, "Z", "") if time_format == "iso" else text


def trades_table(day: dt.date, n: int, *, seed: int = 7, first_id: int = 1, price_decimals: int = 1,
                 size_decimals: int = 0, time_format: str = "iso", columns: VendorTrades = VendorTrades(),
                 symbol: str = "BTCUSD") -> pa.Table:
    """``n`` trades spread over ``day`` as a table of text columns named as the vendor names them. Times are
    multiples of the format's unit, so every format holds them exactly."""
    rng = np.random.default_rng(seed)
    start, _ = day_bounds_ns(day)
    unit = UNIT_NANOS.get(time_format, 1000)
    spacing = (86_400 * 10**9 // unit) // max(n, 1)
    ns = start + (np.arange(n, dtype=np.int64) * spacing + rng.integers(0, max(spacing, 1), n)) * unit
    prices = 400_000 * 10 ** (price_decimals - 1) + np.cumsum(rng.integers(-3, 4, n))
    sizes = rng.integers(1, 500 * 10**size_decimals, n)
    values = {columns.trade_id: pc.cast(pa.array(np.arange(first_id, first_id + n), pa.int64()), pa.string()),
              columns.symbol: pa.array([symbol] * n, pa.string()),
              columns.timestamp: time_text(ns, time_format), columns.price: decimal_text(prices, price_decimals),
              columns.size: decimal_text(sizes, size_decimals),
              columns.side: pa.array(np.where(rng.integers(0, 2, n) == 1, "buy", "sell"))}
    return pa.table({name: column for name, column in values.items() if name is not None})


def write_csv(path: Path, table: pa.Table) -> Path:
    """``table`` as CSV text (header, no quotes) at ``path``, compressed by its suffix; appears atomically."""
    buffer = io.BytesIO()
    pcsv.write_csv(table, buffer, pcsv.WriteOptions(quoting_style="none"))
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    compression = compression_of(path)
    with atomic_path(path) as tmp:
        if compression == "zip":
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(path.stem, data)
        else:
            with pa.output_stream(str(tmp), compression=compression) as out:
                out.write(data)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="file to write (.csv, .csv.gz, .bz2, .zst, .zip)")
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--time-format", choices=TIME_FORMATS, default="iso")
    parser.add_argument("--price-decimals", type=int, default=1)
    parser.add_argument("--size-decimals", type=int, default=0)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write_csv(args.out, trades_table(args.day, args.trades, seed=args.seed, first_id=args.first_id,
                                     price_decimals=args.price_decimals, size_decimals=args.size_decimals,
                                     time_format=args.time_format))
    print(args.out)


if __name__ == "__main__":
    main()
