"""Large realistic Binance WebSocket capture files, in the format of ``../shared/samples/binance_ws/``: one frame a
line, ``<receive time ns> <combined-stream JSON>``, gzip when the name ends in ``.gz``.

Frames are what Binance sends (``trade`` with consecutive ids, ``bookTicker``, ``depthUpdate`` noise, and for
futures ``aggTrade`` and ``markPriceUpdate``), prices on the instrument's tick grid printed the venue's way
(spot with 8 decimals, futures at their precision), receive times 1-40 ms after the event times. ``--start`` may
lie before midnight so that a file spans two days, as real captures do.

    uv run python -m hedgegrid_data.testing.ws_capture_generator --out capture.jsonl.gz --market um \
        --symbol BTCUSDT --start 2024-08-08T23:30:00 --frames 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.venues.binance import Market

SPOT_DECIMALS = 8


@dataclass(frozen=True)
class Generated:
    """What a generated file holds (frames per event type, first and last trade id)."""

    path: Path
    frames: dict[str, int]
    first_trade_id: int
    last_trade_id: int


def _text(value: int, decimals: int, shown: int) -> str:
    """An integer count of 10^-decimals as decimal text with ``shown`` decimals."""
    whole, part = divmod(value, 10**decimals)
    digits = f"{part:0{decimals}d}" + "0" * (shown - decimals)
    return f"{whole}.{digits[:shown]}" if shown else str(whole)


def generate_capture(out: Path, market: Market, symbol: str, start: dt.datetime, frames: int,
                     price_precision: int = 1, size_precision: int = 3, seed: int = 7,
                     first_trade_id: int = 5_000_000_000) -> Generated:
    """Write ``frames`` frames of ``symbol`` starting at ``start`` (UTC) into ``out``."""
    rng = random.Random(seed)
    futures = market is not Market.SPOT
    shown_price = price_precision if futures else SPOT_DECIMALS
    shown_size = size_precision if futures else SPOT_DECIMALS
    stream = symbol.lower()
    event_ms = int(start.replace(tzinfo=dt.UTC).timestamp() * 1000)
    price = 61_800 * 10**price_precision
    trade_id = first_trade_id
    agg_id = first_trade_id // 3
    update_id = 5_123_107_832_006
    counts: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.name.endswith(".gz") else open
    with opener(out, "wt", encoding="utf-8") as f:
        for _ in range(frames):
            event_ms += rng.choice((0, 0, 1, 1, 2, 5, 20))
            receive_ns = event_ms * 1_000_000 + rng.randrange(1_000_000, 40_000_000)
            price = max(10**price_precision, price + rng.choice((-1, 0, 0, 1)))
            kind = rng.random()
            qty = rng.randrange(1, 2_000)
            if kind < 0.3:
                name, data = "trade", {"e": "trade", "E": event_ms, "T": event_ms, "s": symbol, "t": trade_id,
                                       "p": _text(price, price_precision, shown_price),
                                       "q": _text(qty, size_precision, shown_size), "m": rng.random() < 0.5}
                if futures:
                    data["X"] = "MARKET"
                else:
                    data["M"] = True
                trade_id += 1
            elif kind < 0.4 and futures:
                name, data = "aggTrade", {"e": "aggTrade", "E": event_ms, "s": symbol, "a": agg_id,
                                          "p": _text(price, price_precision, shown_price),
                                          "q": _text(qty, size_precision, shown_size), "f": trade_id - 2,
                                          "l": trade_id - 1, "T": event_ms, "m": rng.random() < 0.5}
                agg_id += 1
            elif kind < 0.42 and futures:
                name, data = "markPrice@1s", {"e": "markPriceUpdate", "E": event_ms, "s": symbol,
                                              "p": _text(price * 1000 + rng.randrange(1000), price_precision + 3,
                                                         price_precision + 3 + 5),
                                              "i": _text(price * 1000 - rng.randrange(1000), price_precision + 3,
                                                         price_precision + 3 + 5),
                                              "P": "61790.10000000", "r": f"{rng.randrange(-50, 100) / 1e6:.8f}",
                                              "T": (event_ms // 28_800_000 + 1) * 28_800_000}
            elif kind < 0.9:
                update_id += rng.randrange(1, 50)
                name, data = "bookTicker", {"u": update_id, "s": symbol,
                                            "b": _text(price, price_precision, shown_price),
                                            "B": _text(qty, size_precision, shown_size),
                                            "a": _text(price + 1, price_precision, shown_price),
                                            "A": _text(qty + 7, size_precision, shown_size)}
                if futures:
                    data = {"e": "bookTicker", **data, "T": event_ms, "E": event_ms}
            else:
                update_id += rng.randrange(1, 50)
                name, data = "depth@100ms", {"e": "depthUpdate", "E": event_ms, "s": symbol, "U": update_id - 9,
                                             "u": update_id, "b": [[_text(price, price_precision, shown_price),
                                                                    _text(qty, size_precision, shown_size)]],
                                             "a": [[_text(price + 1, price_precision, shown_price), "0"]]}
            counts[name] = counts.get(name, 0) + 1
            f.write(f"{receive_ns} {json.dumps({'stream': f'{stream}@{name}', 'data': data}, separators=(',', ':'))}"
                    "\n")
    return Generated(out, counts, first_trade_id, trade_id - 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--market", choices=[m.value for m in Market], default="um")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--start", default="2024-08-08T23:30:00")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--price-precision", type=int, default=1)
    parser.add_argument("--size-precision", type=int, default=3)
    args = parser.parse_args(argv)
    generated = generate_capture(args.out, Market(args.market), args.symbol, dt.datetime.fromisoformat(args.start),
                                 args.frames, args.price_precision, args.size_precision)
    print(f"{generated.path}: {generated.frames}")


if __name__ == "__main__":
    main()
