"""Bybit's archive feeds: the trades of each market with configured symbols, one ``Feed`` each.

| group | files | catalog |
|---|---|---|
| ``bybit_linear_trades`` | ``trading/{SYM}/{SYM}{date}.csv.gz`` | ``TradeTick`` of ``BTCUSDT-LINEAR.BYBIT`` |
| ``bybit_inverse_trades`` | the same | ``TradeTick`` of ``BTCUSD-INVERSE.BYBIT`` (sizes in USD contracts) |
| ``bybit_spot_trades`` | ``spot/{SYM}/{SYM}_{date}.csv.gz`` | ``TradeTick`` of ``ETHUSDT-SPOT.BYBIT`` |

Trade ids are not consecutive (UUIDs; spot's per-file counters), so there is no id-gap check; silences, coverage
and spikes are judged as for every trades feed (thresholds ``[bybit_<market>.trades]`` of the quality file), and
publication compares the day's minute prices with the Binance counterpart's (``[bybit_<market>.cross_venue]``).
"""

from __future__ import annotations

import datetime as dt

from nautilus_trader.model.data import TradeTick

from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, Descriptions, Feed
from hedgegrid_data.quality.cross_venue import CHECK as CROSS_VENUE_CHECK
from hedgegrid_data.sources.bybit_archive.layout import ARCHIVE_START, BybitFile
from hedgegrid_data.sources.bybit_archive.source import BYBIT_ARCHIVE
from hedgegrid_data.sources.bybit_archive.trades_day import BybitTradesDay
from hedgegrid_data.venues.bybit import BybitMarket, BybitUniverse, bybit_universe, instrument_id

VENUE = "bybit"
TRADE_CHECKS = (
    CheckSpec("trade_silences", False, "Silences far longer than the day's own trade spacing (ids are not "
                                       "consecutive: gaps cannot be counted from them)."),
    CheckSpec("day_coverage", False, "First and last trades near the day's bounds."),
    CheckSpec("price_spikes", False, "Consecutive-trade jumps and robust outliers against the minute's median/MAD."),
    CheckSpec("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)
CATALOG_CHECKS = (
    CheckSpec(CROSS_VENUE_CHECK, False, "WARN: minutes whose last price diverges from the same instrument's on "
                                        "Binance (when that day is in the catalog), listed."),
)
SIZE_UNITS = {BybitMarket.LINEAR: "base quantity", BybitMarket.INVERSE: "USD contracts",
              BybitMarket.SPOT: "base quantity"}


def bybit_trades_feed(market: BybitMarket, universe: BybitUniverse | None = None) -> Feed:
    """The trades feed of ``market`` for the configured symbols (``universe``: the Bybit symbols file's)."""
    specs = (universe or bybit_universe())[market]
    m = market.value

    def files(day: dt.date, symbol: str) -> list[BybitFile]:
        return [BybitFile(market, symbol, day)]

    return Feed(
        name=f"{VENUE}_{m}_trades", source=BYBIT_ARCHIVE, venue=VENUE, market=m, table="trades", dataset="trades",
        first_day=ARCHIVE_START[market], symbols=tuple(sorted(specs)), files=files,
        steps=BybitTradesDay(market, specs),
        instrument_ids=lambda symbol: instrument_id(market, symbol).value, publishes=TradeTick,
        consecutive_ids=False, normalized_checks=TRADE_CHECKS, catalog_checks=CATALOG_CHECKS,
        report_series=lambda symbol: CatalogSeries(TradeTick, instrument_id(market, symbol).value),
        descriptions=Descriptions(
            f"Bybit {m} daily trades (.csv.gz) from public.bybit.com, gzip-verified (CRC-32 and length); sha256, "
            "size, ETag and Last-Modified kept as provenance.",
            f"Bybit {m} trades for one day, every dialect: exact decimals, ns times exact from the decimal text, "
            f"aggressor side, sizes in {SIZE_UNITS[market]}, text trade ids; pandera-validated.",
            f"Nautilus TradeTick day file (and instrument) for Bybit {m}."))


def bybit_feeds(universe: BybitUniverse | None = None) -> list[Feed]:
    """The trades feed of every Bybit market with configured symbols."""
    universe = universe or bybit_universe()
    return [bybit_trades_feed(market, universe) for market in BybitMarket if universe[market]]
