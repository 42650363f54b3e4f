"""The one parser of Binance WebSocket frames (``sources/binance_stream/frames.py``): the real captures of
``../shared/samples/binance_ws`` parse whole, exactly (every value equals the frame's text), and every kind of bad
frame fails naming the file and line."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.binance_stream.frames import Frame, iso_prefix, ns_prefix, parse_frames, parse_lines
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data_tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "binance_ws"
# file, symbol, (price, size precision), frames per event type (MANIFEST.md)
CAPTURES = {
    "spot": ("hftbacktest_spot_btcusdt_20240808.gz", "BTCUSDT", (2, 6),
             {"trade": 9_757, "bookTicker": 28_040, "depthUpdate": 3_451, "depthSnapshot": 1}),
    "um": ("hftbacktest_usdm_btcusdt_20240808.gz", "BTCUSDT", (1, 3),
           {"trade": 21_313, "bookTicker": 66_089, "depthUpdate": 6_551, "depthSnapshot": 1}),
    "cm": ("hftbacktest_cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", (1, 0),
           {"trade": 2_286, "bookTicker": 19_136, "depthUpdate": 26_847, "depthSnapshot": 1}),
}


def sample_lines(name: str) -> list[bytes]:
    if not (SAMPLES / name).is_file():
        pytest.skip(f"real WebSocket captures not found at {SAMPLES} (../shared is absent in a user's clone)")
    with gzip.open(SAMPLES / name, "rb") as f:
        return f.read().splitlines()


@pytest.fixture(scope="module", params=sorted(CAPTURES))
def capture(request: pytest.FixtureRequest):
    name, symbol, precisions, counts = CAPTURES[request.param]
    lines = sample_lines(name)
    return name, symbol, precisions, counts, lines, parse_lines(lines, name)


def _frame(line: bytes) -> tuple[int, dict]:
    receive, _, body = line.partition(b" ")
    return int(receive), json.loads(body)["data"]


def test_real_captures_parse_whole_and_exactly(capture) -> None:
    _, symbol, (pp, sp), counts, lines, frames = capture
    assert dict(frames.events) == counts
    assert dict(frames.skipped) == {"depthUpdate": counts["depthUpdate"], "depthSnapshot": 1}
    assert frames.lines == len(lines) and len(frames.receipts) == len(lines)

    trades = frames.trades(symbol, pp, sp)
    expected = [(line_no, *_frame(lines[line_no - 1])) for line_no in trades.column("line").to_pylist()]
    assert trades.num_rows == counts["trade"]
    for row, (line_no, receive, data) in zip(trades.to_pylist(), expected, strict=True):
        assert data["e"] == "trade" and row["trade_id"] == data["t"]
        assert row["price"] == Decimal(data["p"]) and row["qty"] == Decimal(data["q"])
        assert row["aggressor_side"] == (SELLER if data["m"] else BUYER)
        assert row["ts_event"].value == data["T"] * 1_000_000 and row["ts_init"].value == receive
    quotes = frames.quotes(symbol, pp, sp)
    assert quotes.num_rows == counts["bookTicker"]
    for row, line_no in zip(quotes.to_pylist()[::97], quotes.column("line").to_pylist()[::97], strict=True):
        receive, data = _frame(lines[line_no - 1])
        assert (row["bid_price"], row["bid_size"], row["ask_price"], row["ask_size"]) == tuple(
            Decimal(data[k]) for k in "bBaA")
        # spot bookTicker frames carry no time: the receive time is the event time
        assert row["ts_event"].value == (data["T"] * 1_000_000 if "T" in data else receive)
        assert row["ts_init"].value == receive


def test_bare_frames_without_receive_time_and_other_event_types() -> None:
    frames = [
        {"e": "aggTrade", "E": 1723161256322, "s": "BTCUSDT", "a": 7, "p": "61800.30", "q": "0.100", "f": 1, "l": 2,
         "T": 1723161256321, "m": True},
        {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 1723161257000, "s": "BTCUSDT",
                                                    "p": "61801.12345678", "i": "61790.5", "P": "61795.1",
                                                    "r": "-0.00012500", "T": 1723190400000}},
        {"e": "markPriceUpdate", "E": 1723161258000, "s": "BTCUSDT_240927", "p": "62001.5", "i": "61790.5", "P": "0",
         "r": "", "T": 0},  # a delivery contract: no funding
        {"e": "kline", "E": 1723161260000, "s": "BTCUSDT", "k": {"t": 1723161180000, "T": 1723161239999, "s": "BTCUSDT",
                                                                   "i": "1m", "o": "61800.1", "c": "61805.0",
                                                                   "h": "61810.0", "l": "61790.2", "v": "12.345",
                                                                   "n": 321, "x": True}},
        {"e": "kline", "E": 1723161261000, "s": "BTCUSDT", "k": {"t": 1723161240000, "T": 1723161299999, "s": "BTCUSDT",
                                                                   "i": "1m", "o": "1", "c": "1", "h": "1", "l": "1",
                                                                   "v": "0", "n": 0, "x": False}},
        {"e": "trade", "E": 1723161262000, "T": 1723161262000, "s": "BTCUSDT", "t": 9, "p": "61800.0", "q": "1.000",
         "X": "INSURANCE_FUND", "m": False},
        {"e": "forceOrder", "E": 1723161263000, "o": {"s": "BTCUSDT"}},
    ]
    lines = [json.dumps(f).encode() for f in frames] + [b"", b"   "]
    parsed = parse_lines(lines, "bare.jsonl")
    assert parsed.receipts == []
    assert dict(parsed.skipped) == {"kline not closed": 1, "trade X=INSURANCE_FUND": 1, "forceOrder": 1}

    [agg] = parsed.trades("BTCUSDT", 1, 3, event="aggTrade").to_pylist()
    assert (agg["trade_id"], str(agg["price"]), agg["aggressor_side"], agg["line"]) == (7, "61800.3", SELLER, 1)
    assert agg["ts_init"] == agg["ts_event"]  # no receive time: ts_init = ts_event
    [mark] = parsed.mark_prices("BTCUSDT").to_pylist()
    assert (mark["mark_price"], mark["index_price"]) == (Decimal("61801.12345678"), Decimal("61790.5"))
    [funding] = parsed.funding_updates("BTCUSDT").to_pylist()
    assert funding["rate"] == Decimal("-0.000125") and funding["next_funding_time"].value == 1723190400000 * 10**6
    assert parsed.funding_updates("BTCUSDT_240927").num_rows == 0
    assert parsed.mark_prices("BTCUSDT_240927").num_rows == 1
    [bar] = parsed.bars("BTCUSDT", "1m", 1).to_pylist()
    assert (str(bar["open"]), str(bar["close"]), bar["count"], bar["close_time"].value) == (
        "61800.1", "61805.0", 321, 1723161239999 * 10**6)


def test_receive_time_prefixes() -> None:
    assert ns_prefix(b'1723161256172216566 {"e":1}') == (1723161256172216566, b'{"e":1}')
    assert ns_prefix(b'{"e":1}') == (None, b'{"e":1}')
    assert iso_prefix(b'2024-08-08T23:59:59.1234567Z {"e":1}') == (1723161599123456700, b'{"e":1}')
    with pytest.raises(ValueError, match="28-character"):
        iso_prefix(b'2024-08-08T23:59:59Z {"e":1}')
    # already split frames (a replay's own reader) go through the same parser
    parsed = parse_frames([Frame(3, 1723161256172216566, b'{"u":1,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01",'
                                                        b'"A":"3"}')], "replay")
    [quote] = parsed.quotes("BTCUSDT", 2, 0).to_pylist()
    assert quote["ts_event"].value == quote["ts_init"].value == 1723161256172216566 and quote["line"] == 3


TRADE = b'1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,' \
        b'"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'


@pytest.mark.parametrize(("line", "message"), [
    (TRADE[:90], "not a JSON frame"),                                   # a line cut in half
    (b"1723161255088176367 [1, 2]", "not a JSON object"),
    (b'1723161255088176367 {"stream":"x","data":{"s":"BTCUSDT"}}', "not a Binance event"),
    (TRADE.replace(b'"t":5266583935,', b""), "'t' is missing"),
    (TRADE.replace(b'"p":"61800.30"', b'"p":61800.3'), "'p' is 61800.3, not text"),
    (TRADE.replace(b'"T":1723161256322', b'"T":172316125632'), "neither epoch milliseconds"),
    (TRADE.replace(b"1723161255088176367 ", b"17231612550 "), "receive time in ns"),
    (b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"}}',
     "without a receive time"),
])
def test_bad_frames_name_file_and_line(line: bytes, message: str) -> None:
    with pytest.raises(ArchiveDataError, match=message) as error:
        parse_lines([TRADE, b"", line, TRADE], "capture.jsonl")
    assert (error.value.file, error.value.line) == ("capture.jsonl", 3)


@pytest.mark.parametrize(("value", "message"), [
    ("61800.35", r"has more decimals than BTCUSDT's price precision allows \(1\)"),
    ("61800.3x", "is not a decimal number"),
])
def test_bad_decimal_text_names_its_line(value: str, message: str) -> None:
    bad = TRADE.replace(b'"p":"61800.30"', f'"p":"{value}"'.encode())
    parsed = parse_lines([TRADE, TRADE, bad], "capture.jsonl")
    with pytest.raises(ArchiveDataError, match=message) as error:
        parsed.trades("BTCUSDT", 1, 3)
    assert (error.value.file, error.value.line) == ("capture.jsonl", 3)


def test_unknown_event_types_are_counted_and_skipped(tmp_path: Path) -> None:
    parsed = parse_lines([TRADE, b'1723161255088176399 {"e":"24hrTicker","E":1723161256322,"s":"BTCUSDT"}'], "c")
    assert parsed.skipped == {"24hrTicker": 1} and parsed.events == {"trade": 1, "24hrTicker": 1}
    assert parsed.trades("BTCUSDT", 1, 3).num_rows == 1
