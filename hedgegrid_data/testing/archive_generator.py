"""Realistic Binance daily trades/aggTrades archive files (zip + CHECKSUM), generated vectorized and streamed;
and hostile ones (zip bombs, lying or encrypted members) written byte by byte."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.sources.binance_archive.layout import (
    ArchiveFile,
    agg_trades_columns,
    time_unit_for,
    trades_columns,
)
from hedgegrid_data.venues.binance import Market

CHUNK_ROWS = 500_000
ZIP_COMPRESS_LEVEL = 1
SPOT_DECIMALS = 8
CM_BASE_QTY_DECIMALS = 8
DEFAULT_PRECISIONS: dict[Market, tuple[int, int]] = {
    Market.SPOT: (2, 5),
    Market.USDM: (1, 3),
    Market.COINM: (1, 0),
}
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class GeneratedDay:
    """Files written for one day; ``n_trades`` counts CSV rows (aggregate trades for aggTrades)."""

    archive_file: ArchiveFile
    zip_path: Path
    checksum_path: Path
    csv_text_sha256: str | None
    n_trades: int
    first_id: int
    last_id: int


@dataclass(frozen=True)
class _Style:
    market: Market
    price_precision: int
    size_precision: int

    @property
    def spot(self) -> bool:
        return self.market is Market.SPOT

    @property
    def price_decimals(self) -> int:
        return SPOT_DECIMALS if self.spot else self.price_precision

    @property
    def size_decimals(self) -> int:
        if self.market is Market.COINM:
            return max(self.size_precision, 1)
        return SPOT_DECIMALS if self.spot else self.size_precision

    @property
    def quote_decimals(self) -> int:
        return SPOT_DECIMALS if self.spot else self.price_precision + self.size_precision

    @property
    def booleans(self) -> tuple[str, str]:
        return ("True", "False") if self.spot else ("true", "false")


class _Walk:
    """Chunked random state: price walk in ticks, sizes, times spread over the day."""

    def __init__(
        self,
        style: _Style,
        n_rows: int,
        day: dt.date,
        unit: TimeUnit,
        seed: int,
        start_price: str,
        first_trade_id: int = 0,
    ):
        self.style = style
        self.trade_id_cursor = first_trade_id
        self.n_rows = n_rows
        self.rng = np.random.default_rng(seed)
        self.raw_ticks = int((Decimal(start_price).scaleb(style.price_precision)).to_integral_value())
        if self.raw_ticks <= 0:
            raise ValueError(f"start_price must be positive, got {start_price!r}")
        self.day_start = day_bounds_ns(day)[0] // unit.nanos
        self.units_per_day = 86_400 * 10**9 // unit.nanos
        self.units_per_minute = self.units_per_day // 1_440
        self.size_scale = 5.0 * 10.0 ** max(style.size_precision - 3, 0)
        self.size_cap = 2_000 * self.size_scale  # about 10 BTC: a heavy tail without absurd whales

    def prices(self, n: int) -> np.ndarray:
        steps = np.rint(self.rng.standard_normal(n) * 0.8).astype(np.int64)
        raw = self.raw_ticks + np.cumsum(steps)
        self.raw_ticks = int(raw[-1])
        return np.abs(raw - 1) + 1

    def sizes(self, n: int) -> np.ndarray:
        units = 1 + np.floor(self.rng.pareto(1.3, n) * self.size_scale)
        return np.minimum(units, self.size_cap).astype(np.int64)

    def times(self, start_row: int, n: int) -> np.ndarray:
        lo = self.day_start + start_row * self.units_per_day // self.n_rows
        hi = self.day_start + (start_row + n) * self.units_per_day // self.n_rows
        times = np.sort(self.rng.integers(lo, max(hi, lo + 1), n))
        same_as_previous = np.flatnonzero(self.rng.random(n - 1) < 0.3) + 1
        times[same_as_previous] = times[same_as_previous - 1]
        if start_row == 0:
            times[0] = min(times[0], self.day_start + self.rng.integers(self.units_per_minute))
        if start_row + n == self.n_rows and self.n_rows > 1:
            day_end = self.day_start + self.units_per_day - 1
            times[-1] = max(times[-1], day_end - self.rng.integers(self.units_per_minute))
        return times

    def buyer_maker(self, n: int) -> np.ndarray:
        return self.rng.random(n) < 0.5


def _strings(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _decimals(units: np.ndarray, scale: int, decimals: int) -> pa.Array:
    """Print integers counted in 10**-scale as fixed-point strings with ``decimals`` decimals (truncating)."""
    if decimals >= scale:
        values = _multiply(units, 10 ** (decimals - scale))
    else:
        values = units // 10 ** (scale - decimals)
    if decimals == 0:
        return _strings(values)
    whole, fraction = np.divmod(values, 10**decimals)
    fraction_text = pc.utf8_slice_codeunits(_strings(fraction + 10**decimals), 1)
    return pc.binary_join_element_wise(_strings(whole), fraction_text, ".")


def _multiply(values: np.ndarray, factor: np.ndarray | int) -> np.ndarray:
    if len(values) and int(values.max()) * int(np.max(factor)) > _INT64_MAX:
        raise OverflowError("generated values do not fit in int64 at the requested precision")
    return values * factor


def _booleans(mask: np.ndarray, style: _Style) -> pa.Array:
    true, false = style.booleans
    return pc.if_else(pa.array(mask), true, false)


def _csv_bytes(columns: list[pa.Array | str]) -> memoryview:
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), "", "\n")
    offsets = lines.buffers()[1]
    first, last = np.frombuffer(offsets, dtype=np.int32)[[lines.offset, lines.offset + len(lines)]]
    return memoryview(lines.buffers()[2])[first:last]


def _trades_chunk(walk: _Walk, first_id: int, start_row: int, n: int, contract_size: int) -> memoryview:
    style = walk.style
    ids = np.arange(first_id + start_row, first_id + start_row + n, dtype=np.int64)
    prices = walk.prices(n)
    sizes = walk.sizes(n)
    if style.market is Market.COINM:
        size_scale = 0
        numerator = _multiply(sizes, contract_size * 10 ** (style.price_precision + CM_BASE_QTY_DECIMALS))
        notional = _decimals(numerator // prices, CM_BASE_QTY_DECIMALS, CM_BASE_QTY_DECIMALS)
    else:
        size_scale = style.size_precision
        notional = _decimals(_multiply(prices, sizes), style.price_precision + size_scale, style.quote_decimals)
    columns: list[pa.Array | str] = [
        _strings(ids),
        _decimals(prices, style.price_precision, style.price_decimals),
        _decimals(sizes, size_scale, style.size_decimals),
        notional,
        _strings(walk.times(start_row, n)),
        _booleans(walk.buyer_maker(n), style),
    ]
    if style.spot:
        columns.append(style.booleans[0])
    return _csv_bytes(columns)


def _agg_trades_chunk(walk: _Walk, first_id: int, start_row: int, n: int) -> memoryview:
    style = walk.style
    ids = np.arange(first_id + start_row, first_id + start_row + n, dtype=np.int64)
    counts = walk.rng.geometric(0.5, n).astype(np.int64)
    last_trade_ids = walk.trade_id_cursor + np.cumsum(counts) - 1
    first_trade_ids = last_trade_ids - counts + 1
    walk.trade_id_cursor = int(last_trade_ids[-1]) + 1
    size_scale = 0 if style.market is Market.COINM else style.size_precision
    columns: list[pa.Array | str] = [
        _strings(ids),
        _decimals(walk.prices(n), style.price_precision, style.price_decimals),
        _decimals(walk.sizes(n) * counts, size_scale, style.size_decimals),
        _strings(first_trade_ids),
        _strings(last_trade_ids),
        _strings(walk.times(start_row, n)),
        _booleans(walk.buyer_maker(n), style),
    ]
    if style.spot:
        columns.append(style.booleans[0])
    return _csv_bytes(columns)


def _zip_info(archive_file: ArchiveFile) -> zipfile.ZipInfo:
    published = archive_file.day + dt.timedelta(days=1)
    info = zipfile.ZipInfo(archive_file.csv_name, date_time=(published.year, published.month, published.day, 6, 13, 22))
    info.compress_type = zipfile.ZIP_DEFLATED
    # What ZipFile.open() sets for a str name; a ZipInfo is needed for a deterministic date_time.
    info._compresslevel = ZIP_COMPRESS_LEVEL
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    return info


def _write_checksum(archive_file: ArchiveFile, zip_path: Path, checksum_path: Path) -> None:
    with zip_path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
    checksum_path.write_text(f"{digest.hexdigest()}  {archive_file.file_name}\n")


def _write_day(
    root: Path,
    archive_file: ArchiveFile,
    n_rows: int,
    first_id: int,
    header: tuple[str, ...] | None,
    chunk: Callable[[int, int], memoryview],
    estimated_row_bytes: int,
) -> GeneratedDay:
    if n_rows < 1:
        raise ValueError("a generated day needs at least one row")
    zip_path = root / archive_file.key
    checksum_path = root / archive_file.checksum_key
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    csv_digest = hashlib.sha256()
    force_zip64 = n_rows * estimated_row_bytes > zipfile.ZIP64_LIMIT
    with (
        zipfile.ZipFile(zip_path, "w") as archive,
        archive.open(_zip_info(archive_file), "w", force_zip64=force_zip64) as member,
    ):
        if header is not None:
            header_line = (",".join(header) + "\n").encode()
            csv_digest.update(header_line)
            member.write(header_line)
        for start_row in range(0, n_rows, CHUNK_ROWS):
            data = chunk(start_row, min(CHUNK_ROWS, n_rows - start_row))
            csv_digest.update(data)
            member.write(data)
    _write_checksum(archive_file, zip_path, checksum_path)
    last_id = first_id + n_rows - 1
    return GeneratedDay(archive_file, zip_path, checksum_path, csv_digest.hexdigest(), n_rows, first_id, last_id)


def _check_precisions(market: Market, price_precision: int, size_precision: int) -> None:
    if price_precision < 0 or size_precision < 0:
        raise ValueError("precisions must be >= 0")
    if market is Market.SPOT and price_precision + size_precision > SPOT_DECIMALS:
        raise ValueError(f"spot quote_qty has {SPOT_DECIMALS} decimals: price + size precision must not exceed it")


def write_trades_day(
    root: Path,
    market: Market,
    symbol: str,
    day: dt.date,
    n_trades: int,
    *,
    price_precision: int,
    size_precision: int,
    header: bool = False,
    time_unit: TimeUnit | None = None,
    seed: int = 0,
    first_id: int = 1_000_000,
    start_price: str = "42000",
    contract_size: int = 100,
) -> GeneratedDay:
    """Write ``root/<key>`` (a zipped trades CSV) and its CHECKSUM sidecar for one UTC day.

    COIN-M ``qty`` is a whole number of contracts, printed like the archive with at least one decimal (``83.0``).
    """
    _check_precisions(market, price_precision, size_precision)
    archive_file = ArchiveFile(market, "trades", symbol, day)
    unit = time_unit or time_unit_for(market, day)
    walk = _Walk(_Style(market, price_precision, size_precision), n_trades, day, unit, seed, start_price)
    return _write_day(
        Path(root),
        archive_file,
        n_trades,
        first_id,
        trades_columns(market) if header else None,
        lambda start_row, n: _trades_chunk(walk, first_id, start_row, n, contract_size),
        estimated_row_bytes=110,
    )


def write_agg_trades_day(
    root: Path,
    market: Market,
    symbol: str,
    day: dt.date,
    n_agg_trades: int,
    *,
    price_precision: int,
    size_precision: int,
    header: bool = False,
    time_unit: TimeUnit | None = None,
    seed: int = 0,
    first_id: int = 1_000_000,
    first_trade_id: int = 5_000_000,
    start_price: str = "42000",
) -> GeneratedDay:
    """Write ``root/<key>`` (a zipped aggTrades CSV) and its CHECKSUM sidecar for one UTC day.

    Each aggregate trade covers one or more consecutive trade ids, chained from ``first_trade_id``.
    """
    _check_precisions(market, price_precision, size_precision)
    archive_file = ArchiveFile(market, "aggTrades", symbol, day)
    unit = time_unit or time_unit_for(market, day)
    style = _Style(market, price_precision, size_precision)
    walk = _Walk(style, n_agg_trades, day, unit, seed, start_price, first_trade_id)
    return _write_day(
        Path(root),
        archive_file,
        n_agg_trades,
        first_id,
        agg_trades_columns(market) if header else None,
        lambda start_row, n: _agg_trades_chunk(walk, first_id, start_row, n),
        estimated_row_bytes=120,
    )


def read_csv_text(zip_path: Path) -> str:
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = archive.namelist()
        return archive.read(member).decode()


def read_csv_rows(zip_path: Path) -> list[list[str]]:
    """All rows of a (small) archive zip, header included if present."""
    return [line.split(",") for line in read_csv_text(zip_path).splitlines()]


def rewrite_checksum_wrong(day: GeneratedDay) -> None:
    """Replace the CHECKSUM with a well-formed line whose hash does not match the zip."""
    wrong = hashlib.sha256(day.zip_path.read_bytes() + b"wrong").hexdigest()
    day.checksum_path.write_text(f"{wrong}  {day.archive_file.file_name}\n")


def truncate_zip(day: GeneratedDay, keep_fraction: float = 0.5) -> None:
    """Cut the zip to ``keep_fraction`` of its bytes; the CHECKSUM keeps the original hash."""
    data = day.zip_path.read_bytes()
    day.zip_path.write_bytes(data[: int(len(data) * keep_fraction)])


def truncate_zip_with_matching_checksum(day: GeneratedDay, keep_fraction: float = 0.5) -> None:
    """Cut the zip and recompute the CHECKSUM, so only reading the zip reveals the damage."""
    truncate_zip(day, keep_fraction)
    _write_checksum(day.archive_file, day.zip_path, day.checksum_path)


def write_archive_csv(root: Path, archive_file: ArchiveFile, text: str) -> tuple[Path, Path]:
    """Zip ``text`` as ``archive_file``'s CSV under ``root/<key>`` with its CHECKSUM; returns both paths."""
    zip_path, checksum_path = root / archive_file.key, root / archive_file.checksum_key
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    _zip_csv(archive_file, zip_path, checksum_path, text)
    return zip_path, checksum_path


def _zip_csv(archive_file: ArchiveFile, zip_path: Path, checksum_path: Path, text: str) -> None:
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(_zip_info(archive_file), text.encode())
    _write_checksum(archive_file, zip_path, checksum_path)


def replace_csv(day: GeneratedDay, text: str) -> GeneratedDay:
    """Re-zip the day with ``text`` as its CSV and recompute the CHECKSUM; returns the updated day."""
    _zip_csv(day.archive_file, day.zip_path, day.checksum_path, text)
    return dataclasses.replace(day, csv_text_sha256=hashlib.sha256(text.encode()).hexdigest())


def inject_malformed_row(day: GeneratedDay, line_no: int, text: str) -> GeneratedDay:
    """Replace CSV line ``line_no`` (1-based, a header counts as line 1) with ``text``; returns the updated day."""
    lines = read_csv_text(day.zip_path).splitlines(keepends=True)
    if not 1 <= line_no <= len(lines):
        raise IndexError(f"line {line_no} out of range 1..{len(lines)}")
    lines[line_no - 1] = text + "\n"
    return replace_csv(day, "".join(lines))


@dataclass(frozen=True)
class DeflatedMember:
    """A zip member's raw deflate stream in pieces (repeated pieces are one object), and what it inflates to."""

    pieces: tuple[bytes, ...]
    crc: int
    size: int

    @property
    def compressed_size(self) -> int:
        return sum(map(len, self.pieces))


def _flushed(data: bytes, level: int) -> bytes:
    """``data`` as deflate blocks that end byte-aligned and refer to nothing before them (a full flush)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def deflate_repeated(unit: bytes, copies: int, head: bytes = b"", tail: bytes = b"",
                     level: int = 9) -> DeflatedMember:
    """``head + unit * copies + tail`` deflated without ever holding or compressing more than ``unit``.

    Each part is compressed once, alone, so its blocks can be repeated: this is how a zip bomb of
    gigabytes is written in a moment (identical units reach deflate's ~1000:1).
    """
    unit_blocks = _flushed(unit, level)
    last = zlib.compressobj(level, zlib.DEFLATED, -15)
    pieces = (_flushed(head, level), *([unit_blocks] * copies), last.compress(tail) + last.flush())
    crc = zlib.crc32(head)
    for _ in range(copies):
        crc = zlib.crc32(unit, crc)
    return DeflatedMember(pieces, zlib.crc32(tail, crc), len(head) + len(unit) * copies + len(tail))


def write_raw_zip(root: Path, archive_file: ArchiveFile, member: DeflatedMember, *,
                  declared_size: int | None = None, encrypted: bool = False) -> tuple[Path, Path]:
    """Write ``member`` as ``archive_file``'s zip (one deflated CSV) and a matching CHECKSUM, byte by byte.

    ``declared_size`` makes both headers lie about the inflated size; ``encrypted`` sets the flag of an
    encrypted member. Sizes must fit the 32-bit fields (no zip64).
    """
    zip_path, checksum_path = root / archive_file.key, root / archive_file.checksum_key
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    name = archive_file.csv_name.encode()
    flags, method, dos_time, dos_date = int(encrypted), zipfile.ZIP_DEFLATED, 0, (44 << 9) | (1 << 5) | 3
    sizes = (member.crc, member.compressed_size, member.size if declared_size is None else declared_size)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, dos_time, dos_date, *sizes, len(name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, flags, method, dos_time, dos_date, *sizes,
                          len(name), 0, 0, 0, 0, 0o100644 << 16, 0)
    directory_offset = len(local) + len(name) + member.compressed_size
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), directory_offset, 0)
    with zip_path.open("wb") as out:
        out.write(local + name)
        for piece in member.pieces:
            out.write(piece)
        out.write(central + name + end)
    _write_checksum(archive_file, zip_path, checksum_path)
    return zip_path, checksum_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--market", choices=[m.value for m in Market], required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--trades", type=int, required=True)
    parser.add_argument("--agg-trades", action="store_true", help="write aggTrades instead of trades")
    parser.add_argument("--header", action="store_true")
    parser.add_argument("--price-precision", type=int)
    parser.add_argument("--size-precision", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    market = Market(args.market)
    default_price, default_size = DEFAULT_PRECISIONS[market]
    write = write_agg_trades_day if args.agg_trades else write_trades_day
    day = write(
        args.root,
        market,
        args.symbol,
        args.day,
        args.trades,
        price_precision=default_price if args.price_precision is None else args.price_precision,
        size_precision=default_size if args.size_precision is None else args.size_precision,
        header=args.header,
        seed=args.seed,
    )
    print(day.zip_path)
    print(day.checksum_path)


if __name__ == "__main__":
    main()
