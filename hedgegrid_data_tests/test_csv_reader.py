"""The CSV source's pure core: the imports mapping, column detection, timestamp formats, compression, days and
symbols, and every bad input failing with an error naming the file, the line and the column."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.csv.days import CsvContent
from hedgegrid_data.sources.csv.mapping import CsvImport, MappingError, load_imports, parse_import
from hedgegrid_data.sources.csv.reader import CsvFileReader, Precisions, file_tag
from hedgegrid_data.sources.landing.index import LandingFileError
from hedgegrid_data_tests.conftest import SHARED

DAY = dt.date(2024, 1, 2)
T0 = 1704153600  # 2024-01-02T00:00:00Z
PRECISIONS = Precisions(2, 3)
TARDIS_TRADES = SHARED / "samples" / "tardis" / "bitmex_trades_XBTUSD.csv"


def an_import(tmp_path: Path, **fields) -> CsvImport:
    entry = {"name": "vx", "landing": str(tmp_path), "table": "trades", "venue": "VENDORX", "market": "spot",
             "symbol": "BTCUSD", "first_day": "2024-01-01", "tick_size": "0.01", "step_size": "0.001",
             "base": "BTC", "quote": "USD", **fields}
    return parse_import(entry, "test", tmp_path)


def write(path: Path, text: str) -> Path:
    data = text.encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def rows(path: Path, imp: CsvImport, day: dt.date = DAY, symbol: str = "BTCUSD") -> list[dict]:
    batches = list(CsvFileReader(path, imp).batches(day, symbol, PRECISIONS))
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def error(path: Path, imp: CsvImport, day: dt.date = DAY) -> ArchiveDataError:
    with pytest.raises(ArchiveDataError) as caught:
        rows(path, imp, day)
    return caught.value


TRADES = (f"id,time,price,qty,is_buyer_maker\n1,{T0}000,42000.10,0.5,true\n2,{T0}001,42000.2,1.250,false\n"
          f"3,{T0 + 60}000,42001,2,False\n")


def test_usual_names_are_found_and_values_stay_exact(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", TRADES)
    imp = an_import(tmp_path, ids="integer")
    reader = CsvFileReader(path, imp)
    assert reader.columns == {"timestamp": "time", "trade_id": "id", "price": "price", "qty": "qty",
                              "side": "is_buyer_maker"}
    got = rows(path, imp)
    assert [(r["trade_id"], r["price"], r["qty"], r["aggressor_side"], r["line"]) for r in got] == [
        (1, Decimal("42000.10"), Decimal("0.500"), 2, 2), (2, Decimal("42000.20"), Decimal("1.250"), 1, 3),
        (3, Decimal("42001.00"), Decimal("2.000"), 1, 4)]
    assert [r["ts_event"].value for r in got] == [T0 * 10**9, T0 * 10**9 + 10**6, (T0 + 60) * 10**9]
    list(reader.batches(DAY, "BTCUSD", PRECISIONS))
    assert reader.time_format == "epoch_ms"


def test_the_real_tardis_export_maps_itself_and_keeps_its_symbol_rows(tmp_path: Path) -> None:
    if not TARDIS_TRADES.is_file():
        pytest.skip(f"real Tardis samples not found at {TARDIS_TRADES} (../shared is absent in a user's clone)")
    imp = parse_import(
        {"name": "tardis", "landing": str(tmp_path), "table": "trades", "venue": "BITMEX", "market": "perp",
         "symbols": ["XBTUSD"], "symbol_column": "symbol", "first_day": "2020-01-01", "tick_size": "0.5",
         "step_size": "1", "base": "BTC", "quote": "USD"}, "test", tmp_path)
    reader = CsvFileReader(TARDIS_TRADES, imp)
    assert reader.columns["timestamp"] == "timestamp" and reader.columns["qty"] == "amount"
    assert reader.columns["trade_id"] == "id" and reader.columns["side"] == "side"
    [(symbol, (first, _last))] = reader.spans().items()
    assert symbol == "XBTUSD"
    day = dt.datetime.fromtimestamp(first // 10**9, dt.UTC).date()
    got = list(reader.batches(day, "XBTUSD", Precisions(1, 0)))
    text = [line.split(",") for line in TARDIS_TRADES.read_text().splitlines()[1:]]
    table = pa.Table.from_batches(got).to_pylist()
    assert len(table) == len(text) and reader.time_format == "epoch_us"
    for row, fields in zip(table, text, strict=True):
        assert row["trade_id"] == fields[4] and row["ts_event"].value == int(fields[2]) * 1000
        assert row["price"] == Decimal(fields[6]) and row["qty"] == Decimal(fields[7])
        assert row["aggressor_side"] == (1 if fields[5] == "buy" else 2)


def test_a_missing_column_names_the_file_and_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "no_price.csv", f"id,time,qty,side\n1,{T0}000,1,buy\n")
    with pytest.raises(ArchiveDataError, match=r"no_price.csv, line 1: no price column: none of \['price'"):
        CsvFileReader(path, an_import(tmp_path))


def test_two_columns_fitting_one_role_are_an_error_not_a_guess(tmp_path: Path) -> None:
    path = write(tmp_path / "both.csv", f"time,price,size,amount,side\n{T0}000,1,1,1,buy\n")
    with pytest.raises(ArchiveDataError, match=r"both.csv, line 1: columns \['size', 'amount'\] could each be the qty"):
        CsvFileReader(path, an_import(tmp_path))
    # an explicit mapping settles it
    assert CsvFileReader(path, an_import(tmp_path, columns={"qty": "amount"})).columns["qty"] == "amount"


def test_an_unknown_side_value_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "sides.csv", f"time,price,size,side\n{T0}000,1,1,buy\n{T0}001,1,1,SELL\n{T0}002,1,1,x\n")
    assert "sides.csv, line 4: side 'x' is not a known side value" in str(error(path, an_import(tmp_path)))
    mapped = an_import(tmp_path, sides={"buy": "buy", "SELL": "sell", "x": "sell"})
    assert [r["aggressor_side"] for r in rows(path, mapped)] == [1, 2, 2]


def test_timestamps_of_mixed_units_name_the_first_line_that_differs(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.csv", f"time,price,size,side\n{T0}000,1,1,buy\n{T0}001,1,1,buy\n"
                                         f"{T0 + 1},1,1,buy\n")
    message = str(error(path, an_import(tmp_path)))
    assert "mixed.csv, line 4: time '1704153601' is not a 13-digit epoch in ms like line 2" in message
    assert "mixed units" in message


@pytest.mark.parametrize(("text", "unit_ns"), [(str(T0), 10**9), (f"{T0}000", 10**6), (f"{T0}000000", 10**3),
                                               (f"{T0}000000000", 1)])
def test_the_epoch_unit_comes_from_the_digits(tmp_path: Path, text: str, unit_ns: int) -> None:
    path = write(tmp_path / "e.csv", f"time,price,size,side\n{text},1,1,buy\n")
    [row] = rows(path, an_import(tmp_path))
    assert row["ts_event"].value == T0 * 10**9


def test_ambiguous_or_contradicted_timestamps_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "twelve.csv", f"time,price,size,side\n{T0}00,1,1,buy\n")
    assert "no epoch unit fits it unambiguously" in str(error(path, an_import(tmp_path)))
    path = write(tmp_path / "ms.csv", f"time,price,size,side\n{T0}000,1,1,buy\n")
    message = str(error(path, an_import(tmp_path, timestamp={"column": "time", "format": "epoch_s"})))
    assert "ms.csv, line 2" in message and "the file contradicts its mapping" in message


def test_iso_times_with_and_without_zone_are_exact_and_never_mixed(tmp_path: Path) -> None:
    path = write(tmp_path / "iso.csv", "time,price,size,side\n2024-01-02T00:00:00.123456789Z,1,1,buy\n"
                                       "2024-01-02 01:00:00.5+01:00,1,1,buy\n2024-01-02T00:00:01-0000,1,1,buy\n")
    assert [r["ts_event"].value for r in rows(path, an_import(tmp_path))] == [
        T0 * 10**9 + 123456789, T0 * 10**9 + 500_000_000, (T0 + 1) * 10**9]
    local = write(tmp_path / "local.csv", "time,price,size,side\n2024-01-02 00:00:02,1,1,buy\n")
    assert [r["ts_event"].value for r in rows(local, an_import(tmp_path))] == [(T0 + 2) * 10**9]
    mixed = write(tmp_path / "mixed_iso.csv", "time,price,size,side\n2024-01-02T00:00:00Z,1,1,buy\n"
                                              "2024-01-02T00:00:01,1,1,buy\n")
    assert "mixed_iso.csv, line 3" in str(error(mixed, an_import(tmp_path)))
    invalid = write(tmp_path / "feb.csv", "time,price,size,side\n2024-01-02T00:00:00Z,1,1,buy\n"
                                          "2024-02-30T00:00:00Z,1,1,buy\n")
    assert "feb.csv, line 3: time '2024-02-30T00:00:00Z' is not a valid date" in str(error(invalid, an_import(tmp_path)))


def test_a_file_named_for_one_day_with_rows_of_another_is_an_error(tmp_path: Path) -> None:
    text = f"time,price,size,side\n{T0}000,1,1,buy\n{T0 + 86_400}000,1,1,sell\n"
    named = write(tmp_path / "BTCUSD-2024-01-02.csv", text)
    message = str(error(named, an_import(tmp_path)))
    assert "BTCUSD-2024-01-02.csv, line 3" in message and "outside 2024-01-02, which the file's name says" in message
    # the landing index still gives the named day, so that its build fails naming the file
    with pytest.raises(LandingFileError) as caught:
        CsvFileReader(named, an_import(tmp_path)).spans()
    assert caught.value.spans == {"BTCUSD": (T0 * 10**9, (T0 + 86_400) * 10**9 - 1)}


def test_an_undated_file_spanning_days_gives_each_day_only_its_rows(tmp_path: Path) -> None:
    text = "time,price,size,side\n" + "".join(f"{T0 + h * 3600}000,{h + 3},1,buy\n" for h in range(-2, 50))
    path = write(tmp_path / "export.csv", text)
    imp = an_import(tmp_path)
    assert CsvFileReader(path, imp).spans() == {"BTCUSD": ((T0 - 7200) * 10**9, (T0 + 49 * 3600) * 10**9)}
    for day, first, count in ((dt.date(2024, 1, 1), -2, 2), (DAY, 0, 24), (dt.date(2024, 1, 3), 24, 24),
                              (dt.date(2024, 1, 4), 48, 2)):
        got = rows(path, imp, day)
        assert len(got) == count and got[0]["price"] == first + 3
        start = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 10**9
        assert all(start <= r["ts_event"].value < start + 86_400 * 10**9 for r in got)


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".zst", ".zip"])
def test_every_compression_reads_the_same_rows(tmp_path: Path, suffix: str) -> None:
    data = TRADES.encode()
    path = tmp_path / f"t.csv{suffix}"
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif suffix == ".zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    elif suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    else:
        path.write_bytes(data)
    assert rows(path, an_import(tmp_path, ids="integer")) == rows(write(tmp_path / "plain.csv", TRADES),
                                                                   an_import(tmp_path, ids="integer"))


def test_a_truncated_gz_and_a_zip_of_two_files_are_errors(tmp_path: Path) -> None:
    body = "time,price,size,side\n" + "".join(f"{T0 * 1000 + i},1,1,buy\n" for i in range(200_000))
    path = tmp_path / "trunc.csv.gz"
    data = gzip.compress(body.encode())
    path.write_bytes(data[: len(data) // 2])
    message = str(error(path, an_import(tmp_path)))
    assert message.startswith("trunc.csv.gz: cannot read the file past line") and "truncated or corrupt" in message
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", TRADES)
        archive.writestr("b.csv", TRADES)
    with pytest.raises(ArchiveDataError, match="two.zip: a zip must hold exactly one CSV"):
        CsvFileReader(two, an_import(tmp_path))


def test_malformed_rows_and_values_name_their_line(tmp_path: Path) -> None:
    short = write(tmp_path / "short.csv", f"time,price,size,side\n{T0}000,1,1,buy\n{T0}000,1,buy\n")
    assert "short.csv, line 3: CSV parse error" in str(error(short, an_import(tmp_path)))
    decimals = write(tmp_path / "dec.csv", f"time,price,size,side\n{T0}000,1.001,1,buy\n")
    assert "dec.csv, line 2: price '1.001' has more decimals than the instrument's price precision allows (2)" in str(
        error(decimals, an_import(tmp_path)))
    float_text = write(tmp_path / "sci.csv", f"time,price,size,side\n{T0}000,1e3,1,buy\n")
    assert "sci.csv, line 2: price '1e3' is not a decimal number" in str(error(float_text, an_import(tmp_path)))


def test_the_mapping_fails_closed_and_yaml_equals_toml(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="unknown keys"):
        an_import(tmp_path, colums={})
    with pytest.raises(MappingError, match="tick_size is required for venue VENDORX"):
        an_import(tmp_path, tick_size=None)
    with pytest.raises(MappingError, match="several symbols need a symbol_column"):
        parse_import(
            {"name": "x", "landing": ".", "table": "trades", "venue": "BINANCE", "market": "um",
             "symbols": ["A", "B"], "first_day": "2024-01-01"}, "t", tmp_path)
    with pytest.raises(MappingError, match="columns \\['open'\\] are no roles of trades"):
        an_import(tmp_path, columns={"open": "o"})
    toml = tmp_path / "imports.toml"
    toml.write_text('[[csv]]\nname = "vx"\nlanding = "in"\ntable = "bars"\ninterval = "1h"\nvenue = "BINANCE"\n'
                    'market = "spot"\nsymbol = "BTCUSDT"\nfirst_day = "2024-01-01"\n[csv.timestamp]\n'
                    'column = "t"\nformat = "epoch_ms"\n[csv.columns]\nvolume = "v"\n')
    yaml = tmp_path / "imports.yaml"
    yaml.write_text("csv:\n  - name: vx\n    landing: in\n    table: bars\n    interval: 1h\n    venue: BINANCE\n"
                    "    market: spot\n    symbol: BTCUSDT\n    first_day: '2024-01-01'\n"
                    "    timestamp: {column: t, format: epoch_ms}\n    columns: {volume: v}\n")
    assert load_imports(toml) == load_imports(yaml)
    [imp] = load_imports(toml)
    assert imp.landing == tmp_path / "in" and imp.feed_name == "csv_vx_bars" and imp.publisher is None


def test_a_symbol_column_not_filtered_on_must_hold_the_one_symbol(tmp_path: Path) -> None:
    text = f"symbol,time,price,size,side\nBTCUSD,{T0}000,1,1,buy\nETHUSD,{T0}001,1,1,buy\n"
    path = write(tmp_path / "two_symbols.csv", text)
    assert "two_symbols.csv, line 3: symbol 'ETHUSD' is not the import's symbol BTCUSD" in str(
        error(path, an_import(tmp_path)))
    filtered = an_import(tmp_path, symbol_column="symbol")
    assert [r["line"] for r in rows(path, filtered)] == [2]


def test_the_readme_mapping_example_is_a_valid_import(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### CSV files (local imports)"):]
    example = section[section.index("```toml\n") + 8: section.index("```\n", section.index("```toml\n"))]
    path = tmp_path / "imports.toml"
    path.write_text(example)
    [imp] = load_imports(path)
    assert (imp.feed_name, imp.sides, imp.columns, imp.publisher) == (
        "csv_vendorx_trades", {"B": "buy", "S": "sell"}, {"qty": "Size"}, None)


def test_trades_without_ids_get_ids_of_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "no_ids.csv", f"time,price,size,side\n{T0}000,1,1,buy\n{T0}001,1,1,buy\n")
    assert [r["trade_id"] for r in rows(path, an_import(tmp_path))] == [f"{file_tag('no_ids.csv')}-2",
                                                                       f"{file_tag('no_ids.csv')}-3"]
    assert "no_ids.csv, line 1: no trade id column" in str(error(path, an_import(tmp_path, ids="integer")))


def test_an_unreadable_file_still_covers_the_days_its_name_says(tmp_path: Path) -> None:
    """The landing index keeps the day of a dated file without a usable header, so that building the day fails
    naming the file instead of silently leaving it out."""
    path = write(tmp_path / "vendor_2024-01-02.csv", f"id,time,qty,side\n1,{T0}000,1,buy\n")
    with pytest.raises(LandingFileError, match="vendor_2024-01-02.csv, line 1: no price column") as caught:
        CsvContent(an_import(tmp_path)).spans(path, path.name)
    assert caught.value.spans == {"BTCUSD": day_bounds_ns(DAY)}
