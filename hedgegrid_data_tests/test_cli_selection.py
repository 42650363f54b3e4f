"""What ``--source``/``--market``/``--data-types``/``--symbol`` select, for the configured feeds and for a source
the command line has never heard of (its feeds are chosen by source name and canonical table alone)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, QuoteTick, TradeTick

from hedgegrid_data.cli.selection import SelectionError, select
from hedgegrid_data.feeds.configured import configured_feeds
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.settings import TradeSource
from hedgegrid_data.sources.binance_archive.feeds import archive_feeds

DAY = dt.date(2024, 1, 2)


def _names(feeds: tuple[Feed, ...]) -> list[str]:
    return [f.name for f in feeds]


@pytest.mark.parametrize(("trade_source", "expected"), [("trades", "binance_um_trades"),
                                                        ("aggTrades", "binance_um_agg_trades")])
def test_trades_are_the_declared_publisher(trade_source: TradeSource, expected: str) -> None:
    feeds = archive_feeds(trade_source=trade_source)
    selection = select(feeds, "binance", "um", ["trades", "bars", "mark", "funding"], ["BTCUSDT"], DAY, DAY)
    assert _names(selection.feeds) == [expected, "binance_um_klines", "binance_um_mark_price_klines",
                                       "binance_um_funding_rate"]


def test_days_then_feeds_then_symbols() -> None:
    selection = select(configured_feeds(), "bybit", "linear", ["trades"], ["ETHUSDT", "BTCUSDT"], DAY,
                       DAY + dt.timedelta(days=1))
    assert [(d.day, f.name, s) for d, f, s in selection.units()] == [
        (2, "bybit_linear_trades", "ETHUSDT"), (2, "bybit_linear_trades", "BTCUSDT"),
        (3, "bybit_linear_trades", "ETHUSDT"), (3, "bybit_linear_trades", "BTCUSDT")]


class ForeignSource:
    """Only what selection reads of a source: its name."""

    name = "foreign"


def _foreign(name: str, table: str, publishes: type | None, publisher: bool = True, market: str = "perp") -> Feed:
    [template] = [f for f in archive_feeds() if f.name == "binance_um_trades"]
    return dataclasses.replace(template, name=name, source=ForeignSource(), venue="foreign", market=market,
                               table=table, dataset=table, first_day="2024-01-01", symbols=("XBTUSD",),
                               publishes=publishes, publisher=publisher)


def test_a_new_source_is_selected_by_its_name_and_tables() -> None:
    feeds = [
        _foreign("foreign_perp_trades", "trades", TradeTick, publisher=False),
        _foreign("foreign_perp_quotes", "quotes", QuoteTick),
        _foreign("foreign_perp_marks", "mark_prices", MarkPriceUpdate),
        _foreign("foreign_perp_funding", "funding_updates", FundingRateUpdate),
        _foreign("foreign_spot_quotes", "quotes", QuoteTick, market="spot"),
    ]
    selection = select(feeds, "foreign", "perp", ["trades", "quotes", "mark", "funding"], ["XBTUSD"], DAY, DAY)
    # the only trades feed is taken even when another source publishes the instrument's TradeTicks
    assert _names(selection.feeds) == ["foreign_perp_trades", "foreign_perp_quotes", "foreign_perp_marks",
                                       "foreign_perp_funding"]
    with pytest.raises(SelectionError, match="foreign has several markets: give --market \\(perp, spot\\)"):
        select(feeds, "foreign", None, ["quotes"], ["XBTUSD"], DAY, DAY)
    with pytest.raises(SelectionError, match="foreign spot has no bars feed; its data types: quotes"):
        select(feeds, "foreign", "spot", ["bars"], ["XBTUSD"], DAY, DAY)
    with pytest.raises(SelectionError, match="foreign_perp_quotes starts on 2024-01-01; --start 2023-12-31"):
        select(feeds, "foreign", "perp", ["quotes"], ["XBTUSD"], dt.date(2023, 12, 31), DAY)
