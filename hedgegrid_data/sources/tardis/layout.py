"""Where Tardis keeps a day, and where the raw store keeps it.

- datasets (downloadable CSV): ``{base}/v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{SYMBOL}.csv.gz``, kept under
  ``raw/tardis/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{SYMBOL}.csv.gz``;
- a day's file appears around 06:00 UTC the next day; without an API key only the first day of each month is served.

Tardis names Binance's markets by exchange id; the identity (instruments, symbols, increments) stays Binance's
(``venues/binance.py``, the symbols file), so ``BTCUSDT-PERP.BINANCE`` is the same instrument whichever source
brought its data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.epochs import day_end
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.store import DataStore
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.symbols import symbol_spec

SOURCE = "tardis"
EXCHANGES = {"binance": Market.SPOT, "binance-futures": Market.USDM, "binance-delivery": Market.COINM}
MARKET_EXCHANGES = {market: exchange for exchange, market in EXCHANGES.items()}
DATASETS = ("trades", "quotes", "derivative_ticker", "book_snapshot_5", "book_snapshot_25")
DERIVATIVE_DATASETS = frozenset({"derivative_ticker"})  # futures exchanges only
DATASETS_PUBLISHED_AFTER = dt.timedelta(hours=6)  # after the day's end


def market_of(exchange: str) -> Market:
    try:
        return EXCHANGES[exchange]
    except KeyError:
        raise ValueError(f"{exchange!r} is not a supported Tardis exchange; expected one of {sorted(EXCHANGES)}") \
            from None


def is_free(day: dt.date) -> bool:
    """Tardis serves the first day of each month without an API key."""
    return day.day == 1


def datasets_due(day: dt.date) -> dt.datetime:
    """When a day's dataset files can be expected: about 06:00 UTC the next day."""
    return day_end(day) + DATASETS_PUBLISHED_AFTER


def day_key(exchange: str, kind: str, symbol: str, day: dt.date, extension: str) -> str:
    """Tardis' layout of one day's file (a dataset's data type or a replay's channel): its path under the raw store."""
    return f"{exchange}/{kind}/{day.year:04d}/{day.month:02d}/{day.day:02d}/{symbol}.{extension}"


def day_file_name(exchange: str, kind: str, symbol: str, day: dt.date, extension: str) -> str:
    """The same file's name in errors and metadata."""
    return f"{exchange}_{kind}_{day.isoformat()}_{symbol}.{extension}"


@dataclass(frozen=True)
class DatasetFile:
    """One day of one symbol's dataset on datasets.tardis.dev."""

    exchange: str
    data_type: str
    symbol: str
    day: dt.date

    @property
    def key(self) -> str:
        """Path under the raw store (and, with ``v1/``, under the datasets base)."""
        return day_key(self.exchange, self.data_type, self.symbol, self.day, "csv.gz")

    @property
    def url_key(self) -> str:
        return f"v1/{self.key}"

    @property
    def file_name(self) -> str:
        return day_file_name(self.exchange, self.data_type, self.symbol, self.day, "csv.gz")


@dataclass(frozen=True)
class TardisExchange:
    """One Tardis exchange (a Binance market): its instruments (the venue's) and its fetched files."""

    exchange: str

    @property
    def market(self) -> Market:
        return market_of(self.exchange)

    def instrument(self, symbol: str) -> Instrument:
        return build_instrument(symbol_spec(self.market, symbol))

    def fetched(self, store: DataStore, source: str, key: str) -> Path:
        """The raw file of ``key`` under ``source``; an error when it was not fetched."""
        path = store.raw / source / key
        if not path.is_file():
            raise HedgegridDataError(f"{path}: not fetched; materialize the raw asset first")
        return path


REPLAY_SOURCE = "tardis_replay"
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class ReplayFile:
    """One day of one channel of one symbol, replayed."""

    exchange: str
    channel: str
    symbol: str
    day: dt.date

    @property
    def key(self) -> str:
        return day_key(self.exchange, self.channel, self.symbol, self.day, "txt.gz")

    @property
    def file_name(self) -> str:
        return day_file_name(self.exchange, self.channel, self.symbol, self.day, "txt.gz")

    def minutes(self, with_edges: bool) -> list[dt.datetime]:
        """The receive-time minutes replayed: the day's, and with ``with_edges`` the minutes either side of it."""
        start = dt.datetime.combine(self.day, dt.time()) - (MINUTE if with_edges else dt.timedelta())
        return [start + n * MINUTE for n in range(24 * 60 + (2 if with_edges else 0))]
